package server

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/hostflow/hostflow/store/native"
	"github.com/hostflow/hostflow/store/server/servertest"
)

func connect(t *testing.T, srv *servertest.Server) *Transport {
	t.Helper()
	tr, err := New(Options{Addresses: []string{srv.Addr()}, User: servertest.User, Password: servertest.Password, DialTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

type row struct {
	t     uint32
	name  string
	addr  netip.Addr
	cc    string
	dir   uint64
	bytes uint64
}

func rowFields() []native.Field[row] {
	return []native.Field[row]{
		{Name: "TimeReceived", Type: "DateTime", Kind: native.KindUInt32, Uint: func(r *row) uint64 { return uint64(r.t) }},
		{Name: "ExporterName", Type: "String", Kind: native.KindString, Str: func(r *row) string { return r.name }},
		{Name: "SrcAddr", Type: "IPv6", Kind: native.KindIPv6, Addr: func(r *row) netip.Addr { return r.addr }},
		{Name: "SrcCountry", Type: "FixedString(2)", Kind: native.KindFixedString2, Str: func(r *row) string { return r.cc }},
		{Name: "FlowDirection", Type: "Enum8('undefined' = 0, 'ingress' = 1, 'egress' = 2)", Kind: native.KindUInt8, Uint: func(r *row) uint64 { return r.dir }},
		{Name: "Bytes", Type: "UInt64", Kind: native.KindUInt64, Uint: func(r *row) uint64 { return r.bytes }},
	}
}

// Against the real 18.16 server: connect with a password, insert a Native
// block into a table with the types 18.16 has (FixedString(16) for IPv6,
// LowCardinality), read it back, and bind parameters on a server without
// server-side parameters.
func TestServer1816InsertSelect(t *testing.T) {
	srv := servertest.Start(t)
	tr := connect(t, srv)
	ctx := context.Background()
	t.Logf("server %s, server-side parameters: %v", tr.Version(), tr.serverParams)
	if err := tr.Exec(ctx, `CREATE TABLE default.t (TimeReceived DateTime, ExporterName LowCardinality(String),
		SrcAddr FixedString(16), SrcCountry FixedString(2), FlowDirection Enum8('undefined' = 0, 'ingress' = 1, 'egress' = 2),
		Bytes UInt64, Extra UInt32 DEFAULT 7) ENGINE = MergeTree PARTITION BY toYYYYMMDD(TimeReceived) ORDER BY (TimeReceived, ExporterName)`, nil); err != nil {
		t.Fatal(err)
	}
	// Parts are counted below.
	if err := tr.Exec(ctx, "SYSTEM STOP MERGES default.t", nil); err != nil {
		t.Fatal(err)
	}
	enc := native.NewEncoder(rowFields())
	rows := []row{
		{t: 1_700_000_000, name: "r1", addr: netip.MustParseAddr("192.0.2.1"), cc: "FR", dir: 1, bytes: 1500},
		{t: 1_700_000_060, name: "it's", addr: netip.MustParseAddr("2001:db8::1"), cc: "", dir: 2, bytes: 2570},
	}
	for i := range rows {
		enc.Append(&rows[i])
	}
	if err := tr.Insert(ctx, "default.t", enc.Block()); err != nil {
		t.Fatal(err)
	}
	res, err := tr.Query(ctx, `SELECT TimeReceived, ExporterName, IPv6NumToString(SrcAddr), SrcCountry, FlowDirection, Bytes, Extra
		FROM default.t WHERE ExporterName = {name:String} AND Bytes > {min:UInt64}`, map[string]string{"name": "it's", "min": "100"})
	if err != nil {
		t.Fatal(err)
	}
	want := []any{time.Unix(1_700_000_060, 0).UTC(), "it's", "2001:db8::1", "", "egress", uint64(2570), uint64(7)}
	if len(res.Rows) != 1 {
		t.Fatalf("rows = %v", res.Rows)
	}
	for i, w := range want {
		if res.Rows[0][i] != w {
			t.Errorf("column %s = %#v, want %#v", res.Columns[i].Name, res.Rows[0][i], w)
		}
	}
	if _, err := tr.Query(ctx, "SELECT {a:UInt8}", nil); err == nil {
		t.Error("missing parameter not reported")
	}
	// Several blocks go out as one insert: one more part, every row.
	if err := tr.Insert(ctx, "default.t", enc.Block(), enc.Block()); err != nil {
		t.Fatal(err)
	}
	res, err = tr.Query(ctx, "SELECT count(), (SELECT count() FROM system.parts WHERE database = 'default' AND table = 't' AND active) FROM default.t", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Rows[0]; got[0] != uint64(3*len(rows)) || got[1] != uint64(2) {
		t.Errorf("rows, parts = %v, want %d, 2", got, 3*len(rows))
	}
}
