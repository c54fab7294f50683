package decoder

import (
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/internal/config"
	"github.com/hostflow/hostflow/sflow"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var (
	sfCmp    = cmpopts.EquateComparable(netip.Addr{})
	sfAgent  = netip.MustParseAddr("192.0.2.1")
	sfSource = netip.MustParseAddrPort("192.0.2.1:40000")
)

const sfNow = 1_700_000_000

// sfBase is the record every flow case starts from: what the datagram and
// sample headers of sfFlowDatagram give.
func sfBase() flow.Record {
	return flow.Record{TimeReceived: sfNow, SamplingRate: 1000, ExporterAddress: sfAgent, SubAgentID: 100000, Packets: 1}
}

func sfFlowDatagram(samples ...sflow.FlowSample) *sflow.Datagram {
	return &sflow.Datagram{AgentAddress: sfAgent, SubAgentID: 100000, SequenceNumber: 1, Uptime: 60000, FlowSamples: samples}
}

// sfSample is an expanded flow sample of data source 0:3, rate 1000,
// received on ifIndex 3 and delivered to the host.
func sfSample(has sflow.FlowRecords) sflow.FlowSample {
	return sflow.FlowSample{Expanded: true, SequenceNumber: 1, SourceType: sflow.SourceIfIndex, SourceIndex: 3,
		SamplingRate: 1000, SamplePool: 5000, InputFormat: sflow.IfFormatIndex, Input: 3,
		OutputFormat: sflow.IfFormatIndex, Output: sflow.IfIndexInternal, Has: has}
}

func sfHeaderSample(proto, frameLength, stripped uint32, header []byte) sflow.FlowSample {
	s := sfSample(sflow.HasSampledHeader)
	s.SampledHeader = sflow.SampledHeader{Protocol: proto, FrameLength: frameLength, Stripped: stripped, Header: header}
	return s
}

// sfTCP4 is what sfTCP4Frame's headers give.
func sfTCP4(r flow.Record) flow.Record {
	r.SrcMAC, r.DstMAC = 0x02000000000a, 0x02000000000b
	r.EType, r.Proto = 0x0800, 6
	r.SrcAddr, r.DstAddr = netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("198.51.100.20")
	r.SrcPort, r.DstPort, r.TCPFlags = 43210, 443, 0x18
	r.IPTTL, r.IPFragmentID = 64, 0x4d2
	return r
}

func TestSFlowFlowSamples(t *testing.T) {
	ingress := func(r flow.Record) flow.Record { r.InIf, r.FlowDirection = 3, flow.DirectionIngress; return r }
	tun4 := sfCat(sfIPv4("100.64.0.1", "100.64.0.2", 17, 1200, 0xb8, 63), sfUDP(41641, 41641, 1180))
	tun6 := sfPad(sfCat(sfIPv6("fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 6, 1280, 0, 64), sfTCP(22, 50000, 0x10)), 128)
	tun6Want := func(bytes uint64) flow.Record {
		r := ingress(sfBase())
		r.Bytes, r.EType, r.Proto = bytes, 0x86dd, 6
		r.SrcAddr, r.DstAddr = netip.MustParseAddr("fd7a:115c:a1e0::1"), netip.MustParseAddr("fd7a:115c:a1e0::2")
		r.SrcPort, r.DstPort, r.TCPFlags, r.IPTTL, r.IPv6FlowLabel = 22, 50000, 0x10, 64, 0x12345
		return r
	}

	cases := []struct {
		name   string
		sample func() sflow.FlowSample
		agent  netip.Addr // sfAgent when not set
		noAddr bool       // agent address type 0 (unknown)
		want   flow.Record
	}{
		{
			name:   "ethernet ipv4 tcp delivered to the host: ingress, frame without FCS",
			sample: func() sflow.FlowSample { return sfHeaderSample(sflow.HeaderEthernet, 1518, 4, sfTCP4Frame()) },
			want:   func() flow.Record { r := sfTCP4(ingress(sfBase())); r.Bytes = 1514; return r }(),
		},
		{
			name: "sent by the host: egress on the output interface",
			sample: func() sflow.FlowSample {
				s := sfHeaderSample(sflow.HeaderEthernet, 1518, 4, sfTCP4Frame())
				s.Input, s.Output = sflow.IfIndexInternal, 3
				return s
			},
			want: func() flow.Record {
				r := sfTCP4(sfBase())
				r.OutIf, r.FlowDirection, r.ForwardingStatus, r.Bytes = 3, flow.DirectionEgress, 64, 1514
				return r
			}(),
		},
		{
			name: "routed between two interfaces: no direction, forwarded",
			sample: func() sflow.FlowSample {
				s := sfHeaderSample(sflow.HeaderEthernet, 1518, 4, sfTCP4Frame())
				s.Input, s.Output = 3, 4
				return s
			},
			want: func() flow.Record {
				r := sfTCP4(sfBase())
				r.InIf, r.OutIf, r.ForwardingStatus, r.Bytes = 3, 4, 64, 1514
				return r
			}(),
		},
		{
			name: "hsflowd without a MAC match: both interfaces 0",
			sample: func() sflow.FlowSample {
				s := sfHeaderSample(sflow.HeaderEthernet, 1518, 4, sfTCP4Frame())
				s.Input, s.Output = 0, 0
				return s
			},
			want: func() flow.Record { r := sfTCP4(sfBase()); r.Bytes = 1514; return r }(),
		},
		{
			name:   "ethernet with nothing stripped: frame length as is",
			sample: func() sflow.FlowSample { return sfHeaderSample(sflow.HeaderEthernet, 1514, 0, sfTCP4Frame()) },
			want:   func() flow.Record { r := sfTCP4(ingress(sfBase())); r.Bytes = 1514; return r }(),
		},
		{
			name: "802.1Q tag on the sampled frame",
			sample: func() sflow.FlowSample {
				h := sfEth(0x0800, 100|5<<13, sfCat(sfIPv4("192.0.2.10", "198.51.100.20", 6, 1500, 0, 64), sfTCP(43210, 443, 0x18)), 128)
				return sfHeaderSample(sflow.HeaderEthernet, 1522, 4, h)
			},
			want: func() flow.Record { r := sfTCP4(ingress(sfBase())); r.Bytes, r.SrcVlan = 1518, 100; return r }(),
		},
		{
			name: "extended switch sets both VLANs",
			sample: func() sflow.FlowSample {
				h := sfEth(0x0800, 100, sfCat(sfIPv4("192.0.2.10", "198.51.100.20", 6, 1500, 0, 64), sfTCP(43210, 443, 0x18)), 128)
				s := sfHeaderSample(sflow.HeaderEthernet, 1522, 4, h)
				s.Has |= sflow.HasSwitch
				s.Switch = sflow.ExtendedSwitch{SrcVLAN: 100, DstVLAN: 200}
				return s
			},
			want: func() flow.Record {
				r := sfTCP4(ingress(sfBase()))
				r.Bytes, r.SrcVlan, r.DstVlan = 1518, 100, 200
				return r
			}(),
		},
		{
			name:   "tun ipv4, hsflowd convention (+18/18): the IP length",
			sample: func() sflow.FlowSample { return sfHeaderSample(sflow.HeaderIPv4, 1218, 18, tun4) },
			want: func() flow.Record {
				r := ingress(sfBase())
				r.Bytes, r.EType, r.Proto = 1200, 0x0800, 17
				r.SrcAddr, r.DstAddr = netip.MustParseAddr("100.64.0.1"), netip.MustParseAddr("100.64.0.2")
				r.SrcPort, r.DstPort, r.IPTos, r.IPTTL, r.IPFragmentID = 41641, 41641, 0xb8, 63, 0x4d2
				return r
			}(),
		},
		{
			name:   "tun ipv6, pmacct convention (+4/4): the IP length",
			sample: func() sflow.FlowSample { return sfHeaderSample(sflow.HeaderIPv6, 1284, 4, tun6) },
			want:   tun6Want(1280),
		},
		{
			name:   "tun ipv6, hostflow convention (+0/0): the IP length",
			sample: func() sflow.FlowSample { return sfHeaderSample(sflow.HeaderIPv6, 1280, 0, tun6) },
			want:   tun6Want(1280),
		},
		{
			name:   "tun ipv6 without frame length: the IP header's length",
			sample: func() sflow.FlowSample { return sfHeaderSample(sflow.HeaderIPv6, 0, 0, tun6) },
			want:   tun6Want(1280),
		},
		{
			name: "header cut inside an IPv6 extension header keeps what was parsed",
			sample: func() sflow.FlowSample {
				ext := make([]byte, 16) // hop-by-hop options announcing 256 bytes
				ext[0], ext[1] = 6, 31
				h := sfCat(sfIPv6("2001:db8::1", "2001:db8::2", 0, 1000, 0, 64), ext)
				return sfHeaderSample(sflow.HeaderIPv6, 1000, 0, h)
			},
			want: func() flow.Record {
				r := ingress(sfBase())
				r.Bytes, r.EType, r.Proto, r.IPTTL, r.IPv6FlowLabel = 1000, 0x86dd, 6, 64, 0x12345
				r.SrcAddr, r.DstAddr = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
				return r
			}(),
		},
		{
			name:   "header protocol the decoder does not parse: frame length only",
			sample: func() sflow.FlowSample { return sfHeaderSample(sflow.Header80211, 1000, 4, make([]byte, 64)) },
			want:   func() flow.Record { r := ingress(sfBase()); r.Bytes = 1000; return r }(),
		},
		{
			name: "MPLS header: labels skipped, frame length minus stripped",
			sample: func() sflow.FlowSample {
				h := sfCat([]byte{0x04, 0x93, 0xe1, 0x40}, sfIPv4("192.0.2.10", "198.51.100.20", 6, 1500, 0, 64), sfTCP(43210, 443, 0x18))
				return sfHeaderSample(sflow.HeaderMPLS, 1508, 4, h)
			},
			want: func() flow.Record {
				r := sfTCP4(ingress(sfBase()))
				r.SrcMAC, r.DstMAC, r.Bytes = 0, 0, 1504
				return r
			}(),
		},
		{
			name: "PPP header",
			sample: func() sflow.FlowSample {
				h := sfCat([]byte{0xff, 0x03, 0x00, 0x21}, sfIPv4("192.0.2.10", "198.51.100.20", 6, 1500, 0, 64), sfTCP(43210, 443, 0x18))
				return sfHeaderSample(sflow.HeaderPPP, 1506, 2, h)
			},
			want: func() flow.Record {
				r := sfTCP4(ingress(sfBase()))
				r.SrcMAC, r.DstMAC, r.Bytes = 0, 0, 1504
				return r
			}(),
		},
		{
			name: "sampled ipv4 and ethernet records instead of a header",
			sample: func() sflow.FlowSample {
				s := sfSample(sflow.HasSampledIPv4 | sflow.HasSampledEthernet)
				s.SampledIPv4 = sflow.SampledIP{Length: 576, Protocol: 6, SrcIP: netip.MustParseAddr("192.0.2.10"),
					DstIP: netip.MustParseAddr("198.51.100.20"), SrcPort: 1234, DstPort: 80, TCPFlags: 0x02, TOS: 0x20}
				s.SampledEthernet = sflow.SampledEthernet{Length: 594, SrcMAC: sflow.MAC{2, 0, 0, 0, 0, 0xa}, DstMAC: sflow.MAC{2, 0, 0, 0, 0, 0xb}, EtherType: 0x0800}
				return s
			},
			want: func() flow.Record {
				r := ingress(sfBase())
				r.Bytes, r.EType, r.Proto, r.IPTos, r.TCPFlags = 576, 0x0800, 6, 0x20, 0x02
				r.SrcAddr, r.DstAddr = netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("198.51.100.20")
				r.SrcPort, r.DstPort = 1234, 80
				r.SrcMAC, r.DstMAC = 0x02000000000a, 0x02000000000b
				return r
			}(),
		},
		{
			name: "sampled ethernet alone: frame without FCS",
			sample: func() sflow.FlowSample {
				s := sfSample(sflow.HasSampledEthernet)
				s.SampledEthernet = sflow.SampledEthernet{Length: 64, EtherType: 0x0806}
				return s
			},
			want: func() flow.Record { r := ingress(sfBase()); r.Bytes, r.EType = 60, 0x0806; return r }(),
		},
		{
			name: "sampled ipv6 record",
			sample: func() sflow.FlowSample {
				s := sfSample(sflow.HasSampledIPv6)
				s.SampledIPv6 = sflow.SampledIP{Length: 1280, Protocol: 17, SrcIP: netip.MustParseAddr("2001:db8::10"),
					DstIP: netip.MustParseAddr("2001:db8:1::20"), SrcPort: 5353, DstPort: 53, TOS: 3}
				return s
			},
			want: func() flow.Record {
				r := ingress(sfBase())
				r.Bytes, r.EType, r.Proto, r.IPTos = 1280, 0x86dd, 17, 3
				r.SrcAddr, r.DstAddr = netip.MustParseAddr("2001:db8::10"), netip.MustParseAddr("2001:db8:1::20")
				r.SrcPort, r.DstPort = 5353, 53
				return r
			}(),
		},
		{
			name: "router and gateway records",
			sample: func() sflow.FlowSample {
				s := sfHeaderSample(sflow.HeaderEthernet, 1518, 4, sfTCP4Frame())
				s.Input, s.Output = 3, 4
				s.Has |= sflow.HasRouter | sflow.HasGateway
				s.Router = sflow.ExtendedRouter{NextHop: netip.MustParseAddr("198.51.100.254"), SrcMaskLen: 24, DstMaskLen: 22}
				s.Gateway = sflow.ExtendedGateway{NextHop: netip.MustParseAddr("203.0.113.1"), AS: 64500, SrcAS: 64501,
					ASPath: []sflow.ASPathSegment{{Type: sflow.ASSequence, ASNs: []uint32{64510, 4200000000}}}}
				return s
			},
			want: func() flow.Record {
				r := sfTCP4(sfBase())
				r.InIf, r.OutIf, r.ForwardingStatus, r.Bytes = 3, 4, 64, 1514
				r.NextHop, r.SrcNetMask, r.DstNetMask = netip.MustParseAddr("198.51.100.254"), 24, 22
				r.SrcAS, r.DstAS = 64501, 4200000000
				return r
			}(),
		},
		{
			name: "gateway next hop when there is no router record",
			sample: func() sflow.FlowSample {
				s := sfSample(sflow.HasGateway)
				s.Gateway = sflow.ExtendedGateway{NextHop: netip.MustParseAddr("2001:db8::fe"), SrcAS: 65000}
				return s
			},
			want: func() flow.Record {
				r := ingress(sfBase())
				r.NextHop, r.SrcAS = netip.MustParseAddr("2001:db8::fe"), 65000
				return r
			}(),
		},
		{
			name: "discarded by an ACL",
			sample: func() sflow.FlowSample {
				s := sfHeaderSample(sflow.HeaderEthernet, 1518, 4, sfTCP4Frame())
				s.OutputFormat, s.Output = sflow.IfFormatDiscard, 258
				return s
			},
			want: func() flow.Record {
				r := sfTCP4(sfBase())
				r.InIf, r.ForwardingStatus, r.Bytes = 3, 130, 1514
				return r
			}(),
		},
		{
			name: "discarded, reason without an IPFIX code",
			sample: func() sflow.FlowSample {
				s := sfSample(0)
				s.OutputFormat, s.Output = sflow.IfFormatDiscard, 259
				return s
			},
			want: func() flow.Record { r := sfBase(); r.InIf, r.ForwardingStatus = 3, 128; return r }(),
		},
		{
			name: "sent to several interfaces",
			sample: func() sflow.FlowSample {
				s := sfSample(0)
				s.OutputFormat, s.Output = sflow.IfFormatMultiple, 3
				return s
			},
			want: func() flow.Record { r := sfBase(); r.InIf, r.ForwardingStatus = 3, 64; return r }(),
		},
		{
			name: "sampling rate 0 is stored as 1",
			sample: func() sflow.FlowSample {
				s := sfSample(0)
				s.SamplingRate = 0
				return s
			},
			want: func() flow.Record { r := ingress(sfBase()); r.SamplingRate = 1; return r }(),
		},
		{
			name: "hostflow process record and tcp_info",
			sample: func() sflow.FlowSample {
				s := sfHeaderSample(sflow.HeaderEthernet, 1518, 4, sfTCP4Frame())
				s.Has |= sflow.HasProcess | sflow.HasTCPInfo
				s.Process = sflow.ProcessInfo{PID: 4242, UID: 33, Comm: []byte("nginx: worker"), Exe: []byte("nginx"),
					Cgroup: []byte("/system.slice/nginx.service"), Unit: []byte("nginx.service"),
					Container: []byte("3f4e5d6c7b8a"), User: []byte("www-data")}
				s.TCPInfo = sflow.ExtendedTCPInfo{Direction: 1, RTT: 2500, Retrans: 7}
				return s
			},
			want: func() flow.Record {
				r := sfTCP4(ingress(sfBase()))
				r.Bytes = 1514
				r.ProcessID, r.ProcessName, r.ProcessUser = 4242, "nginx", "www-data"
				r.Cgroup, r.Unit, r.Container = "/system.slice/nginx.service", "nginx.service", "3f4e5d6c7b8a"
				r.TCPRTT, r.TCPRetrans = 2500, 7
				return r
			}(),
		},
		{
			name: "process without executable or user name: task name and uid",
			sample: func() sflow.FlowSample {
				s := sfSample(sflow.HasProcess)
				s.Process = sflow.ProcessInfo{PID: 7, UID: 1000, Comm: []byte("kworker/0:1")}
				return s
			},
			want: func() flow.Record {
				r := ingress(sfBase())
				r.ProcessID, r.ProcessName, r.ProcessUser = 7, "kworker/0:1", "1000"
				return r
			}(),
		},
		{
			name: "process with unknown uid",
			sample: func() sflow.FlowSample {
				s := sfSample(sflow.HasProcess)
				s.Process = sflow.ProcessInfo{PID: 1, UID: sflow.UIDUnknown, Comm: []byte("systemd")}
				return s
			},
			want: func() flow.Record { r := ingress(sfBase()); r.ProcessID, r.ProcessName = 1, "systemd"; return r }(),
		},
		{
			name:   "IPv4-mapped agent address is stored unmapped",
			agent:  netip.MustParseAddr("::ffff:192.0.2.1"),
			sample: func() sflow.FlowSample { return sfSample(0) },
			want:   ingress(sfBase()),
		},
		{
			name:   "IPv6 agent",
			agent:  netip.MustParseAddr("fd7a:115c:a1e0::7"),
			sample: func() sflow.FlowSample { return sfSample(0) },
			want: func() flow.Record {
				r := ingress(sfBase())
				r.ExporterAddress = netip.MustParseAddr("fd7a:115c:a1e0::7")
				return r
			}(),
		},
		{
			name:   "unknown agent address: the UDP source",
			noAddr: true,
			sample: func() sflow.FlowSample { return sfSample(0) },
			want:   ingress(sfBase()),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := sfNew(t)
			dg := sfFlowDatagram(tc.sample())
			switch {
			case tc.noAddr:
				dg.AgentAddress = netip.Addr{}
			case tc.agent.IsValid():
				dg.AgentAddress = tc.agent
			}
			var b Batch
			if err := d.Decode(Packet{Payload: sfEncode(t, dg), Source: sfSource, Received: sfNow}, &b); err != nil {
				t.Fatal(err)
			}
			if len(b.Flows) != 1 || len(b.Interfaces)+len(b.Hosts) != 0 {
				t.Fatalf("got %d flows, %d interface and %d host counters, want 1 flow", len(b.Flows), len(b.Interfaces), len(b.Hosts))
			}
			if diff := cmp.Diff(b.Flows[0], tc.want, sfCmp); diff != "" {
				t.Errorf("record (-got +want):\n%s", diff)
			}
		})
	}
}

// TestSFlowMetrics checks the counters that describe what was decoded.
func TestSFlowMetrics(t *testing.T) {
	d, rep := sfNew(t)
	cut := sfHeaderSample(sflow.HeaderIPv4, 100, 0, sfIPv4("10.0.0.1", "10.0.0.2", 6, 100, 0, 1)[:12])
	zeroRate := sfSample(0)
	zeroRate.SamplingRate = 0
	withUnknown := sfSample(0)
	withUnknown.Unknown = []sflow.Unknown{{Format: sflow.MakeFormat(0, 1043), Data: make([]byte, 8)}}
	dg := sfFlowDatagram(cut, zeroRate, withUnknown, sfHeaderSample(sflow.Header80211, 100, 4, make([]byte, 8)))
	dg.UnknownSamples = []sflow.Unknown{{Format: sflow.FormatDiscardedPacket, Data: make([]byte, 4)}}
	dg.CounterSamples = []sflow.CounterSample{{Expanded: true, SourceType: 0, SourceIndex: 1, Has: sflow.HasProcessor}}
	var b Batch
	if err := d.Decode(Packet{Payload: sfEncode(t, dg), Source: sfSource, Received: sfNow}, &b); err != nil {
		t.Fatal(err)
	}
	if err := d.Decode(Packet{Payload: []byte{0, 0, 0, 4}, Source: sfSource, Received: sfNow}, &b); !errors.Is(err, sflow.ErrVersion) {
		t.Errorf("version 4 datagram: error %v, want ErrVersion", err)
	}
	for _, m := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"datagrams_total", nil, 2},
		{"flows_total", nil, 4},
		{"counter_samples_total", []string{"kind", "other"}, 1},
		{"sampled_header_errors_total", []string{"reason", "truncated"}, 1},
		{"sampled_header_errors_total", []string{"reason", "unsupported-protocol"}, 1},
		{"sampling_unknown_total", nil, 1},
		{"skipped_total", []string{"reason", "unknown-sample"}, 1},
		{"skipped_total", []string{"reason", "unknown-flow-record"}, 1},
		{"errors_total", []string{"reason", "version"}, 1},
		{"exporters", nil, 1},
	} {
		if got := sfMetric(t, rep, m.name, m.labels...); got != m.want {
			t.Errorf("%s%v = %v, want %v", m.name, m.labels, got, m.want)
		}
	}
}

func TestSFlowConfig(t *testing.T) {
	c := DefaultSFlowConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	c = SFlowConfig{Enterprise: 1 << 20, MaxExporters: 0, ExporterTimeout: 0, MaxStrings: 1}
	err := c.Validate()
	var keys []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *config.FieldError
		if errors.As(e, &fe) {
			keys = append(keys, fe.Key)
		}
	}
	if diff := cmp.Diff(keys, []string{"enterprise", "max-exporters", "exporter-timeout", "max-strings"}); diff != "" {
		t.Errorf("invalid keys (-got +want):\n%s", diff)
	}
	if _, err := NewSFlow(c, nil); err == nil {
		t.Error("NewSFlow accepted an invalid config")
	}
}

// sfGolden compares got with testdata/<name>, rewriting it with -update.
func sfGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s ./decoder/ -args -update)", err, t.Name())
	}
	if diff := cmp.Diff(got, string(want)); diff != "" {
		t.Errorf("%s (-got +want):\n%s", path, diff)
	}
}
