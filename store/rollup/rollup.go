// Package rollup aggregates blocks of raw flows into the rows of the
// rollup tables (flows_1m, flows_5m, flows_1h) in the collector, before
// they reach the engine.
//
// The engine can do it with materialized views, but each view runs a
// GROUP BY on every inserted block over ~30 key columns (ClickHouse
// serializes such keys row by row: ~2 µs per flow) and the chain
// flows → 1m → 5m → 1h runs it three times; it was most of the insert cost.
// Here a block's rows are grouped on the bytes of their Native encoding:
// the key of a row is the concatenation of its key columns' encoded values
// (fixed-width bytes, length-prefixed strings) after its time bucket, looked
// up in an open-addressing table; a new group copies the row's encoded
// values into the output columns, an existing one adds Bytes and Packets and
// counts the flow. Nothing is decoded, so it works for any column set and
// for blocks read back from the spool.
//
// Groups accumulate across blocks until the owner takes them (Block, then
// Reset), so a window longer than one insert aggregates more.
package rollup

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"

	"github.com/hostflow/hostflow/store/native"
)

// Column is one dimension of the rollup rows.
type Column struct {
	Name  string
	Type  string // as in the raw block ("String" for LowCardinality strings)
	Width int    // bytes per value, 0 for String
	// Key columns split groups; the others are attributes of the keys (the
	// value of a group's first row is kept).
	Key bool
}

// Names of the columns handled apart from the dimensions.
const (
	TimeReceived = "TimeReceived"
	Bytes        = "Bytes"
	Packets      = "Packets"
	Flows        = "Flows"
)

// Aggregator groups raw flow rows by time bucket and key columns. It is not
// safe for concurrent use.
type Aggregator struct {
	cols   []Column
	bucket uint32 // seconds
	seed   maphash.Seed

	// Per group.
	hashes []uint64
	keyEnd []uint32 // end of each group's key in keys
	keys   []byte
	// Encoded values of the attribute columns; a key column's values are
	// in keys only, and Block splits them out (into out as well).
	out  [][]byte
	time []uint32 // bucket start
	sums [3][]uint64

	table []uint32 // open addressing: 0 empty, else group index + 1
	mask  uint64

	minTime, maxTime uint32 // TimeReceived range of the rows added
	bytes            int    // memory the groups take, see Bytes

	// Scratch, reused across blocks.
	src   []source
	vals  [][]byte
	key   []byte
	enc   [4][]byte // TimeReceived and the sums, encoded by Block
	block native.Block
}

// source is where a dimension's values come from in the block being added.
type source struct {
	data  []byte
	width int  // 0: String
	off   int  // read position of a String column
	zero  bool // column missing from the block: default value
}

// New returns an aggregator producing rows bucketed to bucket seconds.
func New(cols []Column, bucket uint32) *Aggregator {
	a := &Aggregator{cols: cols, bucket: bucket, seed: maphash.MakeSeed(), out: make([][]byte, len(cols)),
		src: make([]source, len(cols)), vals: make([][]byte, len(cols))}
	a.resize(1 << 10)
	return a
}

// Groups is the number of rows the aggregator holds.
func (a *Aggregator) Groups() int { return len(a.hashes) }

// groupOverhead is a group's fixed memory: hash, key end, time, three sums
// and its share of the table (between 2 and 4 slots of 4 bytes).
const groupOverhead = 8 + 4 + 4 + 3*8 + 12

// Bytes is the memory the groups take: their keys, their encoded values
// and the fixed part, not counting spare capacity.
func (a *Aggregator) Bytes() int { return a.bytes }

// TimeRange is the TimeReceived range of the rows added since the last
// Reset (ok false when none).
func (a *Aggregator) TimeRange() (lo, hi uint32, ok bool) {
	return a.minTime, a.maxTime, len(a.hashes) > 0
}

// ErrLayout is returned for a block that lacks TimeReceived, Bytes or
// Packets, or whose column types differ from the aggregator's.
var ErrLayout = errors.New("rollup: block layout")

