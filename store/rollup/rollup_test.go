package rollup

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hostflow/hostflow/store/native"
)

// row is one raw flow of the tests' small layout.
type row struct {
	t       uint32
	as      uint32 // key, fixed width
	proc    string // key, String
	name    string // attribute, String
	bytes   uint64
	packets uint64
}

var testCols = []Column{
	{Name: "SrcAS", Type: "UInt32", Width: 4, Key: true},
	{Name: "ProcessName", Type: "String", Key: true},
	{Name: "ExporterName", Type: "String"},
}

// block encodes rows as a raw flows block (columns in another order than
// testCols, plus one the aggregator ignores).
func block(rows []row) *native.Block {
	le := binary.LittleEndian
	var t, as, proc, name, by, pk, port []byte
	for _, r := range rows {
		t = le.AppendUint32(t, r.t)
		as = le.AppendUint32(as, r.as)
		proc = binary.AppendUvarint(proc, uint64(len(r.proc)))
		proc = append(proc, r.proc...)
		name = binary.AppendUvarint(name, uint64(len(r.name)))
		name = append(name, r.name...)
		by = le.AppendUint64(by, r.bytes)
		pk = le.AppendUint64(pk, r.packets)
		port = le.AppendUint16(port, 443)
	}
	return &native.Block{Rows: len(rows), Columns: []native.Column{
		{Name: "ExporterName", Type: "String", Data: name},
		{Name: "Bytes", Type: "UInt64", Width: 8, Data: by},
		{Name: "DstPort", Type: "UInt16", Width: 2, Data: port},
		{Name: "TimeReceived", Type: "DateTime", Width: 4, Data: t},
		{Name: "ProcessName", Type: "String", Data: proc},
		{Name: "Packets", Type: "UInt64", Width: 8, Data: pk},
		{Name: "SrcAS", Type: "UInt32", Width: 4, Data: as},
	}}
}

// decode turns an output block into sorted "t as proc name bytes packets
// flows" lines.
func decode(t *testing.T, b *native.Block) []string {
	t.Helper()
	le := binary.LittleEndian
	cols := map[string][]byte{}
	for _, c := range b.Columns {
		cols[c.Name] = c.Data
	}
	str := func(data []byte, off *int) string {
		l, k := binary.Uvarint(data[*off:])
		s := string(data[*off+k : *off+k+int(l)])
		*off += k + int(l)
		return s
	}
	var out []string
	var po, no int
	for r := 0; r < b.Rows; r++ {
		out = append(out, fmt.Sprintf("%d %d %s %s %d %d %d", le.Uint32(cols["TimeReceived"][4*r:]), le.Uint32(cols["SrcAS"][4*r:]),
			str(cols["ProcessName"], &po), str(cols["ExporterName"], &no),
			le.Uint64(cols["Bytes"][8*r:]), le.Uint64(cols["Packets"][8*r:]), le.Uint64(cols["Flows"][8*r:])))
	}
	slices.Sort(out)
	return out
}

var long1, long2 = strings.Repeat("p", 200), strings.Repeat("p", 199) + "q"

