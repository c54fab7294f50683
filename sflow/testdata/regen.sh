#!/usr/bin/env bash
# Regenerates pmacct-sfprobe.pcap: real sFlow v5 from pmacct's sfprobe plugin
# (pmacctd, Debian package pmacct), over IPv4 and over IPv6, for the decoder
# tests in pmacct_test.go. Needs root (network namespaces), pmacctd, tcpdump,
# and iperf3. Runs about 30 s: sfprobe sends counters only every 20 s.
#
# Two namespaces joined by a veth pair carry iperf3 TCP and UDP traffic;
# two pmacctd instances on the "a" side sample it 1:20 and export to the
# loopback of "a" (one over IPv4, one over IPv6), where tcpdump records them.
set -euo pipefail
cd "$(dirname "$0")"
out=$PWD/pmacct-sfprobe.pcap

for tool in pmacctd tcpdump iperf3 ip; do
  command -v "$tool" >/dev/null || { echo "regen.sh: $tool not found" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "regen.sh: needs root (network namespaces)" >&2; exit 1; }

a=hfsflow-a-$$
b=hfsflow-b-$$
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del "$a" 2>/dev/null || true
  ip netns del "$b" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

ip netns add "$a"
ip netns add "$b"
ip -n "$a" link set lo up
ip -n "$b" link set lo up
ip -n "$a" link add veth0 type veth peer name veth1 netns "$b"
# Addresses exist only inside these two namespaces.
ip -n "$a" addr add 10.231.0.1/24 dev veth0
ip -n "$b" addr add 10.231.0.2/24 dev veth1
ip -n "$a" addr add fd00:231::1/64 dev veth0 nodad
ip -n "$b" addr add fd00:231::2/64 dev veth1 nodad
ip -n "$a" link set veth0 up
ip -n "$b" link set veth1 up

ip netns exec "$a" tcpdump -i lo -n -s 2048 -U -w "$out" 'udp port 6343' 2>"$tmp/tcpdump.log" &
pids+=($!)

probe() { # name receiver agentip
  cat >"$tmp/$1.conf" <<EOF
daemonize: false
plugins: sfprobe
sampling_rate: 20
snaplen: 128
sfprobe_receiver: $2
sfprobe_agentip: $3
sfprobe_agentsubid: 1402
sfprobe_ifspeed: 1000000000
pcap_interface: veth0
sfprobe_direction: in
sfprobe_ifindex: 7
EOF
  ip netns exec "$a" pmacctd -f "$tmp/$1.conf" >"$tmp/$1.log" 2>&1 &
  pids+=($!)
}
probe v4 127.0.0.1:6343 10.231.0.1
probe v6 '[::1]:6343' fd00:231::1
sleep 2

ip netns exec "$b" iperf3 -s -p 5201 >/dev/null 2>&1 &
pids+=($!)
sleep 1
ip netns exec "$a" iperf3 -c 10.231.0.2 -p 5201 -t 2 -b 4M -l 1000 >/dev/null
ip netns exec "$a" iperf3 -c fd00:231::2 -p 5201 -t 2 -b 2M -l 600 -u >/dev/null
# Keep going past sfprobe's 20 s counter interval.
sleep 19
ip netns exec "$a" iperf3 -c fd00:231::2 -p 5201 -t 1 -b 1M -l 800 >/dev/null
sleep 2
size=$(stat -c %s "$out")
if [ "$size" -lt 1000 ]; then
  echo "regen.sh: nothing captured; logs:" >&2
  cat "$tmp"/*.log >&2
  exit 1
fi
echo "regen.sh: wrote $out ($size bytes)"