// Add aggregates every row of b. On error nothing of b was added.
func (a *Aggregator) Add(b *native.Block) error {
	var tcol, bcol, pcol []byte
	for i := range a.src {
		a.src[i] = source{zero: true, width: a.cols[i].Width}
	}
	for i := range b.Columns {
		c := &b.Columns[i]
		switch c.Name {
		case TimeReceived:
			tcol = c.Data
			if c.Width != 4 {
				return fmt.Errorf("%w: %s is %s", ErrLayout, c.Name, c.Type)
			}
			continue
		case Bytes, Packets:
			if c.Width != 8 {
				return fmt.Errorf("%w: %s is %s", ErrLayout, c.Name, c.Type)
			}
			if c.Name == Bytes {
				bcol = c.Data
			} else {
				pcol = c.Data
			}
			continue
		}
		for j := range a.cols {
			if a.cols[j].Name != c.Name {
				continue
			}
			if c.Type != a.cols[j].Type || c.Width != a.cols[j].Width {
				return fmt.Errorf("%w: %s is %s, want %s", ErrLayout, c.Name, c.Type, a.cols[j].Type)
			}
			a.src[j] = source{data: c.Data, width: c.Width}
		}
	}
	n := b.Rows
	if len(tcol) != 4*n || len(bcol) != 8*n || len(pcol) != 8*n {
		return fmt.Errorf("%w: TimeReceived, Bytes and Packets required", ErrLayout)
	}
	for i := range a.src {
		s := &a.src[i]
		if !s.zero && s.width > 0 && len(s.data) != s.width*n {
			return fmt.Errorf("%w: column %s holds %d bytes for %d rows", ErrLayout, a.cols[i].Name, len(s.data), n)
		}
	}
	// String columns are walked row by row below; check them first so that
	// a malformed block is rejected whole.
	for i := range a.src {
		if s := &a.src[i]; !s.zero && s.width == 0 {
			if err := checkStrings(s.data, n); err != nil {
				return fmt.Errorf("%w: column %s: %v", ErrLayout, a.cols[i].Name, err)
			}
		}
	}
	le := binary.LittleEndian
	vals := a.vals
	for r := 0; r < n; r++ {
		t := le.Uint32(tcol[4*r:])
		if len(a.hashes) == 0 {
			a.minTime, a.maxTime = t, t
		}
		a.minTime, a.maxTime = min(a.minTime, t), max(a.maxTime, t)
		t -= t % a.bucket
		key := le.AppendUint32(a.key[:0], t)
		for i := range a.src {
			vals[i] = a.src[i].value(r)
			if a.cols[i].Key {
				key = append(key, vals[i]...)
			}
		}
		a.key = key
		h := maphash.Bytes(a.seed, key)
		g := a.find(h, key)
		if g < 0 {
			g = a.insert(h, key, t, vals)
		}
		a.sums[0][g] += le.Uint64(bcol[8*r:])
		a.sums[1][g] += le.Uint64(pcol[8*r:])
		a.sums[2][g]++
	}
	return nil
}

// checkStrings checks that data holds exactly n length-prefixed strings.
func checkStrings(data []byte, n int) error {
	off := 0
	for r := 0; r < n; r++ {
		l, k := binary.Uvarint(data[off:])
		if k <= 0 || l > uint64(len(data)-off-k) {
			return fmt.Errorf("string %d truncated", r)
		}
		off += k + int(l)
	}
	if off != len(data) {
		return fmt.Errorf("%d bytes after %d strings", len(data)-off, n)
	}
	return nil
}

// value returns the encoded value of row r (rows are read in order), for a
// missing column the type's default.
func (s *source) value(r int) []byte {
	switch {
	case s.zero:
		if s.width == 0 {
			return zeros[:1] // empty string
		}
		return zeros[:s.width]
	case s.width > 0:
		return s.data[r*s.width : (r+1)*s.width]
	}
	// Checked by checkStrings: the length and the bytes are there.
	l, k := binary.Uvarint(s.data[s.off:])
	v := s.data[s.off : s.off+k+int(l)]
	s.off += k + int(l)
	return v
}

var zeros [16]byte // widest fixed-width value: IPv6

// find returns the group with hash h and key, or -1.
func (a *Aggregator) find(h uint64, key []byte) int {
	for i := h & a.mask; ; i = (i + 1) & a.mask {
		slot := a.table[i]
		if slot == 0 {
			return -1
		}
		g := int(slot - 1)
		if a.hashes[g] == h && string(a.keyOf(g)) == string(key) {
			return g
		}
	}
}

func (a *Aggregator) keyOf(g int) []byte {
	start := uint32(0)
	if g > 0 {
		start = a.keyEnd[g-1]
	}
	return a.keys[start:a.keyEnd[g]]
}

