package detect

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/internal/daemon"
	"github.com/hostflow/hostflow/store"
	"github.com/hostflow/hostflow/store/chdb"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// chDB serves one storage path per process: every test and benchmark of
// this process uses enginePath (each with its own database); a connection
// held for the whole run keeps the engine from restarting between tests.
var enginePath string

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(runHelper())
	}
	flag.Parse()
	dir := *benchDir
	if dir == "" {
		d, err := os.MkdirTemp("", "hostflow-detect-test-")
		if err != nil {
			panic(err)
		}
		defer os.RemoveAll(d)
		dir = d
	}
	enginePath = filepath.Join(dir, "engine")
	code := func() int {
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
	if *benchDir == "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

func needChDB(t testing.TB) {
	t.Helper()
	if _, err := chdb.ResolvePath(""); err != nil {
		t.Skipf("libchdb not installed (run scripts/setup.sh test): %v", err)
	}
}

func quietReporter() *daemon.Reporter {
	return daemon.NewReporter(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
}

var (
	dbMu  sync.Mutex
	dbSeq = map[string]int{}
)

// startStore starts an embedded store on its own database. Data is dated
// in the past, so TTLs are off.
func startStore(t testing.TB, rollups bool) *store.Store {
	t.Helper()
	needChDB(t)
	cfg := store.DefaultConfig()
	cfg.Path = enginePath
	// Named after the test (golden files show it) and numbered within it.
	dbMu.Lock()
	dbSeq[t.Name()]++
	n := dbSeq[t.Name()]
	dbMu.Unlock()
	cfg.Database = "detect" + t.Name() + "_" + strconv.Itoa(n)
	cfg.Database = strings.Map(func(r rune) rune {
		if r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, cfg.Database)
	cfg.Spool.Dir = t.TempDir()
	cfg.BatchRows = 50_000
	cfg.BatchTime = store.Duration(200 * time.Millisecond)
	cfg.Rollups = rollups
	cfg.TTL = map[string]store.Duration{}
	st, err := store.New(cfg, store.Dependencies{Reporter: quietReporter(), Schema: flow.NewSchema()})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Stop() })
	return st
}

// insert appends records and waits until they are queryable.
func insert(t testing.TB, st *store.Store, flows []flow.Record, ifaces []flow.InterfaceCounters, hosts []flow.HostCounters) {
	t.Helper()
	app := st.NewAppender()
	app.AppendFlows(flows)
	app.AppendInterfaces(ifaces)
	app.AppendHosts(hosts)
	app.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := st.Sync(ctx); err != nil {
		t.Fatal(err)
	}
}

// testLog writes log lines to the test's log.
type testLog struct{ t testing.TB }

func (w testLog) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

// testReporter logs warnings and errors to the test's log.
func testReporter(t testing.TB) *daemon.Reporter {
	return daemon.NewReporter(slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelWarn})), nil)
}

// newDetector builds a detector over st with a fixed clock.
func newDetector(t testing.TB, cfg Config, st *store.Store, now time.Time) *Detector {
	t.Helper()
	cfg.Sinks.Log.Enabled = false
	d, err := New(cfg, Dependencies{Reporter: testReporter(t), Store: st, Flow: flow.NewSchema(),
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.createTables(context.Background()); err != nil {
		t.Fatal(err)
	}
	return d
}

// golden compares got (as indented JSON) with testdata/name.json, or
// rewrites it with -update.
func golden(t *testing.T, name string, got any) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	path := filepath.Join("testdata", name+".json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(b), string(want)); diff != "" {
		t.Errorf("%s differs (-got +want):\n%s", path, diff)
	}
}
