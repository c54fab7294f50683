package native_test

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/hostflow/hostflow/bench/store/synth"
	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/store/native"
	"github.com/hostflow/hostflow/store/schema"
)

func flowEncoder(t testing.TB) *native.Encoder[flow.Record] {
	sc, err := schema.New(flow.NewSchema(), schema.Options{Database: "db", Disabled: schema.DefaultDisabled})
	if err != nil {
		t.Fatal(err)
	}
	return native.NewEncoder(sc.FlowFields())
}

// The byte layout of each kind, checked by hand against the Native format.
func TestEncodeLayout(t *testing.T) {
	type rec struct {
		n    uint64
		s    string
		addr netip.Addr
		f    float64
	}
	fields := []native.Field[rec]{
		{Name: "u8", Type: "UInt8", Kind: native.KindUInt8, Uint: func(r *rec) uint64 { return r.n }},
		{Name: "u16", Type: "UInt16", Kind: native.KindUInt16, Uint: func(r *rec) uint64 { return r.n }},
		{Name: "t", Type: "DateTime", Kind: native.KindUInt32, Uint: func(r *rec) uint64 { return r.n }},
		{Name: "u64", Type: "UInt64", Kind: native.KindUInt64, Uint: func(r *rec) uint64 { return r.n }},
		{Name: "f", Type: "Float32", Kind: native.KindFloat32, Float: func(r *rec) float64 { return r.f }},
		{Name: "ip", Type: "IPv6", Kind: native.KindIPv6, Addr: func(r *rec) netip.Addr { return r.addr }},
		{Name: "s", Type: "String", Kind: native.KindString, Str: func(r *rec) string { return r.s }},
		{Name: "cc", Type: "FixedString(2)", Kind: native.KindFixedString2, Str: func(r *rec) string { return r.s }},
	}
	e := native.NewEncoder(fields)
	e.Append(&rec{n: 0x0102030405060708, s: "FRA", addr: netip.MustParseAddr("192.0.2.1"), f: 1.5})
	e.Append(&rec{n: 1, s: "", addr: netip.Addr{}})
	var want []byte
	want = append(want, 8, 2)
	col := func(name, typ string, data ...byte) {
		want = append(want, byte(len(name)))
		want = append(want, name...)
		want = append(want, byte(len(typ)))
		want = append(want, typ...)
		want = append(want, data...)
	}
	col("u8", "UInt8", 0x08, 0x01)
	col("u16", "UInt16", 0x08, 0x07, 0x01, 0)
	col("t", "DateTime", 0x08, 0x07, 0x06, 0x05, 1, 0, 0, 0)
	col("u64", "UInt64", 8, 7, 6, 5, 4, 3, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0)
	col("f", "Float32", 0, 0, 0xc0, 0x3f, 0, 0, 0, 0)
	col("ip", "IPv6", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	col("s", "String", 3, 'F', 'R', 'A', 0)
	col("cc", "FixedString(2)", 'F', 'R', 0, 0)
	got := e.Block().AppendTo(nil)
	if !bytes.Equal(got, want) {
		t.Errorf("encoded block:\n got %x\nwant %x", got, want)
	}
	if e.Block().Size() < len(got) {
		t.Errorf("Size() = %d, smaller than the encoding (%d)", e.Block().Size(), len(got))
	}
	var pieces []byte
	if err := e.Block().Pieces(make([]byte, 0, 16), func(p []byte) error { pieces = append(pieces, p...); return nil }); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pieces, want) {
		t.Errorf("pieces differ from AppendTo:\n got %x\nwant %x", pieces, want)
	}
}

