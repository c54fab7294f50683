package exporter

import (
	"fmt"
	"net"
	"net/netip"
)

// IfAddr is an address of a local interface.
type IfAddr struct {
	IfIndex int
	IfName  string
	Addr    netip.Addr
}

// LocalAddrs lists the addresses of the host's interfaces that are up.
func LocalAddrs() ([]IfAddr, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var out []IfAddr
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				out = append(out, IfAddr{IfIndex: ifc.Index, IfName: ifc.Name, Addr: p.Addr().Unmap()})
			}
		}
	}
	return out, nil
}

var (
	cgnat   = netip.MustParsePrefix("100.64.0.0/10") // Tailscale's IPv4 range
	ula     = netip.MustParsePrefix("fc00::/7")      // Tailscale's fd7a:115c:a1e0::/48 too
	classE  = netip.MustParsePrefix("240.0.0.0/4")
	nat64wk = netip.MustParsePrefix("64:ff9b::/96")
)

// rank orders candidate agent addresses, higher is better. Like hsflowd,
// routable IPv4 beats private IPv4 beats IPv6 global beats ULA, and
// loopback/link-local come last; unlike hsflowd, Tailscale's 100.64/10 ranks
// with the private ranges rather than with public addresses.
func rank(a netip.Addr) int {
	switch {
	case !a.IsValid(), a.IsUnspecified(), a.IsMulticast(), classE.Contains(a), nat64wk.Contains(a):
		return 0
	case a.IsLoopback():
		return 1
	case a.IsLinkLocalUnicast():
		return 2
	case a.Is6() && ula.Contains(a):
		return 3
	case a.Is6():
		return 4
	case a.IsPrivate(), cgnat.Contains(a):
		return 5
	}
	return 6
}

// SelectAgent picks the agent address: the configured one; else the named
// interface's (IPv6 global or ULA preferred, then IPv4, never link-local);
// else the best ranked address of any interface (ties: lowest ifIndex).
// current is kept when it is still a candidate of equal rank, so the agent
// address does not flap.
func SelectAgent(address, ifName string, addrs []IfAddr, current netip.Addr) (netip.Addr, error) {
	if address != "" {
		return netip.ParseAddr(address)
	}
	if ifName != "" {
		var best netip.Addr
		for _, a := range addrs {
			if a.IfName != ifName || a.Addr.IsLinkLocalUnicast() || a.Addr.IsLoopback() && ifName != "lo" {
				continue
			}
			if a.Addr == current {
				return current, nil
			}
			if !best.IsValid() || a.Addr.Is6() && best.Is4() {
				best = a.Addr
			}
		}
		if !best.IsValid() {
			return netip.Addr{}, fmt.Errorf("interface %s has no usable address (yet)", ifName)
		}
		return best, nil
	}
	var best IfAddr
	bestRank := 0
	for _, a := range addrs {
		r := rank(a.Addr)
		if r == 0 {
			continue
		}
		if a.Addr == current {
			r = r*2 + 1 // sticky among equals
		} else {
			r *= 2
		}
		if r > bestRank || r == bestRank && a.IfIndex < best.IfIndex {
			best, bestRank = a, r
		}
	}
	if bestRank == 0 {
		return netip.Addr{}, fmt.Errorf("no usable local address")
	}
	return best.Addr, nil
}
