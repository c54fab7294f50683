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
// up in an open-addressing table; a new group stores its key with its sums
// and copies the row's attribute values into the output columns, an
// existing one adds Bytes and Packets and counts the flow. Nothing is
// decoded, so it works for any column set and for blocks read back from the
// spool.
//
// Groups accumulate across blocks until the owner takes them (Block, then
// Reset), so a window longer than one insert aggregates more.
package rollup

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"

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
//
// A busy minute holds millions of groups, far more than the CPU caches, so
// each flow's lookup costs memory accesses; the layout keeps them to two
// for a flow that joins an existing group: the table slot (which carries a
// tag of the hash, so other groups' slots are skipped without reading
// them), then the group's entry, which holds its sums next to its key.
type Aggregator struct {
	cols   []Column
	bucket uint32 // seconds
	seed   maphash.Seed

	// The groups, one entry each, in creation order: Bytes, Packets and
	// Flows (uint64 each), the key's hash (uint64), the key's length
	// (uint32), then the key: the bucket start (4 bytes), then the key
	// columns' encoded values in column order. Block splits the key
	// columns out of it. Entries fill chunks of chunkSize bytes (one
	// growing buffer would be copied, and its new pages faulted in, at
	// every growth: most of the cost of a busy minute's first round).
	chunks [][]byte
	used   int // chunks holding entries; the next ones are empty, kept for reuse
	n      int // groups held
	// Encoded values of the attribute columns, one per group in order.
	out [][]byte

	table []uint64 // open addressing: 0 empty, else hash tag << tagShift | entry ref + 1
	mask  uint64

	bytes int // memory the groups take, see Bytes

	// Scratch, reused across blocks.
	src     []source
	keyCols []int          // indexes of the key columns in cols
	vals    [][]byte       // batch rows × columns
	key     []byte         // the keys of a batch of rows
	keyAt   [batch + 1]int // where each row's key starts in key, then the end
	hash    [batch]uint64
	// Bytes per row of each String key column in the last Block (its
	// first guess for the next one).
	strWidth []int
	sink     uint64    // keeps Add's reads ahead of the lookups
	enc      [4][]byte // TimeReceived and the sums, encoded by Block
	block    native.Block
}

// Layout of a group's entry.
const (
	entrySums   = 0  // Bytes, Packets, Flows
	entryHash   = 24 // uint64
	entryKeyLen = 32 // uint32
	entryKey    = 36
)

// An entry's ref is its chunk's index << 32 | its offset in the chunk. A
// table slot holds ref + 1 in its low 48 bits (65,535 chunks: 256 GiB)
// and the top 16 bits of the key's hash above them, so that a lookup skips
// other groups' slots without reading their entries.
const (
	tagShift  = 48
	refMask   = 1<<tagShift - 1
	chunkSize = 4 << 20
	maxChunks = 1<<(tagShift-32) - 1
)

func (a *Aggregator) entry(ref uint64) []byte { return a.chunks[ref>>32][ref&(1<<32-1):] }

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
		src: make([]source, len(cols)), vals: make([][]byte, batch*len(cols)), strWidth: make([]int, len(cols))}
	for i := range a.strWidth {
		a.strWidth[i] = 8
	}
	for i, c := range cols {
		if c.Key {
			a.keyCols = append(a.keyCols, i)
		}
	}
	a.resize(1 << 10)
	return a
}

// Groups is the number of rows the aggregator holds.
func (a *Aggregator) Groups() int { return a.n }

// groupOverhead is a group's fixed memory: its entry's header and its share
// of the table (between 2 and 4 slots of 8 bytes).
const groupOverhead = entryKey + 24

