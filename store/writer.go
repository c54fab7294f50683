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

// maxInsertRows caps the rows of blocks coalesced into one insert: the
// engine's own part size (min_insert_block_size_rows is 1,048,449 by
// default).
const maxInsertRows = 1_000_000

// writer inserts queued blocks. When it is behind, the blocks of a table
// waiting in the queue go out together as one insert (one part): fewer,
// larger parts cost the engine less to write and to merge, so the writer
// catches up, and at low rates every block still goes out alone as soon as
// it is full. It replays the spool first, then between inserts whenever
// the store is up and the queue is not pressing.
func (s *Store) writer() {
	defer close(s.writerDone)
	if s.rl != nil {
		go s.adder()
		defer func() {
			close(s.rl.in)
			<-s.rl.adderDone
		}()
	}
	s.replay(true)
	tick := time.NewTicker(minBackoff)
	defer tick.Stop()
	housekeep := func() {
		s.replay(false)
		s.rollupsDue()
	}
	for {
		it := s.carry // taken from the queue by the previous turn
		s.carry = item{}
		if it.block == nil && it.done == nil {
			var ok bool
			select {
			case it, ok = <-s.queue:
				if !ok {
					s.emitRollups()
					return
				}
			case <-tick.C:
				housekeep()
				continue
			}
		} else {
			// The queue may never run dry while items are carried: give
			// the tick its turn here.
			select {
			case <-tick.C:
				housekeep()
			default:
			}
		}
		s.handle(it)
	}
}

// handle writes a queued block together with the blocks of the same table
// already waiting behind it, or reaches a Sync marker. An item that cannot
// join (another table, a marker, too many rows) is carried to the next turn.
func (s *Store) handle(it item) {
	if it.done != nil {
		s.emitRollups()
		close(it.done)
		return
	}
	group := []item{it}
	rows := it.block.Rows
gather:
	// At most the queue's capacity joins (the memory bound of docs/store.md)
	// even if appenders refill the queue meanwhile.
	for rows < maxInsertRows && len(group) <= s.cfg.QueueBlocks {
		select {
		case nx, ok := <-s.queue:
			if !ok {
				break gather // the writer loop sees the closed queue next
			}
			if nx.done != nil || nx.kind != it.kind || rows+nx.block.Rows > maxInsertRows {
				s.carry = nx
				break gather
			}
			group = append(group, nx)
			rows += nx.block.Rows
		default:
			break gather
		}
	}
	s.write(group)
}

func (s *Store) insert(table string, blocks ...*native.Block) error {
	ctx, cancel := context.WithTimeout(context.Background(), insertTimeout)
	defer cancel()
	start := time.Now()
	err := s.tr.Insert(ctx, table, blocks...)
	s.m.insertDuration.WithLabelValues(table).Observe(time.Since(start).Seconds())
	if err != nil {
		s.markDown(err)
		return err
	}
	s.m.insertBlocks.WithLabelValues(table).Observe(float64(len(blocks)))
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

// write inserts live blocks of one table as one insert, or spools them
// when the store is (or turns out to be) down.
func (s *Store) write(group []item) {
	kind := group[0].kind
	if s.ws.down.Load() && time.Now().Before(s.ws.retryAt) {
		for _, it := range group {
			s.toSpool(it)
		}
		return
	}
	blocks := make([]*native.Block, len(group))
	for i, it := range group {
		blocks[i] = it.block
	}
	err := s.insert(s.kinds[kind].table, blocks...)
	for _, it := range group {
		if err != nil {
			s.toSpool(it)
			continue
		}
		s.m.written(it, "inserted")
		if kind == kindFlows {
			s.flowsInserted(it, true)
			continue
		}
		s.recycle(it)
	}
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

// replay inserts spooled blocks oldest first, consecutive blocks of a
// table together as live ones (up to the rows the writer queue holds, so
// memory stays within the live bound). At start (all) it drains the whole
// spool unless the store fails; otherwise it works for at most a second
// and yields when live blocks are waiting.
func (s *Store) replay(all bool) {
	if s.spool.Len() == 0 || (s.ws.down.Load() && time.Now().Before(s.ws.retryAt)) {
		return
	}
	deadline := time.Now().Add(time.Second)
	for s.spool.Len() > 0 {
		if !all && (time.Now().After(deadline) || len(s.queue) > 0) {
			return
		}
		group := s.readSpooled()
		if len(group) == 0 {
			continue // only unreadable blocks, now removed
		}
		table := group[0].e.Table
		blocks := make([]*native.Block, len(group))
		for i, g := range group {
			blocks[i] = g.b
		}
		if err := s.insert(table, blocks...); err != nil {
			return
		}
		for _, g := range group {
			if table == s.kinds[kindFlows].table {
				s.flowsInserted(item{kind: kindFlows, block: g.b}, false)
			}
			s.m.replayedRows.WithLabelValues(table).Add(float64(g.b.Rows))
			s.m.replayedBlocks.WithLabelValues(table).Inc()
			if err := s.spool.Remove(g.e); err != nil {
				s.r.Limited("spool-remove", "cannot remove replayed spool block", "error", err)
			}
		}
	}
}

type spooled struct {
	e spool.Entry
	b *native.Block
}

// replayBatch is how many spooled blocks replay looks at to form one insert.
const replayBatch = 16

// readSpooled reads the oldest spooled block and the following ones of the
// same table and columns, within the rows of one insert. It removes the
// unreadable ones it meets.
func (s *Store) readSpooled() []spooled {
	var group []spooled
	rows, maxRows := 0, min(maxInsertRows, (s.cfg.QueueBlocks+1)*s.cfg.BatchRows)
	for _, e := range s.spool.Head(replayBatch) {
		if len(group) > 0 && (e.Table != group[0].e.Table || rows+e.Rows > maxRows) {
			break
		}
		_, b, err := s.spool.Read(e)
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
		if len(group) > 0 && group[0].b.SameColumns(b) != nil {
			break // written by another version: its own insert
		}
		group = append(group, spooled{e, b})
		rows += b.Rows
	}
	return group
}
