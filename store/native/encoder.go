package native

import (
	"encoding/binary"
	"math"
	"net/netip"
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
type Encoder[T any] struct {
	fields []Field[T]
	block  *Block
}

// NewEncoder returns an encoder for fields with an empty block.
func NewEncoder[T any](fields []Field[T]) *Encoder[T] {
	e := &Encoder[T]{fields: fields}
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
	for i := range e.fields {
		f := &e.fields[i]
		c := &cols[i]
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
	e.block.Rows++
}