// Bytes is the memory the groups take: their keys, their encoded values
// and the fixed part, not counting spare capacity.
func (a *Aggregator) Bytes() int { return a.bytes }

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
	// Rows go in batches: first their keys and hashes, then, in tight loops
	// the CPU overlaps, a read of their table slots and of the entries the
	// slots point to, so that the lookups that follow find them in cache
	// instead of waiting for memory one row at a time.
	nc := len(a.cols)
	for r0 := 0; r0 < n; r0 += batch {
		m := min(batch, n-r0)
		// The values column by column (each column's loop does one kind of
		// read), then the keys row by row from them.
		for i := range a.src {
			a.src[i].values(a.vals[i:], nc, r0, m)
		}
		key := a.key[:0]
		for j := range m {
			t := le.Uint32(tcol[4*(r0+j):])
			a.keyAt[j] = len(key)
			key = le.AppendUint32(key, t-t%a.bucket)
			vals := a.vals[j*nc : (j+1)*nc]
			for _, i := range a.keyCols {
				key = append(key, vals[i]...)
			}
			a.hash[j] = maphash.Bytes(a.seed, key[a.keyAt[j]:])
		}
		a.keyAt[m] = len(key)
		a.key = key
		var sink uint64
		for _, h := range a.hash[:m] {
			sink += a.table[h&a.mask]
		}
		for _, h := range a.hash[:m] {
			if s := a.table[h&a.mask]; s != 0 && s>>tagShift == h>>tagShift {
				sink += uint64(a.entry(s&refMask - 1)[0])
			}
		}
		a.sink += sink
		for j, h := range a.hash[:m] {
			r := r0 + j
			k := key[a.keyAt[j]:a.keyAt[j+1]]
			e, slot := a.find(h, k)
			if e == nil {
				e = a.insert(h, k, a.vals[j*nc:(j+1)*nc], slot)
			}
			e = e[entrySums : entrySums+24]
			le.PutUint64(e[0:], le.Uint64(e[0:])+le.Uint64(bcol[8*r:]))
			le.PutUint64(e[8:], le.Uint64(e[8:])+le.Uint64(pcol[8*r:]))
			le.PutUint64(e[16:], le.Uint64(e[16:])+1)
		}
	}
	return nil
}

// batch is the rows Add looks up together.
const batch = 32

