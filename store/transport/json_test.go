package transport

import (
	"net/netip"
	"reflect"
	"testing"
	"time"
)

func TestParseJSONCompactTypes(t *testing.T) {
	data := []byte(`{
	"meta": [{"name":"u","type":"UInt64"},{"name":"i","type":"Int32"},{"name":"f","type":"Float64"},
	         {"name":"s","type":"LowCardinality(String)"},{"name":"t","type":"DateTime"},{"name":"a","type":"IPv6"},
	         {"name":"n","type":"Nullable(UInt8)"},{"name":"arr","type":"Array(UInt32)"},{"name":"e","type":"Enum8('x' = 1)"},
	         {"name":"inf","type":"Float32"},{"name":"cc","type":"FixedString(2)"},{"name":"empty","type":"FixedString(2)"}],
	"data": [["18446744073709551615", -5, 1.5, "a\"b", "2026-11-01 10:00:00", "::ffff:192.0.2.1", null, [1,2], "x", "inf", "FR", "\u0000\u0000"]],
	"rows": 1}`)
	res, err := ParseJSONCompact(data)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{uint64(18446744073709551615), int64(-5), 1.5, `a"b`, time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC),
		netip.MustParseAddr("::ffff:192.0.2.1"), nil, []any{uint64(1), uint64(2)}, "x", res.Rows[0][9], "FR", ""}
	if !reflect.DeepEqual(res.Rows[0], want) {
		t.Errorf("-got +want\n-%#v\n+%#v", res.Rows[0], want)
	}
	if f, ok := res.Rows[0][9].(float64); !ok || f < 1e308 {
		t.Errorf("inf parsed as %#v", res.Rows[0][9])
	}
	for _, bad := range []string{`{"meta":[{"name":"u","type":"UInt8"}],"data":[[1,2]]}`, `{"meta":`, `{"meta":[{"name":"u","type":"UInt8"}],"data":[["x"]]}`} {
		if _, err := ParseJSONCompact([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	if res, err := ParseJSONCompact(nil); err != nil || len(res.Rows) != 0 {
		t.Errorf("empty output: %v %v", res, err)
	}
}

func TestEscapeParam(t *testing.T) {
	for in, want := range map[string]string{"plain": "plain", "a\\b": `a\\b`, "l1\nl2\t\x00": `l1\nl2\t\0`, "it's": "it's"} {
		if got := EscapeParam(in); got != want {
			t.Errorf("EscapeParam(%q) = %q, want %q", in, got, want)
		}
	}
}
