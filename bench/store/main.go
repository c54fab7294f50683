// Command store measures the store end to end on the embedded engine:
// sustained ingest of synthetic host flows (bench/store/synth) through the
// collector's Appender API, bytes on disk per flow after merges, and the
// latency of the console's main query (24 h time series, top 10 + Other)
// on the raw table and on each rollup.
//
//	go build -o /tmp/storebench ./bench/store
//	taskset -c 1 /tmp/storebench -rows 20000000 -rollups=false   # one core
//	taskset -c 1 /tmp/storebench -rows 20000000 -rollups=true -queries
//
// Everything is written under -dir (a new temporary directory by default),
// removed at the end unless -keep.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/hostflow/hostflow/bench/store/synth"
	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/internal/daemon"
	"github.com/hostflow/hostflow/store"
)

func main() {
	var (
		rows      = flag.Int("rows", 5_000_000, "flows to ingest")
		exporters = flag.Int("exporters", 20, "hosts exporting flows")
		rollups   = flag.Bool("rollups", false, "create flows_1m/5m/1h and their views")
		batch     = flag.Int("batch", 100_000, "rows per insert (batch-rows)")
		queries   = flag.Bool("queries", false, "run the query benchmark after ingesting")
		runs      = flag.Int("runs", 7, "query repetitions (the first is reported apart)")
		dir       = flag.String("dir", "", "working directory (default: a new temporary directory)")
		keep      = flag.Bool("keep", false, "keep the store directory")
		maxMemory = flag.String("max-memory", "0", "engine memory cap (e.g. 1GiB; 0 = engine default)")
		queue     = flag.Int("queue", 8, "queue-blocks: blocks waiting for the writer before spilling to the spool")
		columns   = flag.Bool("columns", false, "print the bytes per row of the largest columns")
		reuse     = flag.Bool("reuse", false, "reuse the store in -dir as it is (no ingest; -rows still names the flow count)")
		backfill  = flag.Bool("backfill", false, "ingest without rollups, then create them and fill them from the raw table in one INSERT … SELECT each (fast set-up for the query benchmark)")
	)
	flag.Parse()
	o := options{rows: *rows, exporters: *exporters, rollups: *rollups, batch: *batch, queue: *queue, queries: *queries,
		columns: *columns, backfill: *backfill, reuse: *reuse, runs: *runs, dir: *dir, keep: *keep, maxMemory: *maxMemory}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "store bench:", err)
		os.Exit(1)
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type options struct {
	rows, exporters, batch, queue, runs              int
	rollups, queries, columns, backfill, keep, reuse bool
	dir, maxMemory                                   string
}

func run(o options) error {
	rows, rollups, batch, queue, dir := o.rows, o.rollups, o.batch, o.queue, o.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "hostflow-storebench-")
		if err != nil {
			return err
		}
		dir = d
	}
	if !o.keep {
		defer os.RemoveAll(dir)
	}
	mem, err := store.ParseByteSize(o.maxMemory)
	if err != nil {
		return err
	}
	cfg := store.DefaultConfig()
	cfg.Path = filepath.Join(dir, "store")
	cfg.Spool.Dir = filepath.Join(dir, "spool")
	cfg.Spool.MaxBytes = 8 << 30
	cfg.Rollups = rollups && !o.backfill
	cfg.BatchRows = batch
	cfg.QueueBlocks = queue
	cfg.MaxMemory = store.ByteSize(mem)
	cfg.TTL = map[string]store.Duration{} // the data is dated in the past
	reg := prometheus.NewRegistry()
	rep := daemon.NewReporter(slog.New(slog.NewTextHandler(io.Discard, nil)), reg)
	st, err := store.New(cfg, store.Dependencies{Reporter: rep, Schema: flow.NewSchema()})
	if err != nil {
		return err
	}
	ctx := context.Background()
	if err := st.Start(ctx); err != nil {
		return err
	}
	defer func() { st.Stop() }()

	end := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	start := end.Add(-24 * time.Hour)
	gen := synth.New(synth.Config{Seed: 1, Exporters: o.exporters, Start: start, Span: 24 * time.Hour, Rows: rows})
	fmt.Printf("ingest: %d rows, %d exporters, rollups=%v, batch=%d, %d columns, GOMAXPROCS=%d, NumCPU=%d\n",
		rows, o.exporters, cfg.Rollups, batch, len(st.Schema().FlowColumns()), runtime.GOMAXPROCS(0), runtime.NumCPU())

	if o.reuse {
		return measure(ctx, st, o, rows, rollups, start, end)
	}
	app := st.NewAppender()
	buf := make([]flow.Record, 1000)
	cpu0, t0 := cpuTime(), time.Now()
	var genTime time.Duration
	queueBlocks := gauge(reg, "hostflow_store_queue_blocks")
	for done := 0; done < rows; done += len(buf) {
		// Sustained rate: pace the producer on the writer instead of letting
		// the surplus overflow to the spool (which a collector would do).
		for done%batch == 0 && queueBlocks() >= float64(queue-1) {
			time.Sleep(time.Millisecond)
		}
		n := min(len(buf), rows-done)
		g := time.Now()
		gen.Fill(buf[:n])
		genTime += time.Since(g)
		app.AppendFlows(buf[:n])
	}
	app.Close()
	if err := st.Sync(ctx); err != nil {
		return err
	}
	wall, cpu := time.Since(t0), cpuTime()-cpu0
	fmt.Printf("ingest: %.1f s, %.0f rows/s (%.0f rows/s excluding generation), process CPU %.2f µs/row\n",
		wall.Seconds(), float64(rows)/wall.Seconds(), float64(rows)/(wall-genTime).Seconds(), float64(cpu.Microseconds())/float64(rows))
	reportInserts(reg)
	if rollups && o.backfill {
		if st, err = backfillRollups(ctx, st, cfg, rep); err != nil {
			return err
		}
	}
	return measure(ctx, st, o, rows, rollups, start, end)
}

