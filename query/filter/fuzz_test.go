package filter

import (
	"context"
	"regexp"
	"strings"
	"testing"
)

var (
	placeholder = regexp.MustCompile(`\{p[0-9]+:[A-Za-z0-9]+\}`)
	sqlToken    = regexp.MustCompile(`^(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+|!=|<=|>=|[=<>(),]| +)`)
	sqlWords    = map[string]bool{"AND": true, "OR": true, "NOT": true, "IN": true, "LIKE": true,
		"ILIKE": true, "BETWEEN": true, "toUInt128": true}
)

// checkSQLIsClosed fails unless sql, placeholders aside, consists only of
// schema column names, a fixed set of SQL words and punctuation: no byte of
// user text can reach the SQL.
func checkSQLIsClosed(t *testing.T, src, sql string) {
	t.Helper()
	rest := placeholder.ReplaceAllString(sql, "")
	for rest != "" {
		m := sqlToken.FindString(rest)
		if m == "" {
			t.Fatalf("filter %q rendered unexpected SQL text at %q in %s", src, rest, sql)
		}
		word := strings.TrimSpace(m)
		_, isColumn := schema.Column(word)
		isWord := word == "" || sqlWords[word] || (isColumn && word[0] >= 'A' && word[0] <= 'Z') ||
			strings.Trim(word, "=!<>(),") == "" || word == "1" && sql == "1"
		if !isWord {
			t.Fatalf("filter %q rendered %q outside parameters: %s", src, word, sql)
		}
		rest = rest[len(m):]
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"SrcAddr << 10.0.0.0/8 AND NOT (DstPort IN (80, 443) OR Proto = udp)",
		`ExporterName LIKE 'a\'b' OR InIfName = "x\"y\\"`,
		"SrcAS = AS64500 -- c\n AND /* d */ EType = IPv6",
		"SrcPort < DstPort || ! InIfBoundary = external && FlowDirection != egress",
		"ExporterAddress NOTIN (::1, 2001:db8::/32, 192.0.2.0/24)",
		"HostName = 'x'; DROP TABLE flows; --'",
	} {
		f.Add(s, len(s)/2)
	}
	f.Fuzz(func(t *testing.T, src string, cursor int) {
		// Completion must cope with any input at any position.
		if _, err := Complete(context.Background(), schema, src, cursor%(len(src)+1), nil); err != nil {
			t.Fatalf("Complete without a value source failed: %v", err)
		}
		flt, err := Parse(schema, src)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error is %T, not *Error", err)
			}
			return
		}
		p := NewParams("")
		sql := flt.SQL(p)
		checkSQLIsClosed(t, src, sql)
		// The canonical text parses to the same SQL and parameters.
		again, err := Parse(schema, flt.String())
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", flt.String(), src, err)
		}
		p2 := NewParams("")
		if sql2 := again.SQL(p2); sql2 != sql || len(p2.Values()) != len(p.Values()) {
			t.Fatalf("round trip changed the SQL of %q:\n-got  %s\n+want %s", src, sql2, sql)
		}
		for k, v := range p.Values() {
			if p2.Values()[k] != v {
				t.Fatalf("round trip changed parameter %s of %q: %q != %q", k, src, p2.Values()[k], v)
			}
		}
		checkSQLIsClosed(t, src, flt.Reverse(schema).SQL(NewParams("")))
	})
}
