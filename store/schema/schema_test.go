package schema

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/store/chdb"
	"github.com/hostflow/hostflow/store/transport"
)

var update = flag.Bool("update", false, "rewrite golden files")

func mustNew(t *testing.T, o Options) *Schema {
	t.Helper()
	s, err := New(flow.NewSchema(), o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var defaultTTL = map[string]time.Duration{Flows: 15 * 24 * time.Hour, Flows1m: 7 * 24 * time.Hour,
	Flows5m: 90 * 24 * time.Hour, Flows1h: 365 * 24 * time.Hour}

// The generated DDL is reviewed through golden files (go test -update).
func TestDDLGolden(t *testing.T) {
	// single.sql and cluster.sql are what the store creates (its writer
	// fills the rollups); views.sql has the materialized views instead.
	cases := map[string]Options{
		"single.sql":  {Database: "hostflow", Rollups: true, RollupsByWriter: true, TTL: defaultTTL, Disabled: []string{"SrcMAC", "DstMAC"}},
		"cluster.sql": {Database: "hostflow", Cluster: "flows", Rollups: true, RollupsByWriter: true, TTL: defaultTTL},
		"views.sql":   {Database: "hostflow", Rollups: true, TTL: defaultTTL, Disabled: []string{"SrcMAC", "DstMAC"}},
	}
	for file, o := range cases {
		got := strings.Join(mustNew(t, o).DDL(), ";\n\n") + ";\n"
		path := filepath.Join("testdata", file)
		if *update {
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Errorf("%s differs (go test -update to accept):\n%s", file, lineDiff(got, string(want)))
		}
	}
}

func lineDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	var out []string
	for i := 0; i < len(g) || i < len(w); i++ {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			out = append(out, "-got  "+a, "+want "+b)
		}
	}
	return strings.Join(out, "\n")
}

