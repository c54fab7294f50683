package decoder

import (
	"net/netip"
	"testing"
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
