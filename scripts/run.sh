#!/usr/bin/env bash
# The README's first command: install what is needed, build, and run the proxy. With no
# arguments it runs the embedded default configuration (TCP 127.0.0.1:5170 in, the
# openfn-retry-ids rules, stdout out); any arguments are passed to `scrubproxy run`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh release scrubproxy >&2
exec build/release/scrubproxy run "$@"
