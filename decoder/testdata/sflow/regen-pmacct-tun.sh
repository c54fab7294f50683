#!/usr/bin/env bash
# Regenerates pmacct-tun.pcap: real sFlow from pmacct's sfprobe sampling a
# tun device (an L3 device like tailscale0: sFlow header protocols 11 and
# 12), for TestSFlowPmacctTun. Needs root, pmacctd, tcpdump, python3.
#
# In a network namespace, a tun device held open by python3 carries ICMP
# echoes (one of them fragmented), a TCP SYN and UDP datagrams, over IPv4
# and IPv6 (nothing answers: outgoing packets are enough). pmacctd samples
# every packet (rate 1) and exports to the namespace's loopback, where
# tcpdump records the datagrams.
set -euo pipefail
cd "$(dirname "$0")"
out=$PWD/pmacct-tun.pcap
for tool in pmacctd tcpdump python3 ip; do
  command -v "$tool" >/dev/null || { echo "$0: $tool not found" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "$0: needs root (network namespaces)" >&2; exit 1; }

ns=hfsftun-$$
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
ip netns exec "$ns" python3 -c '
import fcntl, os, struct, time
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH", b"tun0", 0x0001 | 0x1000))  # TUNSETIFF: IFF_TUN | IFF_NO_PI
time.sleep(60)
' & pids+=($!)
for _ in $(seq 50); do ip -n "$ns" link show tun0 >/dev/null 2>&1 && break; sleep 0.1; done
ip -n "$ns" addr add 100.100.0.1/24 dev tun0
ip -n "$ns" addr add fd7a:115c:a1e0::1/64 dev tun0 nodad
ip -n "$ns" link set tun0 up

ip netns exec "$ns" tcpdump -i lo -n -s 2048 -U -w "$out" 'udp port 6343' 2>"$tmp/tcpdump.log" & pids+=($!)
cat >"$tmp/pmacctd.conf" <<CONF
daemonize: false
plugins: sfprobe
sampling_rate: 1
snaplen: 128
sfprobe_receiver: 127.0.0.1:6343
sfprobe_agentip: 100.100.0.1
sfprobe_agentsubid: 7
pcap_interface: tun0
plugin_buffer_size: 4096
plugin_pipe_size: 4096000
CONF
ip netns exec "$ns" pmacctd -f "$tmp/pmacctd.conf" >"$tmp/pmacctd.log" 2>&1 & pids+=($!)
sleep 2
for dst in 100.100.0.2 fd7a:115c:a1e0::2; do
  ip netns exec "$ns" ping -q -c 1 -W 1 "$dst" >/dev/null || true
  ip netns exec "$ns" ping -q -c 1 -W 1 -s 2000 "$dst" >/dev/null || true
  ip netns exec "$ns" timeout 0.5 bash -c "echo > /dev/tcp/$dst/443" 2>/dev/null || true
  ip netns exec "$ns" bash -c "echo -n 0123456789 > /dev/udp/$dst/53" 2>/dev/null || true
done
# pmacctd hands packets to its plugins by buffers: push the last ones
# through with filler datagrams (UDP to port 9, discard).
ip netns exec "$ns" bash -c 'for i in $(seq 400); do echo -n x > /dev/udp/100.100.0.2/9; done' 2>/dev/null || true
sleep 3
size=$(stat -c %s "$out")
if [ "$size" -lt 200 ]; then
  echo "$0: nothing captured; logs:" >&2
  cat "$tmp"/*.log >&2
  exit 1
fi
echo "$0: wrote $out ($size bytes)"
