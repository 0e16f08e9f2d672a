#!/usr/bin/env bash
# End-to-end benchmark of the proxy, side by side with its pass-through row (a rule file that
# removes nothing: the proxy has no unfiltered mode) and socat, in one run, printed as Markdown.
# Everything is on loopback; every process is started and stopped here. Results: bench/README.md.
#
#   bench/proxy_bench.sh [--smoke] [--rt] [--build-dir DIR] [--charts DIR]
#
# For each system under test (SUT), each run against a fresh process: the maximum throughput
# (load_gen at full speed, best of 3), then the latency from send to sink receipt at half of that
# maximum rate and at one fixed rate for all, then (proxy only) the peak RSS (VmHWM) while 1,000
# concurrent connections send at full speed.
# load_gen (bench/load_gen.cc) is both the sender and the counting sink and fails if any line is
# lost, duplicated or altered where it must not be; this script then fails too.
#
# Readiness is waited for by events, never by sleeping: load_gen prints its sink address, the
# proxy logs `listening on tcp://...:PORT`, socat logs `listening on AF=2 ...:PORT`, and load_gen
# starts sending only once all its connections (and the proxy's sink connections) are up.
#
# --smoke: a few thousand lines over a few connections, under ten seconds in all, the same
# checks: for the test command, so the benchmark never rots. Its numbers mean nothing.
# --rt: run the fixed-rate (latency) runs under SCHED_FIFO (chrt -f 10; needs root). On a machine
# shared with other work, a latency tail otherwise measures the other work's time slices.
# --charts DIR: also sweep the filtering proxy over worker counts (1 to 2 x cores, throughput, with
# socat's as a reference line) and over offered load (10% to 90% of its 1-worker maximum, p50 /
# p99 / p99.9 latency), and draw both as SVG with gnuplot into DIR (throughput-vs-workers.svg,
# latency-vs-load.svg, with the .dat files they are drawn from).
# --build-dir: where scrubproxy and bench/load_gen were built (default: build/release, made by
# `scripts/build.sh release scrubproxy load_gen`).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build_dir=$repo/build/release
smoke=0
rt=0
charts=
while [ $# -gt 0 ]; do
  case $1 in
  --smoke) smoke=1 ;;
  --rt) rt=1 ;;
  --build-dir)
    build_dir=$2
    shift
    ;;
  --charts)
    charts=$2
    shift
    ;;
  *)
    echo "usage: bench/proxy_bench.sh [--smoke] [--rt] [--build-dir DIR] [--charts DIR]" >&2
    exit 2
    ;;
  esac
  shift
done
build_dir=$(cd "$build_dir" && pwd)
proxy_bin=$build_dir/scrubproxy
load_gen=$build_dir/bench/load_gen
pass_rules=$repo/bench/parse_and_write.yaml
for f in "$proxy_bin" "$load_gen"; do
  [ -x "$f" ] || {
    echo "proxy_bench: $f not built (scripts/build.sh release scrubproxy load_gen)" >&2
    exit 2
  }
done
if [ -n "$charts" ]; then
  command -v gnuplot >/dev/null || {
    echo "proxy_bench: --charts needs gnuplot (scripts/setup.sh installs gnuplot-nox)" >&2
    exit 2
  }
  mkdir -p "$charts"
  charts=$(cd "$charts" && pwd)
fi
command -v socat >/dev/null || {
  echo "proxy_bench: socat not installed (scripts/setup.sh)" >&2
  exit 2
}


all_workers=$(nproc)
if [ "$smoke" = 1 ]; then
  conns=2 max_lines=4000 max_secs=2 max_runs=1 rate_secs=0.3 rss_conns=20 rss_lines=2000 corpus_lines=2000
  fixed_rate=10000
else
  conns=4 max_lines=6000000 max_secs=3 max_runs=3 rate_secs=4 rss_conns=1000 rss_lines=100000 corpus_lines=20000
  fixed_rate=100000
fi
# The proxy's buffers, written into its config for every run: the TCP sink's queue
# (max_buffer_bytes, shared by the workers) and the longest line accepted (max_line_bytes), which
# sizes each connection's line buffer. Both are the defaults of config/scrubproxy.yaml; the last
# memory run repeats with a 64 KiB line limit.
sink_buffer=64MiB
line_limit=1MiB

