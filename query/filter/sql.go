package filter

import (
	"math/big"
	"net/netip"
	"strconv"
	"strings"

	"github.com/hostflow/hostflow/flow"
)

// Params collects query parameters while SQL is rendered. Each Bind returns
// a `{name:Type}` placeholder; the values travel beside the SQL text and are
// bound by the engine, so user input never becomes SQL. One Params may serve
// several filters and the rest of a query: names never repeat.
type Params struct {
	values map[string]string
	prefix string
}

// NewParams returns an empty set whose names start with prefix (a letter
// and letters/digits/underscores; "p" when empty).
func NewParams(prefix string) *Params {
	if prefix == "" {
		prefix = "p"
	}
	return &Params{values: map[string]string{}, prefix: prefix}
}

// Bind adds value (in ClickHouse's text form for chType) and returns its
// placeholder.
func (p *Params) Bind(chType, value string) string {
	name := p.prefix + strconv.Itoa(len(p.values)+1)
	p.values[name] = value
	return "{" + name + ":" + chType + "}"
}

// Values returns the bound values by name (unescaped: the transport encodes
// them for the engine).
func (p *Params) Values() map[string]string { return p.values }

// SQL renders the filter as a ClickHouse boolean expression over the flow
// tables' columns, binding every value in p. An empty filter renders "1".
func (f *Filter) SQL(p *Params) string {
	if f == nil || f.Root == nil {
		return "1"
	}
	var b strings.Builder
	writeSQL(&b, f.Root, p)
	return b.String()
}

func writeSQL(b *strings.Builder, n Node, p *Params) {
	switch n := n.(type) {
	case *Or:
		writeTerms(b, n.Terms, " OR ", p)
	case *And:
		writeTerms(b, n.Terms, " AND ", p)
	case *Not:
		b.WriteString("NOT ")
		writeTerms(b, []Node{n.X}, "", p)
	case *Cond:
		writeCond(b, n, p)
	}
}

func writeTerms(b *strings.Builder, terms []Node, sep string, p *Params) {
	b.WriteByte('(')
	for i, t := range terms {
		if i > 0 {
			b.WriteString(sep)
		}
		writeSQL(b, t, p)
	}
	b.WriteByte(')')
}

var sqlOps = [...]string{
	OpEq: "=", OpNe: "!=", OpLt: "<", OpLe: "<=", OpGt: ">", OpGe: ">=",
	OpLike: "LIKE", OpILike: "ILIKE", OpUnlike: "NOT LIKE", OpIUnlike: "NOT ILIKE",
	OpIn: "IN", OpNotIn: "NOT IN",
}

// Column names come from the schema, never from the input: they are
// identifiers of [A-Za-z0-9] and need no quoting.
func writeCond(b *strings.Builder, c *Cond, p *Params) {
	if c.Other != nil {
		b.WriteString(c.Column.Name + " " + sqlOps[c.Op] + " " + c.Other.Name)
		return
	}
	if c.Column.Filter == flow.FilterIP {
		writeIPCond(b, c, p)
		return
	}
	typ := paramType(c.Column)
	b.WriteString(c.Column.Name + " " + sqlOps[c.Op] + " ")
	if c.Op == OpIn || c.Op == OpNotIn {
		b.WriteByte('(')
		for i, v := range c.Values {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(p.Bind(typ, scalarText(c.Column, v)))
		}
		b.WriteByte(')')
		return
	}
	b.WriteString(p.Bind(typ, scalarText(c.Column, c.Values[0])))
}

// paramType is the parameter type for a column's values: enums compare as
// their numbers, strings as String (FixedString columns compare with it).
func paramType(c *flow.Column) string {
	switch c.Kind {
	case flow.KindString, flow.KindFixedString2:
		return "String"
	case flow.KindBoundary, flow.KindDirection:
		return "UInt8"
	}
	return c.Kind.ClickHouseType()
}

func scalarText(c *flow.Column, v Value) string {
	if c.Filter == flow.FilterString {
		return v.Str
	}
	return strconv.FormatUint(v.Uint, 10)
}

// writeIPCond renders address conditions. Columns hold IPv6 (IPv4 mapped
// into ::ffff:0:0/96). Single addresses compare as IPv6 (bloom-filter skip
// indexes apply); subnets as a range of toUInt128(column), which chDB
// evaluates several times faster than an IPv6 BETWEEN (reference §6).
func writeIPCond(b *strings.Builder, c *Cond, p *Params) {
	col := c.Column.Name
	switch c.Op {
	case OpIn, OpNotIn:
		if c.Op == OpNotIn {
			b.WriteString("NOT ")
		}
		b.WriteByte('(')
		var singles []string
		for _, v := range c.Values {
			if v.Prefix.IsSingleIP() {
				singles = append(singles, p.Bind("IPv6", mapped(v.Prefix.Addr()).String()))
			}
		}
		n := 0
		if len(singles) > 0 {
			b.WriteString(col + " IN (" + strings.Join(singles, ", ") + ")")
			n++
		}
		for _, v := range c.Values {
			if !v.Prefix.IsSingleIP() {
				if n > 0 {
					b.WriteString(" OR ")
				}
				writeRange(b, col, "BETWEEN", v.Prefix, p)
				n++
			}
		}
		b.WriteByte(')')
	default:
		v := c.Values[0].Prefix
		neg := c.Op == OpNe || c.Op == OpNotSubnet
		if v.IsSingleIP() {
			op := map[bool]string{false: " = ", true: " != "}[neg]
			b.WriteString(col + op + p.Bind("IPv6", mapped(v.Addr()).String()))
			return
		}
		writeRange(b, col, map[bool]string{false: "BETWEEN", true: "NOT BETWEEN"}[neg], v, p)
	}
}

func writeRange(b *strings.Builder, col, op string, pfx netip.Prefix, p *Params) {
	lo, hi := prefixRange(pfx)
	b.WriteString("toUInt128(" + col + ") " + op + " " + p.Bind("UInt128", lo) + " AND " + p.Bind("UInt128", hi))
}

// mapped returns a as an IPv6 address (IPv4 as ::ffff:a.b.c.d).
func mapped(a netip.Addr) netip.Addr { return netip.AddrFrom16(a.As16()) }

// prefixRange returns the first and last address of pfx, IPv4 mapped into
// IPv6, as decimal 128-bit integers (toUInt128 of an IPv6 value is its
// big-endian number).
func prefixRange(pfx netip.Prefix) (lo, hi string) {
	bits := pfx.Bits()
	if pfx.Addr().Is4() {
		bits += 96
	}
	first := mapped(pfx.Masked().Addr()).As16()
	last := first
	for i := bits; i < 128; i++ {
		last[i/8] |= 0x80 >> (i % 8)
	}
	return u128(first), u128(last)
}

func u128(a [16]byte) string {
	return new(big.Int).SetBytes(a[:]).String()
}
