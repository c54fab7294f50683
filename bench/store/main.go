// Command store measures the store's ingest on the embedded engine:
// sustained ingest of synthetic host flows (bench/store/synth) through the
// collector's Appender API, with the process CPU time per flow, the parts
// count over time (merges keeping up or not), and the bytes on disk per
// flow once merged.
//
//	go build -o /tmp/storebench ./bench/store
//	taskset -c 1 /tmp/storebench -rows 20000000 -rollups=false   # one core
//	taskset -c 1 /tmp/storebench -rows 20000000 -rollups=true
//
// The synthetic stream's timestamps advance at -rate flows per second, as a
// collector receiving that rate sees them (20 M flows at 250 k/s span 80 s),
// so the 1-minute rollup aggregates what real traffic would. -span 24h
// spreads the rows over a day instead (the query benchmark's data set:
// query/bench_test.go).
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
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/hostflow/hostflow/bench/store/synth"
	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/internal/cpuprofile"
	"github.com/hostflow/hostflow/internal/daemon"
	"github.com/hostflow/hostflow/store"
	"github.com/hostflow/hostflow/store/schema"
)

func main() {
	var o options
	flag.IntVar(&o.rows, "rows", 5_000_000, "flows to ingest")
	flag.IntVar(&o.exporters, "exporters", 20, "hosts exporting flows")
	flag.BoolVar(&o.rollups, "rollups", false, "create flows_1m/5m/1h, filled by the store's writer")
	flag.IntVar(&o.batch, "batch", 100_000, "rows per insert (batch-rows)")
	flag.IntVar(&o.queue, "queue", 4, "queue-blocks: blocks waiting for the writer before spilling to the spool")
	flag.StringVar(&o.rollupMemory, "rollup-memory", "512MiB", "rollup-memory: the rollup rows the writer aggregates before inserting them")
	flag.Float64Var(&o.rate, "rate", 250_000, "flows per second of the synthetic stream's timestamps (its span is rows / rate)")
	flag.DurationVar(&o.span, "span", 0, "spread the rows evenly over this span instead of -rate (e.g. 24h)")
	flag.DurationVar(&o.sample, "sample", 10*time.Second, "period of the progress lines (parts per table, merges, CPU)")
	flag.DurationVar(&o.settle, "settle", 2*time.Minute, "after ingest, wait at most this long for merges to finish (CPU is reported with and without)")
	flag.StringVar(&o.dir, "dir", "", "working directory (default: a new temporary directory)")
	flag.BoolVar(&o.keep, "keep", false, "keep the store directory")
	flag.StringVar(&o.maxMemory, "max-memory", "0", "engine memory cap (e.g. 1GiB; 0 = engine default)")
	flag.BoolVar(&o.optimize, "optimize", true, "OPTIMIZE FINAL every table before measuring bytes on disk")
	flag.BoolVar(&o.columns, "columns", false, "print the bytes per row of the largest columns")
	flag.Func("disable", "comma-separated columns to disable on top of the defaults (store.disabled-columns)",
		func(s string) error { o.disable = append(o.disable, strings.Split(s, ",")...); return nil })
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the ingest to this file (the engine's threads show as [libchdb.so], without symbols)")
	flag.Func("sql", "a statement run after the schema is created, before ingest (repeatable; e.g. ALTER TABLE hostflow.flows MODIFY SETTING …)",
		func(s string) error { o.sql = append(o.sql, s); return nil })
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "store bench:", err)
		os.Exit(1)
	}
}

type options struct {
	rows, exporters, batch, queue    int
	rate                             float64
	span, sample, settle             time.Duration
	rollups, keep, optimize, columns bool
	dir, maxMemory, rollupMemory     string
	cpuprofile                       string
	sql, disable                     []string
}

