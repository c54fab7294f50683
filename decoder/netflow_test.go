package decoder

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/internal/config"
	"github.com/hostflow/hostflow/netflow"
)

// ie is one template field with the value the data record gives it.
type ie struct {
	id    uint16
	ent   uint32
	value []byte
}

func n8(v uint8) []byte   { return []byte{v} }
func n16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func n32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func n64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
func addr(s string) []byte {
	return netip.MustParseAddr(s).AsSlice()
}

// ipfixRecords builds an IPFIX message defining template 256 from the
// fields of the first record, then the data records.
func ipfixRecords(exportTime uint32, records ...[]ie) []byte {
	tmpl := binary.BigEndian.AppendUint16(nil, 256)
	tmpl = binary.BigEndian.AppendUint16(tmpl, uint16(len(records[0])))
	for _, f := range records[0] {
		if f.ent != 0 {
			tmpl = binary.BigEndian.AppendUint16(tmpl, f.id|0x8000)
			tmpl = binary.BigEndian.AppendUint16(tmpl, uint16(len(f.value)))
			tmpl = binary.BigEndian.AppendUint32(tmpl, f.ent)
			continue
		}
		tmpl = binary.BigEndian.AppendUint16(tmpl, f.id)
		tmpl = binary.BigEndian.AppendUint16(tmpl, uint16(len(f.value)))
	}
	var data []byte
	for _, r := range records {
		for _, f := range r {
			data = append(data, f.value...)
		}
	}
	var sets []byte
	for _, s := range []struct {
		id   uint16
		body []byte
	}{{2, tmpl}, {256, data}} {
		sets = binary.BigEndian.AppendUint16(sets, s.id)
		sets = binary.BigEndian.AppendUint16(sets, uint16(4+len(s.body)))
		sets = append(sets, s.body...)
	}
	msg := binary.BigEndian.AppendUint16(nil, 10)
	msg = binary.BigEndian.AppendUint16(msg, uint16(16+len(sets)))
	msg = binary.BigEndian.AppendUint32(msg, exportTime)
	msg = binary.BigEndian.AppendUint32(msg, 0)
	msg = binary.BigEndian.AppendUint32(msg, 7)
	return append(msg, sets...)
}

var testExporter = netip.MustParseAddrPort("[::ffff:192.0.2.9]:4739")

