#!/usr/bin/env bash
# HTTP ingress benchmark: requests/s and latency of `POST /v1/logs` against the real proxy, over
# plain HTTP and over TLS, side by side in one run, with ApacheBench (`ab`, Debian package
# apache2-utils) as the client: keep-alive, C concurrent connections, N requests of one NDJSON
# body of R generated runner lines each. The proxy filters with openfn-retry-ids and writes to
# stdout (sent to /dev/null), so the figure is the ingress: HTTP parsing, TLS, filtering.
# The TLS row uses a throwaway certificate made here with the openssl CLI.
#
#   bench/http_bench.sh [--smoke] [--build-dir DIR]
#
# Readiness is the proxy's `listening on` log line, never a sleep. A run fails if ab reports a
# failed or non-2xx request.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build_dir=$repo/build/release
smoke=0
while [ $# -gt 0 ]; do
  case $1 in
  --smoke) smoke=1 ;;
  --build-dir)
    build_dir=$2
    shift
    ;;
  *)
    echo "usage: bench/http_bench.sh [--smoke] [--build-dir DIR]" >&2
    exit 2
    ;;
  esac
  shift
done
build_dir=$(cd "$build_dir" && pwd)
proxy_bin=$build_dir/scrubproxy
[ -x "$proxy_bin" ] || {
  echo "http_bench: $proxy_bin not built (scripts/build.sh release scrubproxy)" >&2
  exit 2
}
for tool in ab openssl; do
  command -v $tool >/dev/null || {
    echo "http_bench: $tool not installed (scripts/setup.sh)" >&2
    exit 2
  }
done

if [ "$smoke" = 1 ]; then
  requests=200 concurrency=4 records=10
else
  requests=50000 concurrency=16 records=10
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/http-bench.XXXXXX")
proxy_pid=
cleanup() {
  if [ -n "$proxy_pid" ] && kill -0 "$proxy_pid" 2>/dev/null; then
    kill -TERM "$proxy_pid" 2>/dev/null || true
    wait "$proxy_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
die() {
  echo "http_bench: $*" >&2
  exit 1
}

# The body: R synthetic runner lines (generated, no real data).
"$proxy_bin" gen-corpus --lines "$records" --seed 7 >"$work/body.ndjson"
body_bytes=$(wc -c <"$work/body.ndjson")

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=127.0.0.1" \
  -addext "subjectAltName=IP:127.0.0.1" -keyout "$work/key.pem" -out "$work/cert.pem" \
  >/dev/null 2>&1 || die "openssl could not make a certificate"

# start_proxy SCHEME: sets proxy_pid and url.
start_proxy() {
  local scheme=$1 fifo=$work/proxy.fifo line fd tls_block=
  [ "$scheme" = https ] && tls_block="    tls:
      cert_file: $work/cert.pem
      key_file: $work/key.pem
"
  cat >"$work/proxy.yaml" <<YAML
version: 1
workers: $(nproc)
log:
  level: warn
  stats_interval: 0
listeners:
  - name: bench
    listen: $scheme://127.0.0.1:0
    rules: [openfn-retry-ids]
    sinks: [out]
$tls_block
sinks:
  - name: out
    address: stdout
YAML
  rm -f "$fifo"
  mkfifo "$fifo"
  "$proxy_bin" run --config "$work/proxy.yaml" --log-level info 2>"$fifo" >/dev/null </dev/null &
  proxy_pid=$!
  exec {fd}<"$fifo"
  url=
  while IFS= read -r -t 20 -u "$fd" line; do
    if [[ $line =~ listening\ on\ $scheme://127\.0\.0\.1:([0-9]+) ]]; then
      url=$scheme://127.0.0.1:${BASH_REMATCH[1]}/v1/logs
      break
    fi
  done
  [ -n "$url" ] || die "the proxy did not start ($scheme)"
  cat <&"$fd" >/dev/null &
  exec {fd}<&-
}

stop_proxy() {
  kill -TERM "$proxy_pid" 2>/dev/null || true
  wait "$proxy_pid" 2>/dev/null || true
  proxy_pid=
}

declare -A rps p50 p99 failed
run() { # run SCHEME
  local scheme=$1 out
  start_proxy "$scheme"
  out=$(ab -q -k -c "$concurrency" -n "$requests" -p "$work/body.ndjson" \
    -T application/x-ndjson "$url" 2>&1) || die "ab failed against $scheme: $out"
  stop_proxy
  rps[$scheme]=$(awk '/^Requests per second:/ {print $4}' <<<"$out")
  p50[$scheme]=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99[$scheme]=$(awk '$1 == "99%" {print $2}' <<<"$out")
  failed[$scheme]=$(awk '/^Failed requests:/ {print $3}' <<<"$out")
  local non2xx
  non2xx=$(awk '/^Non-2xx responses:/ {print $3}' <<<"$out")
  [ "${failed[$scheme]}" = 0 ] && [ -z "$non2xx" ] ||
    die "$scheme: ${failed[$scheme]} failed, ${non2xx:-0} non-2xx responses"
  echo "  $scheme: ${rps[$scheme]} requests/s, p50 ${p50[$scheme]} ms, p99 ${p99[$scheme]} ms" >&2
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
run http
run https

echo "HTTP ingress: $requests keep-alive POSTs of $records NDJSON records ($body_bytes bytes) over"
echo "$concurrency connections (ab -k), $(nproc) workers, openfn-retry-ids, sink stdout to /dev/null;"
echo "$(nproc) cores, load average before the run: $load_before"
echo
echo "| listener | requests/s | records/s | p50 ms | p99 ms |"
echo "|---|---:|---:|---:|---:|"
for scheme in http https; do
  printf '| %s | %.0f | %.0f | %s | %s |\n' "$scheme://" "${rps[$scheme]}" \
    "$(awk -v r="${rps[$scheme]}" -v n="$records" 'BEGIN {print r * n}')" \
    "${p50[$scheme]}" "${p99[$scheme]}"
done
