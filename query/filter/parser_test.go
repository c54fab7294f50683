package filter

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hostflow/hostflow/flow"
)

var schema = flow.NewSchema()

func mustParse(t *testing.T, src string) *Filter {
	t.Helper()
	f, err := Parse(schema, src)
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	return f
}

// TestParseRender covers every operator of every column type: the
// canonical text, the SQL and its parameters.
func TestParseRender(t *testing.T) {
	type params = map[string]string
	cases := []struct {
		in, text, sql string
		params        params
	}{
		{"", "", "1", params{}},
		{"  -- only a comment\n /* and another */ ", "", "1", params{}},
		// IP
		{"SrcAddr = 192.0.2.1", "SrcAddr = 192.0.2.1", "SrcAddr = {p1:IPv6}", params{"p1": "::ffff:192.0.2.1"}},
		{"dstaddr != 2001:db8::1", "DstAddr != 2001:db8::1", "DstAddr != {p1:IPv6}", params{"p1": "2001:db8::1"}},
		{"SrcAddr << 10.0.0.0/8", "SrcAddr << 10.0.0.0/8",
			"toUInt128(SrcAddr) BETWEEN {p1:UInt128} AND {p2:UInt128}",
			params{"p1": "281470849515520", "p2": "281470866292735"}},
		{"SrcAddr = 10.1.2.3/8", "SrcAddr << 10.0.0.0/8",
			"toUInt128(SrcAddr) BETWEEN {p1:UInt128} AND {p2:UInt128}",
			params{"p1": "281470849515520", "p2": "281470866292735"}},
		{"SrcAddr !<< 2001:db8::/32", "SrcAddr !<< 2001:db8::/32",
			"toUInt128(SrcAddr) NOT BETWEEN {p1:UInt128} AND {p2:UInt128}",
			params{"p1": "42540766411282592856903984951653826560", "p2": "42540766490510755371168322545197776895"}},
		{"SrcAddr != 2001:db8::/32", "SrcAddr !<< 2001:db8::/32",
			"toUInt128(SrcAddr) NOT BETWEEN {p1:UInt128} AND {p2:UInt128}",
			params{"p1": "42540766411282592856903984951653826560", "p2": "42540766490510755371168322545197776895"}},
		{"SrcAddr << 192.0.2.7/32", "SrcAddr << 192.0.2.7", "SrcAddr = {p1:IPv6}", params{"p1": "::ffff:192.0.2.7"}},
		{"ExporterAddress IN (192.0.2.1, 10.0.0.0/31, ::1)", "ExporterAddress IN (192.0.2.1, 10.0.0.0/31, ::1)",
			"(ExporterAddress IN ({p1:IPv6}, {p2:IPv6}) OR toUInt128(ExporterAddress) BETWEEN {p3:UInt128} AND {p4:UInt128})",
			params{"p1": "::ffff:192.0.2.1", "p2": "::1", "p3": "281470849515520", "p4": "281470849515521"}},
		{"NextHop NOTIN (::/0)", "NextHop NOTIN (::/0)",
			"NOT (toUInt128(NextHop) BETWEEN {p1:UInt128} AND {p2:UInt128})",
			params{"p1": "0", "p2": "340282366920938463463374607431768211455"}},
		// String
		{`ExporterName = "edge-1"`, `ExporterName = 'edge-1'`, "ExporterName = {p1:String}", params{"p1": "edge-1"}},
		{`ExporterName != 'a\'b\"c\\d'`, `ExporterName != 'a\'b"c\\d'`, "ExporterName != {p1:String}", params{"p1": `a'b"c\d`}},
		{`InIfName LIKE 'eth%'`, `InIfName LIKE 'eth%'`, "InIfName LIKE {p1:String}", params{"p1": "eth%"}},
		{`InIfName ilike 'ETH%'`, `InIfName ILIKE 'ETH%'`, "InIfName ILIKE {p1:String}", params{"p1": "ETH%"}},
		{`InIfName UNLIKE 'lo%'`, `InIfName UNLIKE 'lo%'`, "InIfName NOT LIKE {p1:String}", params{"p1": "lo%"}},
		{`InIfName IUNLIKE 'LO%'`, `InIfName IUNLIKE 'LO%'`, "InIfName NOT ILIKE {p1:String}", params{"p1": "LO%"}},
		{`SrcCountry IN ('FR', "DE")`, `SrcCountry IN ('FR', 'DE')`, "SrcCountry IN ({p1:String}, {p2:String})",
			params{"p1": "FR", "p2": "DE"}},
		{`ProcessName NOTIN ('sshd')`, `ProcessName NOTIN ('sshd')`, "ProcessName NOT IN ({p1:String})", params{"p1": "sshd"}},
		{`HostName = ''`, `HostName = ''`, "HostName = {p1:String}", params{"p1": ""}},
		{`HostName = 'é日本'`, `HostName = 'é日本'`, "HostName = {p1:String}", params{"p1": "é日本"}},
		// Uint
		{"SrcPort = 443", "SrcPort = 443", "SrcPort = {p1:UInt16}", params{"p1": "443"}},
		{"DstPort != 22", "DstPort != 22", "DstPort != {p1:UInt16}", params{"p1": "22"}},
		{"DstPort < 1024", "DstPort < 1024", "DstPort < {p1:UInt16}", params{"p1": "1024"}},
		{"DstPort <= 1024", "DstPort <= 1024", "DstPort <= {p1:UInt16}", params{"p1": "1024"}},
		{"InIfSpeed > 1000", "InIfSpeed > 1000", "InIfSpeed > {p1:UInt32}", params{"p1": "1000"}},
		{"IPTTL >= 255", "IPTTL >= 255", "IPTTL >= {p1:UInt8}", params{"p1": "255"}},
		{"SrcMAC = 18446744073709551615", "SrcMAC = 18446744073709551615", "SrcMAC = {p1:UInt64}",
			params{"p1": "18446744073709551615"}},
		{"DstPort IN (80, 443)", "DstPort IN (80, 443)", "DstPort IN ({p1:UInt16}, {p2:UInt16})", params{"p1": "80", "p2": "443"}},
		{"DstPort NOTIN (53)", "DstPort NOTIN (53)", "DstPort NOT IN ({p1:UInt16})", params{"p1": "53"}},
		// ASN
		{"SrcAS = AS64500", "SrcAS = AS64500", "SrcAS = {p1:UInt32}", params{"p1": "64500"}},
		{"DstAS = as64500", "DstAS = AS64500", "DstAS = {p1:UInt32}", params{"p1": "64500"}},
		{"SrcAS != 64500", "SrcAS != AS64500", "SrcAS != {p1:UInt32}", params{"p1": "64500"}},
		{"SrcAS IN (AS1, 2)", "SrcAS IN (AS1, AS2)", "SrcAS IN ({p1:UInt32}, {p2:UInt32})", params{"p1": "1", "p2": "2"}},
		{"SrcAS >= 64512", "SrcAS >= AS64512", "SrcAS >= {p1:UInt32}", params{"p1": "64512"}},
		// Proto
		{"Proto = TCP", "Proto = tcp", "Proto = {p1:UInt32}", params{"p1": "6"}},
		{"Proto = 'udp'", "Proto = udp", "Proto = {p1:UInt32}", params{"p1": "17"}},
		{"Proto != 132", "Proto != 132", "Proto != {p1:UInt32}", params{"p1": "132"}},
		{"Proto IN (icmp, ipv6-icmp, gre, esp, sctp)", "Proto IN (icmp, ipv6-icmp, gre, esp, sctp)",
			"Proto IN ({p1:UInt32}, {p2:UInt32}, {p3:UInt32}, {p4:UInt32}, {p5:UInt32})",
			params{"p1": "1", "p2": "58", "p3": "47", "p4": "50", "p5": "132"}},
		{"Proto < 17", "Proto < 17", "Proto < {p1:UInt32}", params{"p1": "17"}},
		// EType
		{"EType = ipv4", "EType = IPv4", "EType = {p1:UInt32}", params{"p1": "2048"}},
		{"EType != IPv6", "EType != IPv6", "EType != {p1:UInt32}", params{"p1": "34525"}},
		// Boundary, direction
		{"InIfBoundary = external", "InIfBoundary = external", "InIfBoundary = {p1:UInt8}", params{"p1": "1"}},
		{"OutIfBoundary != 'Internal'", "OutIfBoundary != internal", "OutIfBoundary != {p1:UInt8}", params{"p1": "2"}},
		{"InIfBoundary IN (undefined, internal)", "InIfBoundary IN (undefined, internal)",
			"InIfBoundary IN ({p1:UInt8}, {p2:UInt8})", params{"p1": "0", "p2": "2"}},
		{"FlowDirection = egress", "FlowDirection = egress", "FlowDirection = {p1:UInt8}", params{"p1": "2"}},
		{"FlowDirection != ingress", "FlowDirection != ingress", "FlowDirection != {p1:UInt8}", params{"p1": "1"}},
		// Column to column
		{"SrcPort < DstPort", "SrcPort < DstPort", "SrcPort < DstPort", params{}},
		{"SrcAS != DstAS", "SrcAS != DstAS", "SrcAS != DstAS", params{}},
		{"SrcAddr = DstAddr", "SrcAddr = DstAddr", "SrcAddr = DstAddr", params{}},
		{"InIfName = OutIfName", "InIfName = OutIfName", "InIfName = OutIfName", params{}},
		{"SrcCountry != DstCountry", "SrcCountry != DstCountry", "SrcCountry != DstCountry", params{}},
		{"InIfBoundary != OutIfBoundary", "InIfBoundary != OutIfBoundary", "InIfBoundary != OutIfBoundary", params{}},
		// Logic and precedence
		{"SrcPort = 1 OR SrcPort = 2 AND DstPort = 3", "SrcPort = 1 OR SrcPort = 2 AND DstPort = 3",
			"(SrcPort = {p1:UInt16} OR (SrcPort = {p2:UInt16} AND DstPort = {p3:UInt16}))",
			params{"p1": "1", "p2": "2", "p3": "3"}},
		{"(SrcPort = 1 OR SrcPort = 2) AND DstPort = 3", "(SrcPort = 1 OR SrcPort = 2) AND DstPort = 3",
			"((SrcPort = {p1:UInt16} OR SrcPort = {p2:UInt16}) AND DstPort = {p3:UInt16})",
			params{"p1": "1", "p2": "2", "p3": "3"}},
		{"NOT SrcPort = 1 AND DstPort = 2", "NOT SrcPort = 1 AND DstPort = 2",
			"(NOT (SrcPort = {p1:UInt16}) AND DstPort = {p2:UInt16})", params{"p1": "1", "p2": "2"}},
		{"not (SrcPort = 1 and DstPort = 2)", "NOT (SrcPort = 1 AND DstPort = 2)",
			"NOT ((SrcPort = {p1:UInt16} AND DstPort = {p2:UInt16}))", params{"p1": "1", "p2": "2"}},
		{"! SrcPort = 1 && DstPort = 2 || Proto = tcp", "NOT SrcPort = 1 AND DstPort = 2 OR Proto = tcp",
			"((NOT (SrcPort = {p1:UInt16}) AND DstPort = {p2:UInt16}) OR Proto = {p3:UInt32})",
			params{"p1": "1", "p2": "2", "p3": "6"}},
		{"NOT NOT SrcPort = 1", "NOT NOT SrcPort = 1", "NOT (NOT (SrcPort = {p1:UInt16}))", params{"p1": "1"}},
		{"((SrcPort = 1))", "SrcPort = 1", "SrcPort = {p1:UInt16}", params{"p1": "1"}},
		{"SrcPort=1--comment\nAND/*x*/DstPort=2", "SrcPort = 1 AND DstPort = 2",
			"(SrcPort = {p1:UInt16} AND DstPort = {p2:UInt16})", params{"p1": "1", "p2": "2"}},
		{"InIfBoundary = external AND SrcAS = AS12322 AND DstAddr << 2001:db8::/32 AND ExporterName LIKE 'th2-%'",
			"InIfBoundary = external AND SrcAS = AS12322 AND DstAddr << 2001:db8::/32 AND ExporterName LIKE 'th2-%'",
			"(InIfBoundary = {p1:UInt8} AND SrcAS = {p2:UInt32} AND toUInt128(DstAddr) BETWEEN {p3:UInt128} AND {p4:UInt128} AND ExporterName LIKE {p5:String})",
			params{"p1": "1", "p2": "12322", "p3": "42540766411282592856903984951653826560",
				"p4": "42540766490510755371168322545197776895", "p5": "th2-%"}},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			f := mustParse(t, c.in)
			if got := f.String(); got != c.text {
				t.Errorf("String():\n-got  %s\n+want %s", got, c.text)
			}
			p := NewParams("")
			if got := f.SQL(p); got != c.sql {
				t.Errorf("SQL():\n-got  %s\n+want %s", got, c.sql)
			}
			if !maps.Equal(p.Values(), c.params) {
				t.Errorf("params:\n-got  %v\n+want %v", p.Values(), c.params)
			}
			assertRoundTrip(t, f)
		})
	}
}

