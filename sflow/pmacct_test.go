package sflow

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"testing"
)

// TestPmacctSfprobe decodes real sFlow from pmacct's sfprobe plugin
// (testdata/pmacct-sfprobe.pcap, made by testdata/regen.sh: pmacctd 1.7.7
// sampling iperf3 traffic 1:20 on a veth, exporting over IPv4 and IPv6) and
// checks every field against what the capture set-up implies.
func TestPmacctSfprobe(t *testing.T) {
	pkts, err := readPcapUDP("testdata/pmacct-sfprobe.pcap")
	if err != nil {
		t.Fatal(err)
	}
	if len(pkts) < 20 {
		t.Fatalf("%d datagrams in the capture, want at least 20", len(pkts))
	}
	agents := map[bool]netip.Addr{false: netip.MustParseAddr("10.231.0.1"), true: netip.MustParseAddr("fd00:231::1")}
	inside := map[bool]netip.Prefix{false: netip.MustParsePrefix("10.231.0.0/24"), true: netip.MustParsePrefix("fd00:231::/64")}
	type stream struct{ seq, uptime, pool, flowSeq uint32 }
	streams := map[netip.Addr]*stream{}
	var d Decoder
	var dg Datagram
	var flows, counters, failed int
	for i, p := range pkts {
		v6 := p.src.Addr().Is6()
		// Seeds for FuzzDecode: the first datagrams and the small ones
		// (counter samples, pmacct's short IPv6 datagram).
		if *update && (i < 3 || len(p.data) < 200) {
			writeFuzzSeed(t, fmt.Sprintf("pmacct-%d", i), p.data)
		}
		err := d.Decode(p.data, &dg)
		if err != nil {
			// pmacct sizes its first, empty, counter sample for an IPv4
			// header even when the agent is IPv6: the datagram ends 12
			// bytes early (tshark calls it malformed too).
			if !errors.Is(err, ErrTruncated) || !v6 || len(p.data) != 48 {
				t.Errorf("datagram %d (%d bytes from %s): %v", i, len(p.data), p.src, err)
			}
			failed++
			continue
		}
		if dg.AgentAddress != agents[v6] || dg.SubAgentID != 1402 {
			t.Errorf("datagram %d: agent %s sub-agent %d, want %s 1402", i, dg.AgentAddress, dg.SubAgentID, agents[v6])
		}
		st := streams[dg.AgentAddress]
		if st == nil {
			st = &stream{}
			streams[dg.AgentAddress] = st
		}
		// The failed first IPv6 datagram took sequence number 1.
		if dg.SequenceNumber <= st.seq || (st.seq > 0 && dg.SequenceNumber != st.seq+1) || dg.Uptime < st.uptime || dg.Uptime%1000 != 0 {
			t.Errorf("datagram %d: seq %d after %d, uptime %d after %d", i, dg.SequenceNumber, st.seq, dg.Uptime, st.uptime)
		}
		st.seq, st.uptime = dg.SequenceNumber, dg.Uptime
		if len(dg.UnknownSamples) != 0 {
			t.Errorf("datagram %d: unknown samples %v", i, dg.UnknownSamples)
		}
		for _, s := range dg.FlowSamples {
			flows++
			if s.Expanded || s.SourceType != 0 || s.SourceIndex != 1 || s.SamplingRate != 20 || s.Drops != 0 ||
				s.Input != IfIndexInternal || s.Output != IfIndexInternal || s.Has != HasSampledHeader|HasSwitch || len(s.Unknown) != 0 {
				t.Errorf("datagram %d flow sample %d: %+v", i, s.SequenceNumber, s)
			}
			if s.SamplePool <= st.pool || s.SequenceNumber <= st.flowSeq {
				t.Errorf("datagram %d: pool %d after %d, sample seq %d after %d", i, s.SamplePool, st.pool, s.SequenceNumber, st.flowSeq)
			}
			st.pool, st.flowSeq = s.SamplePool, s.SequenceNumber
			checkPmacctHeader(t, i, &s.SampledHeader, inside)
		}
		for _, s := range dg.CounterSamples {
			counters++
			g := s.Generic
			if s.Expanded || s.Has != HasGeneric || g.Type != 6 || g.Speed != 1_000_000_000 || g.Status != 3 ||
				g.Direction != 1 || g.InOctets == 0 || g.InUcastPkts == 0 {
				t.Errorf("datagram %d counter sample: %+v", i, s)
			}
		}
	}
	if failed > 1 || flows < 100 || counters < 2 || len(streams) != 2 {
		t.Errorf("%d failed datagrams, %d flow samples, %d counter samples, %d agents", failed, flows, counters, len(streams))
	}
}

// checkPmacctHeader checks a sampled Ethernet header: pmacct's frame length
// is the IP length + 14 (Ethernet) + 4 (FCS, reported stripped), and the
// addresses are those of the namespaces in regen.sh.
func checkPmacctHeader(t *testing.T, i int, h *SampledHeader, inside map[bool]netip.Prefix) {
	t.Helper()
	b := h.Header
	if h.Protocol != HeaderEthernet || h.Stripped != 4 || len(b) > 128 || len(b) < 14+40 {
		t.Errorf("datagram %d: header protocol %d, stripped %d, %d bytes", i, h.Protocol, h.Stripped, len(b))
		return
	}
	var ipLen int
	var src, dst netip.Addr
	switch binary.BigEndian.Uint16(b[12:]) {
	case 0x0800:
		ipLen = int(binary.BigEndian.Uint16(b[16:]))
		src, dst = netip.AddrFrom4([4]byte(b[26:30])), netip.AddrFrom4([4]byte(b[30:34]))
	case 0x86dd:
		ipLen = 40 + int(binary.BigEndian.Uint16(b[18:]))
		src, dst = netip.AddrFrom16([16]byte(b[22:38])), netip.AddrFrom16([16]byte(b[38:54]))
	default:
		t.Errorf("datagram %d: ethertype %#x", i, binary.BigEndian.Uint16(b[12:]))
		return
	}
	if int(h.FrameLength) != ipLen+18 {
		t.Errorf("datagram %d: frame length %d, IP length %d", i, h.FrameLength, ipLen)
	}
	if p := inside[src.Is6()]; !p.Contains(src) || !p.Contains(dst) {
		t.Errorf("datagram %d: sampled %s -> %s, outside %s", i, src, dst, p)
	}
}
