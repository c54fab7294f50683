package tailnet

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/hostflow/hostflow/console"
)

// whoisTimeout bounds the WhoIs of one console request (an in-process call
// to the node; it only waits when the node is shutting down).
const whoisTimeout = 5 * time.Second

// Identify is the console's IdentityFunc for requests that reached the
// node's own tailnet addresses: the caller is identified by WhoIs and gets
// admin (admin-users), read (allow-users, or a tagged node carrying one of
// allow-tags) or none, which the console refuses with 403. Requests that
// arrived otherwise (console.listen, the host's tailscaled) are left to
// tokens: ok is false.
func (n *Node) Identify(r *http.Request) (console.Identity, bool) {
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok || !slices.Contains(n.Addrs(), addrOf(local)) {
		return console.Identity{}, false
	}
	remote, err := netip.ParseAddrPort(r.RemoteAddr)
	id := console.Identity{Kind: "tailnet", Name: r.RemoteAddr, Scope: console.ScopeNone}
	if err == nil {
		ctx, cancel := context.WithTimeout(r.Context(), whoisTimeout)
		defer cancel()
		var p Peer
		if p, err = n.WhoIs(ctx, remote.Addr().Unmap()); err == nil {
			id.Name, id.Scope = p.identity(), n.cfg.scopeOf(p)
		}
	}
	n.countIdentity(id.Scope)
	return id, true
}

func addrOf(a net.Addr) netip.Addr {
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// identity names the peer in logs and in the console: "user on node" or
// "node (tags)".
func (p Peer) identity() string {
	if p.User != "" {
		return p.User + " on " + p.Name
	}
	return p.Name + " (" + strings.Join(p.Tags, ",") + ")"
}

// scopeOf grants a scope to a peer. Tagged nodes have no user: only their
// tags count.
func (c *Config) scopeOf(p Peer) string {
	if p.User != "" {
		switch {
		case matchUser(c.AdminUsers, p.User):
			return console.ScopeAdmin
		case matchUser(c.AllowUsers, p.User):
			return console.ScopeRead
		}
		return console.ScopeNone
	}
	for _, t := range p.Tags {
		if slices.Contains(c.AllowTags, t) {
			return console.ScopeRead
		}
	}
	return console.ScopeNone
}

// matchUser matches a login name against "*", "*@domain" and exact names
// (case-insensitively, like login names).
func matchUser(patterns []string, user string) bool {
	for _, p := range patterns {
		switch {
		case p == "*":
			return true
		case strings.HasPrefix(p, "*@"):
			if strings.HasSuffix(strings.ToLower(user), strings.ToLower(p[1:])) {
				return true
			}
		case strings.EqualFold(p, user):
			return true
		}
	}
	return false
}
