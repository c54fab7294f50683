package metadata

import (
	"net/netip"
	"testing"
)

// fixed is a provider answering the same for every key.
type fixed struct {
	e   Exporter
	i   Interface
	ok  bool
	ask *int // counts calls
}

func (f fixed) FillExporter(_ Key, e *Exporter) bool {
	*f.ask++
	if f.ok {
		e.Merge(f.e)
	}
	return f.ok
}

func (f fixed) FillInterface(_ Key, _ uint32, i *Interface) bool {
	*f.ask++
	if f.ok {
		i.Merge(f.i)
	}
	return f.ok
}

func TestChain(t *testing.T) {
	var n1, n2, n3 int
	c := Chain{
		fixed{e: Exporter{Name: "from-inband", HostName: "h"}, i: Interface{Name: "eth0", Kind: "physical"}, ok: true, ask: &n1},
		fixed{ok: false, ask: &n2},
		fixed{e: Exporter{Name: "from-static", Site: "par1"}, i: Interface{Name: "x", Speed: 1000, Boundary: 1}, ok: true, ask: &n3},
	}
	k := MakeKey(netip.MustParseAddr("::ffff:192.0.2.1"), 0)
	e, ok := c.Exporter(k)
	if want := (Exporter{Name: "from-inband", HostName: "h", Site: "par1"}); !ok || e != want {
		t.Errorf("exporter: -got +want\n-%+v\n+%+v", e, want)
	}
	i, ok := c.Interface(k, 3)
	if want := (Interface{Name: "eth0", Kind: "physical", Speed: 1000, Boundary: 1}); !ok || i != want {
		t.Errorf("interface: -got +want\n-%+v\n+%+v", i, want)
	}
	if n1 != 2 || n2 != 2 || n3 != 2 {
		t.Errorf("every provider is asked (later ones fill the rest): %d %d %d", n1, n2, n3)
	}
	if _, ok := (Chain{fixed{ask: new(int)}}).Exporter(k); ok {
		t.Error("ok without any provider knowing")
	}
}

func TestChange(t *testing.T) {
	k := MakeKey(netip.MustParseAddr("::ffff:192.0.2.1"), 7)
	if k.Addr != netip.MustParseAddr("192.0.2.1") {
		t.Errorf("key not unmapped: %s", k.Addr)
	}
	tests := []struct {
		c       Change
		matches bool
		if3     bool
	}{
		{Change{Addr: netip.MustParseAddr("192.0.2.1"), SubAgent: 7, IfIndexes: []uint32{3}}, true, true},
		{Change{Addr: netip.MustParseAddr("::ffff:192.0.2.1"), SubAgent: 8}, false, false},
		{Change{Addr: netip.MustParseAddr("192.0.2.1"), AllSubAgents: true, AllInterfaces: true}, true, true},
		{Change{Addr: netip.MustParseAddr("192.0.2.2"), AllSubAgents: true, IfIndexes: []uint32{4}}, false, false},
	}
	for _, tt := range tests {
		if got := tt.c.Matches(k); got != tt.matches {
			t.Errorf("%+v Matches = %v", tt.c, got)
		}
		if got := tt.c.Concerns(3); got != tt.if3 {
			t.Errorf("%+v Concerns(3) = %v", tt.c, got)
		}
	}
}

func TestBoundary(t *testing.T) {
	for _, s := range []string{"external", "internal", "undefined"} {
		b, err := ParseBoundary(s)
		if err != nil || b.String() != s {
			t.Errorf("%s: %v %v", s, b, err)
		}
	}
	if _, err := ParseBoundary("edge"); err == nil {
		t.Error("edge accepted")
	}
}
