// Package networks maps address prefixes to attributes (name, role, site,
// region, tenant) for the Src/DstNet* columns. The longest prefix wins; a
// field it leaves empty is inherited from the next shorter prefix that sets
// it, so a site can be declared once on a /16 and refined per /24.
package networks

import (
	"errors"
	"net/netip"
	"strconv"

	"github.com/hostflow/hostflow/enrich/iptrie"
	"github.com/hostflow/hostflow/internal/config"
)

// Network is one configured prefix.
type Network struct {
	Prefix iptrie.Prefix `yaml:"prefix"`
	Name   string        `yaml:"name"`
	Role   string        `yaml:"role"`
	Site   string        `yaml:"site"`
	Region string        `yaml:"region"`
	Tenant string        `yaml:"tenant"`
}

// Attributes are what a lookup returns. Values are shared: never modify.
type Attributes struct {
	Name, Role, Site, Region, Tenant string
}

func (a *Attributes) inherit(p *Attributes) {
	for _, f := range [...]struct {
		dst *string
		src string
	}{
		{&a.Name, p.Name}, {&a.Role, p.Role}, {&a.Site, p.Site}, {&a.Region, p.Region}, {&a.Tenant, p.Tenant},
	} {
		if *f.dst == "" {
			*f.dst = f.src
		}
	}
}

// Config lists the networks.
type Config []Network

// Validate checks the list.
func (c Config) Validate() error {
	var errs []error
	seen := map[iptrie.Prefix]int{}
	for i, n := range c {
		key := strconv.Itoa(i)
		if !n.Prefix.IsValid() {
			errs = append(errs, config.Errorf(key+".prefix", "required"))
			continue
		}
		if j, dup := seen[n.Prefix]; dup {
			errs = append(errs, config.Errorf(key+".prefix", "%s already listed at %d", n.Prefix, j))
		}
		seen[n.Prefix] = i
		if n.Name == "" && n.Role == "" && n.Site == "" && n.Region == "" && n.Tenant == "" {
			errs = append(errs, config.Errorf(key, "sets no attribute"))
		}
	}
	return errors.Join(errs...)
}

// Builtin returns the networks added when builtin networks are enabled:
// roles for special-purpose ranges, and Tailscale's IPv6 range. A configured
// network with the same prefix overrides the fields it sets.
func Builtin() Config {
	role := func(p, r string) Network {
		return Network{Prefix: iptrie.Prefix{Prefix: netip.MustParsePrefix(p)}, Role: r}
	}
	ts := role("fd7a:115c:a1e0::/48", "vpn")
	ts.Name = "tailscale"
	return Config{
		role("10.0.0.0/8", "private"), role("172.16.0.0/12", "private"), role("192.168.0.0/16", "private"),
		role("fc00::/7", "private"), role("100.64.0.0/10", "cgnat"),
		role("169.254.0.0/16", "link-local"), role("fe80::/10", "link-local"),
		role("127.0.0.0/8", "loopback"), role("::1/128", "loopback"),
		role("224.0.0.0/4", "multicast"), role("ff00::/8", "multicast"),
		ts,
	}
}

// Table answers lookups. It is immutable and safe for concurrent use.
type Table struct {
	trie *iptrie.Trie[*Attributes]
}

// New builds a table from the builtin networks (when builtin is true) and
// the configured ones.
func New(cfg Config, builtin bool) (*Table, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	raw := iptrie.New[*Attributes]()
	builtins := map[netip.Prefix]*Attributes{}
	if builtin {
		for _, n := range Builtin() {
			builtins[n.Prefix.Prefix] = attrs(n)
			raw.Insert(n.Prefix.Prefix, builtins[n.Prefix.Prefix])
		}
	}
	for _, n := range cfg {
		a := attrs(n)
		if b, ok := builtins[n.Prefix.Prefix]; ok {
			a.inherit(b) // a configured prefix refines the builtin one
		}
		raw.Insert(n.Prefix.Prefix, a)
	}
	// Resolve inheritance. Walk visits a prefix after all its ancestors and
	// before its descendants, so when p is visited the new trie holds, among
	// prefixes containing p's address, exactly p's ancestors (already
	// resolved): the lookup returns the closest one.
	t := &Table{trie: iptrie.New[*Attributes]()}
	raw.Walk(func(p netip.Prefix, a *Attributes) bool {
		if parent, ok, _ := t.trie.Lookup(p.Addr()); ok {
			a.inherit(parent)
		}
		t.trie.Insert(p, a)
		return true
	})
	return t, nil
}

func attrs(n Network) *Attributes {
	return &Attributes{Name: n.Name, Role: n.Role, Site: n.Site, Region: n.Region, Tenant: n.Tenant}
}

// Len is the number of prefixes.
func (t *Table) Len() int { return t.trie.Len() }

// Lookup returns the attributes for a (nil when no network contains it)
// and the prefix length around a over which the answer is the same.
func (t *Table) Lookup(a netip.Addr) (*Attributes, int) {
	v, _, uniform := t.trie.Lookup(a)
	return v, uniform
}
