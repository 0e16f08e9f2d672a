#!/usr/bin/env bash
# Runs tests against a sanitizer build and fails on any sanitizer report, including reports from
# the proxies the integration drivers start: reports go to files (log_path), because a driver
# does not read every child's stderr, and a leak reported at exit after SIGTERM would otherwise
# go unseen.
#   tests/sanitizers/run.sh asan   ASan + UBSan: every unit test, then every other ctest test
#                                  (integration drivers against the ASan binary, fuzz replays,
#                                  leak suite, deployment checks, allocation check)
#   tests/sanitizers/run.sh tsan   ThreadSanitizer: the integration scenarios that run several
#                                  workers (regex SCRUB_TSAN_TESTS; default below)
# Both run in scripts/test.sh. The unit tests run as one process, not as ctest's one entry per
# test case (a process start each under ASan).
set -euo pipefail
cd "$(dirname "$0")/../.."
flavour=${1:?usage: tests/sanitizers/run.sh asan|tsan}
reports=$PWD/build/$flavour/sanitizer-reports
status=0
export SCRUB_SANITIZED=$flavour # the drivers skip memory-size bounds (tests/integration)

case "$flavour" in
  asan)
    bash scripts/build.sh asan >/dev/null
    rm -rf "$reports" && mkdir -p "$reports"
    # disable_coredump=0: ASan turns core dumps off by default, which the doctor's
    # core-dumps-possible check (tests/integration/doctor_integration.py) would then not see.
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:disable_coredump=0:log_path=$reports/asan
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan
    build/asan/tests/scrub_tests || status=1
    ctest --test-dir build/asan --output-on-failure --timeout 900 -j2 -L 'integration|fuzz|leak|container|alloc' ||
      status=1
    ;;
  tsan)
    # Two workers share the rule slot (SIGHUP reload), the connection count, the stats and the
    # stdout writer: these scenarios exercise that sharing.
    default='integration\.(end_to_end_syslog_ng|stdout_sink_lines_never_interleave|sink_killed_and_restarted|thousand_connections_in_one_burst|sighup_reload_while_traffic_flows|sigterm_while_traffic_flows|http_formats)$'
    bash scripts/build.sh tsan scrubproxy >/dev/null
    rm -rf "$reports" && mkdir -p "$reports"
    export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:log_path=$reports/tsan
    ctest --test-dir build/tsan --output-on-failure --timeout 900 -j2 \
      -R "${SCRUB_TSAN_TESTS:-$default}" || status=1
    ;;
  *)
    echo "usage: tests/sanitizers/run.sh asan|tsan" >&2
    exit 2
    ;;
esac

if compgen -G "$reports/*" >/dev/null; then
  echo "sanitizer reports ($flavour):"
  for report in "$reports"/*; do
    echo "--- $report"
    head -60 "$report"
  done
  status=1
fi
exit $status