func TestDecodeRoundTrip(t *testing.T) {
	e := flowEncoder(t)
	recs := make([]flow.Record, 1000)
	synth.New(synth.Config{Seed: 3, Start: time.Unix(1_700_000_000, 0), Span: time.Hour, Rows: len(recs)}).Fill(recs)
	for i := range recs {
		e.Append(&recs[i])
	}
	data := e.Block().AppendTo(nil)
	b, err := native.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if b.Rows != 1000 || len(b.Columns) != len(e.Block().Columns) {
		t.Fatalf("decoded %d rows %d columns", b.Rows, len(b.Columns))
	}
	if again := b.AppendTo(nil); !bytes.Equal(again, data) {
		t.Error("re-encoding the decoded block differs")
	}
	// Every way of cutting the block short is an error, never a panic.
	for n := 0; n < len(data); n += 1 + n/50 {
		if _, err := native.Decode(data[:n]); err == nil {
			t.Fatalf("truncated at %d/%d: no error", n, len(data))
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	huge := binary.AppendUvarint([]byte{1}, 1<<40)
	cases := map[string][]byte{
		"empty":            {},
		"rows without col": {0, 5},
		"too many columns": binary.AppendUvarint(nil, native.MaxColumns+1),
		"rows beyond data": append(huge, 1, 'a', 5, 'U', 'I', 'n', 't', '8'),
		"unknown type":     {1, 1, 1, 'a', 4, 'U', 'U', 'I', 'D', 0},
		"trailing bytes":   {1, 1, 1, 'a', 5, 'U', 'I', 'n', 't', '8', 7, 9},
		"string too long":  {1, 1, 1, 'a', 6, 'S', 't', 'r', 'i', 'n', 'g', 9, 'x'},
	}
	for name, data := range cases {
		if _, err := native.Decode(data); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func FuzzDecode(f *testing.F) {
	e := flowEncoder(f)
	recs := make([]flow.Record, 3)
	synth.New(synth.Config{Seed: 1, Start: time.Unix(1_700_000_000, 0), Span: time.Minute, Rows: 3}).Fill(recs)
	for i := range recs {
		e.Append(&recs[i])
	}
	f.Add(e.Block().AppendTo(nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := native.Decode(data)
		if err != nil {
			return
		}
		// A block that decodes re-encodes to the same bytes (modulo
		// non-minimal varints, which AppendTo never writes).
		again := b.AppendTo(nil)
		if len(again) > len(data) {
			t.Fatalf("re-encoding grew: %d > %d", len(again), len(data))
		}
		for i := range b.Columns {
			if c := &b.Columns[i]; c.Width == 0 {
				n := 0
				if err := c.Strings(func(int, []byte) { n++ }); err != nil || n != b.Rows {
					t.Fatalf("column %s: %d strings for %d rows (%v)", c.Name, n, b.Rows, err)
				}
			}
		}
	})
}

// BenchmarkEncodeFlow is the hot path: one realistic flow.Record into the
// Native columns of every enabled schema column. Target ≤ 200 ns, 0 allocs.
func BenchmarkEncodeFlow(b *testing.B) {
	e := flowEncoder(b)
	recs := make([]flow.Record, 4096)
	synth.New(synth.Config{Seed: 1, Start: time.Unix(1_700_000_000, 0), Span: time.Hour, Rows: len(recs)}).Fill(recs)
	const batch = 100_000
	spare := e.NewBlock(batch)
	// Grow both blocks to their steady-state capacity, as the store's
	// recycled blocks are.
	for range 2 {
		for i := 0; i < batch; i++ {
			e.Append(&recs[i%len(recs)])
		}
		spare = e.Swap(spare)
	}
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if e.Rows() == batch {
			spare = e.Swap(spare)
		}
		e.Append(&recs[i%len(recs)])
	}
	b.StopTimer()
	// On a shared machine wall time per op inflates with load; the
	// process CPU time per op does much less.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(len(e.Block().Columns)), "columns")
}

// The encoder loads fields straight from memory where it can; the result
// must be what the schema accessors say, column by column.
func TestDirectLoadsMatchAccessors(t *testing.T) {
	sc, err := schema.New(flow.NewSchema(), schema.Options{Database: "db"})
	if err != nil {
		t.Fatal(err)
	}
	fields := sc.FlowFields()
	// A computed accessor (no single field) must fall back to calling it.
	fields = append(fields, native.Field[flow.Record]{Name: "PacketSize", Type: "UInt64", Kind: native.KindUInt64,
		Uint: func(r *flow.Record) uint64 { return r.Bytes / max(r.Packets, 1) }})
	e := native.NewEncoder(fields)
	recs := genRecords(500)
	recs[0].SrcCountry, recs[1].DstCountry = "FRANCE", "D" // FixedString(2) truncates / pads
	for i := range recs {
		e.Append(&recs[i])
	}
	for ci, f := range fields {
		var want []byte
		for i := range recs {
			r := &recs[i]
			switch f.Kind {
			case native.KindUInt8:
				want = append(want, byte(f.Uint(r)))
			case native.KindUInt16:
				want = binary.LittleEndian.AppendUint16(want, uint16(f.Uint(r)))
			case native.KindUInt32:
				want = binary.LittleEndian.AppendUint32(want, uint32(f.Uint(r)))
			case native.KindUInt64:
				want = binary.LittleEndian.AppendUint64(want, f.Uint(r))
			case native.KindIPv6:
				a := f.Addr(r).As16()
				want = append(want, a[:]...)
			case native.KindString:
				want = binary.AppendUvarint(want, uint64(len(f.Str(r))))
				want = append(want, f.Str(r)...)
			case native.KindFixedString2:
				v := [2]byte{}
				copy(v[:], f.Str(r))
				want = append(want, v[:]...)
			default:
				t.Fatalf("%s: kind %d not covered", f.Name, f.Kind)
			}
		}
		if got := e.Block().Columns[ci].Data; !bytes.Equal(got, want) {
			t.Errorf("column %s differs from its accessor", f.Name)
		}
	}
}

func genRecords(n int) []flow.Record {
	recs := make([]flow.Record, n)
	synth.New(synth.Config{Seed: 5, Start: time.Unix(1_700_000_000, 0), Span: time.Hour, Rows: n}).Fill(recs)
	return recs
}