// assertRoundTrip checks AST -> text -> AST gives the same AST.
func assertRoundTrip(t *testing.T, f *Filter) {
	t.Helper()
	text := f.String()
	g, err := Parse(schema, text)
	if err != nil {
		t.Fatalf("reparse %q: %v", text, err)
	}
	if a, b := stripPos(f.Root), stripPos(g.Root); !reflect.DeepEqual(a, b) {
		t.Errorf("round trip of %q changed the AST:\n-got  %#v\n+want %#v", text, b, a)
	}
}

func stripPos(n Node) Node {
	switch n := n.(type) {
	case *Or:
		return &Or{Terms: stripAll(n.Terms)}
	case *And:
		return &And{Terms: stripAll(n.Terms)}
	case *Not:
		return &Not{X: stripPos(n.X)}
	case *Cond:
		c := *n
		c.Pos = 0
		return &c
	}
	return n
}

func stripAll(ns []Node) []Node {
	out := make([]Node, len(ns))
	for i, n := range ns {
		out[i] = stripPos(n)
	}
	return out
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		in        string
		line, col int
		msg       string
	}{
		{"SrcAddr = foo", 1, 11, `expected an IP address or subnet after SrcAddr =, got "foo"`},
		{"SrcAddr =", 1, 10, `expected an IP address or subnet after SrcAddr =, got end of input`},
		{"SrcAddr = 1.2.3.4%eth0", 1, 18, `unexpected character "%"`},
		{"SrcAddr = 10.0.0.0/33", 1, 11, `expected an IP address or subnet after SrcAddr =, got "10.0.0.0/33"`},
		{"SrcAddr LIKE 'x'", 1, 9, `expected an operator for SrcAddr (= != << !<< IN NOTIN), got "LIKE"`},
		{"SrcPort = 65536", 1, 11, `expected an unsigned integer (0-65535) after SrcPort =, got "65536"`},
		{"IPTTL > 256", 1, 9, `expected an unsigned integer (0-255) after IPTTL >, got "256"`},
		{"SrcPort = -1", 1, 11, `expected an unsigned integer (0-65535) after SrcPort =, got "-1"`},
		{"SrcPort = '80'", 1, 11, `expected an unsigned integer (0-65535) after SrcPort =, got string "80"`},
		{"SrcPort << 80", 1, 9, `expected an operator for SrcPort (= != < <= > >= IN NOTIN), got "<<"`},
		{"ExporterName = edge", 1, 16, `expected a quoted string after ExporterName =, got "edge"`},
		{"ExporterName = 'edge", 1, 16, `string not terminated: expected ' before end of input`},
		{"ExporterName = \"ed\nge\"", 1, 16, `string not terminated: expected " before end of line`},
		{`ExporterName = 'a\nb'`, 1, 18, `unknown escape \n in string: expected \', \" or \\`},
		{"ExporterName = 'a\x00b'", 1, 18, `NUL byte in string`},
		{"ExporterName = 'a\xffb'", 1, 18, `invalid UTF-8 in string`},
		{"SrcAS = AS", 1, 9, `expected an AS number (AS64500 or 64500) after SrcAS =, got "AS"`},
		{"SrcAS = AS4294967296", 1, 9, `expected an AS number (AS64500 or 64500) after SrcAS =, got "AS4294967296"`},
		{"Proto = foo", 1, 9, `expected a protocol name (tcp, udp, icmp, ...) or number (0-255) after Proto =, got "foo"`},
		{"Proto = 256", 1, 9, `expected a protocol name (tcp, udp, icmp, ...) or number (0-255) after Proto =, got "256"`},
		{"EType = IPv5", 1, 9, `expected IPv4 or IPv6 after EType =, got "IPv5"`},
		{"EType < IPv4", 1, 7, `expected an operator for EType (= != IN NOTIN), got "<"`},
		{"InIfBoundary = outside", 1, 16, `expected external, internal or undefined after InIfBoundary =, got "outside"`},
		{"FlowDirection = 1", 1, 17, `expected ingress, egress or undefined after FlowDirection =, got "1"`},
		{"Foo = 1", 1, 1, `expected a column name, got unknown column "Foo"`},
		{"Bytes > 1", 1, 1, `column Bytes cannot be filtered on`},
		{"= 1", 1, 1, `expected a column name, NOT or (, got "="`},
		{"SrcPort", 1, 8, `expected an operator for SrcPort (= != < <= > >= IN NOTIN), got end of input`},
		{"SrcPort = 1 DstPort = 2", 1, 13, `expected AND, OR or end of input, got "DstPort"`},
		{"SrcPort = 1 AND", 1, 16, `expected a column name, NOT or (, got end of input`},
		{"(SrcPort = 1", 1, 13, `expected ) to close the ( at offset 0, got end of input`},
		{"SrcPort = 1)", 1, 12, `unbalanced ): no ( to close`},
		{"SrcPort IN 80", 1, 12, `expected ( after SrcPort IN, got "80"`},
		{"SrcPort IN (80 443)", 1, 16, `expected , or ) in the list after SrcPort IN, got "443"`},
		{"SrcPort IN ()", 1, 13, `expected an unsigned integer (0-65535) after SrcPort IN (, got ")"`},
		{"SrcPort = DstAddr", 1, 11, `cannot compare SrcPort with DstAddr: different types`},
		{"SrcAS = SrcPort", 1, 9, `cannot compare SrcAS with SrcPort: different types`},
		{"InIfName LIKE OutIfName", 1, 10, `operator LIKE cannot compare two columns; expected one of = !=`},
		{"SrcPort = 1 /* open", 1, 13, `comment not closed: expected */ before end of input`},
		{"SrcPort = 1 ; DROP TABLE flows", 1, 13, `unexpected character ";"`},
		{"SrcPort = 1 AND\n  DstPort = x", 2, 13, `expected an unsigned integer (0-65535) after DstPort =, got "x"`},
		{"HostName = 'é' AND\n\tSrcPort = é", 2, 12, `unexpected character "é"`},
		{"SrcPort = 1 & DstPort = 2", 1, 13, `unexpected character "&"`},
		{strings.Repeat("(", 70) + "SrcPort = 1" + strings.Repeat(")", 70), 1, 65, `filter nested deeper than 64 levels`},
		{strings.Repeat("NOT ", 70) + "SrcPort = 1", 1, 257, `filter nested deeper than 64 levels`},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			_, err := Parse(schema, c.in)
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("Parse(%q) = %v, want *Error", c.in, err)
			}
			if e.Line != c.line || e.Column != c.col || e.Msg != c.msg {
				t.Errorf("Parse(%q):\n-got  %d:%d %s\n+want %d:%d %s", c.in, e.Line, e.Column, e.Msg, c.line, c.col, c.msg)
			}
			if want := "line "; !strings.HasPrefix(e.Error(), want) {
				t.Errorf("Error() = %q, want a line prefix", e.Error())
			}
		})
	}
}

