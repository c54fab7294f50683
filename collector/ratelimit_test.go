package collector

import (
	"fmt"
	"math"
	"net/netip"
	"testing"

	"github.com/hostflow/hostflow/flow"
)

var (
	exporterA = netip.MustParseAddr("192.0.2.1")
	exporterB = netip.MustParseAddr("2001:db8::2")
)

// offer is what one exporter sends in one second.
type offer struct {
	exporter netip.Addr
	second   uint32
	flows    int
}

// result per exporter: flows kept and the flows they stand for (the sum
// of their sampling rate multipliers), and the most kept in one second.
type result struct {
	kept, represented, maxPerSecond int
}

func runLimiter(l *limiter, offers []offer, batch int) map[netip.Addr]*result {
	out := map[netip.Addr]*result{}
	type key struct {
		exporter netip.Addr
		second   uint32
	}
	perSecond := map[key]int{}
	recs := make([]flow.Record, 0, batch)
	flush := func() {
		kept, _, _ := l.apply(recs)
		for i := range kept {
			r := &kept[i]
			res := out[r.ExporterAddress]
			res.kept++
			res.represented += int(r.SamplingRate) // offered with rate 1
			k := key{r.ExporterAddress, r.TimeReceived}
			perSecond[k]++
			res.maxPerSecond = max(res.maxPerSecond, perSecond[k])
		}
		recs = recs[:0]
	}
	for _, o := range offers {
		if out[o.exporter] == nil {
			out[o.exporter] = &result{}
		}
		for range o.flows {
			recs = append(recs, flow.Record{ExporterAddress: o.exporter, TimeReceived: o.second, SamplingRate: 1})
			if len(recs) == batch {
				flush()
			}
		}
		flush()
	}
	return out
}

func steady(exporter netip.Addr, from, seconds uint32, flows int) []offer {
	var out []offer
	for s := from; s < from+seconds; s++ {
		out = append(out, offer{exporter, s, flows})
	}
	return out
}

func TestRateLimitKeepsTotals(t *testing.T) {
	const limit = 1000
	cases := []struct {
		name   string
		offers []offer
		// want per exporter: kept exactly (-1: only bounded), and the
		// represented flows within tolerance of the offered ones.
		wantKept map[netip.Addr]int
		tol      float64
	}{
		{
			name:     "under the limit: everything, unchanged",
			offers:   steady(exporterA, 100, 5, 900),
			wantKept: map[netip.Addr]int{exporterA: 4500},
			tol:      0,
		},
		{
			name:     "steady 5x: the limit per second after the first, totals right",
			offers:   steady(exporterA, 100, 10, 5000),
			wantKept: map[netip.Addr]int{exporterA: -1},
			tol:      0.001,
		},
		{
			name:     "burst of 50x in one second: bounded, totals right",
			offers:   []offer{{exporterA, 100, 50_000}},
			wantKept: map[netip.Addr]int{exporterA: -1},
			tol:      0.01,
		},
		{
			name: "exporters are limited apart",
			offers: append(steady(exporterA, 100, 5, 3000), append(steady(exporterB, 100, 5, 500),
				steady(exporterA, 105, 1, 100)...)...),
			wantKept: map[netip.Addr]int{exporterA: -1, exporterB: 2500},
			tol:      0.001,
		},
		{
			name:     "after a silence an exporter starts unsampled",
			offers:   append(steady(exporterA, 100, 3, 4000), offer{exporterA, 200, 800}),
			wantKept: map[netip.Addr]int{exporterA: -1},
			tol:      0.001,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			offered := map[netip.Addr]int{}
			maxKept := map[netip.Addr]int{} // the documented bound for the largest second
			for _, o := range tc.offers {
				offered[o.exporter] += o.flows
				bound := int(limit*(1+math.Log2(max(float64(o.flows)/limit, 1))/2)) + 1
				maxKept[o.exporter] = max(maxKept[o.exporter], min(bound, o.flows))
			}
			got := runLimiter(newLimiter(limit, 100), tc.offers, 64)
			for exp, want := range tc.wantKept {
				res := got[exp]
				if want >= 0 && res.kept != want {
					t.Errorf("%s: kept %d, want %d", exp, res.kept, want)
				}
				if res.maxPerSecond > maxKept[exp] {
					t.Errorf("%s: %d kept in one second, want at most %d", exp, res.maxPerSecond, maxKept[exp])
				}
				off := float64(offered[exp])
				if d := float64(res.represented) - off; d > tc.tol*off || -d > tc.tol*off {
					t.Errorf("%s: kept flows represent %d flows, offered %d (tolerance %.1f%%)", exp, res.represented, offered[exp], 100*tc.tol)
				}
			}
		})
	}
}

