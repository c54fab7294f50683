package enrich

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"

	"github.com/hostflow/hostflow/enrich/geoip"
	"github.com/hostflow/hostflow/enrich/networks"
)

// addrInfo is what enrichment adds for one address.
type addrInfo struct {
	asn     uint32
	country string
	city    string
	net     *networks.Attributes // never nil
}

// addrEntry is one cache slot's content. Entries are immutable once
// published.
type addrEntry struct {
	hi, lo uint64 // address (IPv4 as ::ffff:a.b.c.d) or block, masked
	exact  bool   // hi/lo is a full address, not a /24 (IPv4) or /48 (IPv6) block
	// split marks a block inside which answers differ: look up the exact
	// address instead.
	split bool
	info  addrInfo
}

// Block sizes cached as one entry when every address inside gets the same
// answer (the usual case: GeoIP and BGP-derived prefixes are rarely longer).
const (
	blockBits4 = 24
	blockBits6 = 48
)

// addrCache is a direct-mapped, lock-free cache of address answers for one
// GeoIP snapshot: readers do one atomic load per probe; a miss computes the
// answer and publishes a new entry, replacing whatever collided there. It
// is replaced as a whole when the GeoIP databases are reloaded.
type addrCache struct {
	geo   *geoip.Set
	nets  *networks.Table
	slots []atomic.Pointer[addrEntry]
	mask  uint64
}

var emptyNet = &networks.Attributes{}

func newAddrCache(geo *geoip.Set, nets *networks.Table, size int) *addrCache {
	n := 1
	for n < size {
		n <<= 1
	}
	return &addrCache{geo: geo, nets: nets, slots: make([]atomic.Pointer[addrEntry], n), mask: uint64(n - 1)}
}

func (c *addrCache) slot(hi, lo uint64, exact bool) *atomic.Pointer[addrEntry] {
	h := hi*0x9E3779B97F4A7C15 ^ lo
	if exact {
		h ^= 0x165667B19E3779F9
	}
	// murmur3's finalizer: every input bit reaches the low (index) bits.
	h ^= h >> 33
	h *= 0xFF51AFD7ED558CCD
	h ^= h >> 33
	return &c.slots[h&c.mask]
}

func (c *addrCache) get(hi, lo uint64, exact bool) *addrEntry {
	e := c.slot(hi, lo, exact).Load()
	if e != nil && e.hi == hi && e.lo == lo && e.exact == exact {
		return e
	}
	return nil
}

func split(a netip.Addr) (hi, lo uint64) {
	b := a.As16()
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}

// lookup returns the answer for a and whether it came from the cache.
func (c *addrCache) lookup(a netip.Addr) (*addrInfo, bool) {
	a = a.Unmap()
	hi, lo := split(a)
	var bhi, blo uint64
	if a.Is4() {
		bhi, blo = hi, lo&^0xFF
	} else {
		bhi, blo = hi&^0xFFFF, 0
	}
	if b := c.get(bhi, blo, false); b != nil && !b.split {
		return &b.info, true
	}
	if e := c.get(hi, lo, true); e != nil {
		return &e.info, true
	}
	return c.fill(a, hi, lo, bhi, blo), false
}

// fill computes the answer for a and caches it for the whole block when the
// answer is uniform over it, else for the address alone.
func (c *addrCache) fill(a netip.Addr, hi, lo, bhi, blo uint64) *addrInfo {
	g, uniform := c.geo.Lookup(a)
	net, nbits := c.nets.Lookup(a)
	if net == nil {
		net = emptyNet
	}
	uniform = max(uniform, nbits)
	info := addrInfo{asn: g.ASN, country: g.Country, city: g.City, net: net}
	block := blockBits6
	if a.Is4() {
		block = blockBits4
	}
	if uniform <= block {
		e := &addrEntry{hi: bhi, lo: blo, info: info}
		c.slot(bhi, blo, false).Store(e)
		return &e.info
	}
	bs := c.slot(bhi, blo, false)
	if b := bs.Load(); b == nil || b.hi != bhi || b.lo != blo || !b.split {
		bs.Store(&addrEntry{hi: bhi, lo: blo, split: true})
	}
	e := &addrEntry{hi: hi, lo: lo, exact: true, info: info}
	c.slot(hi, lo, true).Store(e)
	return &e.info
}
