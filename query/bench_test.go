package query

import (
	"context"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/hostflow/hostflow/bench/store/synth"
	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/internal/daemon"
	"github.com/hostflow/hostflow/store/native"
	storerollup "github.com/hostflow/hostflow/store/rollup"
	"github.com/hostflow/hostflow/store/schema"
	"github.com/hostflow/hostflow/store/transport"
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
		ss, err := schema.New(fs, schema.Options{Database: "qbench", Rollups: true, RollupsByWriter: true})
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
		mergeParts(b, ctx, tr)
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
	// The rollups are filled as the store's writer does (store/rollups.go),
	// one block at a time.
	cols, tables, buckets := ss.RollupWriter()
	agg := storerollup.New(cols, buckets[0])
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
		blk := enc.Swap(enc.NewBlock(0))
		if err := tr.Insert(ctx, ss.InsertTable(schema.Flows), blk); err != nil {
			b.Fatal(err)
		}
		if err := agg.Add(blk); err != nil {
			b.Fatal(err)
		}
		rb := agg.Block()
		for i, table := range tables {
			storerollup.Rebucket(rb, buckets[i])
			if err := tr.Insert(ctx, table, rb); err != nil {
				b.Fatal(err)
			}
		}
		agg.Reset()
	}
	b.Logf("filled qbench with %d rows in %s", rows, time.Since(began).Round(time.Second))
	mergeParts(b, ctx, tr)
	return rollup, raw
}

