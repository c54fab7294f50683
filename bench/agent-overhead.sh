#!/usr/bin/env bash
# CPU cost of packet sampling: the hostflow agent (1-in-N in the kernel,
# only samples reach user space) side by side with pmacctd's sfprobe plugin
# (every packet copied to user space, sampled there), at the same rates on
# the same traffic: small UDP datagrams from one network namespace to
# another over a veth pair, sampled on the receiving end.
#
# Prints, per sampler and rate: packets/s forwarded, CPU seconds of the
# sampler's processes per million packets, the share of one core, and the
# machine-wide busy CPU per million packets (which also counts the kernel
# work done on the sampler's behalf in softirq, e.g. pmacctd's ring copies).
#
# Needs root, iproute2, pmacctd, Go. Bounded: DUR seconds per case (default
# 10), about 7 × (DUR + 3) s in all; everything it starts is stopped and the
# namespaces are deleted on exit, even on failure.
#   sudo bench/agent-overhead.sh            # rates 1000 and 100, as fast as possible
#   DUR=20 RATES="1000" PPS=250000 bench/agent-overhead.sh   # paced offered load
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${DUR:-10}
RATES=${RATES:-"1000 100"}
PPS=${PPS:-0}
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 1; }
for t in ip pmacctd go; do command -v "$t" >/dev/null || { echo "needs $t" >&2; exit 1; }; done

tmp=$(mktemp -d)
G=hfbench$$g
D=hfbench$$d
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  ip netns del "$G" 2>/dev/null || true
  ip netns del "$D" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/agentbench" ./bench/agentbench
ip netns add "$G"
ip netns add "$D"
ip link add bg netns "$G" type veth peer name bd netns "$D"
ip -n "$G" addr add 198.18.1.1/24 dev bg
ip -n "$D" addr add 198.18.1.2/24 dev bd
for ns in "$G" "$D"; do ip -n "$ns" link set lo up; done
ip -n "$G" link set bg up
ip -n "$D" link set bd up
# The sink port has no listener: the receiver's kernel drops the datagrams
# (and rate-limits its ICMP answers), so the cost measured is the tap's.

hz=$(getconf CLK_TCK)
# proc_ticks PID... : utime + stime of the processes and their children.
proc_ticks() {
  local total=0 p c
  for p in "$@"; do
    for c in "$p" $(pgrep -P "$p" || true); do
      [ -r "/proc/$c/stat" ] || continue
      total=$((total + $(awk '{print $14 + $15}' "/proc/$c/stat")))
    done
  done
  echo "$total"
}
busy_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }
rx() { ip netns exec "$D" cat /sys/class/net/bd/statistics/rx_packets; }

printf '%-22s %10s %14s %10s %16s\n' sampler pkts/s "cpu-s/Mpkt" "% core" "host cpu-s/Mpkt"
# measure NAME PID...: send traffic for DUR seconds and print one row.
measure() {
  local name=$1; shift
  local c0 b0 r0 t0 c1 b1 r1 t1
  c0=$(proc_ticks "$@"); b0=$(busy_ticks); r0=$(rx); t0=$(date +%s.%N)
  ip netns exec "$G" "$tmp/agentbench" gen -dst 198.18.1.2:9 -duration "${DUR}s" -pps "$PPS" >/dev/null
  c1=$(proc_ticks "$@"); b1=$(busy_ticks); r1=$(rx); t1=$(date +%s.%N)
  awk -v n="$name" -v c=$((c1 - c0)) -v b=$((b1 - b0)) -v r=$((r1 - r0)) -v dt="$(echo "$t1 - $t0" | bc)" -v hz="$hz" \
    'BEGIN { m = r / 1e6; printf "%-22s %10.0f %14.4f %10.2f %16.3f\n", n, r / dt, (c / hz) / m, 100 * (c / hz) / dt, (b / hz) / m }'
}

measure "none (baseline)"

for rate in $RATES; do
  cat >"$tmp/agent.yaml" <<CONF
interfaces: [bd]
sampling: {default: $rate, interfaces: {bd: $rate}}
collectors: ["127.0.0.1:6343"]
agent-address: 198.18.1.2
polling: 20s
CONF
  ip netns exec "$D" "$tmp/agentbench" agent -c "$tmp/agent.yaml" 2>"$tmp/agent.log" &
  apid=$!; pids+=("$apid")
  sleep 2
  kill -0 "$apid" || { cat "$tmp/agent.log" >&2; exit 1; }
  measure "hostflow agent 1:$rate" "$apid"
  kill "$apid"; wait "$apid" 2>/dev/null || true

  cat >"$tmp/pmacctd.conf" <<CONF
daemonize: false
pcap_interface: bd
snaplen: 128
plugins: sfprobe
sampling_rate: $rate
sfprobe_receiver: 127.0.0.1:6343
sfprobe_agentip: 127.0.0.1
CONF
  ip netns exec "$D" pmacctd -f "$tmp/pmacctd.conf" >"$tmp/pmacctd.log" 2>&1 &
  ppid=$!; pids+=("$ppid")
  sleep 2
  kill -0 "$ppid" || { cat "$tmp/pmacctd.log" >&2; exit 1; }
  measure "pmacctd sfprobe 1:$rate" "$ppid"
  kill "$ppid"; wait "$ppid" 2>/dev/null || true
done
