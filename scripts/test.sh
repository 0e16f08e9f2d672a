#!/usr/bin/env bash
# The README's second command (and what CI runs): install what is needed, build, and run the
# whole test suite: unit and integration tests; the unit tests again under AddressSanitizer +
# UndefinedBehaviorSanitizer; every fuzz target for a bounded time; a bounded soak (tests/soak/);
# and a smoke run of every benchmark so they never rot. Longer runs: SCRUB_FUZZ_SECONDS (per fuzz
# target, default 20), SCRUB_SOAK_SECONDS (default 90).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "== build (dev)"
bash scripts/build.sh dev
echo "== tests"
ctest --test-dir build/dev --output-on-failure --timeout 900 -j2

echo "== unit tests under ASan + UBSan"
bash scripts/build.sh asan scrub_tests scrubproxy
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  build/asan/tests/scrub_tests
# The integration drivers against the ASan binary, and the multi-worker scenarios under TSan:
# tests/sanitizers/run.sh asan|tsan (not part of this command yet: see README, Sanitizers).

echo "== fuzzing (tests/fuzz/run.sh: ${SCRUB_FUZZ_SECONDS:-20}s per target, two at a time)"
bash tests/fuzz/run.sh

echo "== soak (tests/soak/soak.py: ${SCRUB_SOAK_SECONDS:-90}s of mixed load, flapping sink, reloads)"
python3 tests/soak/soak.py --binary build/dev/scrubproxy

echo "== benchmark smoke run"
build/dev/bench/filter_bench --benchmark_min_time=0.01 >/dev/null
bash bench/proxy_bench.sh --smoke --build-dir build/dev --charts build/dev/bench-charts >/dev/null
bash bench/http_bench.sh --smoke --build-dir build/dev >/dev/null
echo "benchmarks: ok"
