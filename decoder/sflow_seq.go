package decoder

import "net/netip"

// sFlow datagram sequence numbers count datagrams per (agent address,
// sub-agent id). seqTracker follows them to count lost datagrams, agent
// restarts and datagrams arriving out of order.

// seqKey identifies one datagram stream.
type seqKey struct {
	agent    netip.Addr
	subAgent uint32
}

type seqState struct {
	seq      uint32 // highest sequence number seen
	uptime   uint32 // the agent's uptime (ms) in that datagram
	lastSeen uint32 // Unix seconds
}

// Outcome of one datagram for its stream.
type seqEvent uint8

const (
	seqFirst     seqEvent = iota // stream not known before
	seqNext                      // the expected datagram, or a gap (lost > 0)
	seqReordered                 // at or before the highest seen, within reorderWindow
	seqReset                     // the agent restarted (uptime or sequence went back far)
	seqUntracked                 // the table is full: this stream is not followed
)

// reorderWindow is how far behind the highest sequence number a datagram
// may arrive and still count as reordered (or duplicated) rather than as an
// agent restart.
const reorderWindow = 1024

// uptimeSlack absorbs uptime jitter between reordered datagrams (pmacct
// reports whole seconds).
const uptimeSlack = 2000

type seqTracker struct {
	streams map[seqKey]*seqState
	// The last stream looked up: an agent usually sends several datagrams
	// in a row, and the same socket keeps receiving from it.
	lastKey   seqKey
	last      *seqState
	max       int
	timeout   uint32 // seconds
	lastSweep uint32
	expired   uint64
}

func newSeqTracker(max int, timeoutSeconds uint32) *seqTracker {
	return &seqTracker{streams: make(map[seqKey]*seqState, min(max, 1024)), max: max, timeout: timeoutSeconds}
}

// observe records datagram seq of stream k with the agent's uptime, at time
// now (Unix seconds). lost is the number of datagrams skipped over (seqNext).
func (t *seqTracker) observe(k seqKey, seq, uptime, now uint32) (ev seqEvent, lost uint32) {
	st := t.last
	if st == nil || k != t.lastKey {
		st = t.streams[k]
	}
	if st == nil {
		if len(t.streams) >= t.max {
			t.sweep(now)
			if len(t.streams) >= t.max {
				return seqUntracked, 0
			}
		}
		st = &seqState{seq: seq, uptime: uptime, lastSeen: now}
		t.streams[k] = st
		t.lastKey, t.last = k, st
		return seqFirst, 0
	}
	t.lastKey, t.last = k, st
	st.lastSeen = now
	if d := seq - st.seq; d != 0 && d < 1<<31 {
		// Forward (modulo 2^32). Uptime may have wrapped (49.7 days), so
		// it is not consulted here.
		st.seq, st.uptime = seq, uptime
		return seqNext, d - 1
	}
	back := st.seq - seq
	if back > reorderWindow || st.uptime > uptime && st.uptime-uptime > uptimeSlack {
		st.seq, st.uptime = seq, uptime
		return seqReset, 0
	}
	return seqReordered, 0
}

// sweep forgets streams not seen for the timeout. It runs when the table is
// full and from maybeSweep, at most once a minute.
func (t *seqTracker) sweep(now uint32) {
	t.lastSweep = now
	t.last = nil
	for k, st := range t.streams {
		if now > st.lastSeen && now-st.lastSeen > t.timeout {
			delete(t.streams, k)
			t.expired++
		}
	}
}

// maybeSweep sweeps if the last sweep is more than a minute old.
func (t *seqTracker) maybeSweep(now uint32) {
	if now-t.lastSweep >= 60 {
		t.sweep(now)
	}
}
