package decoder

import (
	"fmt"
	"net/netip"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/hostflow/hostflow/sflow"
)

func TestSeqTracker(t *testing.T) {
	type step struct {
		seq, uptime uint32
		ev          seqEvent
		lost        uint32
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"in order", []step{{1, 1000, seqFirst, 0}, {2, 2000, seqNext, 0}, {3, 3000, seqNext, 0}}},
		{"gap", []step{{10, 1000, seqFirst, 0}, {11, 2000, seqNext, 0}, {15, 3000, seqNext, 3}}},
		{"late datagram after a gap", []step{{10, 1000, seqFirst, 0}, {12, 2000, seqNext, 1}, {11, 1990, seqReordered, 0}, {13, 3000, seqNext, 0}}},
		{"duplicate", []step{{10, 1000, seqFirst, 0}, {10, 1000, seqReordered, 0}}},
		{"wrap of the sequence number", []step{{0xFFFFFFFE, 1000, seqFirst, 0}, {0xFFFFFFFF, 2000, seqNext, 0}, {1, 3000, seqNext, 1}}},
		{"wrap of the uptime is not a restart", []step{{5, 0xFFFFFF00, seqFirst, 0}, {6, 500, seqNext, 0}}},
		{"agent restart: sequence and uptime back", []step{{500, 600000, seqFirst, 0}, {501, 601000, seqNext, 0}, {1, 100, seqReset, 0}, {2, 1100, seqNext, 0}}},
		{"restart soon after the previous one: uptime decides", []step{{5, 30000, seqFirst, 0}, {1, 50, seqReset, 0}}},
		{"far behind with the same uptime: restart", []step{{5000, 1000, seqFirst, 0}, {1, 1000, seqReset, 0}}},
		{"pmacct whole-second uptime jitter", []step{{20, 5000, seqFirst, 0}, {22, 6000, seqNext, 1}, {21, 5000, seqReordered, 0}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := newSeqTracker(10, 3600)
			k := seqKey{netip.MustParseAddr("192.0.2.1"), 0}
			for i, s := range tc.steps {
				ev, lost := tr.observe(k, s.seq, s.uptime, sfNow)
				if ev != s.ev || lost != s.lost {
					t.Errorf("step %d (seq %d, uptime %d): event %d lost %d, want %d and %d", i, s.seq, s.uptime, ev, lost, s.ev, s.lost)
				}
			}
		})
	}
}

func TestSeqTrackerBounded(t *testing.T) {
	tr := newSeqTracker(2, 60)
	key := func(i int) seqKey { return seqKey{netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), 0} }
	tr.observe(key(1), 1, 0, 1000)
	tr.observe(key(2), 1, 0, 1030)
	if ev, _ := tr.observe(key(3), 1, 0, 1050); ev != seqUntracked {
		t.Errorf("third stream while full and none expired: %d, want untracked", ev)
	}
	// At 1065, stream 1 has been silent for 65 s (> 60): it expires.
	if ev, _ := tr.observe(key(3), 1, 0, 1065); ev != seqFirst {
		t.Errorf("third stream after stream 1 expired: %d, want first", ev)
	}
	if tr.expired != 1 || len(tr.streams) != 2 {
		t.Errorf("expired %d, %d streams; want 1 and 2", tr.expired, len(tr.streams))
	}
	// Periodic sweeps forget silent streams even when the table is not full.
	tr.maybeSweep(1200)
	if len(tr.streams) != 0 || tr.expired != 3 {
		t.Errorf("after sweep: %d streams, expired %d; want 0 and 3", len(tr.streams), tr.expired)
	}
}

