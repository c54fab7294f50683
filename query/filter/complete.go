package filter

import (
	"context"
	"strings"

	"github.com/hostflow/hostflow/flow"
)

// ValueSource supplies completion values the store knows (exporter names,
// interface names, ...). Values returns up to a reasonable number of
// values of column starting with prefix (case-insensitively); the column is
// the schema name.
type ValueSource interface {
	Values(ctx context.Context, column, prefix string) ([]string, error)
}

// CandidateKind says what a completion candidate is.
type CandidateKind string

const (
	KindColumn   CandidateKind = "column"
	KindOperator CandidateKind = "operator"
	KindValue    CandidateKind = "value"
	KindKeyword  CandidateKind = "keyword"
)

// Candidate is one proposal: Text replaces the input between Completion's
// Start and End.
type Candidate struct {
	Text   string        `json:"text"`
	Kind   CandidateKind `json:"kind"`
	Detail string        `json:"detail,omitempty"`
}

// Completion is the answer for one cursor position.
type Completion struct {
	Start      int         `json:"start"` // byte offset where the word being completed begins
	End        int         `json:"end"`   // the cursor
	Candidates []Candidate `json:"candidates"`
}

// completion states: what the grammar allows next.
type cstate uint8

const (
	cExpr      cstate = iota // column, NOT, (
	cOperator                // operator for col
	cValue                   // value (or compatible column) for col, op
	cListOpen                // ( after IN
	cListValue               // value inside an IN list
	cListSep                 // , or )
	cAfter                   // AND, OR, ) or end
	cNone                    // input invalid before the cursor: nothing to propose
)

// Complete proposes what may be typed at byte offset cursor of src: column
// names, operators valid for the column's type, values (static ones, and
// the store's through vs when not nil) and keywords. Errors come only from
// vs; invalid input before the cursor gives no candidates.
func Complete(ctx context.Context, s *flow.Schema, src string, cursor int, vs ValueSource) (Completion, error) {
	if cursor < 0 || cursor > len(src) {
		cursor = len(src)
	}
	text := src[:cursor]
	toks, lerr := lex(text)
	// An unterminated string or comment at the cursor is what is being
	// typed; any other lexing error makes the position hopeless.
	partial := ""
	start := cursor
	if lerr != nil {
		if n := len(toks); n == 0 || toks[n-1].kind != tkString || toks[n-1].end != cursor {
			return Completion{Start: cursor, End: cursor}, nil
		}
		last := toks[len(toks)-1]
		toks = toks[:len(toks)-1]
		start, partial = last.pos, text[last.pos:]
	} else {
		toks = toks[:len(toks)-1] // EOF
		if n := len(toks); n > 0 && toks[n-1].end == cursor && (toks[n-1].kind == tkWord || toks[n-1].kind == tkOp) {
			start, partial = toks[n-1].pos, toks[n-1].text
			toks = toks[:n-1]
		}
	}
	st, col, op, depth := walkState(s, toks)
	out := Completion{Start: start, End: cursor}
	add := func(kind CandidateKind, detail string, texts ...string) {
		for _, t := range texts {
			if hasPrefixFold(t, partial) {
				out.Candidates = append(out.Candidates, Candidate{Text: t, Kind: kind, Detail: detail})
			}
		}
	}
	switch st {
	case cExpr:
		for i := range s.Columns {
			c := &s.Columns[i]
			if c.Filter != flow.FilterNone {
				add(KindColumn, c.Label, c.Name)
			}
		}
		add(KindKeyword, "", "NOT", "(")
	case cOperator:
		for _, o := range Operators(col.Filter) {
			add(KindOperator, "", o.String())
		}
	case cListOpen:
		add(KindKeyword, "", "(")
	case cListSep:
		add(KindKeyword, "", ",", ")")
	case cAfter:
		add(KindKeyword, "", "AND", "OR")
		if depth > 0 {
			add(KindKeyword, "", ")")
		}
	case cValue, cListValue:
		for _, sym := range symbols(col.Filter) {
			add(KindValue, col.Label, sym.name)
		}
		if vs != nil && symbols(col.Filter) == nil {
			vals, err := vs.Values(ctx, col.Name, strings.TrimLeft(partial, `'"`))
			if err != nil {
				return out, err
			}
			for _, v := range vals {
				if col.Filter == flow.FilterString {
					v = Quote(v)
				}
				add(KindValue, col.Label, v)
			}
		}
		if st == cValue && hasOp(columnOperators(col.Filter), op) {
			// The mirror column first: SrcPort < DstPort is the usual question.
			if m := mirrorOf(s, col); m != col {
				add(KindColumn, m.Label, m.Name)
			}
			for i := range s.Columns {
				if c := &s.Columns[i]; c.Filter == col.Filter && c != col && c.Name != col.Mirror {
					add(KindColumn, c.Label, c.Name)
				}
			}
		}
	}
	return out, nil
}

// hasPrefixFold matches candidates case-insensitively; a partial string
// literal matches whichever quote the candidate uses.
func hasPrefixFold(s, prefix string) bool {
	if strings.HasPrefix(prefix, `"`) && strings.HasPrefix(s, "'") {
		prefix = "'" + prefix[1:]
	}
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// walkState runs the grammar as a state machine over complete tokens,
// tolerating what a full parse would reject later (types of values).
func walkState(s *flow.Schema, toks []token) (st cstate, col *flow.Column, op Op, depth int) {
	st = cExpr
	for _, t := range toks {
		switch st {
		case cExpr:
			switch {
			case t.kind == tkLParen:
				depth++
			case t.kind == tkBang || isKeyword(t, "NOT"):
			case t.kind == tkWord:
				c, ok := s.Column(t.text)
				if !ok || c.Filter == flow.FilterNone {
					return cNone, nil, 0, depth
				}
				col, st = c, cOperator
			default:
				return cNone, nil, 0, depth
			}
		case cOperator:
			o, ok := opFromText(t.text)
			if (t.kind != tkOp && t.kind != tkWord) || !ok || !hasOp(Operators(col.Filter), o) {
				return cNone, nil, 0, depth
			}
			op, st = o, cValue
			if o == OpIn || o == OpNotIn {
				st = cListOpen
			}
		case cValue:
			st = cAfter
		case cListOpen:
			if t.kind != tkLParen {
				return cNone, nil, 0, depth
			}
			st = cListValue
		case cListValue:
			st = cListSep
		case cListSep:
			switch t.kind {
			case tkComma:
				st = cListValue
			case tkRParen:
				st = cAfter
			default:
				return cNone, nil, 0, depth
			}
		case cAfter:
			switch {
			case t.kind == tkRParen && depth > 0:
				depth--
			case t.kind == tkAnd || t.kind == tkOr || isKeyword(t, "AND") || isKeyword(t, "OR"):
				st = cExpr
			default:
				return cNone, nil, 0, depth
			}
		}
	}
	return st, col, op, depth
}