func TestAggregate(t *testing.T) {
	cases := []struct {
		name   string
		bucket uint32
		blocks [][]row
		want   []string
	}{{
		name:   "same key and minute summed, attribute of the first row kept",
		bucket: 60,
		blocks: [][]row{{{60, 1, "nginx", "h1", 100, 1}, {119, 1, "nginx", "h1-renamed", 50, 2}, {61, 2, "nginx", "h1", 7, 1}}},
		want:   []string{"60 1 nginx h1 150 3 2", "60 2 nginx h1 7 1 1"},
	}, {
		name:   "minutes and string keys split groups",
		bucket: 60,
		blocks: [][]row{{{59, 1, "nginx", "h", 1, 1}, {60, 1, "nginx", "h", 2, 1}, {60, 1, "nginx2", "h", 4, 1}, {60, 1, "", "h", 8, 1}}},
		want:   []string{"0 1 nginx h 1 1 1", "60 1  h 8 1 1", "60 1 nginx h 2 1 1", "60 1 nginx2 h 4 1 1"},
	}, {
		name:   "groups carry over blocks",
		bucket: 300,
		blocks: [][]row{{{300, 7, "a", "x", 1, 1}}, {{599, 7, "a", "x", 2, 1}, {600, 7, "a", "x", 4, 1}}},
		want:   []string{"300 7 a x 3 2 2", "600 7 a x 4 1 1"},
	}, {
		// String keys are length-prefixed: "ab"+"c" is not "a"+"bc".
		name:   "no ambiguity between adjacent string values",
		bucket: 60,
		blocks: [][]row{{{0, 1, "ab", "c", 1, 1}, {0, 1, "a", "bc", 1, 1}}},
		want:   []string{"0 1 a bc 1 1 1", "0 1 ab c 1 1 1"},
	}, {
		// Lengths of 128 bytes and more take two bytes of varint.
		name:   "long strings",
		bucket: 60,
		blocks: [][]row{{{0, 1, long1, "h", 1, 1}, {0, 1, long2, "h", 2, 1}, {1, 1, long1, "h", 4, 1}, {2, 1, "", "h", 8, 1}}},
		want:   []string{"0 1  h 8 1 1", "0 1 " + long1 + " h 5 2 2", "0 1 " + long2 + " h 2 1 1"},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := New(testCols, c.bucket)
			for _, rows := range c.blocks {
				if err := a.Add(block(rows)); err != nil {
					t.Fatal(err)
				}
			}
			got := decode(t, a.Block())
			if diff := strings.Join(lineDiff(got, c.want), "\n"); diff != "" {
				t.Errorf("-got +want\n%s", diff)
			}
		})
	}
}

// Many rows through table growth: totals and group count match a map.
func TestAggregateMany(t *testing.T) {
	a := New(testCols, 60)
	var rows []row
	want := map[string]bool{}
	var bytes uint64
	for i := range 50_000 {
		r := row{t: uint32(i % 600), as: uint32(i % 37), proc: fmt.Sprint("p", i%11), name: "n", bytes: uint64(i), packets: 1}
		rows = append(rows, r)
		want[fmt.Sprint(r.t/60, r.as, r.proc)] = true
		bytes += r.bytes
	}
	for i := 0; i < len(rows); i += 7000 {
		if err := a.Add(block(rows[i:min(i+7000, len(rows))])); err != nil {
			t.Fatal(err)
		}
	}
	if a.Groups() != len(want) {
		t.Errorf("%d groups, want %d", a.Groups(), len(want))
	}
	var gotBytes, gotFlows uint64
	b := a.Block()
	for _, c := range b.Columns {
		for off := 0; off+8 <= len(c.Data) && (c.Name == "Bytes" || c.Name == "Flows"); off += 8 {
			if c.Name == "Bytes" {
				gotBytes += binary.LittleEndian.Uint64(c.Data[off:])
			} else {
				gotFlows += binary.LittleEndian.Uint64(c.Data[off:])
			}
		}
	}
	if gotBytes != bytes || gotFlows != uint64(len(rows)) {
		t.Errorf("sum(Bytes) %d, sum(Flows) %d; want %d, %d", gotBytes, gotFlows, bytes, len(rows))
	}
	a.Reset()
	if a.Groups() != 0 {
		t.Errorf("%d groups after Reset", a.Groups())
	}
}

func TestRebucket(t *testing.T) {
	a := New(testCols, 60)
	if err := a.Add(block([]row{{3599, 1, "a", "x", 1, 1}, {3600, 1, "a", "x", 1, 1}, {7260, 1, "a", "x", 1, 1}})); err != nil {
		t.Fatal(err)
	}
	b := a.Block()
	Rebucket(b, 3600)
	got := decode(t, b)
	want := []string{"0 1 a x 1 1 1", "3600 1 a x 1 1 1", "7200 1 a x 1 1 1"}
	if diff := strings.Join(lineDiff(got, want), "\n"); diff != "" {
		t.Errorf("-got +want\n%s", diff)
	}
}