func TestNetFlowMapping(t *testing.T) {
	base := flow.Record{TimeReceived: 500, SamplingRate: 1, ExporterAddress: netip.MustParseAddr("192.0.2.9")}
	rec := func(f func(r *flow.Record)) flow.Record {
		r := base
		f(&r)
		return r
	}
	for _, tc := range []struct {
		name   string
		cfg    func(c *NetFlowConfig)
		fields []ie
		want   []flow.Record
	}{{
		name: "IPv4 with most elements",
		fields: []ie{
			{id: 8, value: addr("10.0.0.1")}, {id: 12, value: addr("10.0.0.2")}, {id: 7, value: n16(1234)}, {id: 11, value: n16(443)},
			{id: 4, value: n8(6)}, {id: 5, value: n8(0x28)}, {id: 6, value: n16(0x12)}, {id: 10, value: n32(3)}, {id: 14, value: n32(4)},
			{id: 16, value: n32(64500)}, {id: 17, value: n32(64501)}, {id: 9, value: n8(24)}, {id: 13, value: n8(16)},
			{id: 15, value: addr("10.0.0.254")}, {id: 58, value: n16(100)}, {id: 59, value: n16(200)},
			{id: 56, value: []byte{0, 1, 2, 3, 4, 5}}, {id: 80, value: []byte{6, 7, 8, 9, 10, 11}},
			{id: 1, value: n64(1500)}, {id: 2, value: n64(3)}, {id: 61, value: n8(1)}, {id: 89, value: n8(0x42)},
			{id: 192, value: n8(63)}, {id: 54, value: n32(77)}, {id: 88, value: n16(8)},
		},
		want: []flow.Record{rec(func(r *flow.Record) {
			r.SrcAddr, r.DstAddr = netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
			r.SrcPort, r.DstPort, r.Proto, r.IPTos, r.TCPFlags = 1234, 443, 6, 0x28, 0x12
			r.InIf, r.OutIf, r.SrcAS, r.DstAS, r.SrcNetMask, r.DstNetMask = 3, 4, 64500, 64501, 24, 16
			r.NextHop, r.SrcVlan, r.DstVlan = netip.MustParseAddr("10.0.0.254"), 100, 200
			r.SrcMAC, r.DstMAC = 0x000102030405, 0x060708090a0b
			r.Bytes, r.Packets, r.FlowDirection, r.ForwardingStatus = 1500, 3, flow.DirectionEgress, 0x42
			r.IPTTL, r.IPFragmentID, r.IPFragmentOffset, r.EType = 63, 77, 8, 0x0800
		})},
	}, {
		name: "IPv6, fallbacks: physical interfaces, total counters, dot1q, post MACs, BGP next hop, ICMPv6",
		fields: []ie{
			{id: 27, value: addr("2001:db8::1")}, {id: 28, value: addr("2001:db8::2")}, {id: 4, value: n8(58)},
			{id: 252, value: n32(7)}, {id: 253, value: n32(8)}, {id: 85, value: n64(900)}, {id: 86, value: n64(9)},
			{id: 243, value: n16(10)}, {id: 254, value: n16(20)}, {id: 81, value: []byte{0, 0, 0, 0, 0, 1}},
			{id: 57, value: []byte{0, 0, 0, 0, 0, 2}}, {id: 63, value: addr("2001:db8::fe")}, {id: 139, value: n16(128 << 8)},
			{id: 31, value: n32(0xfff12345)}, {id: 29, value: n8(64)}, {id: 52, value: n8(60)},
		},
		want: []flow.Record{rec(func(r *flow.Record) {
			r.SrcAddr, r.DstAddr = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
			r.Proto, r.InIf, r.OutIf, r.Bytes, r.Packets, r.SrcVlan, r.DstVlan = 58, 7, 8, 900, 9, 10, 20
			r.SrcMAC, r.DstMAC, r.NextHop = 1, 2, netip.MustParseAddr("2001:db8::fe")
			r.ICMPType, r.IPv6FlowLabel, r.SrcNetMask, r.IPTTL, r.EType = 128, 0x12345, 64, 60, 0x86dd
		})},
	}, {
		name: "ICMP type and code from the destination port",
		fields: []ie{
			{id: 8, value: addr("10.0.0.1")}, {id: 12, value: addr("10.0.0.2")}, {id: 4, value: n8(1)},
			{id: 11, value: n16(3<<8 | 1)}, {id: 2, value: n32(1)},
		},
		want: []flow.Record{rec(func(r *flow.Record) {
			r.SrcAddr, r.DstAddr, r.Proto, r.ICMPType, r.ICMPCode, r.Packets, r.EType =
				netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), 1, 3, 1, 1, 0x0800
		})},
	}, {
		name: "biflow: forward and reverse halves",
		fields: []ie{
			{id: 8, value: addr("10.0.0.1")}, {id: 12, value: addr("10.0.0.2")}, {id: 7, value: n16(1000)}, {id: 11, value: n16(80)},
			{id: 4, value: n8(6)}, {id: 10, value: n32(1)}, {id: 14, value: n32(2)}, {id: 1, value: n64(100)}, {id: 2, value: n64(2)},
			{id: 6, value: n8(0x02)}, {id: 192, value: n8(64)},
			{id: 1, ent: netflow.EnterpriseReverse, value: n64(5000)}, {id: 2, ent: netflow.EnterpriseReverse, value: n64(5)},
			{id: 6, ent: netflow.EnterpriseReverse, value: n8(0x12)}, {id: 5, ent: netflow.EnterpriseReverse, value: n8(4)},
		},
		want: []flow.Record{rec(func(r *flow.Record) {
			r.SrcAddr, r.DstAddr, r.SrcPort, r.DstPort, r.Proto = netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), 1000, 80, 6
			r.InIf, r.OutIf, r.Bytes, r.Packets, r.TCPFlags, r.IPTTL, r.EType = 1, 2, 100, 2, 0x02, 64, 0x0800
		}), rec(func(r *flow.Record) {
			r.SrcAddr, r.DstAddr, r.SrcPort, r.DstPort, r.Proto = netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.1"), 80, 1000, 6
			r.InIf, r.OutIf, r.Bytes, r.Packets, r.TCPFlags, r.IPTos, r.EType = 2, 1, 5000, 5, 0x12, 4, 0x0800
		})},
	}, {
		name: "biflow with an empty forward side gives only the reverse flow",
		fields: []ie{
			{id: 8, value: addr("10.0.0.1")}, {id: 12, value: addr("10.0.0.2")}, {id: 4, value: n8(17)},
			{id: 1, value: n64(0)}, {id: 2, value: n64(0)},
			{id: 1, ent: netflow.EnterpriseReverse, value: n64(64)}, {id: 2, ent: netflow.EnterpriseReverse, value: n64(1)},
		},
		want: []flow.Record{rec(func(r *flow.Record) {
			r.SrcAddr, r.DstAddr, r.Proto, r.Bytes, r.Packets, r.EType = netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.1"), 17, 64, 1, 0x0800
		})},
	}, {
		name: "timestamp from the flow start",
		cfg:  func(c *NetFlowConfig) { c.TimestampSource = "netflow-first-switched" },
		fields: []ie{
			{id: 152, value: n64(400_500)}, {id: 2, value: n32(1)},
		},
		want: []flow.Record{rec(func(r *flow.Record) { r.TimeReceived, r.Packets = 400, 1 })},
	}, {
		name:   "timestamp from the export time",
		cfg:    func(c *NetFlowConfig) { c.TimestampSource = "netflow-packet" },
		fields: []ie{{id: 2, value: n32(1)}},
		want:   []flow.Record{rec(func(r *flow.Record) { r.TimeReceived, r.Packets = 450, 1 })},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultNetFlowConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			d, err := NewNetFlow(cfg, newTestReporter())
			if err != nil {
				t.Fatal(err)
			}
			var b Batch
			if err := d.Decode(Packet{Payload: ipfixRecords(450, tc.fields), Source: testExporter, Received: 500}, &b); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(b.Flows, tc.want, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("flows (-got +want):\n%s", diff)
			}
		})
	}
}

