package enrich

import (
	"net/netip"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hostflow/hostflow/flow"
)

// BenchmarkEnrich measures the warm path: a batch of 32 flows from
// datagrams of two exporters (a hostflow agent and a router described
// statically), with GeoIP, networks and rules configured, every cache warm.
// It reports ns per flow.
func BenchmarkEnrich(b *testing.B) {
	en, _ := newEnricher(b, loadConfig(b, "router.yaml", geoFixtures(b)))
	ifaces, hosts := agentCounters()
	en.ObserveCounters(ifaces, hosts)
	edge := netip.MustParseAddr("192.0.2.1")
	const batch = 32
	src := make([]flow.Record, batch)
	for i := range src {
		r := &src[i]
		if i < batch/2 {
			r.ExporterAddress, r.SubAgentID = agent, agentSub
			r.InIf, r.OutIf = flow.IfIndexInternal, uint32(2+2*(i%2)) // ens5 / tailscale0
			r.SrcAddr = netip.MustParseAddr("2001:db8:a::5")
			r.DstAddr = netip.AddrFrom4([4]byte{81, 2, 69, byte(i * 7)})
		} else {
			r.ExporterAddress = edge
			r.InIf, r.OutIf = 10, 20
			r.SrcAddr = netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})
			r.DstAddr = netip.AddrFrom4([4]byte{10, 1, byte(i % 4), byte(i)})
		}
	}
	en.Enrich(append([]flow.Record(nil), src...)) // warm every cache
	runBatches(b, en, batch, func(recs []flow.Record) { copy(recs, src) })
}

// runBatches times Enrich on batches of fresh records (as a decoder
// produces them). fill writes a batch; batches are prepared 256 at a time
// outside the timer, so the timer is not stopped per batch (stopping it
// reads memory statistics, which would dominate).
func runBatches(b *testing.B, en *Enricher, batch int, fill func([]flow.Record)) {
	const prepared = 256
	recs := make([]flow.Record, prepared*batch)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % prepared
		if k == 0 {
			b.StopTimer()
			for j := 0; j < prepared; j++ {
				fill(recs[j*batch : (j+1)*batch])
			}
			b.StartTimer()
		}
		en.Enrich(recs[k*batch : (k+1)*batch])
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/flow")
}

// BenchmarkEnrichParallel runs the same from every CPU at once, as the
// collector's decode workers do.
func BenchmarkEnrichParallel(b *testing.B) {
	en, _ := newEnricher(b, loadConfig(b, "router.yaml", geoFixtures(b)))
	ifaces, hosts := agentCounters()
	en.ObserveCounters(ifaces, hosts)
	const batch = 32
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		src := make([]flow.Record, batch)
		for i := range src {
			src[i] = flow.Record{ExporterAddress: agent, SubAgentID: agentSub, InIf: flow.IfIndexInternal, OutIf: 2,
				SrcAddr: netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), DstAddr: netip.MustParseAddr("2001:db8:a::5")}
		}
		recs := make([]flow.Record, batch)
		for pb.Next() {
			copy(recs, src)
			en.Enrich(recs)
		}
	})
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/flow")
}

// BenchmarkEnrichSpread enriches flows whose addresses are all different:
// sources spread over 256 IPv4 /24s and destinations over 256 IPv6 /48s
// (random hosts inside), as scans or many clients produce. Answers uniform
// over a /24 or /48 are cached per block, so after the first flow of each
// block every lookup hits; per-address caching would miss on every flow.
func BenchmarkEnrichSpread(b *testing.B) {
	en, _ := newEnricher(b, loadConfig(b, "router.yaml", geoFixtures(b)))
	const batch = 32
	var n uint32
	runBatches(b, en, batch, func(recs []flow.Record) {
		for j := range recs {
			n = n*1664525 + 1013904223 // LCG: distinct host parts
			recs[j] = flow.Record{ExporterAddress: agent, SubAgentID: agentSub, OutIf: 2,
				SrcAddr: netip.AddrFrom4([4]byte{100, 64, byte(n >> 24), byte(n)}),
				DstAddr: netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(n >> 24), 0, 0, 0,
					byte(n), byte(n >> 8), byte(n >> 16), 1, 2, 3, 4, 5})}
		}
	})
	hits, misses := testutil.ToFloat64(en.addrHit), testutil.ToFloat64(en.addrMiss)
	b.ReportMetric(100*hits/(hits+misses), "%hit")
}
