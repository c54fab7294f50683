package filter

import (
	"strconv"
	"strings"

	"github.com/hostflow/hostflow/flow"
)

// Op is a condition operator.
type Op uint8

const (
	OpEq Op = iota + 1
	OpNe
	OpLt
	OpLe
	OpGt
	OpGe
	OpSubnet    // <<
	OpNotSubnet // !<<
	OpIn
	OpNotIn
	OpLike
	OpILike
	OpUnlike
	OpIUnlike
)

var opNames = [...]string{
	OpEq: "=", OpNe: "!=", OpLt: "<", OpLe: "<=", OpGt: ">", OpGe: ">=",
	OpSubnet: "<<", OpNotSubnet: "!<<", OpIn: "IN", OpNotIn: "NOTIN",
	OpLike: "LIKE", OpILike: "ILIKE", OpUnlike: "UNLIKE", OpIUnlike: "IUNLIKE",
}

func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return "?"
}

func opFromText(s string) (Op, bool) {
	for o := OpEq; int(o) < len(opNames); o++ {
		if strings.EqualFold(opNames[o], s) {
			return o, true
		}
	}
	return 0, false
}

// Operators lists the operators a column type accepts with values.
func Operators(ft flow.FilterType) []Op {
	switch ft {
	case flow.FilterIP:
		return []Op{OpEq, OpNe, OpSubnet, OpNotSubnet, OpIn, OpNotIn}
	case flow.FilterString:
		return []Op{OpEq, OpNe, OpLike, OpILike, OpUnlike, OpIUnlike, OpIn, OpNotIn}
	case flow.FilterUint, flow.FilterASN, flow.FilterProto:
		return []Op{OpEq, OpNe, OpLt, OpLe, OpGt, OpGe, OpIn, OpNotIn}
	case flow.FilterEType, flow.FilterBoundary, flow.FilterDirection:
		return []Op{OpEq, OpNe, OpIn, OpNotIn}
	}
	return nil
}

// columnOperators lists the operators valid between two columns of a type.
func columnOperators(ft flow.FilterType) []Op {
	switch ft {
	case flow.FilterUint, flow.FilterASN, flow.FilterProto:
		return []Op{OpEq, OpNe, OpLt, OpLe, OpGt, OpGe}
	case flow.FilterNone:
		return nil
	}
	return []Op{OpEq, OpNe}
}

func hasOp(ops []Op, o Op) bool {
	for _, x := range ops {
		if x == o {
			return true
		}
	}
	return false
}

// Node is a filter expression: *Or, *And, *Not or *Cond.
type Node interface {
	write(b *strings.Builder)
	walk(func(*Cond))
	reverse(*flow.Schema) Node
}

// Or is true when any term is.
type Or struct{ Terms []Node }

// And is true when every term is.
type And struct{ Terms []Node }

// Not negates X.
type Not struct{ X Node }

// Cond compares a column with values, or with another column (Other).
type Cond struct {
	Pos    int // byte offset of the column name in the input
	Column *flow.Column
	Op     Op
	// Values has one entry for scalar operators and one or more for IN and
	// NOTIN; it is empty when Other is set.
	Values []Value
	Other  *flow.Column
}

// Filter is a parsed filter. A nil Root (empty input) matches everything.
type Filter struct {
	Root Node
}

// String prints the filter in canonical form; parsing it gives the same
// AST (positions aside).
func (f *Filter) String() string {
	if f == nil || f.Root == nil {
		return ""
	}
	var b strings.Builder
	f.Root.write(&b)
	return b.String()
}

// Columns lists the columns the filter uses, each once, in order of
// appearance.
func (f *Filter) Columns() []*flow.Column {
	var out []*flow.Column
	seen := map[string]bool{}
	add := func(c *flow.Column) {
		if c != nil && !seen[c.Name] {
			seen[c.Name] = true
			out = append(out, c)
		}
	}
	if f != nil && f.Root != nil {
		f.Root.walk(func(c *Cond) { add(c.Column); add(c.Other) })
	}
	return out
}

// MainOnly reports whether the filter uses a column that only the raw
// table holds (which forces the raw table).
func (f *Filter) MainOnly() bool {
	for _, c := range f.Columns() {
		if c.MainOnly {
			return true
		}
	}
	return false
}

