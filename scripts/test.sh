#!/usr/bin/env bash
# The README's second command (and what CI runs): install what is needed, build, and run the
# whole test suite: unit and integration tests; all of them again under AddressSanitizer +
# UndefinedBehaviorSanitizer, and the multi-worker scenarios under ThreadSanitizer
# (tests/sanitizers/run.sh); every fuzz target for a bounded time; a bounded soak (tests/soak/);
# and a smoke run of every benchmark so they never rot. Longer runs: SCRUB_FUZZ_SECONDS (per fuzz
# target, default 20), SCRUB_SOAK_SECONDS (default 90). Each phase prints its start time, so a
# CI log shows where the minutes go.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "== build (dev) ($(date +%T))"
bash scripts/build.sh dev
echo "== tests ($(date +%T))"
ctest --test-dir build/dev --output-on-failure --timeout 900 -j2

echo "== ASan + UBSan: unit tests, integration drivers, fuzz replays, leak suite ($(date +%T))"
bash tests/sanitizers/run.sh asan
echo "== TSan: the multi-worker integration scenarios ($(date +%T))"
bash tests/sanitizers/run.sh tsan

echo "== fuzzing (tests/fuzz/run.sh: ${SCRUB_FUZZ_SECONDS:-20}s per target, two at a time) ($(date +%T))"
bash tests/fuzz/run.sh

echo "== soak (tests/soak/soak.py: ${SCRUB_SOAK_SECONDS:-90}s of mixed load, flapping sink, reloads) ($(date +%T))"
python3 tests/soak/soak.py --binary build/dev/scrubproxy

echo "== benchmark smoke run ($(date +%T))"
build/dev/bench/filter_bench --benchmark_min_time=0.01 >/dev/null
bash bench/proxy_bench.sh --smoke --build-dir build/dev --charts build/dev/bench-charts >/dev/null
bash bench/http_bench.sh --smoke --build-dir build/dev >/dev/null
echo "benchmarks: ok ($(date +%T))"