// checkStrings checks that data holds exactly n length-prefixed strings.
func checkStrings(data []byte, n int) error {
	off := 0
	for r := 0; r < n; r++ {
		if off >= len(data) {
			return fmt.Errorf("string %d truncated", r)
		}
		l, k := uint64(data[off]), 1 // most strings are shorter than 128 bytes
		if l >= 0x80 {
			l, k = binary.Uvarint(data[off:])
		}
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

// values sets out[j*stride] to the encoded value of row r0+j, for j < m
// (rows are read in order); for a missing column the type's default.
func (s *source) values(out [][]byte, stride, r0, m int) {
	switch {
	case s.zero:
		v := zeros[:max(s.width, 1)] // an empty string is its length, 0
		for j := range m {
			out[j*stride] = v
		}
	case s.width > 0:
		w := s.width
		d := s.data[r0*w : (r0+m)*w]
		for j := range m {
			out[j*stride] = d[j*w : (j+1)*w : (j+1)*w]
		}
	default:
		// Checked by checkStrings: the length and the bytes are there.
		d, off := s.data, s.off
		for j := range m {
			l, k := uint64(d[off]), 1 // as in checkStrings
			if l >= 0x80 {
				l, k = binary.Uvarint(d[off:])
			}
			end := off + k + int(l)
			out[j*stride] = d[off:end:end]
			off = end
		}
		s.off = off
	}
}

var zeros [16]byte // widest fixed-width value: IPv6

// find returns the entry of the group with hash h and key, or nil and the
// empty slot where it would go.
func (a *Aggregator) find(h uint64, key []byte) (entry []byte, slot uint64) {
	tag := h >> tagShift
	for i := h & a.mask; ; i = (i + 1) & a.mask {
		s := a.table[i]
		if s == 0 {
			return nil, i
		}
		if s>>tagShift != tag {
			continue
		}
		e := a.entry(s&refMask - 1)
		if n := binary.LittleEndian.Uint32(e[entryKeyLen:]); int(n) == len(key) && string(e[entryKey:entryKey+n]) == string(key) {
			return e, i
		}
	}
}

// insert adds a group with the row's key and attribute values in the
// empty table slot find returned, and returns its entry.
func (a *Aggregator) insert(h uint64, key []byte, vals [][]byte, slot uint64) []byte {
	if 2*(a.n+1) > len(a.table) {
		a.resize(2 * len(a.table))
		_, slot = a.find(h, key)
	}
	size := entryKey + len(key)
	if a.used == 0 || len(a.chunks[a.used-1])+size > cap(a.chunks[a.used-1]) {
		if a.used == maxChunks {
			// The store emits the groups at rollup-memory, at most 64 GiB.
			panic("rollup: 256 GiB of groups held")
		}
		if a.used == len(a.chunks) {
			a.chunks = append(a.chunks, nil)
		}
		if cap(a.chunks[a.used]) < size {
			a.chunks[a.used] = make([]byte, 0, max(chunkSize, size))
		}
		a.used++
	}
	c := &a.chunks[a.used-1]
	pos := len(*c)
	*c = append(*c, make([]byte, entryKey)...)
	*c = append(*c, key...)
	e := (*c)[pos:]
	le := binary.LittleEndian
	le.PutUint64(e[entryHash:], h)
	le.PutUint32(e[entryKeyLen:], uint32(len(key)))
	a.bytes += groupOverhead + len(key)
	for i, v := range vals {
		if !a.cols[i].Key {
			a.out[i] = append(a.out[i], v...)
			a.bytes += len(v)
		}
	}
	ref := uint64(a.used-1)<<32 | uint64(pos)
	a.table[slot] = h>>tagShift<<tagShift | (ref + 1)
	a.n++
	return e
}

// entries calls f with each group's entry and its ref, in creation order.
func (a *Aggregator) entries(f func(e []byte, ref uint64)) {
	for ci, c := range a.chunks[:a.used] {
		for pos := 0; pos < len(c); {
			n := entryKey + int(binary.LittleEndian.Uint32(c[pos+entryKeyLen:]))
			f(c[pos:pos+n], uint64(ci)<<32|uint64(pos))
			pos += n
		}
	}
}

func (a *Aggregator) resize(size int) {
	a.table = make([]uint64, size)
	a.mask = uint64(size - 1)
	a.entries(func(e []byte, ref uint64) {
		h := binary.LittleEndian.Uint64(e[entryHash:])
		for i := h & a.mask; ; i = (i + 1) & a.mask {
			if a.table[i] == 0 {
				a.table[i] = h>>tagShift<<tagShift | (ref + 1)
				break
			}
		}
	})
}

// Block returns the rows held: TimeReceived (the bucket), the dimensions,
// Bytes, Packets and Flows. It shares the aggregator's memory: use it before
// calling Add or Reset again.
func (a *Aggregator) Block() *native.Block {
	// Size the columns up front: growing them by appends would copy them
	// (and fault their new pages in) several times over.
	a.enc[0] = slices.Grow(a.enc[0][:0], 4*a.n)
	for i := 1; i < len(a.enc); i++ {
		a.enc[i] = slices.Grow(a.enc[i][:0], 8*a.n)
	}
	for i, c := range a.cols {
		if c.Key {
			w := c.Width
			if w == 0 {
				w = a.strWidth[i]
			}
			a.out[i] = slices.Grow(a.out[i][:0], a.n*w)
		}
	}
	a.entries(func(e []byte, _ uint64) {
		for i := range 3 {
			a.enc[i+1] = append(a.enc[i+1], e[entrySums+8*i:entrySums+8*i+8]...)
		}
		key := e[entryKey:]
		a.enc[0] = append(a.enc[0], key[:4]...)
		a.splitKey(key[4:])
	})
	for i, c := range a.cols {
		if c.Key && c.Width == 0 && a.n > 0 {
			a.strWidth[i] = len(a.out[i])/a.n + 1
		}
	}
	cols := a.block.Columns[:0]
	cols = append(cols, native.Column{Name: TimeReceived, Type: "DateTime", Width: 4, Data: a.enc[0]})
	for i, c := range a.cols {
		cols = append(cols, native.Column{Name: c.Name, Type: c.Type, Width: c.Width, Data: a.out[i]})
	}
	for i, name := range []string{Bytes, Packets, Flows} {
		cols = append(cols, native.Column{Name: name, Type: "UInt64", Width: 8, Data: a.enc[i+1]})
	}
	a.block = native.Block{Columns: cols, Rows: a.n}
	return &a.block
}

// splitKey appends the values of the key columns, which a group holds in
// its key only (after the bucket, in column order, as encoded), to out.
func (a *Aggregator) splitKey(k []byte) {
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

// Reset drops every group, keeping the memory for the next ones.
//
// After a burst it gives the memory back: when the rows just taken used less
// than a quarter of the groups' capacity, and that capacity is past
// shrinkAbove, the next rows start from small buffers again.
func (a *Aggregator) Reset() {
	used := 0
	for _, c := range a.chunks[:a.used] {
		used += len(c)
	}
	if capacity := a.capacity(); capacity > shrinkAbove && used < capacity/4 {
		a.chunks = nil
		clear(a.out)
		a.enc, a.block = [4][]byte{}, native.Block{}
		a.used = 0
		a.resize(1 << 10) // no groups left to place
	}
	for i := range a.chunks[:a.used] {
		a.chunks[i] = a.chunks[i][:0]
	}
	a.used, a.n = 0, 0
	for i := range a.out {
		a.out[i] = a.out[i][:0]
	}
	clear(a.table)
	a.bytes = 0
}

// capacity is the memory held for entries, used or not.
func (a *Aggregator) capacity() int {
	n := 0
	for _, c := range a.chunks {
		n += cap(c)
	}
	return n
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