// mergeParts merges every qbench table whose partitions hold more than one
// part (OPTIMIZE FINAL), so that queries see the store as it is once
// background merges have caught up (24-hour-old data is), not right after
// a bulk fill.
func mergeParts(b *testing.B, ctx context.Context, tr interface {
	Query(context.Context, string, map[string]string) (*transport.Result, error)
}) {
	res, err := tr.Query(ctx, `SELECT DISTINCT table FROM system.parts WHERE database = 'qbench' AND active
		GROUP BY table, partition HAVING count() > 1`, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range res.Rows {
		began := time.Now()
		if _, err := tr.Query(ctx, "OPTIMIZE TABLE qbench."+r[0].(string)+" FINAL", nil); err != nil {
			b.Fatal(err)
		}
		b.Logf("merged qbench.%s in %s", r[0], time.Since(began).Round(time.Second))
	}
	if res, err = tr.Query(ctx, `SELECT table, sum(rows), count() FROM system.parts WHERE database = 'qbench' AND active
		AND table LIKE 'flows%' GROUP BY table ORDER BY table`, nil); err != nil {
		b.Fatal(err)
	}
	for _, r := range res.Rows {
		b.Logf("qbench.%s: %d rows, %d parts", r[0], r[1], r[2])
	}
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
			defer reportCPU(b)()
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

// reportCPU reports the process CPU time per iteration when the returned
// function runs: the engine runs in this process, and its CPU time per
// query is a steadier figure than wall time on a shared machine.
func reportCPU(b *testing.B) func() {
	var ru0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	return func() {
		var ru1 syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
		cpu := ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano()
		b.ReportMetric(float64(cpu)/1e6/float64(b.N), "cpu-ms/op")
	}
}

// benchCounters fills database hbench with 24 hours of counters sampled
// every 20 s (the agent's default) from $HOSTFLOW_BENCH_HOSTS hosts
// (default 200), each with two interfaces: 4,320 host samples and 8,640
// interface samples per host. It returns a builder over it and the hosts.
func benchCounters(b *testing.B) (*Builder, []HostSummary, time.Time) {
	store(b)
	n := 200
	if s := os.Getenv("HOSTFLOW_BENCH_HOSTS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	tr, ctx, fs := shared.tr, context.Background(), flow.NewSchema()
	ss, err := schema.New(fs, schema.Options{Database: "hbench"})
	if err != nil {
		b.Fatal(err)
	}
	bl, err := New(DefaultConfig(), Dependencies{Flow: fs, Store: ss, Querier: tr,
		Reporter: daemon.NewReporter(daemon.NewLogger(os.Stderr, 8, false), nil)})
	if err != nil {
		b.Fatal(err)
	}
	end := time.Now().Truncate(time.Hour)
	hosts := make([]HostSummary, n)
	for i := range hosts {
		hosts[i].Host = "host-" + strconv.Itoa(i)
	}
	if _, err := ss.Migrate(ctx, tr); err != nil {
		b.Fatal(err)
	}
	res, err := tr.Query(ctx, "SELECT uniqExact(HostName), min(TimeReceived) FROM hbench.host_counters", nil)
	if err != nil {
		b.Fatal(err)
	}
	if first, _ := res.Rows[0][1].(time.Time); res.Rows[0][0] == uint64(n) && !first.After(end.Add(-24*time.Hour)) &&
		first.After(end.Add(-25*time.Hour)) {
		return bl, hosts, end
	}
	for _, t := range []string{schema.HostCounters, schema.InterfaceCounters} {
		if _, err := tr.Query(ctx, "TRUNCATE TABLE hbench."+t, nil); err != nil {
			b.Fatal(err)
		}
	}
	began := time.Now()
	hEnc, iEnc := native.NewEncoder(schema.HostFields()), native.NewEncoder(schema.InterfaceFields())
	for i, h := range hosts {
		addr := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
		for k := uint32(0); k < 4320; k++ {
			t := uint32(end.Add(-24*time.Hour).Unix()) + 20*k
			hEnc.Append(&flow.HostCounters{TimeReceived: t, ExporterAddress: addr, HostName: h.Host, CPUNum: 8,
				LoadOne: float32(k%300) / 100, CPUUserMs: 40_000 * k, CPUIdleMs: 120_000 * k, UptimeSeconds: 20 * k,
				MemTotal: 16 << 30, MemFree: 4 << 30, DiskPartMaxUsed: 4200, TCPOutSegs: 5000 * k, TCPRetransSegs: 7 * k})
			for j, name := range []string{"eth0", "tailscale0"} {
				iEnc.Append(&flow.InterfaceCounters{TimeReceived: t, ExporterAddress: addr, IfIndex: uint32(j + 2), IfName: name,
					IfSpeed: 1e10, InOctets: 2_500_000 * uint64(k), OutOctets: 1_000_000 * uint64(k)})
			}
		}
		if (i+1)%20 == 0 || i == n-1 {
			if err := tr.Insert(ctx, ss.InsertTable(schema.HostCounters), hEnc.Swap(hEnc.NewBlock(0))); err != nil {
				b.Fatal(err)
			}
			if err := tr.Insert(ctx, ss.InsertTable(schema.InterfaceCounters), iEnc.Swap(iEnc.NewBlock(0))); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Logf("filled hbench with %d hosts in %s", n, time.Since(began).Round(time.Second))
	return bl, hosts, end
}

// BenchmarkHostHealth24h is the host page's health charts (one host, 24
// hours, 10-minute buckets) and the hosts list's CPU sparklines (every
// host, 48 buckets), over benchCounters.
func BenchmarkHostHealth24h(b *testing.B) {
	bl, hosts, end := benchCounters(b)
	start := end.Add(-24 * time.Hour)
	b.Run("host", func(b *testing.B) {
		defer reportCPU(b)()
		for b.Loop() {
			h, err := bl.HostHealthSeries(context.Background(), HostHealthRequest{Host: hosts[0].Host, Start: start, End: end})
			if err != nil {
				b.Fatal(err)
			}
			if h.Samples != 4320 || len(h.Interfaces) != 2 {
				b.Fatalf("%d samples, %d interfaces", h.Samples, len(h.Interfaces))
			}
		}
	})
	b.Run("cpu-all-hosts", func(b *testing.B) {
		req := HostsRequest{Start: start, End: end, CPUPoints: 48}
		index := map[string]int{}
		for i, h := range hosts {
			index[h.Host] = i
		}
		defer reportCPU(b)()
		for b.Loop() {
			if err := bl.hostCPU(context.Background(), req, hosts, index); err != nil {
				b.Fatal(err)
			}
			if v := hosts[len(hosts)-1].CPUBusyPct[10]; v != 25 {
				b.Fatalf("CPU busy %v, want 25", v)
			}
		}
	})
}
