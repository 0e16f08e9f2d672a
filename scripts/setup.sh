#!/usr/bin/env bash
# Installs the Debian 12 packages scrubproxy builds, runs and tests with. Idempotent: it only
# calls apt-get when something is missing, so the README's two commands stay fast after the
# first run.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git ca-certificates
  libuv1-dev libre2-dev libsimdjson-dev libyaml-cpp-dev libspdlog-dev libfmt-dev
  catch2 libbenchmark-dev libssl-dev libcurl4-openssl-dev libhttp-parser-dev zlib1g-dev
  # Unicode NFC/NFD and case mapping for the canary forms of `verify`
  libutf8proc-dev
  # test peers: a real syslog daemon as the TCP sink, curl as an HTTP client, strace for the
  # zero-persistence check, socat as the throughput reference, python3 for the test drivers
  syslog-ng-core curl strace socat python3 procps
  # python3-yaml: the Kubernetes manifests are parsed by tests/container/deployment_test.py
  python3-yaml
  # TLS test certificates (a throwaway CA per test run), Prometheus's promtool for the metrics
  # format, systemd-analyze for the unit file
  openssl prometheus systemd
  # fuzzing (libFuzzer needs clang), the benchmark charts, and compiler caching for rebuilds
  clang-14 libfuzzer-14-dev gnuplot-nox ccache
  # HTTP ingress benchmark (ab, with and without TLS)
  apache2-utils
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
