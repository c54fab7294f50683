package filter

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits that keep hostile input cheap: the parser is recursive, and every
// value becomes a bound parameter.
const (
	MaxLength = 64 << 10 // bytes of filter text
	maxDepth  = 64       // nested parentheses and NOTs
	maxValues = 4096     // values in one filter (IN lists included)
)

type tokKind uint8

const (
	tkEOF    tokKind = iota
	tkWord           // column names, keywords and unquoted values
	tkString         // quoted string; text holds the decoded value
	tkLParen
	tkRParen
	tkComma
	tkOp  // = != < <= > >= << !<<
	tkAnd // &&
	tkOr  // ||
	tkBang
)

type token struct {
	kind     tokKind
	text     string
	pos, end int // byte offsets in the source
}

// describe names a token for error messages.
func (t token) describe() string {
	switch t.kind {
	case tkEOF:
		return "end of input"
	case tkString:
		return "string " + strconv.Quote(t.text)
	}
	return strconv.Quote(t.text)
}

// isWordByte reports whether c may appear in an unquoted word: identifiers,
// numbers, IPv4/IPv6 addresses and subnets, and names such as ipv6-icmp.
func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '.' || c == ':' || c == '/' || c == '-'
}

// lex splits src into tokens. On error it also returns the tokens read so
// far (completion works on incomplete input) and, when the error is an
// unterminated string, that string as a last token.
func lex(src string) ([]token, *Error) {
	if len(src) > MaxLength {
		return nil, errorAt(src, MaxLength, "filter longer than %d bytes", MaxLength)
	}
	var toks []token
	i := 0
	for {
		// Whitespace and comments.
		for i < len(src) {
			c := src[i]
			switch {
			case c == ' ' || c == '\t' || c == '\n' || c == '\r':
				i++
				continue
			case strings.HasPrefix(src[i:], "--"):
				if nl := strings.IndexByte(src[i:], '\n'); nl >= 0 {
					i += nl + 1
				} else {
					i = len(src)
				}
				continue
			case strings.HasPrefix(src[i:], "/*"):
				end := strings.Index(src[i+2:], "*/")
				if end < 0 {
					return toks, errorAt(src, i, "comment not closed: expected */ before end of input")
				}
				i += 2 + end + 2
				continue
			}
			break
		}
		if i >= len(src) {
			return append(toks, token{kind: tkEOF, pos: len(src), end: len(src)}), nil
		}
		start := i
		c := src[i]
		switch {
		case c == '(':
			toks = append(toks, token{kind: tkLParen, text: "(", pos: i, end: i + 1})
			i++
		case c == ')':
			toks = append(toks, token{kind: tkRParen, text: ")", pos: i, end: i + 1})
			i++
		case c == ',':
			toks = append(toks, token{kind: tkComma, text: ",", pos: i, end: i + 1})
			i++
		case c == '\'' || c == '"':
			s, n, err := lexString(src, i)
			if err != nil {
				if s != nil {
					toks = append(toks, *s)
				}
				return toks, err
			}
			toks = append(toks, token{kind: tkString, text: n, pos: start, end: s.end})
			i = s.end
		case c == '=' || c == '<' || c == '>' || c == '!' || c == '&' || c == '|':
			op, kind := lexOperator(src[i:])
			if op == "" {
				return toks, errorAt(src, i, "unexpected character %q", string(c))
			}
			toks = append(toks, token{kind: kind, text: op, pos: i, end: i + len(op)})
			i += len(op)
		case isWordByte(c):
			for i < len(src) && isWordByte(src[i]) {
				// A comment may follow a word without a space.
				if strings.HasPrefix(src[i:], "--") || strings.HasPrefix(src[i:], "/*") {
					break
				}
				i++
			}
			toks = append(toks, token{kind: tkWord, text: src[start:i], pos: start, end: i})
		default:
			r, _ := utf8.DecodeRuneInString(src[i:])
			if r == utf8.RuneError {
				return toks, errorAt(src, i, "invalid UTF-8 in filter")
			}
			return toks, errorAt(src, i, "unexpected character %q", string(r))
		}
	}
}

func lexOperator(s string) (string, tokKind) {
	for _, op := range []string{"!<<", "!=", "<=", ">=", "<<", "=", "<", ">"} {
		if strings.HasPrefix(s, op) {
			return op, tkOp
		}
	}
	switch {
	case strings.HasPrefix(s, "&&"):
		return "&&", tkAnd
	case strings.HasPrefix(s, "||"):
		return "||", tkOr
	case s[0] == '!':
		return "!", tkBang
	}
	return "", tkEOF
}

// lexString reads a quoted string starting at src[i]. Escapes: \' \" \\.
// It returns the token (end set), the decoded value and an error; on an
// unterminated string the token is still returned (for completion) with the
// partial value in its text.
func lexString(src string, i int) (*token, string, *Error) {
	quote := src[i]
	var b strings.Builder
	j := i + 1
	for j < len(src) {
		c := src[j]
		switch {
		case c == quote:
			return &token{kind: tkString, text: b.String(), pos: i, end: j + 1}, b.String(), nil
		case c == '\\':
			if j+1 >= len(src) {
				j++
				continue
			}
			switch e := src[j+1]; e {
			case '\'', '"', '\\':
				b.WriteByte(e)
				j += 2
			default:
				return nil, "", errorAt(src, j, `unknown escape \%s in string: expected \', \" or \\`, string(rune(e)))
			}
		case c == '\n':
			t := &token{kind: tkString, text: b.String(), pos: i, end: j}
			return t, "", errorAt(src, i, "string not terminated: expected %c before end of line", quote)
		case c == 0:
			return nil, "", errorAt(src, j, "NUL byte in string")
		default:
			r, n := utf8.DecodeRuneInString(src[j:])
			if r == utf8.RuneError && n <= 1 {
				return nil, "", errorAt(src, j, "invalid UTF-8 in string")
			}
			b.WriteString(src[j : j+n])
			j += n
		}
	}
	t := &token{kind: tkString, text: b.String(), pos: i, end: len(src)}
	return t, "", errorAt(src, i, "string not terminated: expected %c before end of input", quote)
}