// measure reports bytes on disk per flow and runs the query benchmark.
func measure(ctx context.Context, st *store.Store, o options, rows int, rollups bool, start, end time.Time) error {
	// Bytes on disk once merged: OPTIMIZE FINAL merges each partition into
	// one part (as background merges eventually do).
	opt := time.Now()
	for _, t := range []string{"flows", "flows_1m", "flows_5m", "flows_1h"} {
		if t != "flows" && !rollups {
			continue
		}
		if err := st.Exec(ctx, "OPTIMIZE TABLE hostflow."+t+" FINAL"); err != nil {
			return err
		}
	}
	fmt.Printf("optimize: %.1f s\n", time.Since(opt).Seconds())
	res, err := st.Query(ctx, `SELECT table, sum(rows), sum(bytes_on_disk), sum(data_uncompressed_bytes), count()
		FROM system.parts WHERE database = 'hostflow' AND active GROUP BY table ORDER BY table`, nil)
	if err != nil {
		return err
	}
	for _, r := range res.Rows {
		n, b, u := r[1].(uint64), r[2].(uint64), r[3].(uint64)
		if n == 0 {
			continue
		}
		fmt.Printf("disk: %-18s %10d rows %8.1f MB %6.2f B/row (%.2f B/raw flow) %5.1fx compression, %d parts\n",
			r[0], n, float64(b)/1e6, float64(b)/float64(n), float64(b)/float64(rows), float64(u)/float64(b), r[4])
	}
	if o.columns {
		if err := columnSizes(ctx, st, rows); err != nil {
			return err
		}
	}
	if o.queries {
		return queryBench(ctx, st, start, end, rollups, o.runs)
	}
	return nil
}

// backfillRollups restarts the store with rollups (creating their tables
// and views) and fills flows_1m from the raw table with its view's SELECT
// in one statement; the chained views fill flows_5m and flows_1h from it.
func backfillRollups(ctx context.Context, st *store.Store, cfg store.Config, rep *daemon.Reporter) (*store.Store, error) {
	if err := st.Stop(); err != nil {
		return nil, err
	}
	cfg.Rollups = true
	st, err := store.New(cfg, store.Dependencies{Reporter: rep, Schema: flow.NewSchema()})
	if err == nil {
		err = st.Start(ctx)
	}
	if err != nil {
		return nil, err
	}
	t := time.Now()
	for _, v := range st.Schema().Views() {
		if v.To != "flows_1m" {
			continue
		}
		if err := st.Exec(ctx, "INSERT INTO hostflow."+v.To+" "+v.Select); err != nil {
			return nil, fmt.Errorf("backfill %s: %w", v.To, err)
		}
	}
	fmt.Printf("backfill: rollups filled from the raw table in %.1f s\n", time.Since(t).Seconds())
	return st, nil
}

