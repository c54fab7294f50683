package collector

import (
	"sync"
	"sync/atomic"

	"github.com/hostflow/hostflow/flow"
)

// Tap copies decoded flows to debug subscribers (the /api/v1/debug/flows
// stream). When nobody listens, Publish costs one atomic load.
type Tap struct {
	active atomic.Int32
	mu     sync.Mutex
	subs   map[*Subscription]struct{}
}

// Subscription receives up to its limit of records, then is closed.
type Subscription struct {
	C      chan flow.Record
	remain int
	// Dropped counts records skipped because the reader was slow.
	Dropped atomic.Int64
}

// NewTap returns an idle tap.
func NewTap() *Tap { return &Tap{subs: map[*Subscription]struct{}{}} }

// Subscribe returns a subscription for the next limit records.
func (t *Tap) Subscribe(limit int) *Subscription {
	s := &Subscription{C: make(chan flow.Record, min(limit, 1024)), remain: limit}
	t.mu.Lock()
	t.subs[s] = struct{}{}
	t.active.Store(int32(len(t.subs)))
	t.mu.Unlock()
	return s
}

// Unsubscribe stops delivery and closes s.C (idempotent).
func (t *Tap) Unsubscribe(s *Subscription) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.subs[s]; ok {
		delete(t.subs, s)
		close(s.C)
	}
	t.active.Store(int32(len(t.subs)))
}

// Publish offers records to subscribers without ever blocking.
func (t *Tap) Publish(recs []flow.Record) {
	if t.active.Load() == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for s := range t.subs {
		for i := range recs {
			if s.remain == 0 {
				break
			}
			select {
			case s.C <- recs[i]:
				s.remain--
			default:
				s.Dropped.Add(1)
			}
		}
		if s.remain == 0 {
			delete(t.subs, s)
			close(s.C)
		}
	}
	t.active.Store(int32(len(t.subs)))
}
