package sflow

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// tcpPacket builds an Ethernet + IPv4/IPv6 + TCP header (no payload) for a
// packet of ipLen bytes at the IP layer.
func tcpPacket(src, dst netip.AddrPort, ipLen int) []byte {
	var p []byte
	p = append(p, 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1)
	if src.Addr().Is4() {
		p = binary.BigEndian.AppendUint16(p, 0x0800)
		ip := []byte{0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 6, 0, 0}
		binary.BigEndian.PutUint16(ip[2:], uint16(ipLen))
		ip = append(append(ip, src.Addr().AsSlice()...), dst.Addr().AsSlice()...)
		binary.BigEndian.PutUint16(ip[10:], checksum(ip, 0))
		p = append(p, ip...)
	} else {
		p = binary.BigEndian.AppendUint16(p, 0x86dd)
		ip := []byte{0x60, 0, 0, 0, 0, 0, 6, 64}
		binary.BigEndian.PutUint16(ip[4:], uint16(ipLen-40))
		ip = append(append(ip, src.Addr().AsSlice()...), dst.Addr().AsSlice()...)
		p = append(p, ip...)
	}
	tcp := binary.BigEndian.AppendUint16(nil, src.Port())
	tcp = binary.BigEndian.AppendUint16(tcp, dst.Port())
	tcp = append(tcp, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0)
	return append(p, tcp...)
}

// tsharkCase is what we expect tshark to show for one sample.
type tsharkFlow struct {
	pool, rate, in, out uint32
	src, dst            netip.AddrPort
}