// TestSFlowSequenceMetrics drives the decoder with a datagram stream that
// loses, reorders and restarts, and one sub-agent that does not interfere.
func TestSFlowSequenceMetrics(t *testing.T) {
	d, rep := sfNew(t)
	var b Batch
	send := func(sub, seq, uptime uint32) {
		t.Helper()
		dg := sfFlowDatagram(sfSample(0))
		dg.SubAgentID, dg.SequenceNumber, dg.Uptime = sub, seq, uptime
		b.Reset()
		if err := d.Decode(Packet{Payload: sfEncode(t, dg), Source: sfSource, Received: sfNow}, &b); err != nil {
			t.Fatal(err)
		}
	}
	send(1, 1, 1000)
	send(2, 100, 1000) // another sub-agent: its own stream
	send(1, 2, 2000)
	send(1, 5, 5000) // 3 and 4 lost
	send(1, 4, 4000) // 4 arrives late
	send(2, 101, 2000)
	send(1, 1, 10) // restart
	send(1, 2, 1000)
	for name, want := range map[string]float64{
		"sequence_lost_total":      2,
		"sequence_reordered_total": 1,
		"sequence_resets_total":    1,
		"exporters":                2,
	} {
		if got := sfMetric(t, rep, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

func TestInterner(t *testing.T) {
	in := newInterner(3)
	a := in.bytes([]byte("nginx"))
	b := in.bytes([]byte("nginx"))
	if unsafe.StringData(a) != unsafe.StringData(b) {
		t.Error("the same bytes gave two strings")
	}
	if in.bytes(nil) != "" || in.len() != 1 {
		t.Errorf("empty input: %d strings held, want 1", in.len())
	}
	for i := range 10 {
		if got, want := in.bytes(fmt.Appendf(nil, "s%d", i)), fmt.Sprintf("s%d", i); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	if in.len() != 3 || in.evictions != 8 {
		t.Errorf("%d held, %d evictions; want 3 and 8", in.len(), in.evictions)
	}
	long := make([]byte, 2*maxInternLen)
	if got := in.bytes(long); len(got) != maxInternLen {
		t.Errorf("long string interned with %d bytes, want %d", len(got), maxInternLen)
	}
}

// TestSFlowDecodeDoesNotAllocate decodes the same datagram repeatedly: once
// the batch and the string table have grown, no allocation.
func TestSFlowDecodeDoesNotAllocate(t *testing.T) {
	d, _ := sfNew(t)
	payload := sfBenchDatagram(t)
	counters := sfEncode(t, sfCounterDatagram(
		sflow.CounterSample{Expanded: true, SourceIndex: 3, Has: sflow.HasGeneric | sflow.HasPortName | sflow.HasInterface,
			Generic: sfGeneric(3), PortName: []byte("eth0"),
			Interface: sflow.InterfaceInfo{IfIndex: 3, Kind: sflow.IfKindPhysical, Name: []byte("eth0"), Alias: []byte("uplink")}},
		sflow.CounterSample{Expanded: true, SourceType: sflow.SourcePhysical, SourceIndex: 1, Has: sflow.HasHostDescr,
			HostDescr: sflow.HostDescr{Hostname: []byte("web-1"), UUID: [16]byte{1}, OSRelease: []byte("6.1")}}))
	var b Batch
	run := func(p []byte) {
		b.Reset()
		if err := d.Decode(Packet{Payload: p, Source: sfSource, Received: sfNow}, &b); err != nil {
			t.Fatal(err)
		}
	}
	run(payload)
	run(counters)
	if n := testing.AllocsPerRun(100, func() { run(payload); run(counters) }); n != 0 {
		t.Errorf("%v allocations per decode, want 0", n)
	}
	if diff := cmp.Diff(len(b.Interfaces)+len(b.Hosts), 2); diff != "" {
		t.Errorf("counter records (-got +want):\n%s", diff)
	}
}

// TestSFlowProcessCache checks that cached process strings never outlive
// what the record says: a reused PID, a changed unit, a colliding slot.
func TestSFlowProcessCache(t *testing.T) {
	d, _ := sfNew(t)
	steps := []struct {
		proc sflow.ProcessInfo
		name string
		user string
		unit string
	}{
		{sfProcess(5, "nginx", "nginx.service"), "nginx", "www-data", "nginx.service"},
		{sfProcess(5, "nginx", "nginx.service"), "nginx", "www-data", "nginx.service"},
		{sfProcess(5, "curl", "nginx.service"), "curl", "www-data", "nginx.service"},
		{sfProcess(5, "curl", "cron.service"), "curl", "www-data", "cron.service"},
		{sfProcess(261, "sshd", "ssh.service"), "sshd", "www-data", "ssh.service"}, // same slot as 5
		{sflow.ProcessInfo{PID: 5, UID: 1000, Comm: []byte("curl")}, "curl", "1000", ""},
		{sflow.ProcessInfo{PID: 5, UID: 1001, Comm: []byte("curl")}, "curl", "1001", ""},
		{sflow.ProcessInfo{PID: 0, UID: 0}, "", "0", ""},
		{sflow.ProcessInfo{PID: 0, UID: sflow.UIDUnknown}, "", "", ""},
	}
	for i, s := range steps {
		fs := sfSample(sflow.HasProcess)
		fs.Process = s.proc
		var b Batch
		if err := d.Decode(Packet{Payload: sfEncode(t, sfFlowDatagram(fs)), Source: sfSource, Received: sfNow}, &b); err != nil {
			t.Fatal(err)
		}
		r := &b.Flows[0]
		if r.ProcessName != s.name || r.ProcessUser != s.user || r.Unit != s.unit || r.ProcessID != s.proc.PID {
			t.Errorf("step %d: pid %d name %q user %q unit %q, want %d %q %q %q", i,
				r.ProcessID, r.ProcessName, r.ProcessUser, r.Unit, s.proc.PID, s.name, s.user, s.unit)
		}
	}
}
