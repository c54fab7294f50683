package netflow

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var exp1 = netip.MustParseAddr("192.0.2.1")

// Templates used across tests.
var (
	t4 = tmpl(256,
		spec{IESourceIPv4Address, 4, 0}, spec{IEDestinationIPv4Address, 4, 0},
		spec{IEProtocolIdentifier, 1, 0}, spec{IEOctetDeltaCount, 4, 0})
	d4a = cat(ip("10.0.0.1"), ip("10.0.0.2"), u8(6), u32(1000))
	d4b = cat(ip("10.0.0.3"), ip("10.0.0.4"), u8(17), u32(2000))
	f4a = "v10 t256 rate=0 rx=100 8=10.0.0.1 12=10.0.0.2 4=6 1=1000"
	f4b = "v10 t256 rate=0 rx=100 8=10.0.0.3 12=10.0.0.4 4=17 1=2000"
)

type step struct {
	pkt []byte
	at  uint32 // received; 100 when zero
	err string // expected error reason
}

func run(t *testing.T, cfg Config, steps []step) (*recorder, Stats) {
	t.Helper()
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	for i, s := range steps {
		at := s.at
		if at == 0 {
			at = 100
		}
		err := d.Decode(exp1, s.pkt, at, r)
		var ne *Error
		switch {
		case s.err == "" && err != nil:
			t.Fatalf("step %d: %v", i, err)
		case s.err != "" && (!errors.As(err, &ne) || ne.Reason != s.err):
			t.Fatalf("step %d: error %v, want reason %q", i, err, s.err)
		}
	}
	return r, d.Stats()
}

