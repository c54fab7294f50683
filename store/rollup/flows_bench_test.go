package rollup_test

import (
	"testing"
	"time"

	"github.com/hostflow/hostflow/bench/store/synth"
	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/store/native"
	"github.com/hostflow/hostflow/store/rollup"
	"github.com/hostflow/hostflow/store/schema"
)

// BenchmarkAddFlows is the writer's aggregation as the store runs it: the
// default schema's rollup columns (49, 30 in the key), flows blocks encoded
// by the store's encoder from the synthetic set storebench ingests, 6 M
// distinct flows per round (24 s at 250 k flows/s, ~1.5 GB of blocks), then
// Block and Reset, as the writer emits; after a first round that sizes the
// aggregator's memory. The other Add benchmarks use a handful of columns:
// they measure the table, this one the whole per-flow cost.
func BenchmarkAddFlows(b *testing.B) {
	const perBlock, round = 100_000, 60
	sc, err := schema.New(flow.NewSchema(), schema.Options{Database: "b", Rollups: true, RollupsByWriter: true})
	if err != nil {
		b.Fatal(err)
	}
	cols, _, buckets := sc.RollupWriter()
	start := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	gen := synth.New(synth.Config{Seed: 1, Exporters: 20, Start: start, Span: 24 * time.Second, Rows: perBlock * round})
	enc := native.NewEncoder(sc.FlowFields())
	recs := make([]flow.Record, perBlock)
	var blocks []*native.Block
	for range round {
		gen.Fill(recs)
		for i := range recs {
			enc.Append(&recs[i])
		}
		blocks = append(blocks, enc.Swap(enc.NewBlock(perBlock)))
	}
	a := rollup.New(cols, buckets[0])
	// A collector runs for days: measure the steady state, not the first
	// round's growth of the aggregator's memory.
	for _, blk := range blocks {
		if err := a.Add(blk); err != nil {
			b.Fatal(err)
		}
	}
	_ = a.Block()
	a.Reset()
	b.ReportAllocs()
	n, groups := 0, 0
	for b.Loop() {
		if err := a.Add(blocks[n%round]); err != nil {
			b.Fatal(err)
		}
		if n++; n%round == 0 {
			groups = a.Groups()
			_ = a.Block()
			a.Reset()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perBlock), "ns/flow")
	b.ReportMetric(float64(groups)/float64(round*perBlock), "groups/flow")
}
