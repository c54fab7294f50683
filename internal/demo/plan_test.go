package demo

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// allocateCases are hosts as prefixesInUse sees them.
var allocateCases = []struct {
	name  string
	inUse []string
}{
	{"empty host", nil},
	{"default routes only", []string{"0.0.0.0/0", "::/0"}},
	{"lab network on 192.0.2.0/24 (the machine these tests were written on)", []string{
		"0.0.0.0/0", "192.0.2.0/24", "192.0.2.2/32", "192.0.2.255/32", "127.0.0.0/8", "::/0", "fd00::/64", "fe80::/64", "ff00::/8"}},
	{"198.51.100.0/24 routed by a lab", []string{"0.0.0.0/0", "198.51.100.0/24"}},
	{"an address of 203.0.113.0/24 on lo", []string{"203.0.113.7/32"}},
	{"another demo running", []string{"198.51.100.0/24", "203.0.113.0/24", "169.254.72.0/30", "2001:db8::/32", "fd48:6f73:7466::/64"}},
	{"zeroconf link-local route", []string{"169.254.0.0/16"}},
	{"every IPv6 candidate in use", []string{"2001:db8::/32", "3fff::/20"}},
	{"every ULA link in use", []string{"fd00::/8"}},
	{"one candidate block left", []string{"198.51.100.0/24", "203.0.113.0/24", "192.0.2.0/24", "198.18.0.0/24"}},
	{"every candidate block in use", []string{"198.51.100.0/24", "203.0.113.0/24", "192.0.2.0/24", "198.18.0.0/15"}},
}

func TestAllocate(t *testing.T) {
	var got strings.Builder
	for _, c := range allocateCases {
		var inUse []netip.Prefix
		for _, s := range c.inUse {
			inUse = append(inUse, netip.MustParsePrefix(s))
		}
		l, err := allocate(inUse)
		fmt.Fprintf(&got, "== %s\n", c.name)
		if err != nil {
			fmt.Fprintf(&got, "error: %v\n\n", err)
			continue
		}
		got.WriteString(l.String())
		got.WriteString("\n")
		t.Run(c.name, func(t *testing.T) { checkLayout(t, &l, inUse) })
	}
	golden(t, "allocate.golden", got.String())
}

// checkLayout checks what must hold for any layout: nothing the host uses
// is shadowed, every namespace address is routed to the namespace, the
// link ends share their prefix, and no address is used twice.
func checkLayout(t *testing.T, l *layout, inUse []netip.Prefix) {
	t.Helper()
	mine := append([]netip.Prefix{l.host4, l.host6}, l.routes...)
	for _, p := range mine {
		for _, u := range inUse {
			if p.IsValid() && u.Bits() > 0 && p.Overlaps(u) {
				t.Errorf("%s overlaps %s, in use on the host", p, u)
			}
		}
	}
	for _, a := range l.peers() {
		if !slices.ContainsFunc(l.routes, func(r netip.Prefix) bool { return r.Contains(a) }) {
			t.Errorf("namespace address %s is in no route %v", a, l.routes)
		}
	}
	if l.host4.Masked() != l.ns4.Masked() || l.host4.Addr() == l.ns4.Addr() {
		t.Errorf("IPv4 link ends %s and %s", l.host4, l.ns4)
	}
	if l.host6.IsValid() && (l.host6.Masked() != l.ns6.Masked() || l.host6.Addr() == l.ns6.Addr()) {
		t.Errorf("IPv6 link ends %s and %s", l.host6, l.ns6)
	}
	all := append([]netip.Addr{l.host4.Addr(), l.ns4.Addr()}, l.plan.Users...)
	for _, aps := range [][]netip.AddrPort{l.plan.API, l.plan.DNS, l.plan.Backup, l.plan.Metrics} {
		for _, ap := range aps {
			all = append(all, ap.Addr())
		}
	}
	slices.SortFunc(all, netip.Addr.Compare)
	if n := len(all); len(slices.Compact(all)) != n {
		t.Errorf("an address is used twice: %v", all)
	}
	for _, ap := range l.plan.Webapp {
		if ap.Addr() != l.host4.Addr() && ap.Addr() != l.host6.Addr() {
			t.Errorf("webapp %s is not on the host end of the link", ap)
		}
	}
}

func TestIPv4Only(t *testing.T) {
	l, err := allocate(nil)
	if err != nil {
		t.Fatal(err)
	}
	l.ipv4Only()
	for _, a := range append(l.peers(), l.plan.Webapp[0].Addr()) {
		if !a.Is4() {
			t.Errorf("IPv6 address %s left", a)
		}
	}
	for _, r := range l.routes {
		if !r.Addr().Is4() {
			t.Errorf("IPv6 route %s left", r)
		}
	}
	if l.host6.IsValid() || l.ns6.IsValid() {
		t.Errorf("IPv6 link %s %s left", l.host6, l.ns6)
	}
	checkLayout(t, &l, nil)
}

func TestSubPrefix(t *testing.T) {
	for _, c := range []struct {
		p    string
		bits int
		i    int
		want string // empty: none
	}{
		{"169.254.72.0/27", 30, 0, "169.254.72.0/30"},
		{"169.254.72.0/27", 30, 1, "169.254.72.4/30"},
		{"169.254.72.0/27", 30, 7, "169.254.72.28/30"},
		{"169.254.72.0/27", 30, 8, ""},
		{"169.254.72.0/27", 26, 0, ""},
		{"10.0.0.0/8", 24, 300, "10.1.44.0/24"}, // carries into the next byte
		{"10.0.0.0/8", 9, 1, "10.128.0.0/9"},
		{"fd48:6f73:7466::/60", 64, 0, "fd48:6f73:7466::/64"},
		{"fd48:6f73:7466::/60", 64, 15, "fd48:6f73:7466:f::/64"},
		{"fd48:6f73:7466::/60", 64, 16, ""},
		{"2001:db8::/32", 48, 0xcafe, "2001:db8:cafe::/48"},
		{"2001:db8::/32", 64, 1, ""}, // more than 2^16 sub-prefixes: refused
		{"10.0.0.0/8", 24, -1, ""},
	} {
		got, ok := subPrefix(netip.MustParsePrefix(c.p), c.bits, c.i)
		gotS := ""
		if ok {
			gotS = got.String()
		}
		if gotS != c.want {
			t.Errorf("subPrefix(%s, %d, %d) = %q, want %q", c.p, c.bits, c.i, gotS, c.want)
		}
	}
}

// String renders the layout for golden files.
func (l *layout) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "link  host %s  namespace %s\n", l.host4, l.ns4)
	if l.host6.IsValid() {
		fmt.Fprintf(&b, "link  host %s  namespace %s\n", l.host6, l.ns6)
	}
	fmt.Fprintf(&b, "routes  %v\n", l.routes)
	p := l.plan
	for _, f := range []struct {
		name string
		aps  []netip.AddrPort
	}{{"api", p.API}, {"dns", p.DNS}, {"backup", p.Backup}, {"metrics", p.Metrics}, {"webapp", p.Webapp}} {
		fmt.Fprintf(&b, "%s  %v\n", f.name, f.aps)
	}
	fmt.Fprintf(&b, "users  %v\n", p.Users)
	return b.String()
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(got, string(want)); diff != "" {
		t.Errorf("%s (-got +want):\n%s", path, diff)
	}
}
