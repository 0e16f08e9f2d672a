#!/usr/bin/env bash
# Builds the libFuzzer targets (scripts/build.sh fuzz) and runs each for a bounded time, two at a
# time. Seeds come from tests/fuzz/<corpus>/; what the fuzzer adds goes to a scratch copy under
# build/fuzz/corpus/, never into the repository.
#   SCRUB_FUZZ_SECONDS   seconds per target (default 20)
#   SCRUB_FUZZ_JOBS      targets run at once (default 2)
#   SCRUB_FUZZ_TARGETS   space-separated subset (default: all)
# A crash or broken invariant fails the run and leaves its input in build/fuzz/artifacts/; keep
# it as a regression by copying it to tests/fuzz/<corpus>/crash-<short-name> (replayed by ctest).
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${SCRUB_FUZZ_SECONDS:-20}
jobs=${SCRUB_FUZZ_JOBS:-2}
# name:corpus; filter_<x> runs the line_filter target under one shipped pack.
all="line_framer:line_framer filter_openfn:line_filter filter_kobo:line_filter
filter_pii:line_filter rule_loader:rule_loader fast_contract:fast_contract proxy_config:proxy_config
http_request:http_request bulk_response:bulk_response"
declare -A packs=([filter_openfn]=openfn-retry-ids [filter_kobo]=kobo-redact
  [filter_pii]=pii-detectors)
targets=${SCRUB_FUZZ_TARGETS:-$(for t in $all; do echo "${t%%:*}"; done)}

bash scripts/build.sh fuzz fuzz_targets >/dev/null
mkdir -p build/fuzz/artifacts build/fuzz/corpus build/fuzz/logs

run_one() {
  local name=$1 corpus=$2
  local work=build/fuzz/corpus/$name
  mkdir -p "$work" "build/fuzz/artifacts/$name"
  # ASan's leak check stays on; the fuzzer's own limits keep one slow input from eating the budget.
  local exe=fuzz_$name pack=${packs[$name]:-}
  if [[ -n $pack ]]; then exe=fuzz_line_filter; fi
  if SCRUB_FUZZ_PACK=$pack ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "build/fuzz/tests/fuzz/$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -max_len=8192 -print_final_stats=1 -artifact_prefix="build/fuzz/artifacts/$name/" \
      "$work" "tests/fuzz/$corpus" >"build/fuzz/logs/$name.log" 2>&1; then
    echo "fuzz $name: ok ($(grep -o 'stat::number_of_executed_units: *[0-9]*' \
      "build/fuzz/logs/$name.log" | grep -o '[0-9]*$') runs in ${seconds}s)"
  else
    echo "fuzz $name: FAILED; log build/fuzz/logs/$name.log, input in build/fuzz/artifacts/$name/"
    grep -E 'ERROR|invariant|SUMMARY' "build/fuzz/logs/$name.log" | head -5 || true
    return 1
  fi
}

status=0
pids=()
for name in $targets; do
  corpus=
  for t in $all; do [[ ${t%%:*} == "$name" ]] && corpus=${t#*:}; done
  [[ -n $corpus ]] || { echo "unknown fuzz target $name" >&2; exit 2; }
  run_one "$name" "$corpus" &
  pids+=($!)
  if ((${#pids[@]} >= jobs)); then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
done
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
