package decoder

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/internal/pcapfile"
	"github.com/hostflow/hostflow/packet"
	"github.com/hostflow/hostflow/sflow"
)

// sfPmacctCapture is real sFlow from pmacct's sfprobe (pmacctd sampling
// iperf3 traffic 1:20 on a veth, exporting over IPv4 and IPv6; see the
// sflow package's testdata/regen.sh).
const sfPmacctCapture = "../sflow/testdata/pmacct-sfprobe.pcap"

// sfReadCapture returns the UDP payloads of a classic pcap file, using the
// packet package to find them.
func sfReadCapture(t testing.TB, path string) []Packet {
	t.Helper()
	link, frames, err := pcapfile.Read(path)
	if err != nil || link != pcapfile.LinkEthernet {
		t.Fatalf("%s: link type %d, %v: want an Ethernet capture", path, link, err)
	}
	var out []Packet
	var h packet.Header
	for _, f := range frames {
		if err := packet.Parse(packet.LinkEthernet, f.Data, &h); err != nil || h.Proto != packet.ProtoUDP {
			t.Fatalf("%s: frame is not UDP: %v", path, err)
		}
		out = append(out, Packet{Payload: f.Data[h.L4Offset+8:], Source: netip.AddrPortFrom(h.SrcAddr, h.SrcPort), Received: f.Sec})
	}
	return out
}

