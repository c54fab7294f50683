package server

import (
	"context"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/hostflow/hostflow/store/native"
)

// Old servers get parameters substituted as escaped, typed literals.
func TestBindOnOldServer(t *testing.T) {
	tr := &Transport{}
	_, got, err := tr.bind(context.Background(), "SELECT {a:String}, {n: UInt32 }, {a:String}",
		map[string]string{"a": "it's \\ \n", "n": "7"})
	if err != nil {
		t.Fatal(err)
	}
	want := `SELECT CAST('it\'s \\ \n' AS String), CAST('7' AS UInt32), CAST('it\'s \\ \n' AS String)`
	if got != want {
		t.Errorf("-got  %s\n+want %s", got, want)
	}
	if _, _, err := tr.bind(context.Background(), "SELECT {b:UInt8}", map[string]string{"a": "1"}); err == nil {
		t.Error("missing parameter not reported")
	}
}

func TestColumnValues(t *testing.T) {
	type rec struct {
		n    uint64
		s    string
		addr netip.Addr
	}
	enc := native.NewEncoder([]native.Field[rec]{
		{Name: "t", Type: "DateTime", Kind: native.KindUInt32, Uint: func(r *rec) uint64 { return r.n }},
		{Name: "s", Type: "String", Kind: native.KindString, Str: func(r *rec) string { return r.s }},
		{Name: "a", Type: "IPv6", Kind: native.KindIPv6, Addr: func(r *rec) netip.Addr { return r.addr }},
		{Name: "e", Type: "Enum8('x' = 1)", Kind: native.KindUInt8, Uint: func(r *rec) uint64 { return r.n }},
		{Name: "u16", Type: "UInt16", Kind: native.KindUInt16, Uint: func(r *rec) uint64 { return r.n }},
	})
	enc.Append(&rec{1, "x", netip.MustParseAddr("192.0.2.1")})
	enc.Append(&rec{2, "", netip.Addr{}})
	b := enc.Block()
	cases := []struct {
		col    int
		target string
		want   any
	}{
		{0, "DateTime", []time.Time{time.Unix(1, 0), time.Unix(2, 0)}},
		{1, "LowCardinality(String)", []string{"x", ""}},
		{2, "IPv6", []netip.Addr{netip.MustParseAddr("::ffff:192.0.2.1"), netip.IPv6Unspecified()}},
		{2, "FixedString(16)", [][]byte{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1}, make([]byte, 16)}},
		{3, "Enum8('x' = 1)", []int8{1, 2}},
		{4, "UInt16", []uint16{1, 2}},
	}
	for _, tc := range cases {
		got, err := columnValues(&b.Columns[tc.col], b.Rows, tc.target)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s → %s: got %#v, want %#v", b.Columns[tc.col].Type, tc.target, got, tc.want)
		}
	}
	if _, err := columnValues(&native.Column{Type: "Decimal(9,2)"}, 0, "Decimal(9,2)"); err == nil {
		t.Error("unsupported type accepted")
	}
}
