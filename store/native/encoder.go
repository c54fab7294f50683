package native

import (
	"encoding/binary"
	"math"
	"net/netip"
	"unsafe"
)

// Kind is how a field's value is written.
type Kind uint8

// Storage kinds. The ClickHouse type sent in the block is Field.Type; Kind
// only selects the byte layout.
const (
	KindUInt8 Kind = iota + 1
	KindUInt16
	KindUInt32
	KindUInt64
	KindFloat32
	KindIPv6
	KindString
	KindFixedString2
)

// Width is the byte width of one value (0 for String).
func (k Kind) Width() int {
	switch k {
	case KindUInt8:
		return 1
	case KindUInt16, KindFixedString2:
		return 2
	case KindUInt32, KindFloat32:
		return 4
	case KindUInt64:
		return 8
	case KindIPv6:
		return 16
	}
	return 0
}

// Field is one column of a record type T: its name, the ClickHouse type
// written in the block header, the byte layout and the accessor matching
// the layout (Uint for integer kinds, Float, Str or Addr).
type Field[T any] struct {
	Name  string
	Type  string
	Kind  Kind
	Uint  func(*T) uint64
	Float func(*T) float64
	Str   func(*T) string
	Addr  func(*T) netip.Addr
}

// Encoder appends records of type T to a block, column by column. It is not
// safe for concurrent use; each writer goroutine owns one.
//
// Columns are encoded in groups of the same layout (all UInt8 loaded from a
// uint8 field, all strings, ...) so the per-record loop has no type switch.
type Encoder[T any] struct {
	fields []Field[T]
	block  *Block

	// Fields loaded straight from the record, by (field width → column width).
	w11, w22, w44, w88, w14, w24, w48 []op
	f32, strs, fixed2, addrs          []op
	calls                             []int // fields read through their accessor
}

// op loads a value at off in the record into column col.
type op struct {
	col int
	off uintptr
}

// NewEncoder returns an encoder for fields with an empty block.
func NewEncoder[T any](fields []Field[T]) *Encoder[T] {
	e := &Encoder[T]{fields: fields}
	for i := range fields {
		d := resolve(&fields[i])
		o := op{col: i, off: d.off}
		var group *[]op
		switch k := fields[i].Kind; {
		case d.src == srcU8 && k == KindUInt8:
			group = &e.w11
		case d.src == srcU16 && k == KindUInt16:
			group = &e.w22
		case d.src == srcU32 && k == KindUInt32:
			group = &e.w44
		case d.src == srcU64 && k == KindUInt64:
			group = &e.w88
		case d.src == srcU8 && k == KindUInt32:
			group = &e.w14
		case d.src == srcU16 && k == KindUInt32:
			group = &e.w24
		case d.src == srcU32 && k == KindUInt64:
			group = &e.w48
		case d.src == srcF32 && k == KindFloat32:
			group = &e.f32
		case d.src == srcString && k == KindString:
			group = &e.strs
		case d.src == srcString && k == KindFixedString2:
			group = &e.fixed2
		case d.src == srcAddr && k == KindIPv6:
			group = &e.addrs
		}
		if group == nil {
			e.calls = append(e.calls, i)
			continue
		}
		*group = append(*group, o)
	}
	e.block = e.NewBlock(0)
	return e
}

// NewBlock returns an empty block with this encoder's columns, each with
// room for rows values (strings counted at 8 bytes).
func (e *Encoder[T]) NewBlock(rows int) *Block {
	b := &Block{Columns: make([]Column, len(e.fields))}
	for i, f := range e.fields {
		w := f.Kind.Width()
		size := w * rows
		if w == 0 {
			size = 8 * rows
		}
		b.Columns[i] = Column{Name: f.Name, Type: f.Type, Width: w, Data: make([]byte, 0, size)}
	}
	return b
}

// Rows is the number of records in the current block.
func (e *Encoder[T]) Rows() int { return e.block.Rows }

// Block returns the current block (still owned by the encoder).
func (e *Encoder[T]) Block() *Block { return e.block }

// Swap hands over the current block and continues with next, which must
// come from NewBlock of this encoder (it is reset here).
func (e *Encoder[T]) Swap(next *Block) *Block {
	b := e.block
	next.Reset()
	e.block = next
	return b
}

