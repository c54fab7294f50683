#!/usr/bin/env bash
# Regenerates the real-packet fixtures of packet's tests (needs root,
# iproute2, tcpdump, iperf3, python3):
#   eth.pcap  Ethernet frames on a veth pair between two namespaces: ARP, NDP,
#             ICMP/ICMPv6 echoes (plain and fragmented), TCP (iperf3 over
#             IPv6), UDP (iperf3 over IPv4). VLAN-tagged frames are covered
#             by the handwritten cases: CI kernels may lack the 8021q module.
#   raw.pcap  packets leaving a tun device (an L3 device like tailscale0 or
#             wg0: captures start at the IP header): echoes, fragmented
#             echoes, TCP SYNs and UDP, IPv4 and IPv6
# Snap length 128, as an sFlow agent samples. Writes next to this script.
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)
a=hfpkt-a-$$ b=hfpkt-b-$$
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  ip netns del "$a" 2>/dev/null || true
  ip netns del "$b" 2>/dev/null || true
  rm -f "$out"/*.pcap.tmp
}
trap cleanup EXIT
in_a() { ip netns exec "$a" "$@"; }
in_b() { ip netns exec "$b" "$@"; }

ip netns add "$a"
ip netns add "$b"
ip link add va netns "$a" type veth peer name vb netns "$b"
ip -n "$a" addr add 192.0.2.1/24 dev va
ip -n "$b" addr add 192.0.2.2/24 dev vb
ip -n "$a" addr add 2001:db8::1/64 dev va nodad
ip -n "$b" addr add 2001:db8::2/64 dev vb nodad
for d in lo va; do ip -n "$a" link set "$d" up; done
for d in lo vb; do ip -n "$b" link set "$d" up; done

# The tun device is held open by a sleeping python3 so that it has a carrier.
ip netns exec "$a" python3 -c '
import fcntl, os, struct, time
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH", b"tun0", 0x0001 | 0x1000))  # TUNSETIFF: IFF_TUN | IFF_NO_PI
time.sleep(30)
' & pids+=($!)
for _ in $(seq 50); do in_a ip link show tun0 >/dev/null 2>&1 && break; sleep 0.1; done
ip -n "$a" addr add 100.100.0.1/24 dev tun0
ip -n "$a" addr add fd7a:115c:a1e0::1/64 dev tun0 nodad
ip -n "$a" link set tun0 up

in_b iperf3 -s -D -1 -p 5201
in_b iperf3 -s -D -1 -p 5202
sleep 0.5
# Not through in_a: $! must be tcpdump itself (ip netns exec execs it).
ip netns exec "$a" tcpdump -q -U -s 128 -i va -w "$out/eth.pcap.tmp" 2>/dev/null & pids+=($!)
ip netns exec "$a" tcpdump -q -U -s 128 -i tun0 -w "$out/raw.pcap.tmp" 2>/dev/null & pids+=($!)
sleep 1

for dst in 192.0.2.2 2001:db8::2 100.100.0.2 fd7a:115c:a1e0::2; do
  in_a ping -q -c 1 -W 1 "$dst" >/dev/null || true
  in_a ping -q -c 1 -W 1 -s 2000 "$dst" >/dev/null || true
done
in_a iperf3 -c 2001:db8::2 -p 5201 -n 4K -l 1K >/dev/null
in_a iperf3 -c 192.0.2.2 -p 5202 -u -n 2K -l 512 >/dev/null
for dst in 100.100.0.2 '[fd7a:115c:a1e0::2]'; do
  d=${dst#[}; d=${d%]}
  in_a timeout 0.5 bash -c "echo > /dev/tcp/$d/443" 2>/dev/null || true
  in_a bash -c "echo dns > /dev/udp/$d/53" 2>/dev/null || true
done
sleep 1
kill -TERM "${pids[@]:1}"
wait "${pids[@]:1}" || true
mv "$out/eth.pcap.tmp" "$out/eth.pcap"
mv "$out/raw.pcap.tmp" "$out/raw.pcap"