// A malformed block is rejected whole and leaves the aggregator unchanged.
func TestAddRejectsLayout(t *testing.T) {
	good := []row{{0, 1, "a", "x", 1, 1}, {0, 2, "b", "x", 1, 1}}
	cases := []struct {
		name   string
		change func(b *native.Block)
	}{
		{"no TimeReceived", func(b *native.Block) { b.Columns[3].Name = "Other" }},
		{"Bytes not UInt64", func(b *native.Block) { b.Columns[1].Width, b.Columns[1].Type = 4, "UInt32" }},
		{"key of another type", func(b *native.Block) { b.Columns[6].Type = "UInt64" }},
		{"fixed-width column short", func(b *native.Block) { b.Columns[6].Data = b.Columns[6].Data[:5] }},
		{"string truncated", func(b *native.Block) { b.Columns[4].Data = b.Columns[4].Data[:3] }},
		{"strings missing", func(b *native.Block) { b.Columns[4].Data = b.Columns[4].Data[:0] }},
		{"string length past the end", func(b *native.Block) { b.Columns[4].Data[0] = 200 }},
		{"bytes after the strings", func(b *native.Block) { b.Columns[0].Data = append(b.Columns[0].Data, 0) }},
		{"rows mismatch", func(b *native.Block) { b.Rows = 3 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := New(testCols, 60)
			b := block(good)
			c.change(b)
			if err := a.Add(b); !errors.Is(err, ErrLayout) {
				t.Fatalf("Add = %v, want ErrLayout", err)
			}
			if a.Groups() != 0 {
				t.Errorf("%d groups after a rejected block", a.Groups())
			}
		})
	}
}