func TestLimits(t *testing.T) {
	long := "HostName = '" + strings.Repeat("a", MaxLength) + "'"
	if _, err := Parse(schema, long); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("Parse(long) = %v, want a length error", err)
	}
	many := "SrcPort IN (" + strings.Repeat("1, ", maxValues) + "1)"
	if _, err := Parse(schema, many); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("Parse(many values) = %v, want a count error", err)
	}
}

func TestReverse(t *testing.T) {
	cases := []struct{ in, want string }{
		{"SrcAddr << 10.0.0.0/8 AND DstPort = 443", "DstAddr << 10.0.0.0/8 AND SrcPort = 443"},
		{"InIfName = 'eth0' OR OutIfBoundary = external", "OutIfName = 'eth0' OR InIfBoundary = external"},
		{"NOT (SrcAS = AS1 AND Proto = tcp)", "NOT (DstAS = AS1 AND Proto = tcp)"},
		{"SrcPort < DstPort", "DstPort < SrcPort"},
		{"ExporterName = 'x' AND HostName = 'h'", "ExporterName = 'x' AND HostName = 'h'"},
		{"", ""},
	}
	for _, c := range cases {
		f := mustParse(t, c.in)
		r := f.Reverse(schema)
		if got := r.String(); got != c.want {
			t.Errorf("Reverse(%q):\n-got  %s\n+want %s", c.in, got, c.want)
		}
		if back := r.Reverse(schema).String(); back != f.String() {
			t.Errorf("Reverse twice of %q = %q", c.in, back)
		}
		if f.String() != mustParse(t, c.in).String() {
			t.Errorf("Reverse modified the original filter %q", c.in)
		}
	}
}

