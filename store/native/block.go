// Package native encodes and decodes ClickHouse Native-format blocks, the
// columnar format both store transports insert (chDB through its streaming
// insert API, a ClickHouse server through clickhouse-go) and the disk spool
// keeps.
//
// Layout of a block: uvarint(columns) uvarint(rows), then per column
// string(name) string(type) and the column data. Strings are
// uvarint(len)+bytes; fixed-width values are little-endian; IPv6 is 16 raw
// bytes; FixedString(N) is N bytes; Enum8 is one signed byte; DateTime is
// UInt32 seconds. String columns are cast by the server to the table's
// LowCardinality(String) on insert.
package native

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Column is one column of a block: its name, its ClickHouse type as sent
// in the block, the width of one value (0 for String) and its data.
type Column struct {
	Name  string
	Type  string
	Width int
	Data  []byte
}

// Block is a set of equally long columns.
type Block struct {
	Columns []Column
	Rows    int
}

// Reset empties every column, keeping capacity.
func (b *Block) Reset() {
	for i := range b.Columns {
		b.Columns[i].Data = b.Columns[i].Data[:0]
	}
	b.Rows = 0
}

// Size is the encoded size in bytes (close upper bound: varint headers are
// counted at their maximum length).
func (b *Block) Size() int {
	n := 2 * binary.MaxVarintLen64
	for i := range b.Columns {
		c := &b.Columns[i]
		n += 2*binary.MaxVarintLen64 + len(c.Name) + len(c.Type) + len(c.Data)
	}
	return n
}

// Names returns the column names, for the INSERT column list.
func (b *Block) Names() []string {
	out := make([]string, len(b.Columns))
	for i := range b.Columns {
		out[i] = b.Columns[i].Name
	}
	return out
}

// Header returns the block header (column and row counts).
func (b *Block) Header(dst []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b.Columns)))
	return binary.AppendUvarint(dst, uint64(b.Rows))
}

// ColumnHeader appends the name and type of column i.
func (b *Block) ColumnHeader(dst []byte, i int) []byte {
	c := &b.Columns[i]
	dst = appendString(dst, c.Name)
	return appendString(dst, c.Type)
}

// Pieces calls fn with the encoded block in order: the header, then for each
// column its name and type, then its data. Transports that accept a block in
// several writes use it to avoid copying column data.
func (b *Block) Pieces(scratch []byte, fn func([]byte) error) error {
	if err := fn(b.Header(scratch[:0])); err != nil {
		return err
	}
	for i := range b.Columns {
		if err := fn(b.ColumnHeader(scratch[:0], i)); err != nil {
			return err
		}
		if len(b.Columns[i].Data) > 0 {
			if err := fn(b.Columns[i].Data); err != nil {
				return err
			}
		}
	}
	return nil
}

// SameColumns reports whether o has b's columns (names and types, in
// order): blocks sent in one insert must.
func (b *Block) SameColumns(o *Block) error {
	if len(b.Columns) != len(o.Columns) {
		return fmt.Errorf("blocks of %d and %d columns", len(b.Columns), len(o.Columns))
	}
	for i := range b.Columns {
		x, y := &b.Columns[i], &o.Columns[i]
		if x.Name != y.Name || x.Type != y.Type {
			return fmt.Errorf("column %d is %s %s in one block and %s %s in another", i, x.Name, x.Type, y.Name, y.Type)
		}
	}
	return nil
}

