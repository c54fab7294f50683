package synth

import (
	"testing"
	"time"

	"github.com/hostflow/hostflow/flow"
)

func TestDeterministicAndPlausible(t *testing.T) {
	cfg := Config{Seed: 1, Exporters: 20, Start: time.Unix(1_700_000_000, 0), Span: time.Hour, Rows: 10000}
	a, b := make([]flow.Record, 10000), make([]flow.Record, 10000)
	New(cfg).Fill(a)
	New(cfg).Fill(b)
	exporters := map[string]int{}
	tcp, udp := 0, 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("record %d differs between two runs with the same seed", i)
		}
		r := &a[i]
		exporters[r.ExporterName]++
		switch r.Proto {
		case 6:
			tcp++
		case 17:
			udp++
		}
		if r.TimeReceived < 1_700_000_000 || r.TimeReceived > 1_700_003_600 {
			t.Fatalf("record %d time %d outside the span", i, r.TimeReceived)
		}
		if r.ExporterName == "" || r.ProcessName == "" || !r.SrcAddr.IsValid() || !r.DstAddr.IsValid() || r.Bytes == 0 {
			t.Fatalf("record %d incomplete: %+v", i, r)
		}
		if (r.InIfName == "") == (r.OutIfName == "") {
			t.Fatalf("record %d: exactly one side should name the host interface: %+v", i, r)
		}
	}
	if len(exporters) < 10 {
		t.Errorf("only %d exporters seen", len(exporters))
	}
	if tcp < 5000 || udp < 1000 {
		t.Errorf("TCP %d, UDP %d of 10000: want mostly TCP with some UDP", tcp, udp)
	}
}

func TestTimesSpreadOverSpanForLargeRuns(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	g := New(Config{Seed: 1, Start: start, Span: 24 * time.Hour, Rows: 20_000_000})
	for _, tc := range []struct {
		n    int
		want int64
	}{{0, 0}, {10_000_000, 43200}, {19_999_999, 86399}} {
		if got := int64(g.timeAt(tc.n)) - start.Unix(); got != tc.want {
			t.Errorf("record %d at +%d s, want +%d s", tc.n, got, tc.want)
		}
	}
}
