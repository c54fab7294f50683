package store

import (
	"encoding/binary"
	"sync/atomic"
	"time"

	"github.com/hostflow/hostflow/store/native"
	"github.com/hostflow/hostflow/store/rollup"
	"github.com/hostflow/hostflow/store/schema"
)

// The writer fills the rollup tables itself: every flows block it inserts
// (live or replayed from the spool) is also added to a rollup.Aggregator,
// grouped by minute and the rollup key columns. The aggregated rows are
// inserted into flows_1m, then, with their time rounded down, into
// flows_5m and flows_1h (the tables' SummingMergeTree merges and the
// queries' sum() fold rows that now share a key). They go out when:
//   - a flows block starts at or after the end of the minute of the oldest
//     row held (traffic moved on to the next minute);
//   - the aggregator's groups take rollup-memory bytes (the larger it is,
//     the more flows fold into each row before they reach the engine, whose
//     merges otherwise do the folding at a far higher cost);
//   - its first row is older than a minute plus batch-time (slow traffic);
//   - on Sync and Stop.
//
// The adding runs on its own goroutine (the adder), so that it overlaps the
// writer's next insert: on a busy collector it is a third of the writer's
// work. The writer hands each inserted block over (then the adder recycles
// it) and owns every decision; before it emits, it waits for the adder to
// finish the blocks handed over, so the aggregator has one user at a time.
//
// Rows held are lost if the process dies: the rollups may then miss up to
// about a minute of flows that the raw table has (the raw table itself
// loses at most the appenders' open blocks).
type rollups struct {
	agg      *rollup.Aggregator // the adder's, except while the writer emits
	kinds    []int              // item kinds of flows_1m, 5m, 1h
	buckets  []uint32           // their time buckets, seconds
	maxBytes int
	maxAge   time.Duration

	in        chan addJob
	adderDone chan struct{}

	// The writer's: when the first block since the last emission was
	// handed over (zero: none), and the oldest TimeReceived among them.
	since time.Time
	lo    uint32

	groups atomic.Int64 // rows held, for the gauges (set by the adder)
	bytes  atomic.Int64
}

// addJob is a flows block for the adder (recycled afterwards when live), or
// a barrier it closes once every block before it is added.
type addJob struct {
	it      item
	live    bool
	barrier chan struct{}
}

func newRollups(sc *schema.Schema, cfg Config) *rollups {
	cols, _, buckets := sc.RollupWriter()
	return &rollups{
		agg:      rollup.New(cols, buckets[0]),
		kinds:    []int{kindFlows1m, kindFlows5m, kindFlows1h},
		buckets:  buckets,
		maxBytes: int(cfg.RollupMemory),
		maxAge:   time.Minute + time.Duration(cfg.BatchTime),
		// One block waiting while the adder works on another: enough for
		// the adding to overlap the next insert.
		in:        make(chan addJob, 1),
		adderDone: make(chan struct{}),
	}
}

// adder adds the blocks handed over to the aggregator until in is closed.
func (s *Store) adder() {
	rl := s.rl
	defer close(rl.adderDone)
	for j := range rl.in {
		if j.barrier != nil {
			close(j.barrier)
			continue
		}
		if err := rl.agg.Add(j.it.block); err != nil {
			s.m.rollupErrors.Inc()
			s.r.Limited("rollup", "block not rolled up", "error", err)
		}
		rl.groups.Store(int64(rl.agg.Groups()))
		rl.bytes.Store(int64(rl.agg.Bytes()))
		if j.live {
			s.recycle(j.it)
		}
	}
}

// flowsInserted records an inserted (live, else replayed) flows block: its
// time range for the completion refresh, its rows in the rollups. It
// recycles a live block (now or, with rollups, once added). Writer
// goroutine only.
func (s *Store) flowsInserted(it item, live bool) {
	b := it.block
	start, end, ok := timeRange(b)
	if ok && b.Rows > 0 {
		s.seen.widen(start, end)
	}
	rl := s.rl
	if rl == nil || b.Rows == 0 {
		if live {
			s.recycle(it)
		}
		return
	}
	// Without a TimeReceived column, Add reports the layout.
	if ok {
		if !rl.since.IsZero() && start >= rl.lo-rl.lo%rl.buckets[0]+rl.buckets[0] {
			s.emitRollups()
		}
		if rl.since.IsZero() {
			rl.since, rl.lo = time.Now(), start
		}
		rl.lo = min(rl.lo, start)
	}
	rl.in <- addJob{it: it, live: live}
	// The adder's count lags by the blocks not yet added (at most two):
	// the bound is exceeded by at most their groups.
	if rl.bytes.Load() >= int64(rl.maxBytes) {
		s.emitRollups()
	}
}

// emitRollups writes the rows held to every rollup table (or the spool),
// once the adder has added every block handed over. Writer goroutine only.
func (s *Store) emitRollups() {
	rl := s.rl
	if rl == nil || rl.since.IsZero() {
		return
	}
	barrier := make(chan struct{})
	rl.in <- addJob{barrier: barrier}
	<-barrier
	if rl.agg.Groups() > 0 {
		b := rl.agg.Block()
		for i, k := range rl.kinds {
			if i > 0 {
				rollup.Rebucket(b, rl.buckets[i])
			}
			// write inserts or spools the block before returning: it can be
			// changed afterwards.
			s.write([]item{{kind: k, block: b}})
		}
	}
	rl.agg.Reset()
	rl.since, rl.lo = time.Time{}, 0
	rl.groups.Store(0)
	rl.bytes.Store(0)
}

// rollupsDue emits the rows held when the oldest is older than maxAge.
func (s *Store) rollupsDue() {
	if rl := s.rl; rl != nil && !rl.since.IsZero() && time.Since(rl.since) >= rl.maxAge {
		s.emitRollups()
	}
}

// timeRange returns the TimeReceived range of a flows block.
func timeRange(b *native.Block) (lo, hi uint32, ok bool) {
	for i := range b.Columns {
		c := &b.Columns[i]
		if c.Name != "TimeReceived" || c.Width != 4 || b.Rows == 0 {
			continue
		}
		lo, hi = ^uint32(0), 0
		for off := 0; off+4 <= len(c.Data); off += 4 {
			v := binary.LittleEndian.Uint32(c.Data[off:])
			lo, hi = min(lo, v), max(hi, v)
		}
		return lo, hi, true
	}
	return 0, 0, false
}