# 1,000 client connections, and as many again on the sink side for socat's forks.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" -lt $((2 * rss_conns + 256)) ]; then
  echo "proxy_bench: need $((2 * rss_conns + 256)) open files, have $(ulimit -n)" >&2
  exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/proxy-bench.XXXXXX")
sut_pid=
sut_log_pid=
keep_work=0
cleanup() {
  if [ -n "$sut_pid" ] && kill -0 "$sut_pid" 2>/dev/null; then
    kill -TERM "$sut_pid" 2>/dev/null || true
    wait "$sut_pid" 2>/dev/null || true
  fi
  if [ "$keep_work" = 1 ]; then
    echo "proxy_bench: logs kept in $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

die() {
  echo "proxy_bench: $*" >&2
  keep_work=1
  exit 1
}

# Prepended to the SUT and load_gen commands of a latency run under --rt.
sched=()
if [ "$rt" = 1 ] && ! chrt -f 10 true 2>/dev/null; then
  echo "proxy_bench: --rt needs permission for SCHED_FIFO (root or CAP_SYS_NICE)" >&2
  exit 2
fi

# The settings of the next proxy run (start_sut reads them).
sut_workers=1 sut_rules=openfn-retry-ids sut_line_limit=$line_limit

write_config() { # write_config SINK_ADDR FILE
  cat >"$2" <<YAML
version: 1
workers: $sut_workers
log:
  level: info
  stats_interval: 0
limits:
  max_line_bytes: $sut_line_limit
listeners:
  - name: bench
    listen: tcp://127.0.0.1:0
    rules: ["$sut_rules"]
    sinks: [load_gen]
sinks:
  - name: load_gen
    address: tcp://$1
    max_buffer_bytes: $sink_buffer
YAML
}

# start_sut KIND SINK_ADDR: starts the system under test forwarding to SINK_ADDR; sets sut_pid
# (empty for `direct`) and target (the HOST:PORT load_gen sends to). Returns once it listens.
start_sut() {
  local kind=$1 sink=$2 fifo=$work/sut.fifo log=$work/$1.log regex line fd
  target='' sut_pid=''
  rm -f "$fifo"
  case $kind in
  direct)
    target=$sink
    return
    ;;
  socat)
    regex='listening on AF=2 [0-9.]+:([0-9]+)'
    mkfifo "$fifo"
    "${sched[@]}" socat -d -d "TCP-LISTEN:0,bind=127.0.0.1,fork,reuseaddr,backlog=4096" "TCP:$sink" \
      2>"$fifo" </dev/null &
    sut_pid=$!
    ;;
  proxy)
    regex='listening on tcp://[^ ]*:([0-9]+) '
    write_config "$sink" "$work/proxy.yaml"
    mkfifo "$fifo"
    "${sched[@]}" "$proxy_bin" run --config "$work/proxy.yaml" 2>"$fifo" >/dev/null </dev/null &
    sut_pid=$!
    ;;
  esac
  exec {fd}<"$fifo"
  while :; do
    if ! IFS= read -r -t 20 -u "$fd" line; then
      exec {fd}<&-
      die "$kind did not start (log: $log)"
    fi
    printf '%s\n' "$line" >>"$log"
    if [[ $line =~ $regex ]]; then
      target=127.0.0.1:${BASH_REMATCH[1]}
      break
    fi
  done
  # Keep draining its log so that it never blocks on a full pipe.
  cat <&"$fd" >>"$log" &
  sut_log_pid=$!
  exec {fd}<&-
}

stop_sut() {
  if [ -n "$sut_pid" ]; then
    kill -TERM "$sut_pid" 2>/dev/null || true
    wait "$sut_pid" 2>/dev/null || true
    wait "$sut_log_pid" 2>/dev/null || true
  fi
  sut_pid=
}