// TestTshark encodes flow and counter samples through a Packer, writes the
// datagrams to a pcap over IPv4 and IPv6 (UDP/6343), and checks that tshark
// (an independent decoder) reports no malformed packet and the same values.
// Records tshark 4.0 does not know are only ever last in a sample (it cannot
// skip them), which is the order the encoder guarantees.
func TestTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed (apt-get install tshark): skipping the external decoder check")
	}
	w := newPcapWriter()
	collector4 := netip.MustParseAddrPort("192.0.2.200:6343")
	collector6 := netip.MustParseAddrPort("[2001:db8::200]:6343")
	type frame struct {
		agent    netip.Addr
		seq      uint32
		flows    []tsharkFlow
		counters []GenericInterface
	}
	var frames []frame
	for _, agent := range []netip.Addr{agent4, agent6} {
		collector := collector4
		if agent.Is6() {
			collector = collector6
		}
		var flows []tsharkFlow
		var counters []GenericInterface
		emit := func(b []byte) error {
			var dg Datagram
			var d Decoder
			if err := d.Decode(b, &dg); err != nil {
				return err
			}
			f := frame{agent: agent, seq: dg.SequenceNumber}
			f.flows, flows = flows[:len(dg.FlowSamples)], flows[len(dg.FlowSamples):]
			f.counters, counters = counters[:len(dg.CounterSamples)], counters[len(dg.CounterSamples):]
			frames = append(frames, f)
			w.udp(netip.AddrPortFrom(agent, 50000), collector, b)
			return nil
		}
		p, err := NewPacker(DefaultPackerConfig(), agent, emit, func() uint32 { return 1234 })
		if err != nil {
			t.Fatal(err)
		}
		for i := range 12 {
			var src, dst netip.AddrPort
			if agent.Is4() {
				src = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), uint16(40000+i))
				dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 1, byte(i)}), 443)
			} else {
				src = netip.AddrPortFrom(netip.MustParseAddr(fmt.Sprintf("2001:db8:a::%x", i+1)), uint16(40000+i))
				dst = netip.AddrPortFrom(netip.MustParseAddr(fmt.Sprintf("2001:db8:b::%x", i+1)), 443)
			}
			want := tsharkFlow{pool: uint32(1000 * (i + 1)), rate: 100, in: uint32(i + 1), out: IfIndexInternal, src: src, dst: dst}
			hdr := tcpPacket(src, dst, 1400)
			s := FlowSample{Expanded: true, SequenceNumber: uint32(i + 1), SourceIndex: want.in,
				SamplingRate: want.rate, SamplePool: want.pool, Input: want.in, Output: want.out,
				Has:           HasSampledHeader | HasSwitch | HasProcess,
				SampledHeader: SampledHeader{Protocol: HeaderEthernet, FrameLength: 1418, Stripped: 4, Header: hdr},
				Switch:        ExtendedSwitch{SrcVLAN: 10, DstVLAN: 10},
				Process:       processRecord(),
			}
			flows = append(flows, want)
			if err := p.AddFlowSample(&s); err != nil {
				t.Fatal(err)
			}
			if i%4 == 3 {
				g := genericCounters()
				g.Index = uint32(i)
				g.InOctets, g.OutOctets = uint64(i)<<32+1, uint64(i)<<33+2
				c := CounterSample{Expanded: true, SequenceNumber: uint32(i), SourceIndex: g.Index,
					Has: HasGeneric | HasEthernet | HasVLAN | HasProcessor | HasInterface, Generic: g,
					Ethernet: counterSampleAll(true).Ethernet, VLAN: counterSampleAll(true).VLAN,
					Processor: counterSampleAll(true).Processor, Interface: counterSampleAll(true).Interface}
				counters = append(counters, g)
				if err := p.AddCounterSample(&c); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := p.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "hostflow-sflow.pcap")
	if err := w.write(path); err != nil {
		t.Fatal(err)
	}

	verbose, err := exec.Command(tshark, "-r", path, "-V").CombinedOutput()
	if err != nil {
		t.Fatalf("tshark -V: %v\n%s", err, verbose)
	}
	if strings.Contains(string(verbose), "Malformed") {
		t.Errorf("tshark reports a malformed packet:\n%s", verbose)
	}

	fields := []string{"sflow_245.agent", "sflow_245.agent.v6", "sflow_245.sequence_number", "sflow_245.sysuptime",
		"sflow.flow_sample.sample_pool", "sflow.flow_sample.sampling_rate",
		"sflow.flow_sample.input_interface_value", "sflow.flow_sample.output_interface_value",
		"ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport",
		"sflow_245.ifindex", "sflow_245.ifinoct", "sflow_245.ifoutoct", "sflow_245.ifinpkt", "sflow_245.ifinunk",
		"sflow_245.ifspeed", "sflow_245.ifoutdisc"}
	args := []string{"-r", path, "-T", "fields", "-E", "separator=;", "-E", "occurrence=a", "-E", "aggregator=,"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command(tshark, args...).Output()
	if err != nil {
		t.Fatalf("tshark -T fields: %v", err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) != len(frames) {
		t.Fatalf("tshark shows %d frames, we wrote %d", len(lines), len(frames))
	}
	for i, f := range frames {
		want := map[string][]string{}
		add := func(k string, v any) { want[k] = append(want[k], fmt.Sprint(v)) }
		if f.agent.Is4() {
			add("sflow_245.agent", f.agent)
			add("ip.src", f.agent)
			add("ip.dst", collector4.Addr())
		} else {
			add("sflow_245.agent.v6", f.agent)
			add("ipv6.src", f.agent)
			add("ipv6.dst", collector6.Addr())
		}
		add("sflow_245.sequence_number", f.seq)
		add("sflow_245.sysuptime", 1234)
		for _, fl := range f.flows {
			add("sflow.flow_sample.sample_pool", fl.pool)
			add("sflow.flow_sample.sampling_rate", fl.rate)
			add("sflow.flow_sample.input_interface_value", fl.in)
			add("sflow.flow_sample.output_interface_value", fl.out)
			if fl.src.Addr().Is4() {
				add("ip.src", fl.src.Addr())
				add("ip.dst", fl.dst.Addr())
			} else {
				add("ipv6.src", fl.src.Addr())
				add("ipv6.dst", fl.dst.Addr())
			}
			add("tcp.srcport", fl.src.Port())
			add("tcp.dstport", fl.dst.Port())
		}
		for _, g := range f.counters {
			add("sflow_245.ifindex", g.Index)
			add("sflow_245.ifinoct", g.InOctets)
			add("sflow_245.ifoutoct", g.OutOctets)
			add("sflow_245.ifinpkt", g.InUcastPkts)
			add("sflow_245.ifinunk", g.InUnknownProtos)
			add("sflow_245.ifspeed", g.Speed)
			add("sflow_245.ifoutdisc", g.OutDiscards)
		}
		got := map[string][]string{}
		for j, v := range strings.Split(lines[i], ";") {
			if v != "" {
				got[fields[j]] = strings.Split(v, ",")
			}
		}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("frame %d (-tshark +ours):\n%s", i+1, diff)
		}
	}
	if len(frames) < 4 {
		t.Errorf("only %d datagrams: the packer should have needed several", len(frames))
	}
	t.Logf("tshark agreed on %d datagrams (%s)", len(frames), strconv.Quote(path))
}
