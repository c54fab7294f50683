package chdb

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hostflow/hostflow/store/native"
)

// One engine per test process: chDB serves one storage path per process, so
// every test shares the transport opened here and uses its own table.
var shared struct {
	t   *Transport
	err error
	dir string
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hostflow-chdb-test-")
	if err != nil {
		panic(err)
	}
	shared.dir = dir
	code := m.Run()
	if shared.t != nil {
		shared.t.Close()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func engine(t *testing.T) *Transport {
	t.Helper()
	if _, err := ResolvePath(""); err != nil {
		t.Skipf("libchdb not installed (run scripts/setup.sh test): %v", err)
	}
	if shared.t == nil && shared.err == nil {
		shared.t, shared.err = NewTransport(Options{Path: filepath.Join(shared.dir, "store"), MaxMemory: 1 << 30})
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.t
}

func TestResolvePathOrder(t *testing.T) {
	dir := t.TempDir()
	lib := filepath.Join(dir, "libchdb.so")
	if err := os.WriteFile(lib, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "cache")
	if err := os.MkdirAll(filepath.Join(cache, "hostflow", "chdb"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cache, "hostflow", "chdb", "current"), []byte(lib+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv("CHDB_LIB_PATH", "")

	if got, err := ResolvePath(""); err != nil || got != lib {
		t.Errorf("cache file: got %q, %v; want %q", got, err, lib)
	}
	if _, err := ResolvePath(filepath.Join(dir, "missing.so")); err == nil || !strings.Contains(err.Error(), "make deps-run") {
		t.Errorf("missing configured path: got %v, want an error naming make deps-run", err)
	}
	t.Setenv("CHDB_LIB_PATH", lib)
	if got, err := ResolvePath("/nonexistent"); err != nil || got != lib {
		t.Errorf("env: got %q, %v; want %q (env wins over config)", got, err, lib)
	}
	t.Setenv("CHDB_LIB_PATH", "")
	t.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "empty"))
	if _, err := os.Stat(DefaultSystemPath); err != nil {
		_, err := ResolvePath("")
		if err == nil || !strings.Contains(err.Error(), "scripts/setup.sh run") {
			t.Errorf("nothing installed: got %v, want an error naming scripts/setup.sh run", err)
		}
	}
}

func TestQueryWithParams(t *testing.T) {
	tr := engine(t)
	ctx := context.Background()
	res, err := tr.Query(ctx, "SELECT {n:UInt32} + 1 AS n, {s:String} AS s, length({s:String}) AS l, toDateTime({t:UInt32}) AS t, toIPv6({a:String}) AS a",
		map[string]string{"n": "41", "s": "it's a\x00b\n\n", "t": "86400", "a": "10.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []any{uint64(42), "it's a\x00b\n\n", uint64(10), time.Unix(86400, 0).UTC(), netip.MustParseAddr("::ffff:10.0.0.1")}
	if len(res.Rows) != 1 {
		t.Fatalf("rows = %v", res.Rows)
	}
	for i, w := range want {
		if res.Rows[0][i] != w {
			t.Errorf("column %s = %#v, want %#v", res.Columns[i].Name, res.Rows[0][i], w)
		}
	}
	if _, err := tr.Query(ctx, "SELECT {n:UInt32}", map[string]string{"n": "x; DROP TABLE y"}); err == nil {
		t.Error("bad parameter value accepted")
	}
	if _, err := tr.Query(ctx, "SELEC 1", nil); err == nil || !strings.Contains(err.Error(), "Syntax error") {
		t.Errorf("syntax error: got %v", err)
	}
}

// Native payloads may contain "\n\n" and NUL bytes, which break the inline
// INSERT path; the streaming insert must carry them intact.
func TestInsertNativeBinarySafe(t *testing.T) {
	tr := engine(t)
	ctx := context.Background()
	if err := tr.Exec(ctx, "CREATE TABLE default.t_bin (a UInt64, s LowCardinality(String), ip IPv6) ENGINE = MergeTree ORDER BY a", nil); err != nil {
		t.Fatal(err)
	}
	type rec struct {
		a  uint64
		s  string
		ip netip.Addr
	}
	enc := native.NewEncoder([]native.Field[rec]{
		{Name: "a", Type: "UInt64", Kind: native.KindUInt64, Uint: func(r *rec) uint64 { return r.a }},
		{Name: "s", Type: "String", Kind: native.KindString, Str: func(r *rec) string { return r.s }},
		{Name: "ip", Type: "IPv6", Kind: native.KindIPv6, Addr: func(r *rec) netip.Addr { return r.ip }},
	})
	rows := []rec{{0x0A0A, "a\n\nb", netip.MustParseAddr("192.0.2.1")}, {0, "\x00", netip.MustParseAddr("2001:db8::1")}, {2570, "", netip.Addr{}}}
	for i := range rows {
		enc.Append(&rows[i])
	}
	if err := tr.Insert(ctx, "default.t_bin", enc.Block()); err != nil {
		t.Fatal(err)
	}
	res, err := tr.Query(ctx, "SELECT a, s, ip FROM default.t_bin ORDER BY a, s", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]any{{uint64(0), "\x00", netip.MustParseAddr("2001:db8::1")}, {uint64(2570), "", netip.MustParseAddr("::")}, {uint64(2570), "a\n\nb", netip.MustParseAddr("::ffff:192.0.2.1")}}
	if len(res.Rows) != len(want) {
		t.Fatalf("got %v, want %v", res.Rows, want)
	}
	for i := range want {
		for j := range want[i] {
			if res.Rows[i][j] != want[i][j] {
				t.Errorf("row %d col %d: got %#v, want %#v", i, j, res.Rows[i][j], want[i][j])
			}
		}
	}
	// A block that does not match the table is refused, and the connection
	// stays usable.
	bad := &native.Block{Rows: 1, Columns: []native.Column{{Name: "nope", Type: "UInt8", Width: 1, Data: []byte{1}}}}
	if err := tr.Insert(ctx, "default.t_bin", bad); err == nil {
		t.Error("insert of an unknown column succeeded")
	}
	if err := tr.Insert(ctx, "default.t_bin", enc.Block()); err != nil {
		t.Errorf("insert after a failed one: %v", err)
	}
}

// A Go nil dereference must stay a recoverable panic with the engine loaded
// (chDB's own SIGSEGV handler would hang the process instead).
func TestGoPanicsStillRecover(t *testing.T) {
	engine(t)
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	var p *int
	_ = *p //nolint
}

// Several blocks in one insert become one part, even past the engine's
// default squashing size; blocks with different columns are refused before
// anything is written.
func TestInsertBlocksAsOnePart(t *testing.T) {
	tr := engine(t)
	ctx := context.Background()
	for _, sql := range []string{
		"CREATE TABLE default.t_multi (a UInt64, s LowCardinality(String)) ENGINE = MergeTree ORDER BY a",
		"SYSTEM STOP MERGES default.t_multi",
	} {
		if err := tr.Exec(ctx, sql, nil); err != nil {
			t.Fatal(err)
		}
	}
	type rec struct {
		a uint64
		s string
	}
	fields := []native.Field[rec]{
		{Name: "a", Type: "UInt64", Kind: native.KindUInt64, Uint: func(r *rec) uint64 { return r.a }},
		{Name: "s", Type: "String", Kind: native.KindString, Str: func(r *rec) string { return r.s }},
	}
	// 3 × 600,000 rows: the engine's default squashing (parts of at least
	// min_insert_block_size_rows, 1,048,449) would cut after the second.
	const perBlock, nBlocks = 600_000, 3
	var blocks []*native.Block
	for b := range nBlocks {
		enc := native.NewEncoder(fields)
		for i := range perBlock {
			enc.Append(&rec{a: uint64(b*perBlock + i), s: string(rune('a' + b))})
		}
		blocks = append(blocks, enc.Block())
	}
	bad := &native.Block{Rows: 1, Columns: []native.Column{{Name: "a", Type: "UInt64", Width: 8, Data: make([]byte, 8)}}}
	if err := tr.Insert(ctx, "default.t_multi", blocks[0], bad); err == nil {
		t.Error("insert of blocks with different columns succeeded")
	}
	if err := tr.Insert(ctx, "default.t_multi", blocks...); err != nil {
		t.Fatal(err)
	}
	res, err := tr.Query(ctx, `SELECT (SELECT count() FROM default.t_multi), (SELECT uniqExact(a) FROM default.t_multi),
		(SELECT count() FROM system.parts WHERE database = 'default' AND table = 't_multi' AND active)`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Rows[0]; got[0] != uint64(perBlock*nBlocks) || got[1] != uint64(perBlock*nBlocks) || got[2] != uint64(1) {
		t.Errorf("rows, distinct rows, parts = %v, want %d, %d, 1", got, perBlock*nBlocks, perBlock*nBlocks)
	}
}