// AppendTo appends the whole encoded block to dst.
func (b *Block) AppendTo(dst []byte) []byte {
	dst = b.Header(dst)
	for i := range b.Columns {
		dst = b.ColumnHeader(dst, i)
		dst = append(dst, b.Columns[i].Data...)
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// Limits on decoded blocks; a block beyond them is rejected rather than
// trusted.
const (
	MaxColumns    = 1024
	maxNameLength = 4096
)

// ErrTruncated is returned when a block ends early.
var ErrTruncated = errors.New("native: block truncated")

// Decode parses an encoded block. The returned columns' Data alias data.
// Every length is checked against the input, so a corrupt block gives an
// error, never a panic or an allocation larger than the input.
func Decode(data []byte) (*Block, error) {
	d := decoder{buf: data}
	ncols, err := d.uvarint()
	if err != nil {
		return nil, err
	}
	if ncols > MaxColumns {
		return nil, fmt.Errorf("native: %d columns, more than %d", ncols, MaxColumns)
	}
	nrows, err := d.uvarint()
	if err != nil {
		return nil, err
	}
	// Every value takes at least one byte, so a block cannot hold more rows
	// than it has bytes; a block without columns holds no rows.
	if (ncols > 0 && nrows > uint64(len(data))) || (ncols == 0 && nrows > 0) {
		return nil, fmt.Errorf("native: %d rows cannot fit in %d bytes and %d columns", nrows, len(data), ncols)
	}
	rows := int(nrows)
	b := &Block{Rows: rows, Columns: make([]Column, 0, ncols)}
	for i := 0; i < int(ncols); i++ {
		name, err := d.string()
		if err != nil {
			return nil, fmt.Errorf("column %d name: %w", i, err)
		}
		typ, err := d.string()
		if err != nil {
			return nil, fmt.Errorf("column %s type: %w", name, err)
		}
		width, err := TypeWidth(typ)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", name, err)
		}
		start := d.off
		if width > 0 {
			if uint64(width)*nrows > uint64(len(d.buf)-d.off) {
				return nil, fmt.Errorf("column %s: %w", name, ErrTruncated)
			}
			d.off += width * rows
		} else {
			for r := 0; r < rows; r++ {
				if _, err := d.bytes(); err != nil {
					return nil, fmt.Errorf("column %s row %d: %w", name, r, err)
				}
			}
		}
		b.Columns = append(b.Columns, Column{Name: name, Type: typ, Width: width, Data: d.buf[start:d.off:d.off]})
	}
	if d.off != len(d.buf) {
		return nil, fmt.Errorf("native: %d trailing bytes after block", len(d.buf)-d.off)
	}
	return b, nil
}

// TypeWidth returns the byte width of one value of a ClickHouse type, 0 for
// String, or an error for types this package does not handle.
func TypeWidth(t string) (int, error) {
	switch t {
	case "UInt8", "Int8":
		return 1, nil
	case "UInt16", "Int16":
		return 2, nil
	case "UInt32", "Int32", "Float32", "DateTime":
		return 4, nil
	case "UInt64", "Int64", "Float64":
		return 8, nil
	case "IPv6":
		return 16, nil
	case "String":
		return 0, nil
	}
	if strings.HasPrefix(t, "Enum8(") && strings.HasSuffix(t, ")") {
		return 1, nil
	}
	if n, ok := strings.CutPrefix(t, "FixedString("); ok {
		if n, ok := strings.CutSuffix(n, ")"); ok {
			w, err := strconv.Atoi(n)
			if err == nil && w > 0 && w <= 256 {
				return w, nil
			}
		}
	}
	return 0, fmt.Errorf("native: unsupported type %q", t)
}

type decoder struct {
	buf []byte
	off int
}

func (d *decoder) uvarint() (uint64, error) {
	v, n := binary.Uvarint(d.buf[d.off:])
	if n <= 0 {
		return 0, ErrTruncated
	}
	d.off += n
	return v, nil
}

func (d *decoder) bytes() ([]byte, error) {
	n, err := d.uvarint()
	if err != nil {
		return nil, err
	}
	if n > uint64(len(d.buf)-d.off) {
		return nil, ErrTruncated
	}
	s := d.buf[d.off : d.off+int(n)]
	d.off += int(n)
	return s, nil
}

func (d *decoder) string() (string, error) {
	b, err := d.bytes()
	if err != nil {
		return "", err
	}
	if len(b) > maxNameLength {
		return "", fmt.Errorf("native: name of %d bytes", len(b))
	}
	return string(b), nil
}

// Strings iterates the values of a String column.
func (c *Column) Strings(fn func(i int, s []byte)) error {
	d := decoder{buf: c.Data}
	for i := 0; d.off < len(d.buf); i++ {
		s, err := d.bytes()
		if err != nil {
			return err
		}
		fn(i, s)
	}
	return nil
}
