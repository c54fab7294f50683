#!/usr/bin/env bash
# Collector ingest benchmark: hostflow's decode-only receive path side by
# side with goflow2 (-format bin to /dev/null) and pmacct (sfacctd/nfacctd,
# print plugin), on the same machine, with the same generated sFlow v5 and
# NetFlow v9 load over loopback (bench/loadgen).
#
# For each collector and protocol it sweeps offered rates (flows/s); each run
# starts the collector afresh, pinned to one core (COL_CPU), offers the load
# from the generator pinned to the other (GEN_CPU) for DUR seconds, waits for
# the collector to drain, and counts exactly what it decoded:
#   hostflow  hostflow_collector_flows_total (bench/ingest's /metrics)
#   goflow2   goflow2_flow_process_sf_samples_total{type="ExpandedFlowSample"}
#             or goflow2_flow_process_nf_flowset_records_total{type="DataFlowSet"}
#   pmacct    the print plugin's CSV, flushed on SIGINT: sum of PACKETS for
#             sfacctd (one per flow sample, sfacctd_renormalize off), of FLOWS
#             for nfacctd
# Kernel drops come from /proc/<pid>/net/udp (all collectors) and, for
# hostflow, from its inlet metric (SO_RXQ_OVFL). After the sweep: the highest
# rate each sustains with >= 99 % decoded (refined between the last passing
# and first failing rate), then an overload run at twice hostflow's capacity
# with per-second decoded rates.
#
# Everything runs in a network namespace created here, over its loopback.
# With RPS=1 (default) that loopback steers received packets to COL_CPU (RPS),
# so the kernel's UDP receive work lands on the collector's core as it would
# with a NIC, instead of on the generator's; the softirq time of COL_CPU is
# reported next to the collector's own CPU.
#
# Needs root (namespace, RPS), Go, sfacctd/nfacctd, goflow2 (GOFLOW2; by
# default where `scripts/setup.sh test` installs it, or
# ~/.cache/hostflow/peers/goflow2), curl, 2 cores.
# Bounded: about 8 minutes with the defaults (COLLECTORS, PROTOS, *_RATES,
# DUR, REFINE cut it down); everything started is killed and the namespace
# deleted on exit, even on failure.
#   sudo bench/ingest.sh
#   DUR=3 COLLECTORS=hostflow PROTOS=sflow SFLOW_RATES="500000 1000000" bench/ingest.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DUR=${DUR:-5}
SFLOW_RATES=${SFLOW_RATES:-"100000 200000 400000 800000 1600000"}
NETFLOW_RATES=${NETFLOW_RATES:-"100000 200000 400000 800000 1600000 3200000"}
COLLECTORS=${COLLECTORS:-"hostflow goflow2 pmacct"}
PROTOS=${PROTOS:-"sflow netflow"}
GEN_CPU=${GEN_CPU:-0}
COL_CPU=${COL_CPU:-1}
RPS=${RPS:-1}
REFINE=${REFINE:-2}               # bisection steps between the last passing and first failing rate
STOP_BELOW=${STOP_BELOW:-80}      # a collector's sweep stops after a run below this % decoded
OVERLOAD=${OVERLOAD:-2}           # overload factor over hostflow's capacity (0: no overload run)
OVERLOAD_DUR=${OVERLOAD_DUR:-10}
# goflow2: where scripts/setup.sh installs it, or the peers cache.
hfcache=${HOSTFLOW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hostflow}
if [ -z "${GOFLOW2:-}" ]; then
  GOFLOW2=$hfcache/bin/goflow2
  [ -x "$GOFLOW2" ] || [ ! -x "$hfcache/peers/goflow2" ] || GOFLOW2=$hfcache/peers/goflow2
fi
GOFLOW2_QUEUE=${GOFLOW2_QUEUE:-1000} # datagrams between its socket reader and decoders (default 1e6)
PMACCT_AGGREGATE=${PMACCT_AGGREGATE:-proto}
RCVBUF=${RCVBUF:-33554432}        # hostflow's default receive buffer; asked of pmacct too
OUT=${OUT:-}                      # also write the report to this file