// gauge returns a reader of an unlabelled gauge of reg.
func gauge(reg *prometheus.Registry, name string) func() float64 {
	return func() float64 {
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() == name && len(mf.GetMetric()) == 1 {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		return 0
	}
}

func columnSizes(ctx context.Context, st *store.Store, rows int) error {
	res, err := st.Query(ctx, `SELECT column, sum(column_data_compressed_bytes) b FROM system.parts_columns
		WHERE database = 'hostflow' AND table = 'flows' AND active GROUP BY column ORDER BY b DESC LIMIT 25`, nil)
	if err != nil {
		return err
	}
	for _, r := range res.Rows {
		fmt.Printf("column: %-20s %6.2f B/row\n", r[0], float64(r[1].(uint64))/float64(rows))
	}
	return nil
}

func reportInserts(reg *prometheus.Registry) {
	mfs, err := reg.Gather()
	if err != nil {
		return
	}
	for _, mf := range mfs {
		switch mf.GetName() {
		case "hostflow_store_insert_duration_seconds":
			for _, m := range mf.GetMetric() {
				h := m.GetHistogram()
				if h.GetSampleCount() == 0 {
					continue
				}
				fmt.Printf("inserts: %d blocks, mean %.0f ms, p50 ≤ %s, p99 ≤ %s\n", h.GetSampleCount(),
					1000*h.GetSampleSum()/float64(h.GetSampleCount()), bucketQuantile(h, 0.5), bucketQuantile(h, 0.99))
			}
		case "hostflow_store_rows_total", "hostflow_store_dropped_rows_total":
			for _, m := range mf.GetMetric() {
				fmt.Printf("%s%s %.0f\n", mf.GetName(), labels(m), m.GetCounter().GetValue())
			}
		}
	}
}

func labels(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func bucketQuantile(h *dto.Histogram, q float64) string {
	target := q * float64(h.GetSampleCount())
	for _, b := range h.GetBucket() {
		if float64(b.GetCumulativeCount()) >= target {
			return fmt.Sprintf("%gs", b.GetUpperBound())
		}
	}
	return "+Inf"
}

// topQuery is the console's main graph: a time series of the top 10 values
// of dim by bits/s, the rest folded into Other (on integers/strings before
// formatting), over [start, end) at step seconds.
func topQuery(table, dim string, step int) string {
	return fmt.Sprintf(`WITH top AS (
    SELECT %[2]s FROM hostflow.%[1]s
    WHERE TimeReceived >= {start:DateTime} AND TimeReceived < {end:DateTime}
    GROUP BY %[2]s ORDER BY sum(Bytes * SamplingRate) DESC LIMIT 10)
SELECT toStartOfInterval(TimeReceived, INTERVAL %[3]d SECOND) AS t,
       if(%[2]s IN top, toString(%[2]s), 'Other') AS dimension,
       sum(Bytes * SamplingRate) * 8 / %[3]d AS bps
FROM hostflow.%[1]s
WHERE TimeReceived >= {start:DateTime} AND TimeReceived < {end:DateTime}
GROUP BY t, dimension ORDER BY t, bps DESC`, table, dim, step)
}

func queryBench(ctx context.Context, st *store.Store, start, end time.Time, rollups bool, runs int) error {
	params := map[string]string{"start": start.Format(time.DateTime), "end": end.Format(time.DateTime)}
	tables := []string{"flows"}
	if rollups {
		tables = append(tables, "flows_1m", "flows_5m", "flows_1h")
	}
	for _, dim := range []string{"DstAS", "ProcessName"} {
		for _, table := range tables {
			step := 300
			if table == "flows_1h" {
				step = 3600
			}
			q := topQuery(table, dim, step)
			var times []time.Duration
			var nrows int
			for i := 0; i < runs; i++ {
				t := time.Now()
				res, err := st.Query(ctx, q, params)
				if err != nil {
					return fmt.Errorf("%s on %s: %w", dim, table, err)
				}
				times = append(times, time.Since(t))
				nrows = len(res.Rows)
			}
			first := times[0]
			rest := append([]time.Duration(nil), times[1:]...)
			sort.Slice(rest, func(i, j int) bool { return rest[i] < rest[j] })
			fmt.Printf("query: top10+Other %-11s on %-8s step %4ds: first %4d ms, median %4d ms, min %4d ms (%d result rows)\n",
				dim, table, step, first.Milliseconds(), rest[len(rest)/2].Milliseconds(), rest[0].Milliseconds(), nrows)
		}
	}
	return nil
}