func TestDecode(t *testing.T) {
	small := DefaultConfig()
	small.HoldBytesPerExporter = 20
	small.HoldBytes = 20
	for _, tc := range []struct {
		name  string
		cfg   *Config
		steps []step
		want  []string
		check func(t *testing.T, s Stats)
	}{{
		name:  "ipfix template then data, padding ignored",
		steps: []step{{pkt: ipfix(1, 0, set(2, t4), set(256, d4a, d4b, []byte{0, 0, 0}))}},
		want:  []string{f4a, f4b},
	}, {
		name:  "v9 template then data",
		steps: []step{{pkt: v9(1, 0, set(0, t4), set(256, d4a))}},
		want:  []string{"v9 t256 rate=0 rx=100 8=10.0.0.1 12=10.0.0.2 4=6 1=1000"},
	}, {
		name: "data before template is held, then decoded with its own receive time",
		steps: []step{
			{pkt: ipfix(1, 0, set(256, d4a))},
			{pkt: ipfix(1, 1, set(2, t4)), at: 103},
		},
		want: []string{f4a},
		check: func(t *testing.T, s Stats) {
			if s.Held != 1 || s.HeldDecoded != 1 || s.HeldBytes != 0 {
				t.Errorf("held %d decoded %d bytes %d", s.Held, s.HeldDecoded, s.HeldBytes)
			}
		},
	}, {
		name: "held data expires",
		steps: []step{
			{pkt: ipfix(1, 0, set(256, d4a))},
			{pkt: ipfix(1, 1, set(2, t4)), at: 110},
		},
		check: func(t *testing.T, s Stats) {
			if s.Drops[DropHoldExpired] != 1 || s.HeldBytes != 0 {
				t.Errorf("expired %d, bytes %d", s.Drops[DropHoldExpired], s.HeldBytes)
			}
		},
	}, {
		name: "hold budget overflow",
		cfg:  &small,
		steps: []step{
			{pkt: ipfix(1, 0, set(256, d4a))},
			{pkt: ipfix(1, 1, set(256, d4b))},
			{pkt: ipfix(1, 2, set(2, t4))},
		},
		want: []string{f4a},
		check: func(t *testing.T, s Stats) {
			if s.Drops[DropHoldOverflow] != 1 {
				t.Errorf("overflow drops %d", s.Drops[DropHoldOverflow])
			}
		},
	}, {
		name: "withdrawal then data is held, not misread",
		steps: []step{
			{pkt: ipfix(1, 0, set(2, t4), set(256, d4a))},
			{pkt: ipfix(1, 1, set(2, cat(u16(256), u16(0))), set(256, d4b))},
		},
		want: []string{f4a},
		check: func(t *testing.T, s Stats) {
			if s.TemplateEvents[TemplateWithdrawn] != 1 || s.Templates != 0 || s.Held != 1 {
				t.Errorf("withdrawn %d, templates %d, held %d", s.TemplateEvents[TemplateWithdrawn], s.Templates, s.Held)
			}
		},
	}, {
		name: "withdraw all data templates",
		steps: []step{
			{pkt: ipfix(1, 0, set(2, t4, tmpl(257, spec{IEOctetDeltaCount, 8, 0})))},
			{pkt: ipfix(1, 0, set(2, cat(u16(2), u16(0))))},
		},
		check: func(t *testing.T, s Stats) {
			if s.TemplateEvents[TemplateWithdrawn] != 2 || s.Templates != 0 {
				t.Errorf("withdrawn %d, templates %d", s.TemplateEvents[TemplateWithdrawn], s.Templates)
			}
		},
	}, {
		name: "refresh keeps, redefinition replaces",
		steps: []step{
			{pkt: ipfix(1, 0, set(2, t4), set(256, d4a))},
			{pkt: ipfix(1, 1, set(2, t4))},
			{pkt: ipfix(1, 1, set(2, tmpl(256, spec{IEPacketDeltaCount, 2, 0})), set(256, u16(7)))},
		},
		want: []string{f4a, "v10 t256 rate=0 rx=100 2=7"},
		check: func(t *testing.T, s Stats) {
			want := [numTemplateEvents]uint64{TemplateAdded: 1, TemplateRefreshed: 1, TemplateReplaced: 1}
			if s.TemplateEvents != want {
				t.Errorf("events %v, want %v", s.TemplateEvents, want)
			}
		},
	}, {
		name: "variable-length fields (short and long form) and enterprise fields",
		steps: []step{{pkt: ipfix(1, 0,
			set(2, tmpl(300, spec{IEProtocolIdentifier, 1, 0}, spec{1, VarLength, 9}, spec{82, VarLength, 0}, spec{2, 2, EnterpriseReverse})),
			set(300,
				cat(u8(17), u8(2), []byte("ab"), u8(255), u16(3), []byte("eth"), u16(5)),
				cat(u8(6), u8(0), u8(0), u16(9))))}},
		want: []string{
			"v10 t300 rate=0 rx=100 4=17 9/1=24930 82=6648936 29305/2=5",
			"v10 t300 rate=0 rx=100 4=6 9/1=0 82=0 29305/2=9",
		},
	}, {
		name: "ipfix selector sampling from options data (305/306)",
		steps: []step{{pkt: ipfix(1, 0,
			set(3, optTmplIPFIX(400, []spec{{IESelectorID, 2, 0}}, spec{IESamplingPacketInterval, 4, 0}, spec{IESamplingPacketSpace, 4, 0})),
			set(400, cat(u16(5), u32(1), u32(99))),
			set(2, tmpl(257, spec{IESelectorID, 2, 0}, spec{IEOctetDeltaCount, 4, 0})),
			set(257, cat(u16(5), u32(10)), cat(u16(6), u32(20))))}},
		want: []string{"v10 t257 rate=100 rx=100 302=5 1=10", "v10 t257 rate=0 rx=100 302=6 1=20"},
	}, {
		name: "ipfix domain-wide samplingInterval and population/size",
		steps: []step{{pkt: ipfix(1, 0,
			set(3, optTmplIPFIX(400, []spec{{144, 4, 0}}, spec{IESamplingInterval, 4, 0})),
			set(400, cat(u32(1), u32(512))),
			set(2, t4, tmpl(257, spec{IESamplingSize, 4, 0}, spec{IESamplingPopulation, 4, 0})),
			set(256, d4a),
			set(257, cat(u32(1), u32(1000))))}},
		want: []string{
			"v10 t256 rate=512 rx=100 8=10.0.0.1 12=10.0.0.2 4=6 1=1000",
			"v10 t257 rate=1000 rx=100 309=1 310=1000",
		},
	}, {
		name: "v9 sampler table (48 → 50) and system-scoped interval",
		steps: []step{{pkt: v9(1, 0,
			// Scope type 1 (system) must not be read as octetDeltaCount.
			set(1, optTmplV9(300, []spec{{1, 4, 0}}, spec{IESamplerID, 1, 0}, spec{IESamplerMode, 1, 0}, spec{IESamplerRandomInterval, 4, 0}), u16(0)),
			set(300, cat(u32(0), u8(3), u8(2), u32(64))),
			set(1, optTmplV9(301, []spec{{1, 4, 0}}, spec{IESamplingInterval, 4, 0}, spec{IESamplingAlgorithm, 1, 0}), u16(0)),
			set(301, cat(u32(0), u32(10), u8(1)), u8(0), u8(0), u8(0)),
			set(0, tmpl(256, spec{IESamplerID, 1, 0}, spec{IEOctetDeltaCount, 4, 0})),
			set(256, cat(u8(3), u32(1)), cat(u8(4), u32(2))))}},
		want: []string{"v9 t256 rate=64 rx=100 48=3 1=1", "v9 t256 rate=10 rx=100 48=4 1=2"},
	}, {
		name: "v9 inline sampling interval wins",
		steps: []step{{pkt: v9(1, 0,
			set(0, tmpl(256, spec{IESamplingInterval, 4, 0}, spec{IEOctetDeltaCount, 4, 0})),
			set(256, cat(u32(32), u32(1))))}},
		want: []string{"v9 t256 rate=32 rx=100 34=32 1=1"},
	}, {
		name: "v5 records and header sampling",
		steps: []step{{pkt: cat(u16(5), u16(1), u32(60000), u32(1700000000), u32(0), u32(7), u8(0), u8(0), u16(0x4000|100),
			ip("10.1.1.1"), ip("10.1.1.2"), ip("10.1.1.254"), u16(3), u16(4), u32(5), u32(6000), u32(50000), u32(59000),
			u16(1234), u16(80), u8(0), u8(0x1b), u8(6), u8(0x10), u16(65000), u16(65001), u8(24), u8(16), u16(0))}},
		want: []string{"v5 t0 rate=100 rx=100 8=10.1.1.1 12=10.1.1.2 15=167838206 10=3 14=4 2=5 1=6000 22=50000 21=59000 7=1234 11=80 210=0 6=27 4=6 5=16 16=65000 17=65001 9=24 13=16 210=0"},
	}, {
		name: "malformed: short, version, lengths, overruns",
		steps: []step{
			{pkt: []byte{0}, err: "short"},
			{pkt: u16(7), err: "version"},
			{pkt: cat(u16(10), u16(40), u32(0), u32(0), u32(0)), err: "length"},
			{pkt: ipfix(1, 0, cat(u16(2), u16(100))), err: "set"},
			{pkt: ipfix(1, 0, set(2, cat(u16(256), u16(3), u16(1), u16(4)))), err: "template"},
			{pkt: ipfix(1, 0, set(2, cat(u16(12), u16(1), u16(1), u16(4)))), err: "template"},
			{pkt: ipfix(1, 0, set(3, cat(u16(256), u16(1), u16(2), u16(1), u16(4)))), err: "template"},
			{pkt: v9(1, 0, set(1, cat(u16(256), u16(3), u16(4), u16(1), u16(4)))), err: "template"},
			{pkt: ipfix(1, 0, set(2, tmpl(300, spec{82, VarLength, 0})), set(300, u8(9), []byte("abc"))), err: "record"},
			{pkt: ipfix(1, 0, set(2, tmpl(300, spec{82, VarLength, 0})), set(300, u8(255), u8(0))), err: "record"},
			{pkt: cat(u16(5), u16(2), make([]byte, 22+48)), err: "length"},
			{pkt: cat(ipfix(1, 0), []byte{1, 2}), err: ""},
			{pkt: ipfix(1, 0, []byte{0, 2, 0}), err: "set"},
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if tc.cfg != nil {
				cfg = *tc.cfg
			}
			r, s := run(t, cfg, tc.steps)
			if diff := cmp.Diff(r.flows, tc.want); diff != "" {
				t.Errorf("flows (-got +want):\n%s", diff)
			}
			if tc.check != nil {
				tc.check(t, s)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	tight := DefaultConfig()
	tight.MaxExporters = 1
	tight.MaxDomains = 1
	tight.MaxTemplates = 1
	tight.MaxTemplatesTotal = 1
	tight.MaxFields = 2
	tight.MaxRecordSize = 8
	tight.MaxSamplers = 1
	d, err := New(tight)
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	other := netip.MustParseAddr("192.0.2.2")
	steps := []struct {
		from netip.Addr
		pkt  []byte
	}{
		{exp1, ipfix(1, 0, set(2, tmpl(256, spec{1, 4, 0}, spec{2, 4, 0}, spec{4, 1, 0})))}, // fields
		{exp1, ipfix(1, 0, set(2, tmpl(256, spec{1, 8, 0}, spec{2, 4, 0})))},                // record size
		{exp1, ipfix(1, 0, set(2, tmpl(256, spec{1, 0, 0})))},                               // zero-size record
		{exp1, ipfix(1, 0, set(2, tmpl(256, spec{1, 4, 0})))},                               // accepted
		{exp1, ipfix(1, 0, set(2, tmpl(257, spec{1, 4, 0})))},                               // templates per domain
		{exp1, ipfix(2, 0, set(2, tmpl(256, spec{1, 4, 0})))},                               // domains
		{other, ipfix(1, 0, set(2, tmpl(256, spec{1, 4, 0})))},                              // exporters
		{exp1, ipfix(1, 0, set(3, optTmplIPFIX(258, []spec{{IESelectorID, 1, 0}}, spec{IESamplingInterval, 1, 0})))},
	}
	for i, s := range steps {
		if err := d.Decode(s.from, s.pkt, 100, r); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	got := d.Stats()
	want := [numLimits]uint64{LimitFields: 1, LimitRecordSize: 2, LimitTemplates: 2, LimitDomains: 1, LimitExporters: 1}
	if diff := cmp.Diff(got.Limits, want); diff != "" {
		t.Errorf("limits (-got +want):\n%s", diff)
	}
	if got.Drops[DropLimit] != 2 || got.Templates != 1 || got.Exporters != 1 {
		t.Errorf("drops %d, templates %d, exporters %d", got.Drops[DropLimit], got.Templates, got.Exporters)
	}

	// Total templates across domains, and samplers per domain.
	tight = DefaultConfig()
	tight.MaxTemplatesTotal = 1
	tight.MaxSamplers = 1
	d, _ = New(tight)
	sampler := ipfix(1, 0,
		set(2, tmpl(256, spec{IESelectorID, 1, 0})),
		set(3, optTmplIPFIX(258, []spec{{IESelectorID, 1, 0}}, spec{IESamplingInterval, 1, 0})))
	_ = d.Decode(exp1, sampler, 100, r)
	_ = d.Decode(exp1, ipfix(2, 0, set(3, optTmplIPFIX(258, []spec{{IESelectorID, 1, 0}}, spec{IESamplingInterval, 1, 0}))), 100, r)
	if l := d.Stats().Limits[LimitTemplatesTotal]; l != 2 {
		t.Errorf("templates_total hits %d, want 2", l)
	}
	tight.MaxTemplatesTotal = 10
	d, _ = New(tight)
	_ = d.Decode(exp1, sampler, 100, r)
	_ = d.Decode(exp1, ipfix(1, 1, set(258, cat(u8(1), u8(10)), cat(u8(2), u8(20)))), 100, r)
	if l := d.Stats().Limits[LimitSamplers]; l != 1 {
		t.Errorf("samplers hits %d, want 1", l)
	}
}

func TestSequence(t *testing.T) {
	v5 := func(seq uint32, n int) []byte {
		return cat(u16(5), u16(uint16(n)), u32(0), u32(0), u32(0), u32(seq), u8(0), u8(0), u16(0), make([]byte, 48*n))
	}
	for _, tc := range []struct {
		name   string
		pkts   [][]byte
		lost   []string
		resets uint64
	}{{
		name: "v9 counts packets",
		pkts: [][]byte{v9(1, 10, set(0, t4)), v9(1, 11, set(256, d4a, d4b)), v9(1, 14), v9(1, 2)},
		lost: []string{"192.0.2.1 v9 2"}, resets: 1,
	}, {
		name: "ipfix counts data records",
		pkts: [][]byte{ipfix(1, 10, set(2, t4), set(256, d4a, d4b)), ipfix(1, 12, set(256, d4a)), ipfix(1, 20)},
		lost: []string{"192.0.2.1 v10 7"},
	}, {
		name: "ipfix held data makes the next check unknown",
		pkts: [][]byte{ipfix(1, 10, set(257, d4a)), ipfix(1, 50), ipfix(1, 50)},
	}, {
		name: "v5 counts flows",
		pkts: [][]byte{v5(100, 2), v5(102, 1), v5(110, 1)},
		lost: []string{"192.0.2.1 v5 7"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := New(DefaultConfig())
			r := &recorder{}
			for i, p := range tc.pkts {
				if err := d.Decode(exp1, p, 100, r); err != nil {
					t.Fatalf("packet %d: %v", i, err)
				}
			}
			if diff := cmp.Diff(r.lost, tc.lost); diff != "" {
				t.Errorf("lost (-got +want):\n%s", diff)
			}
			if s := d.Stats(); s.SequenceResets != tc.resets {
				t.Errorf("resets %d, want %d", s.SequenceResets, tc.resets)
			}
		})
	}
}

func TestExporterExpiry(t *testing.T) {
	d, _ := New(DefaultConfig())
	r := &recorder{}
	_ = d.Decode(exp1, ipfix(1, 0, set(2, t4), set(257, d4a)), 100, r)
	other := netip.MustParseAddr("192.0.2.2")
	_ = d.Decode(other, ipfix(1, 0), 100+3600+61, r)
	s := d.Stats()
	if s.Exporters != 1 || s.ExportersExpired != 1 || s.Templates != 0 || s.HeldBytes != 0 {
		t.Errorf("exporters %d expired %d templates %d held %d", s.Exporters, s.ExportersExpired, s.Templates, s.HeldBytes)
	}
}

func TestTimes(t *testing.T) {
	ntp := func(unixMs int64) uint64 {
		sec := uint64(unixMs/1000 + ntpEpochOffset)
		frac := uint64(unixMs%1000) << 32 / 1000
		return sec<<32 | (frac + 1) // +1: truncation must not lose the ms
	}
	for _, tc := range []struct {
		name       string
		f          Flow
		start, end int64
	}{{
		name:  "v9 uptime relative",
		f:     Flow{Version: 9, ExportTime: 1000, SysUptime: 60000, Fields: []Value{{Field{ID: 22}, u32(50000)}, {Field{ID: 21}, u32(59000)}}},
		start: 990000, end: 999000,
	}, {
		name:  "v9 uptime wrapped",
		f:     Flow{Version: 9, ExportTime: 1000, SysUptime: 100, Fields: []Value{{Field{ID: 22}, u32(0xFFFFFF00)}}},
		start: 1000000 - 356,
	}, {
		name:  "ipfix seconds and milliseconds",
		f:     Flow{Version: 10, Fields: []Value{{Field{ID: 150}, u32(1700000000)}, {Field{ID: 153}, u64(1700000001500)}}},
		start: 1700000000000, end: 1700000001500,
	}, {
		name:  "ipfix micro and nano (NTP format)",
		f:     Flow{Version: 10, Fields: []Value{{Field{ID: 154}, u64(ntp(1700000000123))}, {Field{ID: 157}, u64(ntp(1700000000456))}}},
		start: 1700000000123, end: 1700000000456,
	}, {
		name:  "ipfix delta microseconds and init time",
		f:     Flow{Version: 10, ExportTime: 2000, Fields: []Value{{Field{ID: 158}, u32(1500000)}, {Field{ID: 160}, u64(1000000)}, {Field{ID: 21}, u32(5000)}}},
		start: 1998500, end: 1005000,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			start, end := tc.f.Times()
			if start != tc.start || end != tc.end {
				t.Errorf("got %d..%d, want %d..%d", start, end, tc.start, tc.end)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	c.MaxFields = 0
	c.HoldBytes = 1
	c.ExporterTimeout = 0
	err := c.Validate()
	var keys []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		keys = append(keys, e.(*ConfigError).Key)
	}
	if diff := cmp.Diff(keys, []string{"max-fields-per-template", "hold-bytes", "exporter-timeout"}); diff != "" {
		t.Errorf("keys (-got +want):\n%s", diff)
	}
	if _, err := New(c); err == nil {
		t.Error("New accepted a bad config")
	}
}

// TestSteadyStateAllocs: refreshing templates and decoding data allocate
// nothing once state is built.
func TestSteadyStateAllocs(t *testing.T) {
	d, _ := New(DefaultConfig())
	pkt := ipfix(1, 0, set(2, t4), set(256, d4a, d4b))
	h := &counter{}
	_ = d.Decode(exp1, pkt, 100, h)
	allocs := testing.AllocsPerRun(100, func() {
		if err := d.Decode(exp1, pkt, 100, h); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per packet", allocs)
	}
}

type counter struct{ flows, lost uint64 }

func (c *counter) Flow(*Flow)                            { c.flows++ }
func (c *counter) Lost(_ netip.Addr, _ uint16, n uint64) { c.lost += n }
