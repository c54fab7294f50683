package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/hostflow/hostflow/store/native"
	"github.com/hostflow/hostflow/store/spool"
)

// Insert timeout: a block that takes longer is treated as failed and
// spooled (a server transport aborts it; chDB calls cannot be interrupted).
const insertTimeout = 60 * time.Second

// Backoff between attempts while the store is down.
const (
	minBackoff = time.Second
	maxBackoff = 30 * time.Second
)

// writerState is only touched by the writer goroutine, except down which
// the health check reads.
type writerState struct {
	down    atomic.Bool
	lastErr atomic.Value // string
	retryAt time.Time
	backoff time.Duration
}

func (s *Store) health() error {
	if s.ws.down.Load() {
		msg, _ := s.ws.lastErr.Load().(string)
		return fmt.Errorf("store unreachable, spooling: %s", msg)
	}
	return nil
}

// writer inserts queued blocks one at a time. It replays the spool first,
// then between blocks whenever the store is up and the queue is not
// pressing.
func (s *Store) writer() {
	defer close(s.writerDone)
	s.replay(true)
	tick := time.NewTicker(minBackoff)
	defer tick.Stop()
	for {
		select {
		case it, ok := <-s.queue:
			if !ok {
				s.emitRollups()
				return
			}
			if it.done != nil {
				s.emitRollups()
				close(it.done)
				continue
			}
			s.write(it)
		case <-tick.C:
			s.replay(false)
			s.rollupsDue()
		}
	}
}

func (s *Store) insert(table string, b *native.Block) error {
	ctx, cancel := context.WithTimeout(context.Background(), insertTimeout)
	defer cancel()
	start := time.Now()
	err := s.tr.Insert(ctx, table, b)
	s.m.insertDuration.WithLabelValues(table).Observe(time.Since(start).Seconds())
	if err != nil {
		s.markDown(err)
		return err
	}
	s.markUp()
	return nil
}

func (s *Store) markDown(err error) {
	if s.ws.backoff == 0 {
		s.ws.backoff = minBackoff
	} else {
		s.ws.backoff = min(2*s.ws.backoff, maxBackoff)
	}
	s.ws.retryAt = time.Now().Add(s.ws.backoff)
	s.ws.lastErr.Store(err.Error())
	if !s.ws.down.Swap(true) {
		s.r.Logger().Warn("store insert failed, spooling until it recovers", "error", err)
	} else {
		s.r.Limited("insert", "store still unreachable", "error", err, "retry_in", s.ws.backoff)
	}
	s.m.insertErrors.Inc()
}

func (s *Store) markUp() {
	if s.ws.down.Swap(false) {
		s.r.Logger().Info("store reachable again")
	}
	s.ws.backoff = 0
}

// write inserts a live block, or spools it when the store is (or turns out
// to be) down.
func (s *Store) write(it item) {
	table := s.kinds[it.kind].table
	if s.ws.down.Load() && time.Now().Before(s.ws.retryAt) {
		s.toSpool(it)
		return
	}
	if err := s.insert(table, it.block); err != nil {
		s.toSpool(it)
		return
	}
	s.m.written(it, "inserted")
	if it.kind == kindFlows {
		s.flowsInserted(it.block)
	}
	s.recycle(it)
}

func (s *Store) recycle(it item) {
	select {
	case s.kinds[it.kind].free <- it.block:
	default:
	}
}

// spiller writes the blocks the writer queue had no room for to the spool.
func (s *Store) spiller() {
	defer close(s.spillDone)
	for it := range s.spill {
		if it.done != nil {
			close(it.done)
			continue
		}
		s.toSpool(it)
	}
}

// toSpool writes a block to the spool (evicting the oldest blocks if
// needed). Called by the writer when an insert fails, and by the spiller.
func (s *Store) toSpool(it item) {
	table := s.kinds[it.kind].table
	evicted, err := s.spool.Put(table, it.block)
	for _, e := range evicted {
		s.m.droppedRows.WithLabelValues(e.Table, "spool_full").Add(float64(e.Rows))
		s.r.Limited("spool-full", "spool full, dropped its oldest block", "table", e.Table, "rows", e.Rows)
	}
	switch {
	case errors.Is(err, spool.ErrTooLarge):
		s.m.dropped(it, "too_large")
	case err != nil:
		s.m.dropped(it, "spool_error")
		s.r.Limited("spool-write", "cannot write to the spool, block dropped", "error", err)
	default:
		s.m.written(it, "spooled")
	}
	s.recycle(it)
}

// replay inserts spooled blocks oldest first. At start (all) it drains the
// whole spool unless the store fails; otherwise it works for at most a
// second and yields when live blocks are waiting.
func (s *Store) replay(all bool) {
	if s.spool.Len() == 0 || (s.ws.down.Load() && time.Now().Before(s.ws.retryAt)) {
		return
	}
	deadline := time.Now().Add(time.Second)
	for {
		e, ok := s.spool.Oldest()
		if !ok {
			return
		}
		if !all && (time.Now().After(deadline) || len(s.queue) > 0) {
			return
		}
		table, b, err := s.spool.Read(e)
		switch {
		case errors.Is(err, os.ErrNotExist):
			// Evicted meanwhile by a full spool (already counted).
			s.spool.Remove(e)
			continue
		case err != nil:
			s.r.Limited("spool-corrupt", "dropping unreadable spool block", "seq", e.Seq, "error", err)
			s.m.droppedRows.WithLabelValues(e.Table, "corrupt").Add(float64(e.Rows))
			s.spool.Remove(e)
			continue
		}
		if err := s.insert(table, b); err != nil {
			return
		}
		if table == s.kinds[kindFlows].table {
			s.flowsInserted(b)
		}
		s.m.replayedRows.WithLabelValues(table).Add(float64(b.Rows))
		s.m.replayedBlocks.WithLabelValues(table).Inc()
		if err := s.spool.Remove(e); err != nil {
			s.r.Limited("spool-remove", "cannot remove replayed spool block", "error", err)
		}
	}
}