func TestNetFlowConfig(t *testing.T) {
	var cfg NetFlowConfig
	cfg = DefaultNetFlowConfig()
	err := config.Parse("netflow.yaml", []byte("max-exporters: 0\nhold-time: 2m\ntimestamp-source: wall\n"), &cfg)
	if err == nil {
		t.Fatal("bad values accepted")
	}
	want := []string{
		"netflow.yaml:1: key max-exporters: must be positive, not 0",
		"netflow.yaml:2: key hold-time: must be in 0..1m, not 2m0s",
		"netflow.yaml:3: key timestamp-source: must be udp, netflow-packet or netflow-first-switched, not \"wall\"",
	}
	if diff := cmp.Diff(strings.Split(err.Error(), "\n"), want); diff != "" {
		t.Errorf("errors (-got +want):\n%s", diff)
	}
	cfg = DefaultNetFlowConfig()
	if err := config.Parse("netflow.yaml", []byte("max-templates-per-domain: 64\nhold-bytes: 1048576\n"), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.MaxTemplates != 64 || cfg.HoldBytes != 1<<20 || cfg.MaxExporters != 10000 {
		t.Errorf("parsed %+v", cfg)
	}
}

func TestNetFlowErrors(t *testing.T) {
	d, _ := NewNetFlow(DefaultNetFlowConfig(), newTestReporter())
	var b Batch
	err := d.Decode(Packet{Payload: []byte{0, 10, 0, 99}, Source: testExporter}, &b)
	var ne *netflow.Error
	if err == nil || !strings.Contains(err.Error(), "netflow 192.0.2.9:") || !errors.As(err, &ne) || ne.Reason != "short" {
		t.Errorf("error %v, want a wrapped short-packet error naming the exporter", err)
	}
}
