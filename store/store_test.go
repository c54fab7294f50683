package store

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hostflow/hostflow/bench/store/synth"
	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/internal/daemon"
	"github.com/hostflow/hostflow/store/chdb"
	"github.com/hostflow/hostflow/store/schema"
)

// chDB serves one storage path per process: every test of this process uses
// enginePath (and its own database); a connection held for the whole run
// keeps the engine from shutting down and rebooting between tests.
var enginePath string

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		crashChild()
		return
	}
	dir, err := os.MkdirTemp("", "hostflow-store-test-")
	if err != nil {
		panic(err)
	}
	enginePath = filepath.Join(dir, "engine")
	code := func() int {
		defer os.RemoveAll(dir)
		if p, err := chdb.ResolvePath(""); err == nil {
			lib, err := chdb.Open(p)
			if err != nil {
				panic(err)
			}
			keep, err := lib.Connect(enginePath)
			if err != nil {
				panic(err)
			}
			defer keep.Close()
		}
		return m.Run()
	}()
	os.Exit(code)
}

func needChDB(t *testing.T) {
	t.Helper()
	if _, err := chdb.ResolvePath(""); err != nil {
		t.Skipf("libchdb not installed (run scripts/setup.sh test): %v", err)
	}
}

func testConfig(t *testing.T, db string) Config {
	cfg := DefaultConfig()
	cfg.Path = enginePath
	cfg.Database = db
	cfg.Spool.Dir = t.TempDir()
	cfg.BatchRows = 10_000
	cfg.BatchTime = Duration(200 * time.Millisecond)
	return cfg
}