// A column missing from the block counts as its default value.
func TestAddMissingColumn(t *testing.T) {
	a := New(testCols, 60)
	b := block([]row{{0, 1, "a", "x", 5, 1}})
	b.Columns = slices.Delete(b.Columns, 4, 5) // ProcessName
	if err := a.Add(b); err != nil {
		t.Fatal(err)
	}
	if got, want := decode(t, a.Block()), []string{"0 1  x 5 1 1"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// Arbitrary string column bytes never panic: the block is added or
// rejected with ErrLayout.
func FuzzAdd(f *testing.F) {
	f.Add([]byte{1, 'a', 0}, 2)
	f.Add([]byte{200}, 1)
	f.Add([]byte{}, 0)
	f.Fuzz(func(t *testing.T, proc []byte, n int) {
		if n < 0 || n > 64 {
			return
		}
		rows := make([]row, n)
		b := block(rows)
		b.Columns[4].Data = proc
		a := New(testCols, 60)
		if err := a.Add(b); err != nil && !errors.Is(err, ErrLayout) {
			t.Fatalf("Add = %v", err)
		}
		decode(t, a.Block())
	})
}

// lineDiff returns "-got" and "+want" lines of two sorted lists.
func lineDiff(got, want []string) []string {
	var out []string
	for _, g := range got {
		if !slices.Contains(want, g) {
			out = append(out, "-"+g)
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			out = append(out, "+"+w)
		}
	}
	return out
}

// BenchmarkAdd aggregates blocks of 10,000 flows into ~1,500 groups, then
// emits and resets, as the store's writer does: ns/flow, and no allocation
// in steady state.
func BenchmarkAdd(b *testing.B) {
	var rows []row
	for i := range 10_000 {
		rows = append(rows, row{t: uint32(i % 60), as: uint32(i % 150), proc: fmt.Sprint("p", i%10), name: "n", bytes: 1500, packets: 1})
	}
	blk := block(rows)
	a := New(testCols, 60)
	b.ReportAllocs()
	for b.Loop() {
		if err := a.Add(blk); err != nil {
			b.Fatal(err)
		}
		_ = a.Block()
		a.Reset()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/flow")
}

// Bytes counts each new group's key and attribute values once (key columns
// live in the key only), and Reset clears it. Block is the same when asked
// twice.
func TestBytes(t *testing.T) {
	a := New(testCols, 60)
	if err := a.Add(block([]row{{0, 1, "nginx", "h1", 1, 1}, {1, 1, "nginx", "h1", 1, 1}, {2, 2, "sshd", "host-2", 1, 1}})); err != nil {
		t.Fatal(err)
	}
	// Group key: bucket (4) + SrcAS (4) + ProcessName (1 + length);
	// attribute: ExporterName (1 + length).
	want := 2*groupOverhead + (4 + 4 + 6) + 3 + (4 + 4 + 5) + 7
	if got := a.Bytes(); got != want {
		t.Errorf("Bytes = %d, want %d", got, want)
	}
	first := decode(t, a.Block())
	if diff := strings.Join(lineDiff(decode(t, a.Block()), first), "\n"); diff != "" {
		t.Errorf("second Block differs, -got +want\n%s", diff)
	}
	a.Reset()
	if got := a.Bytes(); got != 0 {
		t.Errorf("Bytes after Reset = %d", got)
	}
}

// After a burst, a Reset following a small round releases the buffers; the
// aggregator keeps working from small ones.
func TestResetReleasesAfterBurst(t *testing.T) {
	a := New(testCols, 60)
	// ~45 MB of groups: 600 k with a 30-byte process name each.
	name := strings.Repeat("p", 30)
	const groups, per = 600_000, 50_000
	for start := 0; start < groups; start += per {
		rows := make([]row, per)
		for i := range rows {
			rows[i] = row{t: 0, as: uint32(start + i), proc: name, name: "h", bytes: 1, packets: 1}
		}
		if err := a.Add(block(rows)); err != nil {
			t.Fatal(err)
		}
	}
	burst := a.capacity()
	if burst <= shrinkAbove {
		t.Fatalf("groups capacity %d after the burst, want more than %d", burst, shrinkAbove)
	}
	a.Reset() // the burst round used its capacity: kept
	if a.capacity() != burst {
		t.Errorf("capacity after a full round = %d, want %d kept", a.capacity(), burst)
	}
	if err := a.Add(block([]row{{0, 1, "nginx", "h1", 10, 1}, {1, 1, "nginx", "h1", 5, 1}})); err != nil {
		t.Fatal(err)
	}
	a.Reset() // a small round: released
	if a.capacity() >= burst/4 {
		t.Errorf("capacity after a small round = %d, want it released (burst %d)", a.capacity(), burst)
	}
	if err := a.Add(block([]row{{0, 1, "nginx", "h1", 10, 1}, {1, 1, "nginx", "h1", 5, 1}, {2, 2, "sshd", "h2", 1, 1}})); err != nil {
		t.Fatal(err)
	}
	want := []string{"0 1 nginx h1 15 2 2", "0 2 sshd h2 1 1 1"}
	if diff := strings.Join(lineDiff(decode(t, a.Block()), want), "\n"); diff != "" {
		t.Errorf("-got +want\n%s", diff)
	}
}

// BenchmarkAddManyGroups is BenchmarkAdd at a collector's scale: a round of
// 2 M flows over ~1 M distinct keys (a minute of a busy fleet), so the
// groups outgrow the CPU caches and every flow's lookup goes to memory.
func BenchmarkAddManyGroups(b *testing.B) {
	const perBlock, blocks, round = 10_000, 50, 200 // blocks per round
	procs := []string{"nginx", "postgres", "sshd", "node", "envoy", "curl", "systemd-resolve", "chronyd"}
	var blks []*native.Block
	x := uint64(1)
	for range blocks {
		rows := make([]row, perBlock)
		for i := range rows {
			x = x*6364136223846793005 + 1442695040888963407
			k := (x >> 33) % 1_000_000
			rows[i] = row{t: 0, as: uint32(k / 8), proc: procs[k%8], name: "host-001.fra1", bytes: 1500, packets: 1}
		}
		blks = append(blks, block(rows))
	}
	a := New(testCols, 60)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if err := a.Add(blks[n%blocks]); err != nil {
			b.Fatal(err)
		}
		if n++; n%round == 0 {
			_ = a.Block()
			a.Reset()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perBlock), "ns/flow")
}