func TestOptionsRejected(t *testing.T) {
	for name, o := range map[string]Options{
		"unknown column":  {Database: "db", Disabled: []string{"Nope"}},
		"required column": {Database: "db", Disabled: []string{"InIfName"}},
		"bad database":    {Database: "db; DROP"},
		"bad cluster":     {Database: "db", Cluster: "a b"},
	} {
		if _, err := New(flow.NewSchema(), o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestFlowFieldsCoverEnabledColumns(t *testing.T) {
	s := mustNew(t, Options{Database: "db", Disabled: []string{"SrcMAC"}})
	fields := s.FlowFields()
	if len(fields) != len(flow.NewSchema().Columns)-1 {
		t.Errorf("%d fields for %d columns minus one disabled", len(fields), len(flow.NewSchema().Columns))
	}
	for _, f := range fields {
		if f.Name == "SrcMAC" {
			t.Error("disabled column encoded")
		}
		if f.Kind == 0 {
			t.Errorf("%s has no native kind", f.Name)
		}
	}
}

// One chDB engine per test process (one storage path per process).
var engine struct {
	tr  *chdb.Transport
	err error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hostflow-schema-test-")
	if err != nil {
		panic(err)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		if _, err := chdb.ResolvePath(""); err == nil {
			engine.tr, engine.err = chdb.NewTransport(chdb.Options{Path: dir, MaxMemory: 1 << 30})
			if engine.tr != nil {
				defer engine.tr.Close()
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

func chDB(t *testing.T) *chdb.Transport {
	t.Helper()
	if engine.tr == nil && engine.err == nil {
		t.Skip("libchdb not installed: run scripts/setup.sh test")
	}
	if engine.err != nil {
		t.Fatal(engine.err)
	}
	return engine.tr
}

func migrate(t *testing.T, ex Executor, o Options) []string {
	t.Helper()
	applied, err := mustNew(t, o).Migrate(context.Background(), ex)
	if err != nil {
		t.Fatal(err)
	}
	return applied
}

func query(t *testing.T, tr transport.Transport, sql string, params map[string]string) [][]any {
	t.Helper()
	res, err := tr.Query(context.Background(), sql, params)
	if err != nil {
		t.Fatal(err)
	}
	return res.Rows
}

func TestMigrateIsIdempotentAndFollowsConfig(t *testing.T) {
	tr := chDB(t)
	o := Options{Database: "mig", Rollups: true, TTL: defaultTTL, Disabled: []string{"SrcMAC", "DstMAC", "SrcNetName", "DstNetName"}}

	first := migrate(t, tr, o)
	if len(first) == 0 {
		t.Fatal("first migration did nothing")
	}
	if again := migrate(t, tr, o); len(again) != 0 {
		t.Fatalf("second migration not a no-op:\n%s", strings.Join(again, "\n"))
	}
	tables := query(t, tr, "SELECT name FROM system.tables WHERE database = 'mig' ORDER BY name", nil)
	var names []string
	for _, r := range tables {
		names = append(names, r[0].(string))
	}
	for _, want := range []string{"flows", "flows_1m", "flows_5m", "flows_1h", "interface_counters", "host_counters", "exporters", "interfaces"} {
		if !strings.Contains(" "+strings.Join(names, " ")+" ", " "+want+" ") {
			t.Errorf("table %s missing (have %v)", want, names)
		}
	}

	// A store created with earlier codecs (TimeReceived was
	// DoubleDelta everywhere) gets today's, the rollups' default included.
	for _, table := range []string{"flows", "flows_5m"} {
		query(t, tr, "ALTER TABLE mig."+table+" MODIFY COLUMN TimeReceived DateTime CODEC(DoubleDelta, LZ4)", nil)
	}
	migrate(t, tr, o)
	if again := migrate(t, tr, o); len(again) != 0 {
		t.Fatalf("codec migration not idempotent:\n%s", strings.Join(again, "\n"))
	}
	codecs := query(t, tr, "SELECT table, compression_codec FROM system.columns WHERE database = 'mig' AND table IN ('flows', 'flows_5m') AND name = 'TimeReceived' ORDER BY table", nil)
	if fmt.Sprint(codecs) != "[[flows CODEC(T64, LZ4)] [flows_5m ]]" {
		t.Errorf("TimeReceived codecs after migration: %v", codecs)
	}

	// Change retention, enable a raw-only column and a rollup key column.
	o2 := o
	o2.TTL = map[string]time.Duration{Flows: 30 * 24 * time.Hour, Flows1m: 7 * 24 * time.Hour, Flows5m: 90 * 24 * time.Hour}
	o2.Disabled = []string{"DstMAC", "DstNetName"}
	applied := migrate(t, tr, o2)
	joined := strings.Join(applied, "\n")
	for _, want := range []string{
		"ADD COLUMN IF NOT EXISTS SrcMAC UInt64",
		"ALTER TABLE mig.flows MODIFY TTL TimeReceived + toIntervalSecond(2592000)",
		"ALTER TABLE mig.flows_1h REMOVE TTL",
		"MODIFY ORDER BY", // SrcNetName joins the rollup keys
		"CREATE MATERIALIZED VIEW IF NOT EXISTS mig.flows_1m_mv_",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("migration lacks %q:\n%s", want, joined)
		}
	}
	if again := migrate(t, tr, o2); len(again) != 0 {
		t.Fatalf("migration after a change not idempotent:\n%s", strings.Join(again, "\n"))
	}
	// A TTL materialization left unfinished, then the TTL removed (as an
	// interrupted start followed by a retention change did): the mutation
	// fails forever until the migration cancels it.
	query(t, tr, "INSERT INTO mig.flows_1h (TimeReceived, Bytes) VALUES (now(), 1)", nil)
	query(t, tr, "SYSTEM STOP MERGES mig.flows_1h", nil) // the mutation waits
	query(t, tr, "ALTER TABLE mig.flows_1h MODIFY TTL TimeReceived + toIntervalSecond(100000) SETTINGS mutations_sync = 0, alter_sync = 0", nil)
	query(t, tr, "ALTER TABLE mig.flows_1h REMOVE TTL", nil)
	query(t, tr, "SYSTEM START MERGES mig.flows_1h", nil)
	failed := "SELECT count() FROM system.mutations WHERE database = 'mig' AND table = 'flows_1h' AND NOT is_done AND latest_fail_reason != ''"
	for deadline := time.Now().Add(30 * time.Second); query(t, tr, failed, nil)[0][0] == uint64(0); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the orphaned TTL mutation did not fail within 30 s")
		}
	}
	if applied := strings.Join(migrate(t, tr, o2), "\n"); !strings.Contains(applied, "KILL MUTATION WHERE database = 'mig' AND table = 'flows_1h'") {
		t.Errorf("failed TTL mutation not cancelled; applied:\n%s", applied)
	}
	if n := query(t, tr, "SELECT count() FROM system.mutations WHERE database = 'mig' AND NOT is_done", nil)[0][0]; n != uint64(0) {
		t.Errorf("%v mutations still pending after the migration", n)
	}
	if again := migrate(t, tr, o2); len(again) != 0 {
		t.Fatalf("not idempotent after cancelling a mutation:\n%s", strings.Join(again, "\n"))
	}

	rows := query(t, tr, "SELECT count() FROM system.columns WHERE database = 'mig' AND table = 'flows_1m' AND name = 'SrcNetName' AND is_in_sorting_key", nil)
	if rows[0][0] != uint64(1) {
		t.Error("SrcNetName not added to the flows_1m sorting key")
	}
	views := query(t, tr, "SELECT count() FROM system.tables WHERE database = 'mig' AND engine = 'MaterializedView'", nil)
	if views[0][0] != uint64(3) {
		t.Errorf("%v views, want 3 (the rollups): stale views left?", views[0][0])
	}

	// Rollups off: their views go, their tables (and data) stay.
	o3 := o2
	o3.Rollups = false
	migrate(t, tr, o3)
	views = query(t, tr, "SELECT count() FROM system.tables WHERE database = 'mig' AND engine = 'MaterializedView'", nil)
	if views[0][0] != uint64(0) {
		t.Errorf("%v views with rollups off, want 0", views[0][0])
	}
	if again := migrate(t, tr, o3); len(again) != 0 {
		t.Fatalf("not idempotent with rollups off:\n%s", strings.Join(again, "\n"))
	}
}