func TestSFlowPmacctSfprobe(t *testing.T) {
	pkts := sfReadCapture(t, sfPmacctCapture)
	d, rep := sfNew(t)
	agents := map[netip.Addr]bool{netip.MustParseAddr("10.231.0.1"): true, netip.MustParseAddr("fd00:231::1"): true}
	// Both probes sample the same veth: each sees IPv4 and IPv6 traffic.
	inside := func(a netip.Addr) bool {
		return netip.MustParsePrefix("10.231.0.0/24").Contains(a) || netip.MustParsePrefix("fd00:231::/64").Contains(a) ||
			a.IsLinkLocalUnicast()
	}
	var b Batch
	failed := 0
	for i, p := range pkts {
		if err := d.Decode(p, &b); err != nil {
			// pmacct's first IPv6 datagram is 12 bytes short (see the
			// sflow package's TestPmacctSfprobe).
			if !errors.Is(err, sflow.ErrTruncated) || !p.Source.Addr().Is6() {
				t.Errorf("datagram %d: %v", i, err)
			}
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("%d datagrams failed, want 1", failed)
	}

	// Every flow: pmacct's fixed settings and addresses of the test
	// network. Without pcap_interfaces_map, sfprobe sends input and output
	// 0x3FFFFFFF (internal) whatever sfprobe_ifindex says: both are stored
	// as 0 and the direction stays undefined.
	type key struct {
		exporter netip.Addr
		proto    uint8
		dstPort  uint16
	}
	sums := map[key][2]uint64{}
	for i := range b.Flows {
		r := &b.Flows[i]
		switch {
		case !agents[r.ExporterAddress] || r.SubAgentID != 1402 || r.SamplingRate != 20:
			t.Errorf("flow %d: exporter %v/%d rate %d", i, r.ExporterAddress, r.SubAgentID, r.SamplingRate)
		case r.InIf != 0 || r.OutIf != 0 || r.FlowDirection != flow.DirectionUndefined:
			t.Errorf("flow %d: in %d out %d direction %d, want 0, 0, undefined", i, r.InIf, r.OutIf, r.FlowDirection)
		case r.Bytes < 54 || r.Packets != 1:
			t.Errorf("flow %d: %d bytes %d packets", i, r.Bytes, r.Packets)
		}
		if r.EType != 0x0800 && r.EType != 0x86dd {
			continue // ARP, neighbour discovery multicast MACs are fine too
		}
		if !inside(r.SrcAddr) || !inside(r.DstAddr) && !r.DstAddr.IsMulticast() {
			t.Errorf("flow %d: %v -> %v outside the test network", i, r.SrcAddr, r.DstAddr)
		}
		port := r.DstPort
		if r.SrcPort == 5201 {
			port = 5201
		}
		k := key{r.ExporterAddress, r.Proto, port}
		s := sums[k]
		sums[k] = [2]uint64{s[0] + 1, s[1] + r.Bytes}
	}
	var lines []string
	for k, s := range sums {
		lines = append(lines, fmt.Sprintf("exporter=%v proto=%d port=%d samples=%d bytes=%d", k.exporter, k.proto, k.dstPort, s[0], s[1]))
	}
	sort.Strings(lines)
	var ifaces []string
	for _, c := range b.Interfaces {
		ifaces = append(ifaces, fmt.Sprintf("interface exporter=%v ifindex=%d type=%d speed=%d status=%d in=%d/%d out=%d/%d",
			c.ExporterAddress, c.IfIndex, c.IfType, c.IfSpeed, c.IfStatus, c.InOctets, c.InUcastPkts, c.OutOctets, c.OutUcastPkts))
	}
	got := strings.Join(lines, "\n") + "\n" + strings.Join(ifaces, "\n") + "\n"
	sfGolden(t, "sflow/pmacct-sfprobe.golden", got)

	for _, want := range []key{
		{netip.MustParseAddr("10.231.0.1"), 6, 5201},
		{netip.MustParseAddr("fd00:231::1"), 6, 5201},
		{netip.MustParseAddr("fd00:231::1"), 17, 5201},
	} {
		if sums[want][0] == 0 {
			t.Errorf("no samples of %+v (iperf3)", want)
		}
	}
	// iperf3 -u -l 600 over IPv6: every UDP sample is a 662-byte frame
	// (14 Ethernet + 40 IPv6 + 8 UDP + 600); pmacct sends frame_length 666
	// with stripped 4 (the FCS).
	for exp := range agents {
		if s := sums[key{exp, 17, 5201}]; s[1] != s[0]*662 {
			t.Errorf("%v: %d UDP samples of %d bytes, want 662 each", exp, s[0], s[1])
		}
	}
	for name, want := range map[string]float64{"sequence_lost_total": 0, "sequence_resets_total": 0, "exporters": 2} {
		if got := sfMetric(t, rep, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := sfMetric(t, rep, "errors_total", "reason", "truncated"); got != 1 {
		t.Errorf("truncated datagrams %v, want 1", got)
	}
}

// TestSFlowPmacctTun decodes pmacct's sfprobe sampling a tun device
// (testdata/sflow/pmacct-tun.pcap, made by regen-pmacct-tun.sh): header
// protocols 11 and 12, whose byte count must be the IP packet's length.
func TestSFlowPmacctTun(t *testing.T) {
	d, rep := sfNew(t)
	var b Batch
	for i, p := range sfReadCapture(t, "testdata/sflow/pmacct-tun.pcap") {
		if err := d.Decode(p, &b); err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
	}
	agent := netip.MustParseAddr("100.100.0.1")
	var lines []string
	filler := 0
	for i := range b.Flows {
		r := &b.Flows[i]
		if r.ExporterAddress != agent || r.SubAgentID != 7 || r.SamplingRate != 1 || r.SrcMAC != 0 {
			t.Errorf("flow %d: exporter %v/%d rate %d MAC %x", i, r.ExporterAddress, r.SubAgentID, r.SamplingRate, r.SrcMAC)
		}
		if r.DstPort == 9 && r.Proto == packet.ProtoUDP {
			// Filler: 1-byte UDP datagrams over IPv4.
			if r.Bytes != 29 || r.EType != 0x0800 {
				t.Errorf("flow %d: filler of %d bytes, etype %#x; want 29 bytes of IPv4", i, r.Bytes, r.EType)
			}
			filler++
			continue
		}
		// The IP sizes the traffic implies: echoes of 56 bytes and the first
		// fragment of the 2000-byte ones, SYNs with their options, UDP
		// with 10 bytes of payload.
		want := map[[2]uint16][]uint64{
			{0x0800, 8 << 8}: {84, 1500}, {0x86dd, 128 << 8}: {104, 1496},
			{0x0800, 443}: {60}, {0x86dd, 443}: {80},
			{0x0800, 53}: {38}, {0x86dd, 53}: {58},
		}[[2]uint16{r.EType, r.DstPort | uint16(r.ICMPType)<<8}]
		if r.IPFragmentOffset == 0 && len(want) > 0 && !slices.Contains(want, r.Bytes) {
			t.Errorf("flow %d: %d bytes, want one of %v", i, r.Bytes, want)
		}
		lines = append(lines, fmt.Sprintf("etype=%#x proto=%d %v:%d -> %v:%d icmp=%d/%d frag-offset=%d bytes=%d",
			r.EType, r.Proto, r.SrcAddr, r.SrcPort, r.DstAddr, r.DstPort, r.ICMPType, r.ICMPCode, r.IPFragmentOffset, r.Bytes))
	}
	if filler < 300 {
		t.Errorf("%d filler samples, want most of the 400 sent", filler)
	}
	sfGolden(t, "sflow/pmacct-tun.golden", strings.Join(lines, "\n")+"\n")
	for _, reason := range headerReasonNames {
		if got := sfMetric(t, rep, "sampled_header_errors_total", "reason", reason); got != 0 {
			t.Errorf("sampled header errors %s: %v", reason, got)
		}
	}
}