# run_load KIND [load_gen args...]: one load_gen run against a fresh SUT. Sets `result`
# (load_gen's key=value line) and `hwm_kib` (the SUT's VmHWM once the run is over, or empty).
run_load() {
  local kind=$1
  shift
  local sink_conns=0 lg_out lg_in lg_pid lg_fds word sink rc=0
  # The proxy opens one sink connection per worker; load_gen sends once they are up.
  [ "$kind" = proxy ] && sink_conns=$sut_workers
  coproc LG { exec "${sched[@]}" "$load_gen" --target - --sink-connections "$sink_conns" \
    --corpus-lines "$corpus_lines" "$@" \
    2>>"$work/load_gen.log"; }
  # Our own copies: bash drops LG once the coprocess exits.
  # shellcheck disable=SC2153
  lg_pid=$LG_PID lg_fds="${LG[0]} ${LG[1]}"
  exec {lg_out}<&"${LG[0]}" {lg_in}>&"${LG[1]}"
  read -r -t 30 -u "$lg_out" word sink || die "load_gen did not start"
  [ "$word" = sink ] || die "load_gen: unexpected output: $word $sink"
  start_sut "$kind" "$sink"
  echo "$target" >&"$lg_in"
  result=
  read -r -t 300 -u "$lg_out" result || true
  hwm_kib=
  if [ -n "$sut_pid" ]; then
    hwm_kib=$(awk '/^VmHWM:/ {print $2}' "/proc/$sut_pid/status" 2>/dev/null || true)
  fi
  # Stop the SUT while its sink is still there, then let load_gen go (EOF on its stdin).
  stop_sut
  exec {lg_out}<&- {lg_in}>&-
  for fd in $lg_fds; do eval "exec $fd>&-"; done
  wait "$lg_pid" || rc=$?
  tail -n 1 "$work/load_gen.log" | sed "s/^load_gen:/  $kind:/" >&2
  if [ "$rc" != 0 ] || [[ $result != result* ]]; then
    tail -n 5 "$work/load_gen.log" >&2
    die "load_gen failed against $kind (exit $rc)"
  fi
}

field() { # field NAME: a value from $result
  local re="(^| )$1=([^ ]+)"
  [[ $result =~ $re ]] && echo "${BASH_REMATCH[2]}"
}

declare -A max_mb max_lines_s rate p50 p99 p999 rss rss_lines_s p99_fixed

# bench KEY KIND CHECK: throughput, then latency at half of it, then (proxy) memory.
bench() {
  local key=$1 kind=$2 check=$3
  echo "== $key" >&2
  # Best of max_runs: other work on the machine can only slow a run down.
  local i
  max_lines_s[$key]=0
  for ((i = 0; i < max_runs; i++)); do
    run_load "$kind" --connections "$conns" --lines "$max_lines" --duration "$max_secs" "$check"
    if awk -v a="$(field lines_s)" -v b="${max_lines_s[$key]}" 'BEGIN {exit !(a > b)}'; then
      max_mb[$key]=$(field in_mb_s)
      max_lines_s[$key]=$(field lines_s)
    fi
  done
  rate[$key]=$(awk -v r="${max_lines_s[$key]}" 'BEGIN {printf "%d", r / 2}')
  # No relay: its own maximum is the generator's, far above any relay's; its latency is taken
  # at the filtering proxy's rate instead, as the floor the other rows stand on.
  [ "$kind" = direct ] && rate[$key]=${rate[filter-1w]}
  [ "$rt" = 1 ] && sched=(chrt -f 10)
  run_load "$kind" --connections "$conns" --rate "${rate[$key]}" --duration "$rate_secs" \
    --lines 1000000000 "$check"
  p50[$key]=$(field p50_us) p99[$key]=$(field p99_us) p999[$key]=$(field p999_us)
  # And at one rate for all, the same for every row (not in the smoke run: it checks nothing new).
  p99_fixed[$key]=-
  if [ "$smoke" = 0 ]; then
    run_load "$kind" --connections "$conns" --rate "$fixed_rate" --duration "$rate_secs" \
      --lines 1000000000 "$check"
    p99_fixed[$key]=$(field p99_us)
  fi
  sched=()
  [ "$kind" = proxy ] && bench_memory "$key" "$check"
  return 0
}