// Reverse returns the filter for the opposite direction of traffic: every
// column is replaced by its mirror (Src<->Dst, In<->Out). Columns without a
// mirror are kept.
func (f *Filter) Reverse(s *flow.Schema) *Filter {
	if f == nil || f.Root == nil {
		return &Filter{}
	}
	return &Filter{Root: f.Root.reverse(s)}
}

func mirrorOf(s *flow.Schema, c *flow.Column) *flow.Column {
	if c == nil || c.Mirror == "" {
		return c
	}
	if m, ok := s.Column(c.Mirror); ok {
		return m
	}
	return c
}

func (n *Or) write(b *strings.Builder) {
	for i, t := range n.Terms {
		if i > 0 {
			b.WriteString(" OR ")
		}
		t.write(b)
	}
}

func (n *And) write(b *strings.Builder) {
	for i, t := range n.Terms {
		if i > 0 {
			b.WriteString(" AND ")
		}
		writeUnit(b, t, false)
	}
}

func (n *Not) write(b *strings.Builder) {
	b.WriteString("NOT ")
	writeUnit(b, n.X, true)
}

// writeUnit parenthesizes n where the grammar needs it: OR inside AND or
// NOT, and AND inside NOT.
func writeUnit(b *strings.Builder, n Node, underNot bool) {
	_, isOr := n.(*Or)
	_, isAnd := n.(*And)
	if isOr || (underNot && isAnd) {
		b.WriteByte('(')
		n.write(b)
		b.WriteByte(')')
		return
	}
	n.write(b)
}

func (c *Cond) write(b *strings.Builder) {
	b.WriteString(c.Column.Name)
	b.WriteByte(' ')
	b.WriteString(c.Op.String())
	b.WriteByte(' ')
	if c.Other != nil {
		b.WriteString(c.Other.Name)
		return
	}
	if c.Op == OpIn || c.Op == OpNotIn {
		b.WriteByte('(')
		for i, v := range c.Values {
			if i > 0 {
				b.WriteString(", ")
			}
			writeValue(b, c.Column, v)
		}
		b.WriteByte(')')
		return
	}
	writeValue(b, c.Column, c.Values[0])
}

func writeValue(b *strings.Builder, col *flow.Column, v Value) {
	switch {
	case col.Filter == flow.FilterIP:
		if v.Prefix.IsSingleIP() {
			b.WriteString(v.Prefix.Addr().String())
		} else {
			b.WriteString(v.Prefix.String())
		}
	case col.Filter == flow.FilterString:
		b.WriteString(Quote(v.Str))
	case v.Name != "":
		b.WriteString(v.Name)
	case col.Filter == flow.FilterASN:
		b.WriteString("AS")
		b.WriteString(strconv.FormatUint(v.Uint, 10))
	default:
		b.WriteString(strconv.FormatUint(v.Uint, 10))
	}
}

// Quote writes s as a single-quoted filter string literal.
func Quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func (n *Or) walk(f func(*Cond)) {
	for _, t := range n.Terms {
		t.walk(f)
	}
}
func (n *And) walk(f func(*Cond)) {
	for _, t := range n.Terms {
		t.walk(f)
	}
}
func (n *Not) walk(f func(*Cond))  { n.X.walk(f) }
func (c *Cond) walk(f func(*Cond)) { f(c) }

func (n *Or) reverse(s *flow.Schema) Node  { return &Or{Terms: reverseAll(s, n.Terms)} }
func (n *And) reverse(s *flow.Schema) Node { return &And{Terms: reverseAll(s, n.Terms)} }
func (n *Not) reverse(s *flow.Schema) Node { return &Not{X: n.X.reverse(s)} }
func (c *Cond) reverse(s *flow.Schema) Node {
	r := *c
	r.Column = mirrorOf(s, c.Column)
	r.Other = mirrorOf(s, c.Other)
	return &r
}

func reverseAll(s *flow.Schema, ns []Node) []Node {
	out := make([]Node, len(ns))
	for i, n := range ns {
		out[i] = n.reverse(s)
	}
	return out
}
