#!/usr/bin/env bash
# The README's second command (and what CI runs): install what is needed, build, and run the
# whole test suite: unit and integration tests; all of them again under AddressSanitizer +
# UndefinedBehaviorSanitizer (the integration drivers against the ASan binary); every fuzz target
# for a bounded time; a bounded soak (tests/soak/); and a smoke run of every benchmark so they
# never rot. Longer runs: SCRUB_FUZZ_SECONDS (per fuzz target, default 20), SCRUB_SOAK_SECONDS
# (default 90).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "== build (dev)"
bash scripts/build.sh dev
echo "== tests"
ctest --test-dir build/dev --output-on-failure --timeout 900 -j2

echo "== the whole suite under ASan + UBSan (tests/sanitizers/run.sh asan)"
bash tests/sanitizers/run.sh asan

echo "== fuzzing (tests/fuzz/run.sh: ${SCRUB_FUZZ_SECONDS:-20}s per target, two at a time)"
bash tests/fuzz/run.sh

echo "== soak (tests/soak/soak.py: ${SCRUB_SOAK_SECONDS:-90}s of mixed load, flapping sink, reloads)"
python3 tests/soak/soak.py --binary build/dev/scrubproxy

echo "== benchmark smoke run"
build/dev/bench/filter_bench --benchmark_min_time=0.01 >/dev/null
bash bench/proxy_bench.sh --smoke --build-dir build/dev --charts build/dev/bench-charts >/dev/null
bash bench/http_bench.sh --smoke --build-dir build/dev >/dev/null
echo "benchmarks: ok"
