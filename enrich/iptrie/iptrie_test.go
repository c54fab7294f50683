package iptrie

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/hostflow/hostflow/internal/config"
)

func build(prefixes ...string) *Trie[string] {
	t := New[string]()
	for _, p := range prefixes {
		t.Insert(netip.MustParsePrefix(p), p)
	}
	return t
}

func TestLookup(t *testing.T) {
	tr := build("10.0.0.0/8", "10.1.0.0/16", "10.1.2.3/32", "0.0.0.0/0",
		"2001:db8::/32", "2001:db8:1::/48", "::ffff:192.0.2.0/120")
	tests := []struct {
		addr    string
		want    string
		found   bool
		uniform int
	}{
		{"10.2.3.4", "10.0.0.0/8", true, 16},  // 10.1/16 exists below: uniform at 10.2/16 boundary
		{"10.1.9.9", "10.1.0.0/16", true, 31}, // path to 10.1.2.3 shares bits up to /22
		{"10.1.2.3", "10.1.2.3/32", true, 32},
		{"11.0.0.1", "0.0.0.0/0", true, 8},
		{"::ffff:10.1.2.3", "10.1.2.3/32", true, 32},     // mapped addresses use the IPv4 trie
		{"192.0.2.77", "::ffff:192.0.2.0/120", true, 24}, // mapped prefix stored as IPv4
		{"2001:db8:1:2::1", "2001:db8:1::/48", true, 48},
		{"2001:db8:2::1", "2001:db8::/32", true, 48},
		{"2001:db9::1", "", false, 32},
		{"fe80::1", "", false, 1},
	}
	for _, tt := range tests {
		got, found, uniform := tr.Lookup(netip.MustParseAddr(tt.addr))
		if got != tt.want || found != tt.found {
			t.Errorf("Lookup(%s) = %q, %v; want %q, %v", tt.addr, got, found, tt.want, tt.found)
		}
		if tt.uniform != 0 && uniform > tt.uniform {
			t.Errorf("Lookup(%s) uniform = %d, want <= %d", tt.addr, uniform, tt.uniform)
		}
	}
}

// TestUniformIsSound checks the uniform length claim exhaustively on a small
// space: every address sharing the first uniform bits must get the same answer.
func TestUniformIsSound(t *testing.T) {
	tr := build("192.168.0.0/16", "192.168.1.0/24", "192.168.1.128/25", "192.168.2.7/32", "192.168.3.0/30")
	for i := 0; i < 1024; i++ {
		a := netip.AddrFrom4([4]byte{192, 168, byte(i >> 8), byte(i)})
		v, found, u := tr.Lookup(a)
		p := netip.PrefixFrom(a, u).Masked()
		// Probe the first, last and a middle address of the uniform prefix.
		for _, probe := range probes(p) {
			pv, pf, _ := tr.Lookup(probe)
			if pv != v || pf != found {
				t.Fatalf("%s: uniform /%d but %s gives %q (want %q)", a, u, probe, pv, v)
			}
		}
	}
}

func probes(p netip.Prefix) []netip.Addr {
	first := p.Addr()
	b := first.As4()
	host := 32 - p.Bits()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	var last uint32
	if host == 32 {
		last = ^uint32(0)
	} else {
		last = v | (1<<host - 1)
	}
	mid := v + (last-v)/2
	to := func(x uint32) netip.Addr {
		return netip.AddrFrom4([4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)})
	}
	return []netip.Addr{first, to(mid), to(last)}
}

func TestWalkAndLen(t *testing.T) {
	in := []string{"10.0.0.0/8", "10.128.0.0/9", "2001:db8::/32", "::/0"}
	tr := build(in...)
	tr.Insert(netip.MustParsePrefix("10.0.0.0/8"), "again")
	if tr.Len() != 4 {
		t.Errorf("Len() = %d, want 4", tr.Len())
	}
	var got []string
	tr.Walk(func(p netip.Prefix, v string) bool {
		got = append(got, fmt.Sprintf("%s=%s", p, v))
		return true
	})
	want := []string{"10.0.0.0/8=again", "10.128.0.0/9=10.128.0.0/9", "::/0=::/0", "2001:db8::/32=2001:db8::/32"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Walk: -got +want\n-%v\n+%v", got, want)
	}
}

func TestInvalidAddr(t *testing.T) {
	tr := build("0.0.0.0/0")
	if _, ok, _ := tr.Lookup(netip.Addr{}); ok {
		t.Error("invalid address found")
	}
}

func BenchmarkLookup(b *testing.B) {
	tr := New[int]()
	for i := 0; i < 1000; i++ {
		tr.Insert(netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24), i)
	}
	tr.Insert(netip.MustParsePrefix("2001:db8::/32"), 1)
	a4 := netip.MustParseAddr("10.3.200.1")
	a6 := netip.MustParseAddr("2001:db8:1:2::3")
	b.ReportAllocs()
	for b.Loop() {
		tr.Lookup(a4)
		tr.Lookup(a6)
	}
}

func TestPrefixConfig(t *testing.T) {
	tests := []struct {
		in   string
		want string
		err  string
	}{
		{in: "prefix: 10.0.0.0/8", want: "10.0.0.0/8"},
		{in: "prefix: 192.0.2.1", want: "192.0.2.1/32"},
		{in: "prefix: 2001:db8::1", want: "2001:db8::1/128"},
		{in: "prefix: 2001:db8::/32", want: "2001:db8::/32"},
		{in: "\nprefix: 10.1.2.3/8", err: `f.yaml:2: key prefix: "10.1.2.3/8" has host bits set (did you mean 10.0.0.0/8?)`},
		{in: "prefix: router1", err: `f.yaml:1: key prefix: "router1" is neither an address nor a prefix`},
		{in: "prefix: [1]", err: `f.yaml:1: key prefix: want an address or prefix`},
	}
	for _, tt := range tests {
		var c struct {
			P Prefix `yaml:"prefix"`
		}
		err := config.Parse("f.yaml", []byte(tt.in), &c)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("%q: error -got +want\n-%v\n+%s", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || c.P.String() != tt.want {
			t.Errorf("%q: got %s, %v; want %s", tt.in, c.P, err, tt.want)
		}
	}
}
