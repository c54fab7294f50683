// Package filter implements hostflow's filter language, compatible with
// Akvorado's: typed conditions on schema columns (`SrcAddr << 10.0.0.0/8`,
// `Proto = tcp`, `ExporterName LIKE 'edge-%'`, `SrcPort < DstPort`) combined
// with AND, OR, NOT and parentheses.
//
// Parse turns text into an AST (Filter). The AST prints back to canonical
// text (String), renders to a ClickHouse SQL condition with every value bound
// as a query parameter (SQL), lists the columns it uses (Columns, MainOnly)
// and gives the filter for reverse traffic (Reverse). Complete proposes what
// may follow at a cursor position.
package filter

import (
	"strings"

	"github.com/hostflow/hostflow/flow"
)

// Parse parses a filter against the schema's columns. Empty input (or only
// comments) gives a filter that matches everything. Errors are *Error.
func Parse(s *flow.Schema, src string) (*Filter, error) {
	toks, lerr := lex(src)
	if lerr != nil {
		return nil, lerr
	}
	p := &parser{schema: s, src: src, toks: toks}
	if p.peek().kind == tkEOF {
		return &Filter{}, nil
	}
	root, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tkEOF {
		if t.kind == tkRParen {
			return nil, p.errorf(t, "unbalanced ): no ( to close")
		}
		return nil, p.errorf(t, "expected AND, OR or end of input, got %s", t.describe())
	}
	return &Filter{Root: root}, nil
}

type parser struct {
	schema *flow.Schema
	src    string
	toks   []token
	i      int
	depth  int
	values int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tkEOF {
		p.i++
	}
	return t
}

func (p *parser) errorf(t token, format string, args ...any) *Error {
	return errorAt(p.src, t.pos, format, args...)
}

func isKeyword(t token, kw string) bool {
	return t.kind == tkWord && strings.EqualFold(t.text, kw)
}

func (p *parser) parseOr() (Node, error) {
	terms, err := p.parseSeq(p.parseAnd, tkOr, "OR")
	if err != nil || len(terms) == 1 {
		return first(terms), err
	}
	return &Or{Terms: terms}, nil
}

func (p *parser) parseAnd() (Node, error) {
	terms, err := p.parseSeq(p.parseUnit, tkAnd, "AND")
	if err != nil || len(terms) == 1 {
		return first(terms), err
	}
	return &And{Terms: terms}, nil
}

// parseSeq parses operands separated by an operator (symbol or keyword).
func (p *parser) parseSeq(operand func() (Node, error), sym tokKind, kw string) ([]Node, error) {
	var terms []Node
	for {
		n, err := operand()
		if err != nil {
			return nil, err
		}
		terms = append(terms, n)
		if t := p.peek(); t.kind != sym && !isKeyword(t, kw) {
			return terms, nil
		}
		p.next()
	}
}

func first(ns []Node) Node {
	if len(ns) == 0 {
		return nil
	}
	return ns[0]
}

func (p *parser) parseUnit() (Node, error) {
	t := p.peek()
	if t.kind == tkLParen || t.kind == tkBang || isKeyword(t, "NOT") {
		if p.depth >= maxDepth {
			return nil, p.errorf(t, "filter nested deeper than %d levels", maxDepth)
		}
		p.depth++
		defer func() { p.depth-- }()
	}
	switch {
	case t.kind == tkLParen:
		p.next()
		n, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tkRParen {
			return nil, p.errorf(c, "expected ) to close the ( at offset %d, got %s", t.pos, c.describe())
		}
		return n, nil
	case t.kind == tkBang || isKeyword(t, "NOT"):
		p.next()
		n, err := p.parseUnit()
		if err != nil {
			return nil, err
		}
		return &Not{X: n}, nil
	}
	return p.parseCond()
}

func (p *parser) parseCond() (Node, error) {
	t := p.next()
	if t.kind != tkWord {
		return nil, p.errorf(t, "expected a column name, NOT or (, got %s", t.describe())
	}
	col, ok := p.schema.Column(t.text)
	if !ok || col.Filter == flow.FilterNone {
		if ok {
			return nil, p.errorf(t, "column %s cannot be filtered on", col.Name)
		}
		return nil, p.errorf(t, "expected a column name, got unknown column %s", t.describe())
	}
	cond := &Cond{Pos: t.pos, Column: col}

	opTok := p.next()
	op, ok := p.operator(opTok)
	if !ok || !hasOp(Operators(col.Filter), op) {
		return nil, p.errorf(opTok, "expected an operator for %s (%s), got %s",
			col.Name, opList(Operators(col.Filter)), opTok.describe())
	}
	cond.Op = op
	ctx := col.Name + " " + op.String()

	if op == OpIn || op == OpNotIn {
		if l := p.next(); l.kind != tkLParen {
			return nil, p.errorf(l, "expected ( after %s, got %s", ctx, l.describe())
		}
		for {
			v, err := p.value(col, ctx+" (")
			if err != nil {
				return nil, err
			}
			cond.Values = append(cond.Values, v)
			sep := p.next()
			if sep.kind == tkRParen {
				break
			}
			if sep.kind != tkComma {
				return nil, p.errorf(sep, "expected , or ) in the list after %s, got %s", ctx, sep.describe())
			}
		}
		return cond, nil
	}

	// Another column on the right-hand side?
	if vt := p.peek(); vt.kind == tkWord {
		if other, ok := p.schema.Column(vt.text); ok {
			if _, isValue := parseValue(col, vt); !isValue {
				p.next()
				if other.Filter != col.Filter {
					return nil, p.errorf(vt, "cannot compare %s with %s: different types", col.Name, other.Name)
				}
				if !hasOp(columnOperators(col.Filter), op) {
					return nil, p.errorf(opTok, "operator %s cannot compare two columns; expected one of %s",
						op, opList(columnOperators(col.Filter)))
				}
				cond.Other = other
				return cond, nil
			}
		}
	}
	v, err := p.value(col, ctx)
	if err != nil {
		return nil, err
	}
	if col.Filter == flow.FilterIP && !v.Prefix.IsSingleIP() && (op == OpEq || op == OpNe) {
		// Akvorado accepts = and != with a subnet as << and !<<.
		cond.Op = map[Op]Op{OpEq: OpSubnet, OpNe: OpNotSubnet}[op]
	}
	cond.Values = []Value{v}
	return cond, nil
}

// operator reads an operator token: a symbol or a keyword (IN, LIKE, ...).
func (p *parser) operator(t token) (Op, bool) {
	if t.kind != tkOp && t.kind != tkWord {
		return 0, false
	}
	return opFromText(t.text)
}

func (p *parser) value(col *flow.Column, ctx string) (Value, error) {
	t := p.next()
	v, ok := parseValue(col, t)
	if !ok {
		return Value{}, p.errorf(t, "expected %s after %s, got %s", expectedValue(col), ctx, t.describe())
	}
	p.values++
	if p.values > maxValues {
		return Value{}, p.errorf(t, "more than %d values in one filter", maxValues)
	}
	return v, nil
}

func opList(ops []Op) string {
	s := make([]string, len(ops))
	for i, o := range ops {
		s[i] = o.String()
	}
	return strings.Join(s, " ")
}
