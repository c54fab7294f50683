package sflow

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
)

// Errors wrapped by Decode's errors, for errors.Is (e.g. to pick a drop
// reason label).
var (
	// ErrVersion: the datagram is not sFlow version 5.
	ErrVersion = errors.New("unsupported sFlow version")
	// ErrTruncated: a length or count points past the end of the datagram,
	// sample or record that contains it.
	ErrTruncated = errors.New("truncated")
	// ErrAddressType: an address type other than 0, 1 (IPv4) or 2 (IPv6).
	ErrAddressType = errors.New("bad address type")
)

// cursor reads XDR values from a bounded region of a datagram. The first
// read past the region's end records what was being read and where, and
// empties the cursor: its later reads return zero values, so decoders check
// err() once per structure. The cursors over one datagram's samples and
// records share one failure record, kept in the Datagram being decoded, so
// the first failure is the one reported. (A failure on the decoder's stack
// would escape to the heap: escape analysis does not tell it from the
// datagram bytes the samples keep.)
//
// Decoding speed rests on every read being inlined into the decoding
// function, with the cursor a local variable of it (cursors are passed by
// value for that reason): a read that succeeds is then a length comparison,
// a load and a slice step. So a read calls nothing, not even on failure
// (a call would exceed the inlining budget), and no offset is kept: r's
// capacity always extends to the end of the datagram's buffer, so the
// offset of r in the datagram is what that capacity says.
type cursor struct {
	r    []byte   // the region's unread bytes; cap(r) reaches the buffer's end
	fail *failure // what == "" while every read succeeded
}

type failure struct {
	size       int // cap of the datagram buffer: offset = size - tail
	tail, left int // cap and len of the cursor where a read failed
	what       string
	need       uint64
	badAddress bool // ErrAddressType (need is the type), else ErrTruncated
}

func newCursor(b []byte, f *failure) cursor {
	*f = failure{size: cap(b)}
	return cursor{r: b, fail: f}
}

func (c *cursor) left() int { return len(c.r) }

// short records that n bytes were needed for what, unless a read failed
// before, and empties the cursor.
func (c *cursor) short(n uint64, what string) {
	if f := c.fail; f.what == "" {
		f.tail, f.left, f.what, f.need = cap(c.r), len(c.r), what, n
	}
	c.r = nil
}

// padded is n (≤ left) rounded up to XDR's 4-byte unit. Padding missing at
// the very end of the region is tolerated, as some exporters count only the
// string in a record length. (In uint32, as lengths come: a region of 4 GiB
// would wrap, which can only make the skip short, never past the end.)
func (c *cursor) padded(n uint32) uint32 { return min((n+3)&^3, uint32(len(c.r))) }

// sub returns a cursor over the next n bytes (a sample's or record's data)
// and advances past them and their XDR padding.
func (c *cursor) sub(n uint32, what string) (s cursor) {
	if uint(n) <= uint(len(c.r)) {
		s = cursor{c.r[:n], c.fail}
		c.r = c.r[min((n+3)&^3, uint32(len(c.r))):] // padded, spelt out to stay inlinable
		return s
	}
	c.short(uint64(n), what)
	return *c
}

// tlv reads the data_format and length that start every sample and record;
// sub then gives the data. (One function returning both would be too large
// to inline.)
func (c *cursor) tlv(what string) (DataFormat, uint32) {
	if len(c.r) < 8 {
		c.short(8, what)
		return 0, 0
	}
	format, n := DataFormat(be32(c.r)), be32(c.r[4:])
	c.r = c.r[8:]
	return format, n
}

func be32(p []byte) uint32 { return binary.BigEndian.Uint32(p) }

// take returns the next n bytes and advances past them, or nil if fewer
// remain. Fixed-size structures are read through it with one bounds check.
func (c *cursor) take(n int, what string) []byte {
	if n > len(c.r) {
		c.short(uint64(n), what)
		return nil
	}
	p := c.r[:n:n]
	c.r = c.r[n:]
	return p
}

// rest returns the unread bytes (an unknown record's or sample's body),
// capacity capped like fixed's.
func (c *cursor) rest() []byte { return c.r[:len(c.r):len(c.r)] }

func (c *cursor) u32(what string) uint32 {
	if len(c.r) < 4 {
		c.short(4, what)
		return 0
	}
	v := be32(c.r)
	c.r = c.r[4:]
	return v
}

func (c *cursor) u64(what string) uint64 {
	if len(c.r) < 8 {
		c.short(8, what)
		return 0
	}
	v := binary.BigEndian.Uint64(c.r)
	c.r = c.r[8:]
	return v
}

func (c *cursor) f32(what string) float32 { return math.Float32frombits(c.u32(what)) }

// fixed returns the next n bytes, as a sub-slice whose capacity ends with it
// (appending to it cannot overwrite the datagram), and skips the XDR
// padding after them.
func (c *cursor) fixed(n uint32, what string) []byte {
	if uint64(n) > uint64(len(c.r)) {
		c.short(uint64(n), what)
		return nil
	}
	v := c.r[:n:n]
	c.r = c.r[c.padded(n):]
	return v
}

// opaque reads a variable-length opaque or string (u32 length, bytes, pad).
func (c *cursor) opaque(what string) []byte { return c.fixed(c.u32(what), what) }

// count reads an array length and checks that n elements of at least
// minSize bytes each can fit in what is left, so a lying count fails here
// instead of driving a loop or an allocation.
func (c *cursor) count(minSize uint64, what string) int {
	n := c.u32(what)
	if need := uint64(n) * minSize; need > uint64(len(c.r)) {
		c.short(need, what)
		return 0
	}
	return int(n)
}

func (c *cursor) mac(what string) MAC {
	var m MAC
	copy(m[:], c.fixed(6, what))
	return m
}

// addr reads an sFlow address: type 0 (unknown: the zero Addr), 1 IPv4, 2 IPv6.
func (c *cursor) addr(what string) netip.Addr {
	switch t := c.u32(what); t {
	case 0:
		return netip.Addr{}
	case 1:
		return c.ip4(what)
	case 2:
		return c.ip6(what)
	default:
		if f := c.fail; f.what == "" {
			f.tail, f.left, f.what, f.need, f.badAddress = cap(c.r)+4, len(c.r)+4, what, uint64(t), true
		}
		c.r = nil
		return netip.Addr{}
	}
}

func (c *cursor) ip4(what string) netip.Addr {
	if p := c.take(4, what); p != nil {
		return netip.AddrFrom4([4]byte(p))
	}
	return netip.Addr{}
}

func (c *cursor) ip6(what string) netip.Addr {
	if p := c.take(16, what); p != nil {
		return netip.AddrFrom16([16]byte(p))
	}
	return netip.Addr{}
}

// err describes the first failed read, or returns nil.
func (c *cursor) err() error {
	if c.fail.what == "" {
		return nil
	}
	return c.fail.error()
}

func (f *failure) error() error {
	if f.badAddress {
		return fmt.Errorf("offset %d: %s: type %d: %w", f.size-f.tail, f.what, f.need, ErrAddressType)
	}
	return fmt.Errorf("offset %d: %s: need %d bytes, %d left: %w", f.size-f.tail, f.what, f.need, f.left, ErrTruncated)
}
