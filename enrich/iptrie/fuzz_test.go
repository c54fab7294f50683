package iptrie

import (
	"net/netip"
	"testing"
)

// FuzzLookup builds a trie from fuzzed prefixes and checks every lookup
// against a linear scan, and the uniform length against the last address
// of the uniform prefix. Input: up to 256 17-byte records (16 address bytes + prefix
// length); records with the top bit of the length byte set are lookups.
func FuzzLookup(f *testing.F) {
	f.Add(append(rec("10.0.0.0", 8, false), rec("10.1.2.3", 0, true)...))
	f.Add(append(append(rec("2001:db8::", 32, false), rec("2001:db8:1::", 48, false)...), rec("2001:db8:1::5", 0, true)...))
	f.Add(append(rec("::ffff:192.0.2.0", 120, false), rec("192.0.2.9", 0, true)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr := New[int]()
		var prefixes []netip.Prefix
		var addrs []netip.Addr
		// Bounded: the linear scan is quadratic.
		for n := 0; len(data) >= 17 && n < 256; n++ {
			a := netip.AddrFrom16([16]byte(data[:16])).Unmap()
			n := int(data[16] & 0x7f)
			if data[16]&0x80 != 0 {
				addrs = append(addrs, a)
			} else if p, err := a.Prefix(n % (a.BitLen() + 1)); err == nil {
				tr.Insert(p, len(prefixes))
				prefixes = append(prefixes, p)
			}
			data = data[17:]
		}
		for _, a := range addrs {
			v, ok, uniform := tr.Lookup(a)
			wv, wok := scan(prefixes, a)
			if v != wv || ok != wok {
				t.Fatalf("Lookup(%s) = %d, %v; linear scan %d, %v (prefixes %v)", a, v, ok, wv, wok, prefixes)
			}
			last := lastOf(netip.PrefixFrom(a, uniform).Masked())
			if lv, lok, _ := tr.Lookup(last); lv != v || lok != ok {
				t.Fatalf("uniform /%d around %s, but %s differs (prefixes %v)", uniform, a, last, prefixes)
			}
		}
	})
}

// scan returns the value of the longest (last inserted on ties) prefix
// containing a.
func scan(prefixes []netip.Prefix, a netip.Addr) (int, bool) {
	best, bits := 0, -1
	for i, p := range prefixes {
		if p.Contains(a) && p.Bits() >= bits {
			best, bits = i, p.Bits()
		}
	}
	return best, bits >= 0
}

func lastOf(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - uint(i%8))
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func rec(addr string, bits int, lookup bool) []byte {
	a := netip.MustParseAddr(addr).As16()
	b := byte(bits)
	if lookup {
		b |= 0x80
	}
	return append(a[:], b)
}
