package flow

import (
	"net/netip"
	"testing"
)

func TestSchemaColumnsAreConsistent(t *testing.T) {
	s := NewSchema()
	seen := map[string]bool{}
	for _, c := range s.Columns {
		if seen[c.Name] {
			t.Errorf("duplicate column %s", c.Name)
		}
		seen[c.Name] = true
		n := 0
		if c.Uint != nil {
			n++
		}
		if c.Str != nil {
			n++
		}
		if c.Addr != nil {
			n++
		}
		if n != 1 {
			t.Errorf("%s: %d accessors, want exactly 1", c.Name, n)
		}
		switch {
		case c.Kind.Numeric() && c.Uint == nil,
			c.Kind == KindIPv6 && c.Addr == nil,
			(c.Kind == KindString || c.Kind == KindFixedString2) && c.Str == nil:
			t.Errorf("%s: accessor does not match kind %v", c.Name, c.Kind)
		}
		if c.Kind.ClickHouseType() == "" {
			t.Errorf("%s: no ClickHouse type", c.Name)
		}
		if c.Mirror != "" {
			m, ok := s.Column(c.Mirror)
			if !ok || m.Mirror != c.Name {
				t.Errorf("%s: mirror %s is not mirrored back", c.Name, c.Mirror)
			}
		}
	}
	for _, name := range []string{"TimeReceived", "SrcAddr", "DstAddr", "InIfName", "OutIfName", "Bytes", "Packets", "ProcessName"} {
		if !seen[name] {
			t.Errorf("missing column %s", name)
		}
	}
}

// The mirrored getters must read the right side: a copy-paste slip here
// would silently swap Src and Dst in every stored flow.
func TestSchemaAccessorsReadTheirField(t *testing.T) {
	s := NewSchema()
	r := Record{
		SrcAddr: netip.MustParseAddr("2001:db8::1"), DstAddr: netip.MustParseAddr("2001:db8::2"),
		SrcPort: 1111, DstPort: 2222, InIf: 3, OutIf: 4, InIfName: "eth0", OutIfName: "eth1",
		SrcAS: 64500, DstAS: 64501, SrcCountry: "FR", DstCountry: "DE", Bytes: 1500, Packets: 1,
		InIfBoundary: BoundaryExternal, OutIfBoundary: BoundaryInternal,
	}
	cases := []struct {
		col  string
		want any
	}{
		{"SrcAddr", r.SrcAddr}, {"DstAddr", r.DstAddr},
		{"SrcPort", uint64(1111)}, {"DstPort", uint64(2222)},
		{"InIf", uint64(3)}, {"OutIf", uint64(4)},
		{"InIfName", "eth0"}, {"OutIfName", "eth1"},
		{"SrcAS", uint64(64500)}, {"DstAS", uint64(64501)},
		{"SrcCountry", "FR"}, {"DstCountry", "DE"},
		{"InIfBoundary", uint64(1)}, {"OutIfBoundary", uint64(2)},
		{"Bytes", uint64(1500)}, {"Packets", uint64(1)},
	}
	for _, tc := range cases {
		c, ok := s.Column(tc.col)
		if !ok {
			t.Fatalf("no column %s", tc.col)
		}
		var got any
		switch {
		case c.Uint != nil:
			got = c.Uint(&r)
		case c.Str != nil:
			got = c.Str(&r)
		case c.Addr != nil:
			got = c.Addr(&r)
		}
		if got != tc.want {
			t.Errorf("%s = %v, want %v", tc.col, got, tc.want)
		}
	}
}

func TestReverseSwapsSides(t *testing.T) {
	r := Record{SrcAddr: netip.MustParseAddr("10.0.0.1"), DstAddr: netip.MustParseAddr("10.0.0.2"),
		SrcPort: 1, DstPort: 2, InIf: 5, OutIf: 6, InIfName: "a", OutIfName: "b", Bytes: 9}
	r.Reverse()
	if r.SrcAddr.String() != "10.0.0.2" || r.SrcPort != 2 || r.InIf != 6 || r.InIfName != "b" || r.Bytes != 9 {
		t.Errorf("Reverse: %+v", r)
	}
}
