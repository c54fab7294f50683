package query

import (
	"context"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/hostflow/hostflow/bench/store/synth"
	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/internal/daemon"
	"github.com/hostflow/hostflow/store/native"
	"github.com/hostflow/hostflow/store/schema"
)

// benchStore fills database qbench (in the test engine) with synthetic
// host flows over the last 24 hours, $HOSTFLOW_BENCH_ROWS of them (default
// 1 M; the reference measurement is 20 M). With HOSTFLOW_QUERY_BENCH_DIR
// set the store survives the run and is only filled once. It returns a
// builder that may use rollups and one restricted to the raw table.
func benchStore(b *testing.B) (rollup, raw *Builder) {
	store(b) // the engine
	rows := 1_000_000
	if s := os.Getenv("HOSTFLOW_BENCH_ROWS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		rows = n
	}
	tr := shared.tr
	ctx := context.Background()
	fs := flow.NewSchema()
	mk := func(rollups bool) (*schema.Schema, *Builder) {
		ss, err := schema.New(fs, schema.Options{Database: "qbench", Rollups: true})
		if err != nil {
			b.Fatal(err)
		}
		view := ss
		if !rollups {
			if view, err = schema.New(fs, schema.Options{Database: "qbench"}); err != nil {
				b.Fatal(err)
			}
		}
		bl, err := New(DefaultConfig(), Dependencies{Flow: fs, Store: view, Querier: tr,
			Reporter: daemon.NewReporter(daemon.NewLogger(os.Stderr, 8, false), nil)})
		if err != nil {
			b.Fatal(err)
		}
		return ss, bl
	}
	ss, rollup := mk(true)
	_, raw = mk(false)
	if _, err := ss.Migrate(ctx, tr); err != nil {
		b.Fatal(err)
	}
	res, err := tr.Query(ctx, "SELECT count(), max(TimeReceived) FROM qbench.flows", nil)
	if err != nil {
		b.Fatal(err)
	}
	have := int(res.Rows[0][0].(uint64))
	last, _ := res.Rows[0][1].(time.Time)
	if have >= rows && time.Since(last) < 6*time.Hour {
		return rollup, raw
	}
	// (Re)fill: data must cover the last 24 hours for the rollups' answer
	// to match the raw table's.
	for _, t := range []string{schema.Flows, schema.Flows1m, schema.Flows5m, schema.Flows1h} {
		if _, err := tr.Query(ctx, "TRUNCATE TABLE qbench."+t, nil); err != nil {
			b.Fatal(err)
		}
	}
	start := time.Now().Add(-24 * time.Hour).Truncate(time.Hour)
	gen := synth.New(synth.Config{Seed: 1, Start: start, Span: 24 * time.Hour, Rows: rows})
	enc := native.NewEncoder(ss.FlowFields())
	batch := make([]flow.Record, 100_000)
	began := time.Now()
	for done := 0; done < rows; done += len(batch) {
		n := min(len(batch), rows-done)
		gen.Fill(batch[:n])
		for i := range batch[:n] {
			// synth spreads time as n*Span/Rows in int64 nanoseconds, which
			// overflows past ~100 k rows per day: space them here instead.
			batch[i].TimeReceived = uint32(start.Unix() + int64(done+i)*86400/int64(rows))
			enc.Append(&batch[i])
		}
		if err := tr.Insert(ctx, ss.InsertTable(schema.Flows), enc.Swap(enc.NewBlock(0))); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("filled qbench with %d rows in %s", rows, time.Since(began).Round(time.Second))
	return rollup, raw
}

// BenchmarkTopN24h is the console's default graph: 24 hours, top 10
// source AS + Other, 10-minute buckets (144 points), on the raw table and
// on the 5-minute rollup.
func BenchmarkTopN24h(b *testing.B) {
	rollup, raw := benchStore(b)
	end := time.Now().Truncate(time.Hour)
	req := TimeSeriesRequest{Start: end.Add(-24 * time.Hour), End: end, Dimensions: []string{"SrcAS"}, Limit: 10}
	for _, c := range []struct {
		name string
		b    *Builder
	}{{"raw", raw}, {"rollup", rollup}} {
		b.Run(c.name, func(b *testing.B) {
			// The engine runs in this process: its CPU time per query is a
			// steadier figure than wall time on a shared machine.
			var ru0, ru1 syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
			defer func() {
				syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
				cpu := ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano()
				b.ReportMetric(float64(cpu)/1e6/float64(b.N), "cpu-ms/op")
			}()
			for b.Loop() {
				ts, err := c.b.TimeSeries(context.Background(), req)
				if err != nil {
					b.Fatal(err)
				}
				if len(ts.Series) != 11 {
					b.Fatalf("%d series on %s", len(ts.Series), ts.Table)
				}
			}
		})
	}
}