// TestRateLimitSteadyState: at 5× the limit, from the second second on,
// one flow in 5 is kept with its sampling rate ×5.
func TestRateLimitSteadyState(t *testing.T) {
	l := newLimiter(1000, 10)
	runLimiter(l, steady(exporterA, 100, 1, 5000), 64)
	recs := make([]flow.Record, 5000)
	for i := range recs {
		recs[i] = flow.Record{ExporterAddress: exporterA, TimeReceived: 101, SamplingRate: 400}
	}
	kept, dropped, scaled := l.apply(recs)
	if len(kept) != 1000 || dropped != 4000 || scaled != 1000 {
		t.Fatalf("kept %d dropped %d scaled %d, want 1000 4000 1000", len(kept), dropped, scaled)
	}
	for i := range kept {
		if kept[i].SamplingRate != 2000 {
			t.Fatalf("flow %d: sampling rate %d, want 400 × 5", i, kept[i].SamplingRate)
		}
	}
}

// TestRateLimitBoundsExporters: past max exporters, new ones share one
// limit; exporters silent for a minute make room.
func TestRateLimitBoundsExporters(t *testing.T) {
	l := newLimiter(100, 4)
	var offers []offer
	for i := range 10 {
		offers = append(offers, offer{netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), 100, 50})
	}
	runLimiter(l, offers, 64)
	if len(l.buckets) != 4 {
		t.Fatalf("%d exporters followed, want 4", len(l.buckets))
	}
	if l.overflow.seen != 300 {
		t.Errorf("overflow bucket saw %d flows, want the 6 other exporters' 300", l.overflow.seen)
	}
	runLimiter(l, []offer{{netip.MustParseAddr("10.9.9.9"), 200, 1}}, 64)
	if _, ok := l.buckets[netip.MustParseAddr("10.9.9.9")]; !ok || len(l.buckets) != 1 {
		t.Errorf("after a minute of silence: %d exporters followed, want only the new one", len(l.buckets))
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{DefaultConfig(), ""},
		{Config{RateLimit: 5000, RateLimitExporters: 10}, ""},
		{Config{RateLimit: 3, RateLimitExporters: 10}, "key rate-limit: must be 0 (no limit) or at least 10 flows/s, not 3"},
		{Config{RateLimitExporters: 0}, "key rate-limit-exporters: must be between 1 and 1000000, not 0"},
	} {
		got := fmt.Sprint(tc.cfg.Validate())
		if tc.want == "" && got != "<nil>" || tc.want != "" && got != tc.want {
			t.Errorf("%+v: -got %q +want %q", tc.cfg, got, tc.want)
		}
	}
}

// BenchmarkRateLimit: one exporter at 5× the limit, 64-flow batches; the
// steady state allocates nothing.
func BenchmarkRateLimit(b *testing.B) {
	l := newLimiter(100_000, 100)
	recs := make([]flow.Record, 64)
	b.ReportAllocs()
	second := uint32(0)
	for i := 0; b.Loop(); i++ {
		if i%(500_000/64) == 0 {
			second++
		}
		for j := range recs {
			recs[j] = flow.Record{ExporterAddress: exporterA, TimeReceived: second, SamplingRate: 1}
		}
		l.apply(recs)
	}
}
