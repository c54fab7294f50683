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
// Rows held are lost if the process dies: the rollups may then miss up to
// about a minute of flows that the raw table has (the raw table itself
// loses at most the appenders' open blocks).
type rollups struct {
	agg      *rollup.Aggregator
	kinds    []int    // item kinds of flows_1m, 5m, 1h
	buckets  []uint32 // their time buckets, seconds
	maxBytes int
	maxAge   time.Duration
	since    time.Time    // when the oldest row held was added
	groups   atomic.Int64 // rows held, for the gauges
	bytes    atomic.Int64
}

func newRollups(sc *schema.Schema, cfg Config) *rollups {
	cols, _, buckets := sc.RollupWriter()
	return &rollups{
		agg:      rollup.New(cols, buckets[0]),
		kinds:    []int{kindFlows1m, kindFlows5m, kindFlows1h},
		buckets:  buckets,
		maxBytes: int(cfg.RollupMemory),
		maxAge:   time.Minute + time.Duration(cfg.BatchTime),
	}
}

// flowsInserted records an inserted (or replayed) flows block: its time
// range for the completion refresh, its rows in the rollups. Writer
// goroutine only.
func (s *Store) flowsInserted(b *native.Block) {
	if b.Rows == 0 {
		return
	}
	// Without a TimeReceived column (start 0), Add reports the layout.
	start, end, ok := timeRange(b)
	if ok {
		s.seen.widen(start, end)
	}
	s.aggregate(b, start)
}

// aggregate adds a flows block whose oldest row is at start to the rollups.
func (s *Store) aggregate(b *native.Block, start uint32) {
	rl := s.rl
	if rl == nil {
		return
	}
	if lo, _, ok := rl.agg.TimeRange(); ok && start >= lo-lo%rl.buckets[0]+rl.buckets[0] {
		s.emitRollups()
	}
	if err := rl.agg.Add(b); err != nil {
		s.m.rollupErrors.Inc()
		s.r.Limited("rollup", "block not rolled up", "error", err)
		return
	}
	if rl.since.IsZero() {
		rl.since = time.Now()
	}
	rl.groups.Store(int64(rl.agg.Groups()))
	rl.bytes.Store(int64(rl.agg.Bytes()))
	if rl.agg.Bytes() >= rl.maxBytes {
		s.emitRollups()
	}
}

// emitRollups writes the rows held to every rollup table (or the spool).
// Writer goroutine only.
func (s *Store) emitRollups() {
	rl := s.rl
	if rl == nil || rl.agg.Groups() == 0 {
		return
	}
	b := rl.agg.Block()
	for i, k := range rl.kinds {
		if i > 0 {
			rollup.Rebucket(b, rl.buckets[i])
		}
		// write inserts or spools the block before returning: it can be
		// changed afterwards.
		s.write([]item{{kind: k, block: b}})
	}
	rl.agg.Reset()
	rl.since = time.Time{}
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
