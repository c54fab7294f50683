package sflow

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// collect is an emit function keeping a copy of every datagram.
type collect struct {
	datagrams [][]byte
	err       error // returned by emit
}

func (c *collect) emit(b []byte) error {
	c.datagrams = append(c.datagrams, append([]byte(nil), b...))
	return c.err
}

func newTestPacker(t *testing.T, maxSize int, agent netip.Addr, c *collect) *Packer {
	t.Helper()
	cfg := DefaultPackerConfig()
	cfg.MaxSize = maxSize
	cfg.SubAgentID = 5
	p, err := NewPacker(cfg, agent, c.emit, func() uint32 { return 777 })
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPackerFills: samples come out in order, in datagrams no larger than
// the maximum, numbered 1, 2, 3...
func TestPackerFills(t *testing.T) {
	for _, maxSize := range []int{MinDatagramSize, DefaultMaxDatagramSize, 1400} {
		for _, agent := range []netip.Addr{agent4, agent6} {
			t.Run(fmt.Sprintf("%d/%s", maxSize, agent), func(t *testing.T) {
				var c collect
				p := newTestPacker(t, maxSize, agent, &c)
				const n = 50
				// The encoded size of a sample with an empty header.
				var e Encoder
				b, _ := e.AppendFlowSample(nil, &FlowSample{Expanded: true, Has: HasSampledHeader | HasProcess, Process: processRecord()})
				bare := len(b)
				for i := range n {
					s := FlowSample{Expanded: true, SequenceNumber: uint32(i), Has: HasSampledHeader | HasProcess,
						SampledHeader: SampledHeader{Protocol: HeaderEthernet, FrameLength: 1518, Stripped: 4, Header: tcpHeader(128)},
						Process:       processRecord()}
					if err := p.AddFlowSample(&s); err != nil {
						t.Fatal(err)
					}
					if i%10 == 0 {
						cs := CounterSample{Expanded: true, SequenceNumber: uint32(i), Has: HasGeneric, Generic: genericCounters()}
						if err := p.AddCounterSample(&cs); err != nil {
							t.Fatal(err)
						}
					}
				}
				if err := p.Flush(); err != nil {
					t.Fatal(err)
				}
				var d Decoder
				var dg Datagram
				next, counters := 0, 0
				for i, b := range c.datagrams {
					if len(b) > maxSize {
						t.Errorf("datagram %d: %d bytes > %d", i, len(b), maxSize)
					}
					if err := d.Decode(b, &dg); err != nil {
						t.Fatalf("datagram %d: %v", i, err)
					}
					if dg.SequenceNumber != uint32(i+1) || dg.AgentAddress != agent || dg.SubAgentID != 5 || dg.Uptime != 777 {
						t.Errorf("datagram %d header: seq %d agent %s sub-agent %d uptime %d", i,
							dg.SequenceNumber, dg.AgentAddress, dg.SubAgentID, dg.Uptime)
					}
					// 256 bytes cannot hold a 128-byte header and the
					// process record: the header is cut to what fits.
					wantHdr := min(128, (maxSize-DatagramHeaderLen(agent)-bare)&^3)
					for _, s := range dg.FlowSamples {
						if int(s.SequenceNumber) != next || len(s.SampledHeader.Header) != wantHdr {
							t.Errorf("datagram %d: sample %d (header %d bytes), want sample %d (header %d bytes)",
								i, s.SequenceNumber, len(s.SampledHeader.Header), next, wantHdr)
						}
						next++
					}
					counters += len(dg.CounterSamples)
				}
				if next != n || counters != 5 {
					t.Errorf("got %d flow samples and %d counter samples, want %d and 5", next, counters, n)
				}
				st := p.Stats()
				if st.Datagrams != uint64(len(c.datagrams)) || st.Samples != n+5 || p.Pending() != 0 {
					t.Errorf("stats %+v, pending %d", st, p.Pending())
				}
				if maxSize == DefaultMaxDatagramSize && len(c.datagrams) >= n {
					t.Errorf("%d datagrams for %d samples: not packing", len(c.datagrams), n)
				}
			})
		}
	}
}

// TestPackerOversized: a sample bigger than a datagram has its sampled
// header cut to fit; one that cannot fit at all is refused, and counted.
func TestPackerOversized(t *testing.T) {
	var c collect
	p := newTestPacker(t, MinDatagramSize, agent6, &c)
	hdr := tcpHeader(400)
	s := FlowSample{Expanded: true, Has: HasSampledHeader,
		SampledHeader: SampledHeader{Protocol: HeaderEthernet, FrameLength: 1518, Stripped: 4, Header: hdr}}
	if err := p.AddFlowSample(&s); err != nil {
		t.Fatal(err)
	}
	if len(s.SampledHeader.Header) != 400 {
		t.Errorf("the caller's sample was changed: header %d bytes", len(s.SampledHeader.Header))
	}
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	b := c.datagrams[0]
	var d Decoder
	var dg Datagram
	if err := d.Decode(b, &dg); err != nil {
		t.Fatal(err)
	}
	got := dg.FlowSamples[0].SampledHeader
	if len(b) > MinDatagramSize || len(got.Header)%4 != 0 || len(b) < MinDatagramSize-3 ||
		got.FrameLength != 1518 || string(got.Header) != string(hdr[:len(got.Header)]) {
		t.Errorf("datagram %d bytes, header cut to %d bytes, frame length %d", len(b), len(got.Header), got.FrameLength)
	}

	long := []byte(strings.Repeat("x", 200))
	tooBig := FlowSample{Expanded: true, Has: HasProcess, Process: ProcessInfo{Exe: long, Cgroup: long}}
	if err := p.AddFlowSample(&tooBig); !errors.Is(err, ErrSampleTooLarge) {
		t.Errorf("flow sample without a header to cut: error %v, want ErrSampleTooLarge", err)
	}
	adapters := make([]HostAdapter, 40)
	cs := CounterSample{Expanded: true, Has: HasAdapters, Adapters: HostAdapters{Adapters: adapters}}
	if err := p.AddCounterSample(&cs); !errors.Is(err, ErrSampleTooLarge) {
		t.Errorf("counter sample: error %v, want ErrSampleTooLarge", err)
	}
	if st := p.Stats(); st.Truncated != 1 || st.Oversized != 2 || p.Pending() != 0 {
		t.Errorf("stats %+v, pending %d; want 1 truncated, 2 oversized, nothing pending", st, p.Pending())
	}
}

// TestPackerEmitError: a failed send is reported and counted, the datagram
// is dropped and numbering goes on (the collector sees the loss).
func TestPackerEmitError(t *testing.T) {
	c := collect{err: errors.New("network unreachable")}
	p := newTestPacker(t, DefaultMaxDatagramSize, agent4, &c)
	if err := p.Flush(); err != nil || len(c.datagrams) != 0 {
		t.Fatalf("flushing nothing: error %v, %d datagrams", err, len(c.datagrams))
	}
	s := FlowSample{Expanded: true, Has: HasSwitch}
	for range 2 {
		if err := p.AddFlowSample(&s); err != nil {
			t.Fatal(err)
		}
		if err := p.Flush(); err == nil || !strings.Contains(err.Error(), "network unreachable") {
			t.Errorf("flush error %v", err)
		}
	}
	var d Decoder
	var dg Datagram
	for i, b := range c.datagrams {
		if err := d.Decode(b, &dg); err != nil || dg.SequenceNumber != uint32(i+1) || len(dg.FlowSamples) != 1 {
			t.Errorf("datagram %d: %v, seq %d, %d samples", i, err, dg.SequenceNumber, len(dg.FlowSamples))
		}
	}
	if st := p.Stats(); st.EmitErrors != 2 || st.Datagrams != 2 {
		t.Errorf("stats %+v", st)
	}
}

// TestPackerSetAgent: a new agent address flushes the old stream and
// restarts numbering.
func TestPackerSetAgent(t *testing.T) {
	var c collect
	p := newTestPacker(t, DefaultMaxDatagramSize, agent4, &c)
	s := FlowSample{Expanded: true, Has: HasSwitch}
	add := func() {
		if err := p.AddFlowSample(&s); err != nil {
			t.Fatal(err)
		}
	}
	add()
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	add()
	if err := p.SetAgent(agent6); err != nil {
		t.Fatal(err)
	}
	add()
	// An IPv4-mapped address is the IPv4 agent: a new stream again.
	if err := p.SetAgent(netip.MustParseAddr("::ffff:192.0.2.1")); err != nil {
		t.Fatal(err)
	}
	add()
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	type hdr struct {
		Agent netip.Addr
		Seq   uint32
	}
	var got []hdr
	var d Decoder
	var dg Datagram
	for _, b := range c.datagrams {
		if err := d.Decode(b, &dg); err != nil {
			t.Fatal(err)
		}
		got = append(got, hdr{dg.AgentAddress, dg.SequenceNumber})
	}
	want := []hdr{{agent4, 1}, {agent4, 2}, {agent6, 1}, {agent4, 1}}
	if diff := cmp.Diff(got, want, cmpOpts); diff != "" {
		t.Errorf("(-got +want):\n%s", diff)
	}
}

func TestPackerConfigValidate(t *testing.T) {
	cases := []struct {
		name   string
		mod    func(*PackerConfig)
		substr string
	}{
		{"default", func(*PackerConfig) {}, ""},
		{"max-size too small", func(c *PackerConfig) { c.MaxSize = 100 }, "max-size: 100 outside [256, 65507]"},
		{"max-size too large", func(c *PackerConfig) { c.MaxSize = 70000 }, "max-size"},
		{"enterprise too large", func(c *PackerConfig) { c.Enterprise = 1 << 20 }, "enterprise: 1048576 does not fit in 20 bits"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultPackerConfig()
			tc.mod(&cfg)
			err := cfg.Validate()
			switch {
			case tc.substr == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tc.substr != "" && (err == nil || !strings.Contains(err.Error(), tc.substr)):
				t.Errorf("error %v, want %q", err, tc.substr)
			}
			if _, err := NewPacker(cfg, agent4, func([]byte) error { return nil }, nil); (err == nil) != (tc.substr == "") {
				t.Errorf("NewPacker error %v", err)
			}
		})
	}
}

