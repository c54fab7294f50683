package decoder

// interner returns a shared string for byte slices that repeat from one
// datagram to the next (process names, cgroups, units, interface names), so
// that decoding them does not allocate once they have been seen. Go does not
// allocate for a map lookup keyed by string(b); only a miss copies b.
//
// The table is bounded: when full, an arbitrary entry (Go's map iteration
// order is randomised) is evicted for each new string, so a stream of unique
// strings costs one allocation each and memory stays capped. Strings longer
// than maxInternLen are truncated: the sflow decoder already bounds every
// string to 512 bytes, this keeps the cap independent of it.
type interner struct {
	m         map[string]string
	max       int
	evictions uint64
}

const maxInternLen = 512

func newInterner(max int) *interner {
	return &interner{m: make(map[string]string, min(max, 1024)), max: max}
}

// bytes returns b as a shared string; "" for an empty b.
func (in *interner) bytes(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > maxInternLen {
		b = b[:maxInternLen]
	}
	if s, ok := in.m[string(b)]; ok {
		return s
	}
	if len(in.m) >= in.max {
		for k := range in.m {
			delete(in.m, k)
			in.evictions++
			break
		}
	}
	s := string(b)
	in.m[s] = s
	return s
}

// len is the number of strings held.
func (in *interner) len() int { return len(in.m) }