[ "$(id -u)" = 0 ] || { echo "needs root (network namespace, RPS)" >&2; exit 1; }
for t in ip taskset go curl awk; do command -v "$t" >/dev/null || { echo "needs $t" >&2; exit 1; }; done
[[ " $COLLECTORS " != *" pmacct "* ]] || for t in sfacctd nfacctd; do
  command -v "$t" >/dev/null || { echo "needs $t (apt-get install pmacct)" >&2; exit 1; }
done
[[ " $COLLECTORS " != *" goflow2 "* ]] || [ -x "$GOFLOW2" ] || {
  echo "needs goflow2 at $GOFLOW2: GOBIN=$(dirname "$GOFLOW2") go install github.com/netsampler/goflow2/v2/cmd/goflow2@v2.2.6" >&2; exit 1; }

# The script itself and everything it runs stay off the collector's core.
taskset -pc "$GEN_CPU" $$ >/dev/null

tmp=$(mktemp -d)
NS=hfingest$$
# Ports inside our own namespace cannot collide with anyone's; still unique.
PORT=$((20000 + $$ % 20000))
MPORT=$((PORT + 1))
pids=() # the running collector, if any
cleanup() {
  local p
  for p in "${pids[@]}"; do
    kill -INT "$p" $(pgrep -P "$p" 2>/dev/null) 2>/dev/null || true
  done
  sleep 0.3
  for p in "${pids[@]}"; do
    kill -KILL "$p" $(pgrep -P "$p" 2>/dev/null) 2>/dev/null || true
  done
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

go build -o "$tmp/loadgen" ./bench/loadgen
go build -o "$tmp/ingest" ./bench/ingest
ip netns add "$NS"
ip -n "$NS" link set lo up
if [ "$RPS" = 1 ]; then
  ip netns exec "$NS" sh -c "printf %x $((1 << COL_CPU)) > /sys/class/net/lo/queues/rx-0/rps_cpus"
fi
# Helpers (curl, the generator) run in the namespace on the generator's core,
# never on the collector's.
onGen() { taskset -c "$GEN_CPU" ip netns exec "$NS" "$@"; }

hz=$(getconf CLK_TCK)
# proc_ns PID: CPU time in nanoseconds of every thread of the process and
# of its children (pmacct's plugin), from schedstat (finer than the 10 ms
# ticks of /proc/PID/stat).
proc_ns() {
  local p
  for p in "$1" $(pgrep -P "$1" 2>/dev/null || true); do
    cat /proc/"$p"/task/*/schedstat 2>/dev/null || true
  done | awk '{s += $1} END {printf "%.0f\n", s}'
}
softirq_ticks() { awk -v c="cpu$COL_CPU" '$1 == c {print $8}' /proc/stat; }
# udp_drops PID: the drops column of the collector's sockets on PORT.
udp_drops() {
  awk -v port="$(printf ':%04X' "$PORT")" 'NR > 1 && substr($2, length($2) - 4) == port {s += $13} END {print s + 0}' \
    "/proc/$1/net/udp" "/proc/$1/net/udp6" 2>/dev/null || echo 0
}
metrics() { onGen curl -sf "http://127.0.0.1:$MPORT/metrics"; }
# sum_metric REGEX: the sum of the samples whose name and labels match.
sum_metric() { metrics | awk -v re="$1" '$0 ~ re {s += $NF} END {printf "%.0f\n", s}'; }

# start_collector NAME PROTO: starts it on COL_CPU, sets COL_PID.
start_collector() {
  local name=$1 proto=$2 addr="127.0.0.1:$PORT"
  case $name in
    hostflow)
      local sf="" nf=""
      if [ "$proto" = sflow ]; then sf=$addr; else nf=$addr; fi
      ip netns exec "$NS" taskset -c "$COL_CPU" "$tmp/ingest" -sflow "$sf" -netflow "$nf" -sockets 1 \
        -http "127.0.0.1:$MPORT" -interval 1s >"$tmp/col.out" 2>"$tmp/col.err" &
      ;;
    goflow2)
      ip netns exec "$NS" taskset -c "$COL_CPU" "$GOFLOW2" -listen "$proto://$addr?count=1&queue_size=$GOFLOW2_QUEUE" \
        -format bin -transport file -transport.file /dev/null -addr "127.0.0.1:$MPORT" -loglevel error \
        >"$tmp/col.out" 2>"$tmp/col.err" &
      ;;
    pmacct)
      local d=sfacctd agg=$PMACCT_AGGREGATE
      if [ "$proto" = netflow ]; then d=nfacctd agg="$agg, flows"; fi
      rm -f "$tmp/pmacct.csv"
      cat >"$tmp/pmacct.conf" <<CONF
daemonize: false
${d}_ip: 127.0.0.1
${d}_port: $PORT
${d}_pipe_size: $RCVBUF
${d}_renormalize: false
plugins: print
aggregate: $agg
print_output: csv
print_output_file: $tmp/pmacct.csv
print_output_file_append: true
print_refresh_time: 60
plugin_pipe_size: 10240000
plugin_buffer_size: 10240
CONF
      ip netns exec "$NS" taskset -c "$COL_CPU" "$d" -f "$tmp/pmacct.conf" >"$tmp/col.out" 2>"$tmp/col.err" &
      ;;
  esac
  COL_PID=$!
  pids+=("$COL_PID")
  local i
  for i in $(seq 100); do
    if ! kill -0 "$COL_PID" 2>/dev/null; then
      echo "$name did not start:" >&2; cat "$tmp/col.err" "$tmp/col.out" >&2; exit 1
    fi
    if awk -v port="$(printf ':%04X' "$PORT")" 'NR > 1 && substr($2, length($2) - 4) == port {f = 1} END {exit !f}' \
      "/proc/$COL_PID/net/udp" 2>/dev/null; then
      if [ "$name" = pmacct ] || metrics >/dev/null 2>&1; then
        # pmacct forks its plugin after binding: let it settle.
        [ "$name" != pmacct ] || sleep 0.5
        return
      fi
    fi
    sleep 0.1
  done
  echo "$name is not listening on $PORT after 10 s" >&2; exit 1
}

# decoded NAME PROTO: flows decoded so far (hostflow, goflow2).
decoded() {
  case $1/$2 in
    hostflow/*) sum_metric '^hostflow_collector_flows_total' ;;
    goflow2/sflow) sum_metric '^goflow2_flow_process_sf_samples_total.*type="ExpandedFlowSample"' ;;
    goflow2/netflow) sum_metric '^goflow2_flow_process_nf_flowset_records_total.*type="DataFlowSet"' ;;
  esac
}

# rx_queued PID: bytes waiting in the receive buffers of the collector's
# sockets on PORT.
rx_queued() {
  local hex total=0
  for hex in $(awk -v port="$(printf ':%04X' "$PORT")" 'NR > 1 && substr($2, length($2) - 4) == port {split($5, q, ":"); print q[2]}' \
    "/proc/$1/net/udp" 2>/dev/null); do
    total=$((total + 16#$hex))
  done
  echo "$total"
}

# drain NAME PROTO: waits until the socket buffer is empty and the decoded
# count has not moved for 0.75 s (15 s at most: a collector starved of CPU
# by other processes can pause longer than a single poll), and prints it.
drain() {
  local prev=-1 cur stable=0 i
  for i in $(seq 60); do
    cur=$(decoded "$1" "$2")
    if [ "$cur" = "$prev" ] && [ "$(rx_queued "$COL_PID")" = 0 ]; then
      [ $((++stable)) -lt 3 ] || break
    else
      stable=0
    fi
    prev=$cur
    sleep 0.25
  done
  echo "$cur"
}

# stop_collector NAME PROTO: stops it; for pmacct prints the flows its print
# plugin wrote (flushed on SIGINT).
stop_collector() {
  local kids i
  kids=$(pgrep -P "$COL_PID" 2>/dev/null || true)
  kill -INT "$COL_PID" 2>/dev/null || true
  for i in $(seq 300); do
    kill -0 "$COL_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$COL_PID" 2>/dev/null; then
    echo "warning: $1 still running 30 s after SIGINT, killed: its count may be short" >&2
  fi
  kill -KILL "$COL_PID" $kids 2>/dev/null || true
  wait "$COL_PID" 2>/dev/null || true
  pids=() # gone: never signal a pid that may have been reused
  if [ "$1" = pmacct ]; then
    local col=PACKETS
    [ "$2" = sflow ] || col=FLOWS
    awk -F, -v col="$col" 'NR == 1 {for (i = 1; i <= NF; i++) if ($i == col) c = i; next} {s += $c} END {printf "%.0f\n", s}' \
      "$tmp/pmacct.csv" 2>/dev/null || echo 0
  fi
}

field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p"; }

# measure NAME PROTO RATE [SECONDS]: one run; appends a result line to
# $tmp/results: name proto offered decoded pct cpu% cpu_us_per_flow softirq%
# drops sent target generator_us_per_datagram
measure() {
  local name=$1 proto=$2 rate=$3 dur=${4:-$DUR}
  start_collector "$name" "$proto"
  local c0 s0 d0 c1 s1 gen got drops
  c0=$(proc_ns "$COL_PID"); s0=$(softirq_ticks)
  d0=0
  [ "$name" = pmacct ] || d0=$(decoded "$name" "$proto")
  gen=$(onGen "$tmp/loadgen" -proto "$proto" -dst "127.0.0.1:$PORT" -rate "$rate" -duration "${dur}s" 2>>"$tmp/gen.err")
  if [ "$name" = pmacct ]; then
    # Its count comes at exit: let the core read what the kernel holds.
    local i
    for i in $(seq 60); do
      [ "$(rx_queued "$COL_PID")" != 0 ] || break
      sleep 0.25
    done
    sleep 0.5
  else
    got=$(drain "$name" "$proto")
  fi
  c1=$(proc_ns "$COL_PID"); s1=$(softirq_ticks)
  drops=$(udp_drops "$COL_PID")
  if [ "$name" = pmacct ]; then got=$(stop_collector "$name" "$proto"); else stop_collector "$name" "$proto"; fi
  local flows elapsed
  flows=$(echo "$gen" | field flows); elapsed=$(echo "$gen" | field elapsed)
  awk -v n="$name" -v p="$proto" -v r="$rate" -v f="$flows" -v e="$elapsed" -v g="$((got - d0))" \
    -v c="$((c1 - c0))" -v s="$((s1 - s0))" -v hz="$hz" -v dr="$drops" \
    -v gc="$(echo "$gen" | field cpu)" -v gd="$(echo "$gen" | field datagrams)" \
    'BEGIN { pct = f > 0 ? 100 * g / f : 0; cpu = c / 1e9; us = g > 0 ? 1e6 * cpu / g : 0
             printf "%s %s %.0f %.0f %.2f %.0f %.3f %.0f %d %d %s %.2f\n", n, p, f / e, g / e, pct, 100 * cpu / e, us, 100 * s / hz / e, dr, f, r, 1e6 * gc / gd }' \
    | tee -a "$tmp/results" >&2
}

# sweep NAME PROTO RATES...: runs the rates in order, stopping after a run
# below STOP_BELOW %; then bisects REFINE times between the highest rate
# with >= 99 % and the lowest higher one below 99 % (halving, up to 4 more
# times, while no rate passed at all).
sweep() {
  local name=$1 proto=$2; shift 2
  local rate pct
  for rate in "$@"; do
    measure "$name" "$proto" "$rate"
    pct=$(tail -1 "$tmp/results" | awk '{print $5}')
    awk -v p="$pct" -v s="$STOP_BELOW" 'BEGIN {exit !(p < s)}' && break
  done
  local pass fail mid halvings=0 steps=0
  while :; do
    # Targets (column 11) of this collector's runs: highest passing, lowest
    # failing above it.
    read -r pass fail < <(awk -v n="$name" -v p="$proto" '$1 == n && $2 == p {
        if ($5 >= 99) { if ($11 > pass) pass = $11 } else fails[$11] = 1 }
      END { for (f in fails) if (f + 0 > pass + 0 && (fail == "" || f + 0 < fail + 0)) fail = f
            print pass + 0, fail + 0 }' "$tmp/results")
    [ "$fail" != 0 ] || break
    if [ "$pass" = 0 ]; then
      [ $((halvings++)) -lt 4 ] || break
    else
      [ $((steps++)) -lt "$REFINE" ] || break
    fi
    mid=$(awk -v a="$pass" -v b="$fail" 'BEGIN {printf "%.0f", (a > 0 ? sqrt(a * b) : b / 2)}')
    measure "$name" "$proto" "$mid"
  done
}

header() {
  echo "## Collector ingest — run of $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "- machine: $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), kernel $(uname -r)"
  echo "- load average at start: $1; at end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- collector on core $COL_CPU, generator on core $GEN_CPU, RPS to the collector's core: $([ "$RPS" = 1 ] && echo on || echo off)"
  local irq="unknown"
  if [ -r /proc/config.gz ]; then
    if zgrep -q '^CONFIG_IRQ_TIME_ACCOUNTING=y' /proc/config.gz; then irq=on; else irq=off; fi
  fi
  echo "- CONFIG_IRQ_TIME_ACCOUNTING: $irq (off: softirq work that interrupts a process is charged to its CPU time)"
  echo "- $DUR s per run; collectors: $COLLECTORS"
  [[ " $COLLECTORS " != *" goflow2 "* ]] ||
    echo "- goflow2 $(go version -m "$GOFLOW2" | awk '$1 == "mod" {print $3}') -format bin, one socket, queue_size=$GOFLOW2_QUEUE"
  [[ " $COLLECTORS " != *" pmacct "* ]] ||
    echo "- pmacct $(sfacctd -V 2>&1 | awk 'NR == 1 {print $5}') print plugin, aggregate: $PMACCT_AGGREGATE"
  echo
}

report() {
  local proto
  for proto in $PROTOS; do
    echo "### $([ "$proto" = sflow ] && echo "sFlow v5 (flow samples/s)" || echo "NetFlow v9 (flow records/s)")"
    echo
    echo "| collector | offered /s | decoded /s | decoded % | collector CPU % | CPU µs/flow | softirq core $COL_CPU % | kernel drops | generator µs/datagram |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    sort -k1,1 -k3,3n "$tmp/results" | awk -v p="$proto" '$2 == p {
      printf "| %s | %\047d | %\047d | %.2f | %d | %.3f | %d | %\047d | %.2f |\n", $1, $3, $4, $5, $6, $7, $8, $9, $12}'
    echo
  done
  echo "### Highest rate with ≥ 99 % decoded, and CPU cost"
  echo
  echo "CPU µs/flow is taken at the run with the most flows decoded per second (the collector saturated);"
  echo "flows/s per core is 10⁶ ÷ that: what one core fully given to the collector would decode."
  echo
  echo "| protocol | collector | highest offered /s with ≥ 99 % | most decoded /s | CPU µs/flow | flows/s per core | hostflow ÷ collector (≥ 99 % rate) | hostflow ÷ collector (per core) |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|"
  for proto in $PROTOS; do
    awk -v p="$proto" '$2 == p {
        if ($5 >= 99 && $3 > best[$1]) best[$1] = $3
        if ($4 > top[$1]) { top[$1] = $4; us[$1] = $7 }
        seen[$1] = 1 }
      function ratio(h, c) { return (h == 0 || c == 0) ? "—" : sprintf("%.1f×", h / c) }
      END {
        for (c in seen) {
          core[c] = us[c] > 0 ? 1e6 / us[c] : 0
        }
        for (c in seen) printf "| %s | %s | %\047d | %\047d | %.3f | %\047d | %s | %s |\n", p, c, best[c], top[c], us[c], core[c],
          c == "hostflow" ? "" : ratio(best["hostflow"], best[c]), c == "hostflow" ? "" : ratio(core["hostflow"], core[c]) }' "$tmp/results" | sort
  done
  echo
}

load0=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$tmp/results"
for proto in $PROTOS; do
  rates=$SFLOW_RATES
  [ "$proto" = sflow ] || rates=$NETFLOW_RATES
  for name in $COLLECTORS; do
    echo "# $name $proto" >&2
    # shellcheck disable=SC2086
    sweep "$name" "$proto" $rates
  done
done

overload() {
  local proto=$1 cap rate
  cap=$(awk -v p="$proto" '$1 == "hostflow" && $2 == p && $4 > m {m = $4} END {print m + 0}' "$tmp/results")
  [ "$cap" != 0 ] || return 0
  rate=$(awk -v c="$cap" -v f="$OVERLOAD" 'BEGIN {printf "%.0f", c * f}')
  echo "# hostflow $proto overload at $rate flows/s" >&2
  start_collector hostflow "$proto"
  local gen drops got
  gen=$(onGen "$tmp/loadgen" -proto "$proto" -dst "127.0.0.1:$PORT" -rate "$rate" -duration "${OVERLOAD_DUR}s" 2>>"$tmp/gen.err")
  drops=$(udp_drops "$COL_PID")
  got=$(drain hostflow "$proto")
  stop_collector hostflow "$proto"
  local flows elapsed
  flows=$(echo "$gen" | field flows); elapsed=$(echo "$gen" | field elapsed)
  echo "### hostflow under overload: $proto, offered ${OVERLOAD}× the most it decoded in the sweep"
  echo
  # The harness prints cumulative counts every second: the seconds with
  # kernel drops are the overloaded ones (the first and last, partial, are
  # left out).
  awk '/^stats / || /^flows=/ {
      for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      if (n++ && v["kernel_drops"] > k) printf "%.0f %.0f %.4f\n", (v["flows"] - f) / (v["elapsed"] - t), (v["kernel_drops"] - k) / (v["elapsed"] - t), (v["cpu"] - c) / (v["elapsed"] - t)
      f = v["flows"]; k = v["kernel_drops"]; c = v["cpu"]; t = v["elapsed"] }' "$tmp/col.out" | sed '1d;$d' >"$tmp/persec"
  local summary
  summary=$(tail -1 "$tmp/col.out")
  awk -v f="$flows" -v e="$elapsed" -v g="$got" -v cap="$cap" -v dr="$drops" -v idr="$(echo "$summary" | field kernel_drops)" \
    'BEGIN { printf "- offered %\047d flows/s for %.1f s (%\047d flows); decoded %\047d (%.1f %%) — %\047d flows/s, against %\047d /s at best in the sweep\n", f / e, e, f, g, 100 * g / f, g / e, cap
             printf "- kernel drops counted by the inlet (SO_RXQ_OVFL): %\047d datagrams; /proc/net/udp says %\047d\n", idr, dr }'
  if [ -s "$tmp/persec" ]; then
    sort -n "$tmp/persec" | awk '{r[NR] = $1; dr += $2; cpu += $3; us += $1 > 0 ? 1e6 * $3 / $1 : 0}
      END {printf "- overloaded seconds (%d): decoded flows/s min %\047d, median %\047d, max %\047d; kernel drops %\047d datagrams/s; collector CPU %.0f %% of the core, %.3f µs/flow\n",
        NR, r[1], r[int((NR + 1) / 2)], r[NR], dr / NR, 100 * cpu / NR, us / NR}'
  fi
  echo
}

{
  header "$load0"
  report
  if [ "$OVERLOAD" != 0 ] && [[ " $COLLECTORS " == *" hostflow "* ]]; then
    for proto in $PROTOS; do overload "$proto"; done
  fi
} >"$tmp/report.md"
cat "$tmp/report.md"
[ -z "$OUT" ] || cp "$tmp/report.md" "$OUT"