func newReporter() *daemon.Reporter {
	return daemon.NewReporter(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
}

func startStore(t *testing.T, cfg Config) *Store {
	t.Helper()
	needChDB(t)
	s, err := New(cfg, Dependencies{Reporter: newReporter(), Schema: flow.NewSchema()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	return s
}

func one(t *testing.T, s *Store, sql string) any {
	t.Helper()
	res, err := s.Query(context.Background(), sql, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 1 || len(res.Rows[0]) != 1 {
		t.Fatalf("%s: %v", sql, res.Rows)
	}
	return res.Rows[0][0]
}

func sync_(t *testing.T, s *Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
}

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func genFlows(seed uint64, n int, start time.Time, span time.Duration) []flow.Record {
	recs := make([]flow.Record, n)
	synth.New(synth.Config{Seed: seed, Start: start, Span: span, Rows: n}).Fill(recs)
	return recs
}

// Concurrent appenders, counters, rollups equal to raw aggregates, and the
// completion tables.
func TestIngestAndRollups(t *testing.T) {
	cfg := testConfig(t, "ingest")
	cfg.TTL = map[string]Duration{} // synthetic data is dated in the past
	cfg.RollupMemory = 1 << 20      // the smallest: the bound, not only the minute, makes the writer emit
	s := startStore(t, cfg)

	const workers, perWorker = 3, 20_000
	var wantBytes uint64
	var wg sync.WaitGroup
	for w := range workers {
		recs := genFlows(uint64(w+1), perWorker, t0, 3*time.Hour)
		for i := range recs {
			wantBytes += recs[i].Bytes
			if w == 2 && i%2 == 0 {
				// Another host behind the same exporter address (agents
				// behind NAT with the same private address): its traffic
				// must stay its own in the rollups.
				recs[i].HostName = "behind-nat"
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			app := s.NewAppender()
			defer app.Close()
			for i := 0; i < len(recs); i += 1000 {
				app.AppendFlows(recs[i : i+1000])
			}
			app.AppendInterfaces([]flow.InterfaceCounters{{TimeReceived: uint32(t0.Unix()), IfIndex: uint32(w), IfName: "eth0", InOctets: 1 << 40}})
			app.AppendHosts([]flow.HostCounters{{TimeReceived: uint32(t0.Unix()), HostName: fmt.Sprint("h", w), LoadOne: 0.5, MemTotal: 8 << 30}})
		}()
	}
	wg.Wait()
	sync_(t, s)

	if got := one(t, s, "SELECT count() FROM ingest.flows"); got != uint64(workers*perWorker) {
		t.Fatalf("flows count = %v, want %d", got, workers*perWorker)
	}
	if got := one(t, s, "SELECT sum(Bytes) FROM ingest.flows"); got != wantBytes {
		t.Errorf("sum(Bytes) = %v, want %d", got, wantBytes)
	}
	for _, table := range []string{"flows_1m", "flows_5m", "flows_1h"} {
		bucket := map[string]string{"flows_1m": "toStartOfMinute", "flows_5m": "toStartOfFiveMinutes", "flows_1h": "toStartOfHour"}[table]
		// Rollup rows grouped by a few dimensions must equal the raw
		// aggregates exactly (EXCEPT both ways is empty).
		q := fmt.Sprintf(`SELECT count() FROM (
			(SELECT %[2]s(TimeReceived) t, ExporterName, HostName, SrcAS, DstCountry, ProcessName, sum(Bytes) b, sum(Packets) p, count() f FROM ingest.flows GROUP BY ALL
			 EXCEPT SELECT TimeReceived, ExporterName, HostName, SrcAS, DstCountry, ProcessName, sum(Bytes), sum(Packets), sum(Flows) FROM ingest.%[1]s GROUP BY ALL)
			UNION ALL
			(SELECT TimeReceived, ExporterName, HostName, SrcAS, DstCountry, ProcessName, sum(Bytes), sum(Packets), sum(Flows) FROM ingest.%[1]s GROUP BY ALL
			 EXCEPT SELECT %[2]s(TimeReceived) t, ExporterName, HostName, SrcAS, DstCountry, ProcessName, sum(Bytes) b, sum(Packets) p, count() f FROM ingest.flows GROUP BY ALL))`, table, bucket)
		if got := one(t, s, q); got != uint64(0) {
			t.Errorf("%s: %v aggregate rows differ from the raw table", table, got)
		}
		if got := one(t, s, "SELECT sum(Flows) FROM ingest."+table); got != uint64(workers*perWorker) {
			t.Errorf("%s: sum(Flows) = %v, want %d", table, got, workers*perWorker)
		}
	}
	if got := one(t, s, "SELECT count() FROM ingest.exporters FINAL"); got != one(t, s, "SELECT uniqExact(ExporterAddress, ExporterName) FROM ingest.flows") {
		t.Errorf("exporters: %v rows", got)
	}
	if got := one(t, s, "SELECT count() FROM ingest.interfaces FINAL WHERE IfName = 'eth0'"); got == uint64(0) {
		t.Error("interfaces: no eth0")
	}
	if got := one(t, s, "SELECT sum(InOctets) FROM ingest.interface_counters"); got != uint64(workers)<<40 {
		t.Errorf("interface_counters sum = %v", got)
	}
	if got := one(t, s, "SELECT toString(max(LoadOne)) FROM ingest.host_counters"); got != "0.5" {
		t.Errorf("host_counters LoadOne = %v", got)
	}
	inserted := testutil.ToFloat64(s.m.rows.WithLabelValues("ingest.flows", "inserted"))
	spooled := testutil.ToFloat64(s.m.rows.WithLabelValues("ingest.flows", "spooled"))
	replayed := testutil.ToFloat64(s.m.replayedRows.WithLabelValues("ingest.flows"))
	if inserted+spooled != workers*perWorker || replayed != spooled {
		t.Errorf("rows_total: inserted %v + spooled %v (replayed %v), want %d handed over", inserted, spooled, replayed, workers*perWorker)
	}
}

// Blocks are handed over by time when no batch fills up.
func TestBatchTimeFlush(t *testing.T) {
	cfg := testConfig(t, "batchtime")
	cfg.TTL = map[string]Duration{}
	s := startStore(t, cfg)
	app := s.NewAppender()
	app.AppendFlows(genFlows(9, 10, t0, time.Minute))
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if one(t, s, "SELECT count() FROM batchtime.flows") == uint64(10) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("10 flows not written within 10 s with batch-time 200ms")
}

// Inserts failing (the table is gone) spool the blocks; once the table is
// back they are replayed and the row count matches exactly.
func TestSpoolWhileStoreFails(t *testing.T) {
	cfg := testConfig(t, "spool")
	cfg.TTL = map[string]Duration{}
	s := startStore(t, cfg)
	ctx := context.Background()
	if err := s.Exec(ctx, "DROP TABLE spool.flows SYNC"); err != nil {
		t.Fatal(err)
	}
	app := s.NewAppender()
	recs := genFlows(5, 55_000, t0, time.Hour)
	for i := 0; i < len(recs); i += 5000 {
		app.AppendFlows(recs[i : i+5000])
	}
	if err := s.Sync(ctx); err == nil || s.spool.Len() == 0 {
		t.Fatalf("store failing: Sync returned %v with %d blocks spooled; want an error and spooled blocks", err, s.spool.Len())
	}
	if _, err := s.schema.Migrate(ctx, s.tr); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for s.spool.Len() > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := s.spool.Len(); n > 0 {
		t.Fatalf("%d blocks still spooled after a minute", n)
	}
	if got := one(t, s, "SELECT count() FROM spool.flows"); got != uint64(len(recs)) {
		t.Errorf("after replay count = %v, want %d", got, len(recs))
	}
	if s.health() != nil {
		t.Errorf("health after recovery: %v", s.health())
	}
	if got := testutil.ToFloat64(s.m.replayedRows.WithLabelValues("spool.flows")); got != float64(len(recs)) {
		t.Errorf("replayed_rows_total = %v", got)
	}
	// The 6 spooled blocks (5 of batch-rows, then 5,000 rows) are replayed
	// in inserts of at most what the writer queue holds: 5 blocks, then 1.
	if n, sum := histogram(t, s.m.insertBlocks.WithLabelValues("spool.flows")); n != 2 || sum != 6 {
		t.Errorf("replayed in %d inserts of %v blocks in all, want 2 inserts of 6", n, sum)
	}
	// Replayed flows are rolled up once (the writer aggregates them as it
	// replays them; Sync emits the rows it holds).
	sync_(t, s)
	raw := one(t, s, "SELECT sum(Bytes) FROM spool.flows")
	for _, table := range []string{"flows_1m", "flows_5m", "flows_1h"} {
		if got := one(t, s, "SELECT sum(Flows) FROM spool."+table); got != uint64(len(recs)) {
			t.Errorf("%s: sum(Flows) = %v, want %d", table, got, len(recs))
		}
		if got := one(t, s, "SELECT sum(Bytes) FROM spool."+table); got != raw {
			t.Errorf("%s: sum(Bytes) = %v, want %v", table, got, raw)
		}
	}
}

// TTL drops expired partitions whole; the size cap drops the oldest
// partitions of the raw table first.
func TestRetention(t *testing.T) {
	cfg := testConfig(t, "retention")
	cfg.Rollups = false
	cfg.TTL = map[string]Duration{schema.Flows: Duration(15 * day)}
	s := startStore(t, cfg)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(day)
	app := s.NewAppender()
	for _, age := range []int{40, 3, 2, 1} {
		app.AppendFlows(genFlows(uint64(age), 20_000, now.Add(-time.Duration(age)*day), time.Hour))
	}
	sync_(t, s)
	if err := s.Exec(ctx, "OPTIMIZE TABLE retention.flows FINAL"); err != nil {
		t.Fatal(err)
	}
	if got := one(t, s, "SELECT count() FROM retention.flows"); got != uint64(60_000) {
		t.Errorf("after TTL: %v rows, want 60000 (the 40-day-old partition dropped)", got)
	}
	// Size cap between the size of 1 and 2 partitions: the two oldest go.
	total := one(t, s, "SELECT sum(bytes_on_disk) FROM system.parts WHERE database = 'retention' AND table = 'flows' AND active").(uint64)
	s.cfg.MaxDiskBytes = ByteSize(total / 2)
	if err := s.enforceSize(ctx); err != nil {
		t.Fatal(err)
	}
	if got := one(t, s, "SELECT count() FROM retention.flows"); got != uint64(20_000) {
		t.Errorf("after size cap: %v rows, want 20000 (newest partition only)", got)
	}
	// The TTL may leave the expired partition as an empty part, dropped too.
	if got := testutil.ToFloat64(s.m.partsDropped.WithLabelValues("flows")); got < 2 {
		t.Errorf("partitions_dropped_total = %v, want at least 2", got)
	}
}

func TestConfigValidate(t *testing.T) {
	good := DefaultConfig()
	if err := good.Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	cases := map[string]func(*Config){
		"type":             func(c *Config) { c.Type = "sqlite" },
		"batch-rows":       func(c *Config) { c.BatchRows = 0 },
		"batch-time":       func(c *Config) { c.BatchTime = 0 },
		"ttl.nope":         func(c *Config) { c.TTL["nope"] = Duration(day) },
		"ttl.flows":        func(c *Config) { c.TTL["flows"] = Duration(time.Minute) },
		"disabled-columns": func(c *Config) { c.DisabledColumns = []string{"Bytes"} },
		"database":         func(c *Config) { c.Database = "a-b" },
		"server.addresses": func(c *Config) { c.Type = "server"; c.Server.Addresses = nil },
		"max-disk-bytes":   func(c *Config) { c.Type = "server"; c.Server.Cluster = "c"; c.MaxDiskBytes = 1 << 30 },
		"max-memory":       func(c *Config) { c.MaxMemory = 1024 },
		"rollup-memory":    func(c *Config) { c.RollupMemory = 1000 },
	}
	for key, mutate := range cases {
		c := DefaultConfig()
		c.TTL = map[string]Duration{}
		mutate(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), "key "+key+":") {
			t.Errorf("%s: got %v", key, err)
		}
	}
	// The rollup aggregator's references address 256 GiB of groups.
	c := DefaultConfig()
	c.RollupMemory = 65 << 30
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "key rollup-memory:") {
		t.Errorf("rollup-memory 65GiB: got %v", err)
	}
}

func TestMissingLibraryIsOneClearError(t *testing.T) {
	cfg := testConfig(t, "nolib")
	cfg.LibPath = filepath.Join(t.TempDir(), "libchdb.so")
	t.Setenv("CHDB_LIB_PATH", "")
	s, err := New(cfg, Dependencies{Reporter: newReporter(), Schema: flow.NewSchema()})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "make deps-run") || !strings.Contains(err.Error(), cfg.LibPath) {
		t.Fatalf("got %v, want an error naming the path and make deps-run", err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("Stop after a failed Start: %v", err)
	}
	if _, err := s.Query(context.Background(), "SELECT 1", nil); err == nil {
		t.Error("Query on a store that did not start succeeded")
	}
}
