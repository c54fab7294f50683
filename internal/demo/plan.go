package demo

import (
	"fmt"
	"net/netip"
	"slices"
)

// Plan says where every demo role listens and connects. The parent builds
// it from a layout and passes it to each child as JSON, so both sides agree
// without repeating addresses in flags.
type Plan struct {
	// Servers in the namespace.
	API     []netip.AddrPort `json:"api"`     // HTTP
	DNS     []netip.AddrPort `json:"dns"`     // UDP DNS
	Backup  []netip.AddrPort `json:"backup"`  // TCP bulk sink
	Metrics []netip.AddrPort `json:"metrics"` // UDP statsd sink
	// Webapp is the HTTP server on the host end of the veth.
	Webapp []netip.AddrPort `json:"webapp"`
	// Users are the namespace addresses the web users call the webapp from.
	Users []netip.Addr `json:"users"`
}

// layout is the addressing of the demo: the two ends of the veth, the
// prefixes routed from the host into the namespace, and the plan of
// servers and clients.
type layout struct {
	host4, ns4 netip.Prefix // veth ends, IPv4
	host6, ns6 netip.Prefix // veth ends, IPv6 (invalid: IPv4 only)
	routes     []netip.Prefix
	plan       Plan
}

// Candidate prefixes, in order of preference. The "internet" behind the
// veth uses documentation ranges (RFC 5737, RFC 3849, RFC 9637), then the
// benchmarking ones (RFC 2544): public-looking, never real destinations.
// The link itself uses IPv4 link-local and a ULA ("Hostf" in hex), which
// rank below any real address when the agent picks its agent address.
var (
	candidateBlocks4 = []string{"198.51.100.0/24", "203.0.113.0/24", "192.0.2.0/24", "198.18.0.0/24", "198.19.0.0/24"}
	candidateBases6  = []string{"2001:db8::/32", "3fff::/20"}
	candidateLink4   = netip.MustParsePrefix("169.254.72.0/27") // /30s inside
	candidateLink6   = netip.MustParsePrefix("fd48:6f73:7466::/60")
)

// webappPort is where the host's webapp listens (on the veth addresses only).
const webappPort = 8008

// allocate picks a layout whose prefixes overlap none in use on the host
// (its routes in every table and its addresses; default routes aside): a
// documentation range that a lab network really uses must not be shadowed.
// IPv6 is left out when no candidate is free.
func allocate(inUse []netip.Prefix) (layout, error) {
	free := func(p netip.Prefix) bool {
		for _, u := range inUse {
			if u.Bits() > 0 && u.Overlaps(p) {
				return false
			}
		}
		return true
	}
	var blocks []netip.Prefix
	for _, s := range candidateBlocks4 {
		if p := netip.MustParsePrefix(s); free(p) {
			blocks = append(blocks, p)
		}
	}
	link4, ok := firstFree(candidateLink4, 30, free)
	if !ok && len(blocks) > 2 {
		// Link-local is routed here (a zeroconf route): use the last /30
		// of a third block.
		last := blocks[2].Addr().As4()
		last[3] = 252
		link4, ok = netip.PrefixFrom(netip.AddrFrom4(last), 30), true
	}
	if len(blocks) < 2 || !ok {
		return layout{}, fmt.Errorf("no free addresses for the demo: this host already routes most of %v and %s", candidateBlocks4, candidateLink4)
	}
	var base6, link6 netip.Prefix
	for _, s := range candidateBases6 {
		if p := netip.MustParsePrefix(s); free(p) {
			base6 = p
			break
		}
	}
	if link6, ok = firstFree(candidateLink6, 64, free); !ok {
		base6 = netip.Prefix{}
	}
	return newLayout(blocks[0], blocks[1], link4, base6, link6), nil
}

// firstFree returns the first sub-prefix of p with the given length that
// free accepts.
func firstFree(p netip.Prefix, bits int, free func(netip.Prefix) bool) (netip.Prefix, bool) {
	for i := 0; ; i++ {
		sub, ok := subPrefix(p, bits, i)
		if !ok {
			return netip.Prefix{}, false
		}
		if free(sub) {
			return sub, true
		}
	}
}

