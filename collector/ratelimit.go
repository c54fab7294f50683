package collector

import (
	"net/netip"

	"github.com/hostflow/hostflow/flow"
)

// limiter caps the flows per second kept from each exporter, for one
// worker (so without locks). Above the cap it keeps one flow in k and
// multiplies the kept flows' SamplingRate by k, so that bytes, packets and
// flows summed at query time stay right (as Akvorado's rate-limit does):
// the store is protected from one exporter's flood, the totals are not
// distorted, only the detail is thinner.
//
// k comes from the exporter's flows in the previous second (its budget:
// the limit). Within a second, a burst that exhausts the budget doubles k at
// once, and again each time another half budget is kept: a burst of B flows
// in one second keeps at most about limit × (1 + ½·log2(B/limit)) of them
// (3.8 × the limit for a 50× burst), and the next second is back to the
// limit. Selection is systematic (the middle flow of every run of k), which
// needs no random numbers, spreads the kept flows evenly over the second
// and errs by less than k/2 flows either way when a run is cut short.
type limiter struct {
	limit    uint32
	max      int
	buckets  map[netip.Addr]*bucket
	overflow bucket // shared by exporters past max

	// The last exporter looked up: a batch usually holds runs of one
	// exporter's flows.
	lastAddr netip.Addr
	last     *bucket
}

// bucket is one exporter's state in the current second.
type bucket struct {
	second uint32 // the Unix second counted (flow.Record.TimeReceived)
	seen   uint32 // flows offered this second
	kept   uint32 // flows kept this second
	next   uint32 // kept count at which k doubles next
	k      uint32 // keep one flow in k
	phase  uint32 // position in the run of k flows; the middle one is kept
}

// maxK bounds the sampling multiplier: an exporter offering more than
// 2^20 times its limit gets more than the limit stored.
const maxK = 1 << 20

func newLimiter(limit uint32, maxExporters int) *limiter {
	return &limiter{limit: limit, max: maxExporters, buckets: make(map[netip.Addr]*bucket)}
}

// apply limits recs in place and returns the records kept (a prefix of
// recs, in order), the number dropped and the number kept whose sampling
// rate was multiplied.
func (l *limiter) apply(recs []flow.Record) (kept []flow.Record, dropped, scaled int) {
	j := 0
	for i := range recs {
		r := &recs[i]
		b := l.bucket(r.ExporterAddress, r.TimeReceived)
		keep, k := b.admit(r.TimeReceived, l.limit)
		if !keep {
			dropped++
			continue
		}
		if k > 1 {
			r.SamplingRate = max(r.SamplingRate, 1) * uint64(k)
			scaled++
		}
		if i != j {
			recs[j] = *r
		}
		j++
	}
	return recs[:j], dropped, scaled
}

// bucket returns the exporter's state, creating it (or, when max exporters
// are followed, sweeping those silent for a minute) as needed.
func (l *limiter) bucket(a netip.Addr, now uint32) *bucket {
	if l.last != nil && a == l.lastAddr {
		return l.last
	}
	b, ok := l.buckets[a]
	if !ok {
		if len(l.buckets) >= l.max {
			l.sweep(now)
		}
		if len(l.buckets) >= l.max {
			b = &l.overflow
		} else {
			b = &bucket{k: 1}
			l.buckets[a] = b
		}
	}
	l.lastAddr, l.last = a, b
	return b
}

// sweep forgets exporters silent for more than a minute.
func (l *limiter) sweep(now uint32) {
	for a, b := range l.buckets {
		if b.second+60 < now {
			delete(l.buckets, a)
		}
	}
	l.last = nil
}

// admit decides for one flow received at second now and returns the
// multiplier of a kept flow.
func (b *bucket) admit(now, limit uint32) (bool, uint32) {
	if now != b.second {
		b.roll(now, limit)
	}
	b.seen++
	if b.kept >= b.next && b.k < maxK {
		// A burst: the second's budget is spent at the current k.
		b.k *= 2
		b.next += max(limit/2, 1)
		b.phase = 0
	}
	keep := b.phase == b.k/2
	if b.phase++; b.phase >= b.k {
		b.phase = 0
	}
	if keep {
		b.kept++
	}
	return keep, b.k
}

// roll starts a new second: k is what would have kept the previous second's
// flows within the limit (when that second is the one just before; after a
// silence the exporter starts unsampled).
func (b *bucket) roll(now, limit uint32) {
	k := uint32(1)
	if now == b.second+1 && b.seen > limit {
		k = min((b.seen+limit-1)/limit, maxK)
	}
	b.second, b.seen, b.kept, b.next = now, 0, 0, limit
	if k != b.k {
		b.k, b.phase = k, 0
	}
}