// insert adds a group with the row's values and returns its index.
func (a *Aggregator) insert(h uint64, key []byte, t uint32, vals [][]byte) int {
	g := len(a.hashes)
	if 2*(g+1) > len(a.table) {
		a.resize(2 * len(a.table))
	}
	a.hashes = append(a.hashes, h)
	a.bytes += groupOverhead + len(key)
	a.keys = append(a.keys, key...)
	a.keyEnd = append(a.keyEnd, uint32(len(a.keys)))
	a.time = append(a.time, t)
	for i, v := range vals {
		if !a.cols[i].Key {
			a.out[i] = append(a.out[i], v...)
			a.bytes += len(v)
		}
	}
	for i := range a.sums {
		a.sums[i] = append(a.sums[i], 0)
	}
	for i := h & a.mask; ; i = (i + 1) & a.mask {
		if a.table[i] == 0 {
			a.table[i] = uint32(g + 1)
			return g
		}
	}
}

func (a *Aggregator) resize(size int) {
	a.table = make([]uint32, size)
	a.mask = uint64(size - 1)
	for g, h := range a.hashes {
		for i := h & a.mask; ; i = (i + 1) & a.mask {
			if a.table[i] == 0 {
				a.table[i] = uint32(g + 1)
				break
			}
		}
	}
}

// Block returns the rows held: TimeReceived (the bucket), the dimensions,
// Bytes, Packets and Flows. It shares the aggregator's memory: use it before
// calling Add or Reset again.
func (a *Aggregator) Block() *native.Block {
	le := binary.LittleEndian
	n := len(a.hashes)
	a.enc[0] = a.enc[0][:0]
	for _, t := range a.time {
		a.enc[0] = le.AppendUint32(a.enc[0], t)
	}
	for i := range a.sums {
		e := a.enc[i+1][:0]
		for _, v := range a.sums[i] {
			e = le.AppendUint64(e, v)
		}
		a.enc[i+1] = e
	}
	a.splitKeys()
	cols := a.block.Columns[:0]
	cols = append(cols, native.Column{Name: TimeReceived, Type: "DateTime", Width: 4, Data: a.enc[0]})
	for i, c := range a.cols {
		cols = append(cols, native.Column{Name: c.Name, Type: c.Type, Width: c.Width, Data: a.out[i]})
	}
	for i, name := range []string{Bytes, Packets, Flows} {
		cols = append(cols, native.Column{Name: name, Type: "UInt64", Width: 8, Data: a.enc[i+1]})
	}
	a.block = native.Block{Columns: cols, Rows: n}
	return &a.block
}

// splitKeys appends the values of the key columns, which a group holds in
// its key only (after the bucket, in column order, as encoded), to out.
func (a *Aggregator) splitKeys() {
	for i, c := range a.cols {
		if c.Key {
			a.out[i] = a.out[i][:0]
		}
	}
	for g := range a.hashes {
		k := a.keyOf(g)[4:]
		for i, c := range a.cols {
			if !c.Key {
				continue
			}
			n := c.Width
			if n == 0 {
				l, w := binary.Uvarint(k)
				n = w + int(l)
			}
			a.out[i] = append(a.out[i], k[:n]...)
			k = k[n:]
		}
	}
}

// Reset drops every group, keeping the memory for the next ones.
//
// After a burst it gives the memory back: when the rows just taken used less
// than a quarter of the keys' capacity, and that capacity is past
// shrinkAbove, the next rows start from small buffers again.
func (a *Aggregator) Reset() {
	if cap(a.keys) > shrinkAbove && len(a.keys) < cap(a.keys)/4 {
		a.hashes, a.keyEnd, a.keys, a.time = nil, nil, nil, nil
		clear(a.out)
		clear(a.sums[:])
		a.enc, a.block = [4][]byte{}, native.Block{}
		a.resize(1 << 10) // no groups left to place
	}
	a.hashes, a.keyEnd, a.keys, a.time = a.hashes[:0], a.keyEnd[:0], a.keys[:0], a.time[:0]
	for i := range a.out {
		a.out[i] = a.out[i][:0]
	}
	for i := range a.sums {
		a.sums[i] = a.sums[i][:0]
	}
	clear(a.table)
	a.minTime, a.maxTime, a.bytes = 0, 0, 0
}

// shrinkAbove is the keys' capacity past which Reset may release memory
// (below it, keeping the buffers costs little and saves reallocations).
const shrinkAbove = 16 << 20

// Rebucket rounds the TimeReceived values of a block returned by Block down
// to multiples of bucket seconds (coarser rollups share the finer one's
// rows: rows that now have equal keys are summed by the table's merges and
// by queries, which sum() anyway).
func Rebucket(b *native.Block, bucket uint32) {
	for i := range b.Columns {
		c := &b.Columns[i]
		if c.Name != TimeReceived {
			continue
		}
		for off := 0; off+4 <= len(c.Data); off += 4 {
			t := binary.LittleEndian.Uint32(c.Data[off:])
			binary.LittleEndian.PutUint32(c.Data[off:], t-t%bucket)
		}
	}
}
