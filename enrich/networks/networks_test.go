package networks

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/hostflow/hostflow/enrich/iptrie"
	"github.com/hostflow/hostflow/internal/config"
)

const conf = `
- prefix: 10.0.0.0/8
  name: corp
  tenant: acme
- prefix: 10.1.0.0/16
  site: par1
  region: eu
- prefix: 10.1.2.0/24
  name: par1-db
  role: database
- prefix: 2001:db8::/32
  name: corp6
- prefix: fd7a:115c:a1e0::/48
  name: our-tailnet
`

func load(t *testing.T, builtin bool) *Table {
	t.Helper()
	var cfg Config
	if err := config.Parse("networks.yaml", []byte(conf), &cfg); err != nil {
		t.Fatal(err)
	}
	tab, err := New(cfg, builtin)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func TestLookup(t *testing.T) {
	tab := load(t, true)
	tests := []struct {
		addr string
		want Attributes
	}{
		// Inheritance: the /24 takes site/region from the /16, tenant from
		// the /8, and the builtin role "private" is overridden by its own.
		{"10.1.2.3", Attributes{Name: "par1-db", Role: "database", Site: "par1", Region: "eu", Tenant: "acme"}},
		{"10.1.3.3", Attributes{Name: "corp", Role: "private", Site: "par1", Region: "eu", Tenant: "acme"}},
		{"10.9.9.9", Attributes{Name: "corp", Role: "private", Tenant: "acme"}},
		{"::ffff:10.9.9.9", Attributes{Name: "corp", Role: "private", Tenant: "acme"}},
		{"192.168.1.1", Attributes{Role: "private"}},
		{"2001:db8:1::1", Attributes{Name: "corp6"}},
		{"fd7a:115c:a1e0::1", Attributes{Name: "our-tailnet", Role: "vpn"}}, // configured name replaces builtin's
		{"fd00::1", Attributes{Role: "private"}},
		{"8.8.8.8", Attributes{}},
	}
	for _, tt := range tests {
		a, _ := tab.Lookup(netip.MustParseAddr(tt.addr))
		var got Attributes
		if a != nil {
			got = *a
		}
		if got != tt.want {
			t.Errorf("%s: -got +want\n-%+v\n+%+v", tt.addr, got, tt.want)
		}
	}
}

func TestNoBuiltin(t *testing.T) {
	tab := load(t, false)
	if a, _ := tab.Lookup(netip.MustParseAddr("192.168.1.1")); a != nil {
		t.Errorf("builtin network present: %+v", a)
	}
	if a, _ := tab.Lookup(netip.MustParseAddr("10.9.9.9")); a == nil || a.Role != "" {
		t.Errorf("10.9.9.9: %+v", a)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"- name: x\n", "n.yaml:1: key 0.prefix: required"},
		{"- prefix: 10.0.0.0/8\n", "n.yaml:1: key 0: sets no attribute"},
		{"- prefix: 10.0.0.0/8\n  name: a\n- prefix: 10.0.0.0/8\n  name: b\n", "n.yaml:3: key 1.prefix: 10.0.0.0/8 already listed at 0"},
	}
	for _, tt := range tests {
		var cfg Config
		err := config.Parse("n.yaml", []byte(tt.in), &cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error -got +want\n-%v\n+%s", tt.in, err, tt.want)
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	var cfg Config
	for i := 0; i < 10000; i++ {
		cfg = append(cfg, Network{Prefix: mustPrefix(netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24)), Name: "n"})
	}
	tab, err := New(cfg, true)
	if err != nil {
		b.Fatal(err)
	}
	a := netip.MustParseAddr("10.20.30.40")
	b.ReportAllocs()
	for b.Loop() {
		tab.Lookup(a)
	}
}

func mustPrefix(p netip.Prefix) iptrie.Prefix { return iptrie.Prefix{Prefix: p} }