// Append encodes one record.
func (e *Encoder[T]) Append(r *T) {
	cols := e.block.Columns
	base := unsafe.Pointer(r)
	le := binary.LittleEndian
	for _, o := range e.w11 {
		c := &cols[o.col]
		c.Data = append(c.Data, *(*uint8)(unsafe.Add(base, o.off)))
	}
	for _, o := range e.w22 {
		c := &cols[o.col]
		c.Data = le.AppendUint16(c.Data, *(*uint16)(unsafe.Add(base, o.off)))
	}
	for _, o := range e.w44 {
		c := &cols[o.col]
		c.Data = le.AppendUint32(c.Data, *(*uint32)(unsafe.Add(base, o.off)))
	}
	for _, o := range e.w88 {
		c := &cols[o.col]
		c.Data = le.AppendUint64(c.Data, *(*uint64)(unsafe.Add(base, o.off)))
	}
	for _, o := range e.w14 {
		c := &cols[o.col]
		c.Data = le.AppendUint32(c.Data, uint32(*(*uint8)(unsafe.Add(base, o.off))))
	}
	for _, o := range e.w24 {
		c := &cols[o.col]
		c.Data = le.AppendUint32(c.Data, uint32(*(*uint16)(unsafe.Add(base, o.off))))
	}
	for _, o := range e.w48 {
		c := &cols[o.col]
		c.Data = le.AppendUint64(c.Data, uint64(*(*uint32)(unsafe.Add(base, o.off))))
	}
	for _, o := range e.f32 {
		c := &cols[o.col]
		c.Data = le.AppendUint32(c.Data, math.Float32bits(*(*float32)(unsafe.Add(base, o.off))))
	}
	for _, o := range e.addrs {
		c := &cols[o.col]
		// As16 maps IPv4 to ::ffff:a.b.c.d; the zero Addr gives ::.
		a := (*netip.Addr)(unsafe.Add(base, o.off)).As16()
		c.Data = append(c.Data, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7],
			a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15])
	}
	for _, o := range e.strs {
		c := &cols[o.col]
		s := *(*string)(unsafe.Add(base, o.off))
		n := len(c.Data)
		switch {
		case len(s) == 0: // most attribute columns of a flow are empty
			c.Data = append(c.Data, 0)
		case len(s) < 0x80 && cap(c.Data)-n > len(s):
			// One bounds check and one copy instead of two appends.
			c.Data = c.Data[:n+1+len(s)]
			c.Data[n] = byte(len(s))
			copy(c.Data[n+1:], s)
		default:
			c.Data = append(binary.AppendUvarint(c.Data, uint64(len(s))), s...)
		}
	}
	for _, o := range e.fixed2 {
		c := &cols[o.col]
		s := *(*string)(unsafe.Add(base, o.off))
		var v [2]byte
		copy(v[:], s)
		c.Data = append(c.Data, v[0], v[1])
	}
	for _, i := range e.calls {
		e.call(i, r)
	}
	e.block.Rows++
}

// call encodes field i through its accessor.
func (e *Encoder[T]) call(i int, r *T) {
	f := &e.fields[i]
	c := &e.block.Columns[i]
	switch f.Kind {
	case KindUInt8:
		c.Data = append(c.Data, byte(f.Uint(r)))
	case KindUInt16:
		c.Data = binary.LittleEndian.AppendUint16(c.Data, uint16(f.Uint(r)))
	case KindUInt32:
		c.Data = binary.LittleEndian.AppendUint32(c.Data, uint32(f.Uint(r)))
	case KindUInt64:
		c.Data = binary.LittleEndian.AppendUint64(c.Data, f.Uint(r))
	case KindFloat32:
		c.Data = binary.LittleEndian.AppendUint32(c.Data, math.Float32bits(float32(f.Float(r))))
	case KindIPv6:
		// As16 maps IPv4 to ::ffff:a.b.c.d; the zero Addr gives ::.
		a := f.Addr(r).As16()
		c.Data = append(c.Data, a[:]...)
	case KindString:
		s := f.Str(r)
		c.Data = binary.AppendUvarint(c.Data, uint64(len(s)))
		c.Data = append(c.Data, s...)
	case KindFixedString2:
		s := f.Str(r)
		var v [2]byte
		copy(v[:], s)
		c.Data = append(c.Data, v[0], v[1])
	}
}