// subPrefix returns the i-th prefix of length bits inside p (at most 2^16
// of them), false past the last.
func subPrefix(p netip.Prefix, bits, i int) (netip.Prefix, bool) {
	n := bits - p.Bits()
	if n < 0 || n > 16 || i < 0 || i >= 1<<n {
		return netip.Prefix{}, false
	}
	b := p.Masked().Addr().AsSlice()
	// Add i with its lowest bit at the prefix's last bit; the bits added
	// are zero in the masked base, so the sum never carries out of p.
	v := uint32(i) << (7 - (bits-1)%8)
	for k := (bits - 1) / 8; k >= 0 && v > 0; k-- {
		sum := uint32(b[k]) + v&0xff
		b[k] = byte(sum)
		v = v>>8 + sum>>8
	}
	a, _ := netip.AddrFromSlice(b)
	return netip.PrefixFrom(a, bits), true
}

// newLayout places the servers and users: API and DNS in block a, backup
// and metrics in block b, users in both; in IPv6, subnets 100, 203, cafe
// and beef of base6 (the base6 prefix is left out when invalid).
func newLayout(a, b, link4, base6, link6 netip.Prefix) layout {
	at4 := func(p netip.Prefix, host byte) netip.Addr {
		x := p.Addr().As4()
		x[3] = host
		return netip.AddrFrom4(x)
	}
	first := link4.Addr()
	l := layout{
		host4:  netip.PrefixFrom(first.Next(), 30),
		ns4:    netip.PrefixFrom(first.Next().Next(), 30),
		routes: []netip.Prefix{a, b},
		plan: Plan{
			API:     []netip.AddrPort{netip.AddrPortFrom(at4(a, 10), 80)},
			DNS:     []netip.AddrPort{netip.AddrPortFrom(at4(a, 53), 53)},
			Backup:  []netip.AddrPort{netip.AddrPortFrom(at4(b, 20), 873)},
			Metrics: []netip.AddrPort{netip.AddrPortFrom(at4(b, 9), 8125)},
			Users:   []netip.Addr{at4(b, 50), at4(b, 51), at4(b, 52), at4(b, 77), at4(a, 200)},
		},
	}
	l.plan.Webapp = []netip.AddrPort{netip.AddrPortFrom(l.host4.Addr(), webappPort)}
	if !base6.IsValid() {
		return l
	}
	at6 := func(subnet, host uint16) netip.Addr {
		x := base6.Addr().As16()
		x[4], x[5] = byte(subnet>>8), byte(subnet)
		x[14], x[15] = byte(host>>8), byte(host)
		return netip.AddrFrom16(x)
	}
	l.host6 = netip.PrefixFrom(link6.Addr().Next(), 64)
	l.ns6 = netip.PrefixFrom(link6.Addr().Next().Next(), 64)
	l.routes = append(l.routes, base6)
	p := &l.plan
	p.API = append(p.API, netip.AddrPortFrom(at6(0x100, 0x10), 80))
	p.DNS = append(p.DNS, netip.AddrPortFrom(at6(0x100, 0x53), 53))
	p.Backup = append(p.Backup, netip.AddrPortFrom(at6(0x203, 0x20), 873))
	p.Metrics = append(p.Metrics, netip.AddrPortFrom(at6(0x203, 0x9), 8125))
	p.Webapp = append(p.Webapp, netip.AddrPortFrom(l.host6.Addr(), webappPort))
	p.Users = append(p.Users, at6(0xcafe, 0x50), at6(0xcafe, 0x51), at6(0xbeef, 0x7))
	return l
}

// peers lists the namespace-side addresses every server and user needs,
// once each, in plan order.
func (l *layout) peers() []netip.Addr {
	var out []netip.Addr
	add := func(a netip.Addr) {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	for _, list := range [][]netip.AddrPort{l.plan.API, l.plan.DNS, l.plan.Backup, l.plan.Metrics} {
		for _, ap := range list {
			add(ap.Addr())
		}
	}
	for _, a := range l.plan.Users {
		add(a)
	}
	return out
}

// ipv4Only drops every IPv6 address and route, for hosts with IPv6 off.
func (l *layout) ipv4Only() {
	is6 := func(a netip.Addr) bool { return !a.Is4() }
	is6AP := func(ap netip.AddrPort) bool { return is6(ap.Addr()) }
	l.routes = slices.DeleteFunc(l.routes, func(p netip.Prefix) bool { return is6(p.Addr()) })
	p := &l.plan
	for _, list := range []*[]netip.AddrPort{&p.API, &p.DNS, &p.Backup, &p.Metrics, &p.Webapp} {
		*list = slices.DeleteFunc(*list, is6AP)
	}
	p.Users = slices.DeleteFunc(p.Users, is6)
	l.host6, l.ns6 = netip.Prefix{}, netip.Prefix{}
}
