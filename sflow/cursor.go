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

// cursor reads XDR values from a bounded region [off, end) of a datagram.
// The first read past end records what was being read and where; later
// reads return zero values, so decoders check err() once per structure.
// The cursors over one datagram's samples and records share one failure,
// kept in the Datagram being decoded, so a cursor stays small and cheap to
// copy. (A failure on the decoder's stack would escape to the heap: escape
// analysis does not tell it from the datagram bytes the samples keep.)
type cursor struct {
	b    []byte // the whole datagram: offsets in errors are absolute
	off  int
	end  int
	fail *failure // what == "" while every read succeeded
}

type failure struct {
	at         int
	what       string
	need, left uint64
	err        error
}

func newCursor(b []byte, f *failure) cursor {
	*f = failure{}
	return cursor{b: b, end: len(b), fail: f}
}

func (c *cursor) left() int { return c.end - c.off }

// sub returns a cursor over the next n bytes (a sample's or record's data)
// and advances past them and their XDR padding. Missing padding at the very
// end of the enclosing region is tolerated.
func (c *cursor) sub(n uint32, what string) cursor {
	if !c.need(uint64(n), what) {
		return cursor{b: c.b, fail: c.fail}
	}
	s := cursor{b: c.b, off: c.off, end: c.off + int(n), fail: c.fail}
	c.off += min(int(n+3)&^3, c.left())
	return s
}

// tlv reads a data_format and a length, and returns the format and a cursor
// over the data that follows (advancing past it and its padding).
func (c *cursor) tlv(what, data string) (DataFormat, cursor) {
	p := c.take(8, what)
	if p == nil {
		return 0, cursor{b: c.b, fail: c.fail}
	}
	return DataFormat(be32(p)), c.sub(be32(p[4:]), data)
}

func be32(p []byte) uint32 { return binary.BigEndian.Uint32(p) }

// take returns the next n bytes and advances past them, or nil if fewer
// remain. Fixed-size structures are read through it with one bounds check.
func (c *cursor) take(n int, what string) []byte {
	if !c.need(uint64(n), what) {
		return nil
	}
	p := c.b[c.off : c.off+n : c.off+n]
	c.off += n
	return p
}

func (c *cursor) need(n uint64, what string) bool {
	if c.fail.what != "" {
		return false
	}
	if left := uint64(c.left()); n > left {
		*c.fail = failure{at: c.off, what: what, need: n, left: left, err: ErrTruncated}
		return false
	}
	return true
}

func (c *cursor) u32(what string) uint32 {
	if !c.need(4, what) {
		return 0
	}
	v := binary.BigEndian.Uint32(c.b[c.off:])
	c.off += 4
	return v
}

func (c *cursor) u64(what string) uint64 {
	if !c.need(8, what) {
		return 0
	}
	v := binary.BigEndian.Uint64(c.b[c.off:])
	c.off += 8
	return v
}

func (c *cursor) f32(what string) float32 { return math.Float32frombits(c.u32(what)) }

// fixed returns the next n bytes, as a sub-slice whose capacity ends with it
// (appending to it cannot overwrite the datagram), and skips the XDR
// padding after them. Padding missing at the very end of the region is
// tolerated, as some exporters count only the string in a record length.
func (c *cursor) fixed(n uint32, what string) []byte {
	if !c.need(uint64(n), what) {
		return nil
	}
	v := c.b[c.off : c.off+int(n) : c.off+int(n)]
	c.off += min(int(n+3)&^3, c.left())
	return v
}

// opaque reads a variable-length opaque or string (u32 length, bytes, pad).
func (c *cursor) opaque(what string) []byte {
	n := c.u32(what)
	return c.fixed(n, what)
}

// count reads an array length and checks that n elements of at least
// minSize bytes each can fit in what is left, so a lying count fails here
// instead of driving a loop or an allocation.
func (c *cursor) count(minSize uint64, what string) int {
	n := c.u32(what)
	if !c.need(uint64(n)*minSize, what) {
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
		if c.fail.what == "" {
			*c.fail = failure{at: c.off - 4, what: what, need: uint64(t), err: ErrAddressType}
		}
		return netip.Addr{}
	}
}

func (c *cursor) ip4(what string) netip.Addr {
	if !c.need(4, what) {
		return netip.Addr{}
	}
	a := netip.AddrFrom4([4]byte(c.b[c.off : c.off+4]))
	c.off += 4
	return a
}

func (c *cursor) ip6(what string) netip.Addr {
	if !c.need(16, what) {
		return netip.Addr{}
	}
	a := netip.AddrFrom16([16]byte(c.b[c.off : c.off+16]))
	c.off += 16
	return a
}

// err describes the first failed read, or returns nil.
func (c *cursor) err() error {
	if c.fail.what == "" {
		return nil
	}
	return c.fail.error()
}

func (f *failure) error() error {
	if f.err == ErrAddressType {
		return fmt.Errorf("offset %d: %s: type %d: %w", f.at, f.what, f.need, f.err)
	}
	return fmt.Errorf("offset %d: %s: need %d bytes, %d left: %w", f.at, f.what, f.need, f.left, f.err)
}