// cpuTime is the process's user + system CPU time, every thread (the
// engine's insert and merge threads included).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// threadCPU is the calling OS thread's CPU time (the producer goroutine is
// locked to its thread, so this splits generation and encoding from the
// engine's threads).
func threadCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_THREAD, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadavg is the first three fields of /proc/loadavg.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func run(o options) error {
	dir := o.dir
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
	cfg.Rollups = o.rollups
	cfg.DisabledColumns = append(cfg.DisabledColumns, o.disable...)
	cfg.BatchRows = o.batch
	cfg.QueueBlocks = o.queue
	rm, err := store.ParseByteSize(o.rollupMemory)
	if err != nil {
		return fmt.Errorf("-rollup-memory: %w", err)
	}
	cfg.RollupMemory = store.ByteSize(rm)
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
	for _, q := range o.sql {
		if err := st.Exec(ctx, q); err != nil {
			return fmt.Errorf("-sql %q: %w", q, err)
		}
		fmt.Println("sql:", q)
	}

	span := o.span
	if span == 0 {
		span = time.Duration(float64(o.rows) / o.rate * float64(time.Second))
	}
	start := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	gen := synth.New(synth.Config{Seed: 1, Exporters: o.exporters, Start: start, Span: span, Rows: o.rows})
	fmt.Printf("ingest: %d rows over %s of timestamps, %d exporters, rollups=%v (rollup-memory %s), batch=%d, queue=%d, %d columns, GOMAXPROCS=%d, NumCPU=%d, load %s\n",
		o.rows, span, o.exporters, cfg.Rollups, o.rollupMemory, o.batch, o.queue, len(st.Schema().FlowColumns()), runtime.GOMAXPROCS(0), runtime.NumCPU(), loadavg())

	stopProfile, err := cpuprofile.Start(o.cpuprofile)
	if err != nil {
		return err
	}
	defer stopProfile()
	app := st.NewAppender()
	buf := make([]flow.Record, 1000)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0, t0 := cpuTime(), time.Now()
	var genCPU, encCPU time.Duration
	var done int
	var mu sync.Mutex // done, for the progress lines
	rollupGroups, rollupBytes := gauge(reg, "hostflow_store_rollup_groups"), gauge(reg, "hostflow_store_rollup_bytes")
	rollupHeld := func() string {
		if !o.rollups {
			return ""
		}
		g, b := rollupGroups(), rollupBytes()
		return fmt.Sprintf("  rollup rows held %.0f (%.0f MB, %.0f B each)", g, b/1e6, b/max(g, 1))
	}
	stop := progress(ctx, st, o.sample, func() int { mu.Lock(); defer mu.Unlock(); return done }, t0, cpu0, rollupHeld)
	queueBlocks := gauge(reg, "hostflow_store_queue_blocks")
	for done < o.rows {
		// Sustained rate: pace the producer on the writer instead of letting
		// the surplus overflow to the spool (which a collector would do).
		for done%o.batch == 0 && queueBlocks() >= float64(max(o.queue-1, 1)) {
			// Each check gathers the registry: not too often, or the bench
			// measures itself.
			time.Sleep(5 * time.Millisecond)
		}
		n := min(len(buf), o.rows-done)
		c0 := threadCPU()
		gen.Fill(buf[:n])
		c1 := threadCPU()
		app.AppendFlows(buf[:n])
		genCPU, encCPU = genCPU+c1-c0, encCPU+threadCPU()-c1
		mu.Lock()
		done += n
		mu.Unlock()
	}
	app.Close()
	if err := st.Sync(ctx); err != nil {
		return err
	}
	wall, cpu := time.Since(t0), cpuTime()-cpu0
	perRow := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 / float64(o.rows) }
	fmt.Printf("ingest: %.1f s, %.0f rows/s, process CPU %.2f µs/row: generation %.2f, encoding %.2f, store (engine, writer, runtime) %.2f; load %s\n",
		wall.Seconds(), float64(o.rows)/wall.Seconds(), perRow(cpu), perRow(genCPU), perRow(encCPU), perRow(cpu-genCPU-encCPU), loadavg())
	reportInserts(reg)
	if err := settle(ctx, st, o.settle); err != nil {
		return err
	}
	stop()
	all := cpuTime() - cpu0
	fmt.Printf("settled: %.1f s after the last insert; process CPU including the merges that followed: %.2f µs/row, without generation %.2f µs/row (%.0f rows/s of one core)\n",
		(time.Since(t0) - wall).Seconds(), perRow(all), perRow(all-genCPU), 1e6/perRow(all-genCPU))
	if err := printParts(ctx, st, o.rows, "after ingest"); err != nil {
		return err
	}
	return measureDisk(ctx, st, o)
}

