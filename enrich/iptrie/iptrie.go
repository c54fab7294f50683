// Package iptrie is a longest-prefix-match table from IP prefixes to values,
// used for networks, static exporters, SNMP credentials and classification.
//
// It is a binary trie with one root per family (IPv4 addresses are looked up
// in a 32-bit trie, not under ::ffff:0:0/96), so a lookup walks at most 32 or
// 128 nodes and never allocates. A Trie is built once and then only read; it
// is safe for concurrent lookups after the last Insert.
package iptrie

import (
	"fmt"
	"net/netip"

	"gopkg.in/yaml.v3"
)

type node[T any] struct {
	child [2]*node[T]
	value T
	set   bool
}

// Trie maps prefixes to values of type T.
type Trie[T any] struct {
	v4, v6 *node[T]
	n      int
}

// New returns an empty trie.
func New[T any]() *Trie[T] {
	return &Trie[T]{v4: &node[T]{}, v6: &node[T]{}}
}

// Len returns the number of prefixes inserted.
func (t *Trie[T]) Len() int { return t.n }

func (t *Trie[T]) root(a netip.Addr) (*node[T], netip.Addr) {
	a = a.Unmap()
	if a.Is4() {
		return t.v4, a
	}
	return t.v6, a
}

// bit returns bit i (0 = most significant) of a.
func bit(b *[16]byte, i int) int { return int(b[i>>3]>>(7-uint(i&7))) & 1 }

// bytesOf returns the address bytes left-aligned (IPv4 in the first 4).
func bytesOf(a netip.Addr) [16]byte {
	if a.Is4() {
		var b [16]byte
		v4 := a.As4()
		copy(b[:], v4[:])
		return b
	}
	return a.As16()
}

// Insert sets the value of p (masked), replacing any previous value for the
// same prefix. An IPv4-mapped IPv6 prefix (::ffff:a.b.c.d/n, n >= 96) is
// stored as the IPv4 prefix it denotes.
func (t *Trie[T]) Insert(p netip.Prefix, v T) {
	p = normalize(p)
	n, a := t.root(p.Addr())
	b := bytesOf(a)
	for i := 0; i < p.Bits(); i++ {
		c := bit(&b, i)
		if n.child[c] == nil {
			n.child[c] = &node[T]{}
		}
		n = n.child[c]
	}
	if !n.set {
		t.n++
	}
	n.value, n.set = v, true
}

// normalize masks p and turns IPv4-mapped prefixes into IPv4 prefixes.
func normalize(p netip.Prefix) netip.Prefix {
	a := p.Addr()
	if a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked()
}

// Lookup returns the value of the longest prefix containing a. uniform is
// the length of a prefix around a over which the answer is the same (every
// address sharing a's first uniform bits gets the same value and found,
// IPv4-mapped addresses being looked up as IPv4), in a's own family (0–32
// for IPv4, 0–128 for IPv6); callers cache on it.
func (t *Trie[T]) Lookup(a netip.Addr) (v T, found bool, uniform int) {
	if !a.IsValid() {
		return v, false, 0
	}
	v, found, uniform = t.lookup(a)
	if a = a.Unmap(); a.Is6() && uniform < 96 {
		// Addresses under ::ffff:0:0/96 are looked up as IPv4: keep them
		// out of the uniform prefix.
		b := a.As16()
		d := 0
		for d < 96 && bit(&b, d) == mappedBit(d) {
			d++
		}
		uniform = max(uniform, d+1)
	}
	return v, found, uniform
}

// mappedBit is bit i of ::ffff:0:0.
func mappedBit(i int) int {
	if i >= 80 && i < 96 {
		return 1
	}
	return 0
}

func (t *Trie[T]) lookup(a netip.Addr) (v T, found bool, uniform int) {
	n, a := t.root(a)
	max := 128
	if a.Is4() {
		max = 32
	}
	b := bytesOf(a)
	depth := 0
	for {
		if n.set {
			v, found = n.value, true
		}
		if depth == max {
			return v, found, max
		}
		next := n.child[bit(&b, depth)]
		if next == nil {
			if n.child[0] == nil && n.child[1] == nil {
				// A leaf: nothing more specific exists below depth.
				return v, found, depth
			}
			return v, found, depth + 1
		}
		n = next
		depth++
	}
}

// Contains reports whether some prefix contains a.
func (t *Trie[T]) Contains(a netip.Addr) bool {
	_, ok, _ := t.Lookup(a)
	return ok
}

// Walk calls f for every prefix in the trie, parents before children, IPv4
// first, until f returns false.
func (t *Trie[T]) Walk(f func(p netip.Prefix, v T) bool) {
	var b [16]byte
	var walk func(n *node[T], depth int, v4 bool) bool
	walk = func(n *node[T], depth int, v4 bool) bool {
		if n == nil {
			return true
		}
		if n.set {
			var a netip.Addr
			if v4 {
				a = netip.AddrFrom4([4]byte(b[:4]))
			} else {
				a = netip.AddrFrom16(b)
			}
			if !f(netip.PrefixFrom(a, depth), n.value) {
				return false
			}
		}
		for c := 0; c < 2; c++ {
			if n.child[c] == nil {
				continue
			}
			if c == 1 {
				b[depth>>3] |= 1 << (7 - uint(depth&7))
			}
			ok := walk(n.child[c], depth+1, v4)
			b[depth>>3] &^= 1 << (7 - uint(depth&7))
			if !ok {
				return false
			}
		}
		return true
	}
	if walk(t.v4, 0, true) {
		walk(t.v6, 0, false)
	}
}

// Prefix is a prefix in configuration files: "2001:db8::/32", or a bare
// address meaning a host prefix ("192.0.2.1" = 192.0.2.1/32). It must be
// masked ("10.1.2.3/8" is refused: it is most likely a typo).
type Prefix struct{ netip.Prefix }

// ParsePrefix parses a configuration prefix.
func ParsePrefix(s string) (Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return Prefix{}, fmt.Errorf("%q: zones are not allowed", s)
		}
		return Prefix{netip.PrefixFrom(a, a.BitLen())}, nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return Prefix{}, fmt.Errorf("%q is neither an address nor a prefix", s)
	}
	if p.Masked() != p {
		return Prefix{}, fmt.Errorf("%q has host bits set (did you mean %s?)", s, p.Masked())
	}
	return Prefix{p}, nil
}

// UnmarshalYAML reads a scalar and reports errors with their line, so
// configuration errors name file, line and key.
func (p *Prefix) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want an address or prefix", n.Line)
	}
	v, err := ParsePrefix(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*p = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (p Prefix) MarshalText() ([]byte, error) { return []byte(p.String()), nil }