// TestPackerNoAllocs: packing and emitting does not allocate per sample.
func TestPackerNoAllocs(t *testing.T) {
	p, err := NewPacker(DefaultPackerConfig(), agent6, func([]byte) error { return nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	fs := flowSampleAll(true)
	cs := counterSampleAll(true)
	allocs := testing.AllocsPerRun(200, func() {
		_ = p.AddFlowSample(&fs)
		_ = p.AddCounterSample(&cs)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per sample, want 0", allocs)
	}
	if p.Stats().Datagrams == 0 {
		t.Error("no datagram emitted: the loop did not exercise flushing")
	}
}

// TestPackerLargestProcessRecord: a process record with every string at its
// maximum still fits a default datagram, with a sampled header.
func TestPackerLargestProcessRecord(t *testing.T) {
	var c collect
	p := newTestPacker(t, DefaultMaxDatagramSize, agent6, &c)
	long := []byte(strings.Repeat("y", 1000))
	s := FlowSample{Expanded: true, Has: HasSampledHeader | HasProcess,
		SampledHeader: SampledHeader{Protocol: HeaderEthernet, FrameLength: 1518, Stripped: 4, Header: tcpHeader(128)},
		Process:       ProcessInfo{Comm: long, Exe: long, Cgroup: long, Unit: long, Container: long, User: long}}
	if err := p.AddFlowSample(&s); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	var d Decoder
	var dg Datagram
	if err := d.Decode(c.datagrams[0], &dg); err != nil {
		t.Fatal(err)
	}
	if h := dg.FlowSamples[0].SampledHeader.Header; len(h) < 64 {
		t.Errorf("sampled header cut to %d bytes, want at least 64 left next to a full process record", len(h))
	}
}