bench_memory() { # bench_memory KEY CHECK: a fresh proxy, rss_conns connections at full speed
  run_load proxy --connections "$rss_conns" --lines "$rss_lines" --duration "$max_secs" \
    --drain-timeout 60 "$2"
  rss[$1]=$hwm_kib
  rss_lines_s[$1]=$(field lines_s)
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
start=$SECONDS
sut_workers=1 sut_rules=openfn-retry-ids
bench filter-1w proxy --check-canaries
sut_workers=$all_workers
bench filter-all proxy --check-canaries
sut_workers=1 sut_rules=$pass_rules
bench pass-1w proxy --expect-identical
bench socat socat --expect-identical
bench direct direct --expect-identical
# Diagnostic: the same as the first row with a smaller line limit, i.e. a smaller line buffer per
# connection (see bench/README.md, "Proxy end to end").
sut_workers=1 sut_rules=openfn-retry-ids sut_line_limit=64KiB
bench filter-1w-64k proxy --check-canaries

# --charts: the sweeps, then the drawings.
if [ -n "$charts" ]; then
  echo "== charts: throughput against workers" >&2
  {
    echo "# workers  proxy_lines_s  socat_lines_s   (openfn-retry-ids, $conns connections, best of $max_runs)"
    for ((w = 1; w <= 2 * all_workers; w++)); do
      sut_workers=$w sut_rules=openfn-retry-ids sut_line_limit=$line_limit
      best=0
      for ((i = 0; i < max_runs; i++)); do
        run_load proxy --connections "$conns" --lines "$max_lines" --duration "$max_secs" \
          --check-canaries
        best=$(awk -v a="$(field lines_s)" -v b="$best" 'BEGIN {print (a > b ? a : b)}')
      done
      echo "$w $best ${max_lines_s[socat]}"
    done
  } >"$charts/throughput-vs-workers.dat"
  echo "== charts: latency against offered load" >&2
  sut_workers=1 sut_rules=openfn-retry-ids sut_line_limit=$line_limit
  [ "$rt" = 1 ] && sched=(chrt -f 10)
  {
    echo "# offered_lines_s  p50_us  p99_us  p999_us   (openfn-retry-ids, 1 worker; 100% = ${max_lines_s[filter-1w]} lines/s)"
    for pct_load in 10 25 50 75 90; do
      r=$(awk -v m="${max_lines_s[filter-1w]}" -v p=$pct_load 'BEGIN {printf "%d", m * p / 100}')
      run_load proxy --connections "$conns" --rate "$r" --duration "$rate_secs" \
        --lines 1000000000 --check-canaries
      echo "$r $(field p50_us) $(field p99_us) $(field p999_us)"
    done
  } >"$charts/latency-vs-load.dat"
  sched=()
  gnuplot <<GNUPLOT || die "gnuplot failed"
set terminal svg size 720,420 dynamic font "sans,12"
set grid
set key top left
set output "$charts/throughput-vs-workers.svg"
set title "scrubproxy throughput against workers ($(nproc) cores, openfn-retry-ids)"
set xlabel "workers"
set ylabel "lines/s delivered"
set xtics 1
set yrange [0:*]
plot "$charts/throughput-vs-workers.dat" using 1:2 with linespoints lw 2 title "scrubproxy", \
     "" using 1:3 with lines dt 2 title "socat (reference)"
set output "$charts/latency-vs-load.svg"
set title "scrubproxy latency against offered load (1 worker, openfn-retry-ids)"
set xlabel "offered load, lines/s"
set ylabel "latency, µs (log scale)"
set xtics autofreq
set logscale y
set yrange [*:*]
plot "$charts/latency-vs-load.dat" using 1:2 with linespoints lw 2 title "p50", \
     "" using 1:3 with linespoints lw 2 title "p99", \
     "" using 1:4 with linespoints lw 2 title "p99.9"
GNUPLOT
  for f in throughput-vs-workers latency-vs-load; do
    grep -q "<svg" "$charts/$f.svg" || die "$charts/$f.svg is not an SVG"
  done
  echo "== charts written to $charts" >&2
fi
echo "== done in $((SECONDS - start))s" >&2

pct() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.0f%%", (b > 0 ? 100 * a / b : 0)}'; }
mib() { awk -v k="$1" 'BEGIN {printf "%.0f MiB", k / 1024}'; }
row() { # row KEY LABEL
  local k=$1
  printf '| %s | %.0f | %.0f | %s | %s | %.0f | %.0f | %.0f | %s |\n' "$2" "${max_mb[$k]}" \
    "${max_lines_s[$k]}" "$(pct "${max_lines_s[$k]}" "${max_lines_s[socat]}")" "${rate[$k]}" \
    "${p50[$k]}" "${p99[$k]}" "${p999[$k]}" "${p99_fixed[$k]%.*}"
}
mem_row() { # mem_row KEY LABEL LINE_LIMIT_KIB
  local k=$1 buffers
  # The line buffer of a connection: max_line_bytes + '\r\n' + one 64 KiB read + 64 B padding.
  buffers=$(awk -v n="$rss_conns" -v l="$3" -v s="${sink_buffer%MiB}" \
    'BEGIN {printf "%.0f", (64 + s) * 1024 + n * (l + 64)}')
  printf '| %s | %s KiB | %s | %s | %s | %s |\n' "$2" "$3" "$(mib "${rss[$k]}")" \
    "$(mib $((64 * 1024 + ${sink_buffer%MiB} * 1024)))" "$(mib "$buffers")" "${rss_lines_s[$k]}"
}

w=$all_workers
echo "Throughput ($conns connections, full speed, best of $max_runs runs) and latency (send to sink receipt, at half of"
echo "the row's own maximum lines/s, and at $fixed_rate lines/s for all); $(nproc) cores, load"
echo "average before the run: $load_before$([ "$rt" = 1 ] && echo "; latency runs under SCHED_FIFO (--rt)")"
echo
echo "| system | max MB/s in | max lines/s | of socat | latency run lines/s | p50 µs | p99 µs | p99.9 µs | p99 µs at $fixed_rate lines/s |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
row filter-1w "proxy, \`openfn-retry-ids\`, 1 worker"
row filter-all "proxy, \`openfn-retry-ids\`, $w workers"
row pass-1w "proxy, \`parse-and-write\` (pass-through: removes nothing), 1 worker"
row filter-1w-64k "proxy, \`openfn-retry-ids\`, 1 worker, max_line_bytes 64 KiB"
row socat "\`socat\` TCP→TCP (a process per connection)"
row direct "no relay: load_gen to its own sink (latency at the first row's rate)"
echo
echo "Peak RSS (VmHWM) of a fresh proxy while $rss_conns connections send $rss_lines lines at full speed;"
echo "sink max_buffer_bytes $sink_buffer:"
echo
echo "| proxy | max_line_bytes | peak RSS | 64 MiB + sink buffer | 64 MiB + sink buffer + $rss_conns line buffers | lines/s delivered |"
echo "|---|---:|---:|---:|---:|---:|"
mem_row filter-1w "\`openfn-retry-ids\`, 1 worker" 1024
mem_row filter-all "\`openfn-retry-ids\`, $w workers" 1024
mem_row pass-1w "\`parse-and-write\`, 1 worker" 1024
mem_row filter-1w-64k "\`openfn-retry-ids\`, 1 worker" 64
echo

verdict() { [ "$1" = 1 ] && echo met || echo "NOT met"; }
ratio_ok=$(awk -v a="${max_lines_s[filter-1w]}" -v b="${max_lines_s[socat]}" \
  'BEGIN {ok = (a >= b / 2); print ok}')
lat_ok=$(awk -v a="${p99[filter-1w]}" -v b="${p99[filter-all]}" \
  'BEGIN {ok = (a < 1000 && b < 1000); print ok}')
limit_kib=$(((64 + ${sink_buffer%MiB}) * 1024))
rss_ok=$(awk -v a="${rss[filter-1w]}" -v b="${rss[filter-all]}" -v lim=$limit_kib \
  'BEGIN {ok = (a < lim && b < lim); print ok}')
echo "Targets (issue 3):"
echo "- filtering proxy with 1 worker >= 50% of socat's throughput:" \
  "$(pct "${max_lines_s[filter-1w]}" "${max_lines_s[socat]}") — $(verdict "$ratio_ok")"
echo "- p99 latency < 1 ms at half of the maximum rate (filtering proxy, 1 / $w workers):" \
  "${p99[filter-1w]} / ${p99[filter-all]} µs — $(verdict "$lat_ok")"
echo "- peak RSS with $rss_conns connections < 64 MiB + the $sink_buffer sink buffer (1 / $w workers):" \
  "$(mib "${rss[filter-1w]}") / $(mib "${rss[filter-all]}") — $(verdict "$rss_ok")"