func TestColumns(t *testing.T) {
	cases := []struct {
		in       string
		cols     []string
		mainOnly bool
	}{
		{"", nil, false},
		{"SrcAS = 1 AND (InIfName = 'a' OR SrcAS = 2)", []string{"SrcAS", "InIfName"}, false},
		{"SrcAS = DstAS", []string{"SrcAS", "DstAS"}, false},
		{"Proto = tcp AND SrcPort = 22", []string{"Proto", "SrcPort"}, true},
		{"NOT SrcAddr = ::1", []string{"SrcAddr"}, true},
		{"Cgroup LIKE '%docker%'", []string{"Cgroup"}, true},
	}
	for _, c := range cases {
		f := mustParse(t, c.in)
		var names []string
		for _, col := range f.Columns() {
			names = append(names, col.Name)
		}
		if !slices.Equal(names, c.cols) {
			t.Errorf("Columns(%q):\n-got  %v\n+want %v", c.in, names, c.cols)
		}
		if got := f.MainOnly(); got != c.mainOnly {
			t.Errorf("MainOnly(%q) = %v, want %v", c.in, got, c.mainOnly)
		}
	}
}

// TestParamsShared checks that two filters rendered into one Params never
// reuse a name (filter and reversed filter live in one query).
func TestParamsShared(t *testing.T) {
	f := mustParse(t, "SrcPort = 1 AND SrcAddr << 10.0.0.0/8")
	p := NewParams("f")
	a := f.SQL(p)
	b := f.Reverse(schema).SQL(p)
	if strings.Contains(b, "{f1:") || !strings.Contains(b, "{f4:") || !strings.Contains(a, "{f1:") {
		t.Errorf("shared params reused names:\n%s\n%s", a, b)
	}
	if len(p.Values()) != 6 {
		t.Errorf("got %d params, want 6", len(p.Values()))
	}
}
