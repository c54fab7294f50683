package main

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
)

// flowSpec is one generated flow: what goes into an sFlow sampled header
// or a NetFlow record.
type flowSpec struct {
	src, dst         netip.Addr
	sport, dport     uint16
	proto            uint8 // 6 TCP or 17 UDP
	tos, ttl         uint8
	tcpFlags         uint8
	ipID             uint16
	frameLen         uint32 // sFlow: the Ethernet frame length, FCS included
	bytes, packets   uint32 // NetFlow counters
	inIf, outIf      uint32
	srcMask, dstMask uint8
	nextHop          netip.Addr
	flowLabel        uint32
	first, last      uint32 // NetFlow switched times, ms of exporter uptime
	outgoing         bool   // the local host sent it
}

// flowGen draws varied but plausible flows: a fixed set of local hosts
// talking to random remote addresses, server ports from a short list of
// well-known ones, client ports ephemeral, small and full-size packets.
type flowGen struct {
	rng        *rand.Rand
	local4     []netip.Addr
	local6     []netip.Addr
	ipv6Share  float64
	udpShare   float64
	smallShare float64
}

var nextHop6 = netip.MustParseAddr("2001:db8:ffff::1")

var serverPorts = []uint16{443, 80, 53, 22, 5432, 6379, 8080, 9090, 123, 3306, 25, 993}

func newFlowGen(seed uint64, hosts int, ipv6Share float64) *flowGen {
	g := &flowGen{rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)), ipv6Share: ipv6Share, udpShare: 0.2, smallShare: 0.4}
	for i := range hosts {
		g.local4 = append(g.local4, netip.AddrFrom4([4]byte{10, 20, byte(i >> 8), byte(i)}))
		a := [16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0x20}
		binary.BigEndian.PutUint16(a[14:], uint16(i+1))
		g.local6 = append(g.local6, netip.AddrFrom16(a))
	}
	return g
}

// remote4 is a random unicast address outside 0/8, 10/8, 127/8 and
// multicast: it looks like the Internet to a collector.
func (g *flowGen) remote4() netip.Addr {
	for {
		v := g.rng.Uint32()
		switch b := byte(v >> 24); {
		case b == 0 || b == 10 || b == 127 || b >= 224:
			continue
		}
		var a [4]byte
		binary.BigEndian.PutUint32(a[:], v)
		return netip.AddrFrom4(a)
	}
}

// remote6 is a random global unicast address (2000::/3).
func (g *flowGen) remote6() netip.Addr {
	var a [16]byte
	binary.BigEndian.PutUint64(a[:], g.rng.Uint64())
	binary.BigEndian.PutUint64(a[8:], g.rng.Uint64())
	a[0] = 0x20 | a[0]&0x1f
	return netip.AddrFrom16(a)
}

func (g *flowGen) next(f *flowSpec) {
	v6 := g.rng.Float64() < g.ipv6Share
	var local, remote netip.Addr
	if v6 {
		local, remote = g.local6[g.rng.IntN(len(g.local6))], g.remote6()
	} else {
		local, remote = g.local4[g.rng.IntN(len(g.local4))], g.remote4()
	}
	f.proto = 6
	if g.rng.Float64() < g.udpShare {
		f.proto = 17
	}
	server := serverPorts[g.rng.IntN(len(serverPorts))]
	client := uint16(32768 + g.rng.IntN(28232))
	// Half the flows are the local host serving, half it being a client;
	// half are sent by it, half received.
	localPort, remotePort := server, client
	if g.rng.IntN(2) == 0 {
		localPort, remotePort = client, server
	}
	f.outgoing = g.rng.IntN(2) == 0
	if f.outgoing {
		f.src, f.dst, f.sport, f.dport = local, remote, localPort, remotePort
	} else {
		f.src, f.dst, f.sport, f.dport = remote, local, remotePort, localPort
	}
	// Router interfaces for NetFlow; sFlow agents use their own.
	f.inIf, f.outIf = 1+uint32(g.rng.IntN(48)), 1+uint32(g.rng.IntN(48))
	f.tos = []uint8{0, 0, 0, 0x10, 0x28, 0xb8}[g.rng.IntN(6)]
	f.ttl = uint8(40 + g.rng.IntN(24))
	f.ipID = uint16(g.rng.Uint32())
	f.tcpFlags = 0
	if f.proto == 6 {
		f.tcpFlags = []uint8{0x10, 0x18, 0x18, 0x10, 0x02, 0x12, 0x11}[g.rng.IntN(7)]
	}
	minFrame := 64
	if v6 {
		minFrame = 86
	}
	if g.rng.Float64() < g.smallShare {
		f.frameLen = uint32(minFrame + g.rng.IntN(64))
	} else {
		f.frameLen = uint32(1280 + g.rng.IntN(239))
	}
	f.packets = 1 + uint32(g.rng.IntN(200))
	f.bytes = f.packets * (f.frameLen - 18)
	f.srcMask, f.dstMask = 24, 16
	f.nextHop = netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + g.rng.IntN(4))})
	if v6 {
		f.srcMask, f.dstMask = 48, 32
		f.nextHop = nextHop6
		f.flowLabel = g.rng.Uint32() & 0xfffff
	}
}