// progress prints, every period, the rows handed over, the process CPU per
// row so far, the active parts per table and the merges running. The
// returned function stops it.
func progress(ctx context.Context, st *store.Store, period time.Duration, rows func() int, t0 time.Time, cpu0 time.Duration, extra func() string) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
			}
			n := rows()
			parts, merges, err := partsNow(ctx, st)
			if err != nil {
				fmt.Println("progress:", err)
				continue
			}
			cpu := float64((cpuTime() - cpu0).Nanoseconds()) / 1e3 / float64(max(n, 1))
			fmt.Printf("progress: %5.0f s %10d rows  %.2f µs CPU/row  parts %s  merges %d%s  load %s\n",
				time.Since(t0).Seconds(), n, cpu, parts, merges, extra(), loadavg())
		}
	}()
	return func() { close(quit); wg.Wait() }
}

// partsNow returns the active parts per table ("flows=12 flows_1m=9 …")
// and the number of merges running.
func partsNow(ctx context.Context, st *store.Store) (string, uint64, error) {
	res, err := st.Query(ctx, `SELECT table, count() FROM system.parts
		WHERE database = 'hostflow' AND active AND table LIKE 'flows%' GROUP BY table ORDER BY table`, nil)
	if err != nil {
		return "", 0, err
	}
	var parts []string
	for _, r := range res.Rows {
		parts = append(parts, fmt.Sprintf("%s=%d", r[0], r[1]))
	}
	m, err := st.Query(ctx, "SELECT count() FROM system.merges WHERE database = 'hostflow'", nil)
	if err != nil {
		return "", 0, err
	}
	return strings.Join(parts, " "), m.Rows[0][0].(uint64), nil
}

// settle waits until no merge has run for two consecutive seconds, or max.
func settle(ctx context.Context, st *store.Store, max time.Duration) error {
	deadline := time.Now().Add(max)
	quiet := 0
	for quiet < 2 && time.Now().Before(deadline) {
		_, merges, err := partsNow(ctx, st)
		if err != nil {
			return err
		}
		if merges == 0 {
			quiet++
		} else {
			quiet = 0
		}
		time.Sleep(time.Second)
	}
	return nil
}

func printParts(ctx context.Context, st *store.Store, rows int, when string) error {
	res, err := st.Query(ctx, `SELECT table, sum(rows), sum(bytes_on_disk), sum(data_uncompressed_bytes), count(),
			countIf(part_type = 'Wide'), countIf(part_type = 'Compact')
		FROM system.parts WHERE database = 'hostflow' AND active GROUP BY table ORDER BY table`, nil)
	if err != nil {
		return err
	}
	for _, r := range res.Rows {
		n, b, u := r[1].(uint64), r[2].(uint64), r[3].(uint64)
		if n == 0 || !strings.HasPrefix(r[0].(string), "flows") {
			continue
		}
		fmt.Printf("disk %s: %-9s %10d rows (%5.3f per raw flow) %8.1f MB %6.2f B/row %6.2f B/raw flow %5.1fx compression, %d parts (%d wide, %d compact)\n",
			when, r[0], n, float64(n)/float64(rows), float64(b)/1e6, float64(b)/float64(n), float64(b)/float64(rows),
			float64(u)/float64(b), r[4], r[5], r[6])
	}
	return nil
}

// measureDisk reports bytes on disk per flow once merged: OPTIMIZE FINAL
// merges each partition into one part (as background merges eventually
// do).
func measureDisk(ctx context.Context, st *store.Store, o options) error {
	if o.optimize {
		t := time.Now()
		for _, table := range []string{schema.Flows, schema.Flows1m, schema.Flows5m, schema.Flows1h} {
			if table != schema.Flows && !o.rollups {
				continue
			}
			if err := st.Exec(ctx, "OPTIMIZE TABLE hostflow."+table+" FINAL"); err != nil {
				return err
			}
		}
		fmt.Printf("optimize: %.1f s\n", time.Since(t).Seconds())
		if err := printParts(ctx, st, o.rows, "merged"); err != nil {
			return err
		}
	}
	if !o.columns {
		return nil
	}
	res, err := st.Query(ctx, `SELECT column, sum(column_data_compressed_bytes) b FROM system.parts_columns
		WHERE database = 'hostflow' AND table = 'flows' AND active GROUP BY column ORDER BY b DESC LIMIT 25`, nil)
	if err != nil {
		return err
	}
	for _, r := range res.Rows {
		fmt.Printf("column: %-20s %6.2f B/row\n", r[0], float64(r[1].(uint64))/float64(o.rows))
	}
	return nil
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
