package store

import (
	"sync"
	"time"

	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/store/native"
	"github.com/hostflow/hostflow/store/schema"
)

const (
	kindFlows = iota
	kindInterfaces
	kindHosts
	// Rollup blocks, made by the writer (rollups.go), finest first.
	kindFlows1m
	kindFlows5m
	kindFlows1h
	nKinds
)

type kind struct {
	table string
	free  chan *native.Block // recycled blocks, so steady state does not allocate (appender kinds)
}

type item struct {
	kind  int
	block *native.Block
	done  chan struct{} // Sync marker: closed by the writer when reached, no block
}

// Appender encodes records into its own blocks. Use one per goroutine: its
// methods are not meant to be called concurrently (they are safe, but then
// serialize). The store's flusher takes blocks older than batch-time.
type Appender struct {
	s     *Store
	mu    sync.Mutex // owner vs flusher; uncontended in steady state
	flows *native.Encoder[flow.Record]
	ifs   *native.Encoder[flow.InterfaceCounters]
	hosts *native.Encoder[flow.HostCounters]
	since [nKinds]time.Time // when the current block got its first row
}

// NewAppender returns an appender registered with the store's flusher.
func (s *Store) NewAppender() *Appender {
	a := &Appender{
		s:     s,
		flows: native.NewEncoder(s.schema.FlowFields()),
		ifs:   native.NewEncoder(schema.InterfaceFields()),
		hosts: native.NewEncoder(schema.HostFields()),
	}
	s.amu.Lock()
	s.appenders[a] = struct{}{}
	s.amu.Unlock()
	return a
}

// AppendFlows encodes flows; it never blocks on the store.
func (a *Appender) AppendFlows(recs []flow.Record) {
	if len(recs) == 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.touch(kindFlows, a.flows.Rows())
	for i := range recs {
		a.flows.Append(&recs[i])
		if a.flows.Rows() >= a.s.cfg.BatchRows {
			a.handoff(kindFlows, a.flows.NewBlock, a.flows.Swap)
			a.touch(kindFlows, 0)
		}
	}
}

// AppendInterfaces encodes interface counter samples.
func (a *Appender) AppendInterfaces(recs []flow.InterfaceCounters) {
	appendAll(a, kindInterfaces, a.ifs, recs)
}

// AppendHosts encodes host counter samples.
func (a *Appender) AppendHosts(recs []flow.HostCounters) {
	appendAll(a, kindHosts, a.hosts, recs)
}

func appendAll[T any](a *Appender, k int, enc *native.Encoder[T], recs []T) {
	if len(recs) == 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.touch(k, enc.Rows())
	for i := range recs {
		enc.Append(&recs[i])
		if enc.Rows() >= a.s.cfg.BatchRows {
			a.handoff(k, enc.NewBlock, enc.Swap)
			a.touch(k, 0)
		}
	}
}

func (a *Appender) touch(k, rows int) {
	if rows == 0 {
		a.since[k] = time.Now()
	}
}

// handoff passes the current block of kind k to the store and continues
// with a recycled (or new) one.
func (a *Appender) handoff(k int, newBlock func(int) *native.Block, swap func(*native.Block) *native.Block) {
	var next *native.Block
	select {
	case next = <-a.s.kinds[k].free:
	default:
		next = newBlock(a.s.cfg.BatchRows)
	}
	a.s.submit(item{kind: k, block: swap(next)})
}

// flush hands over blocks that got their first row before cutoff (all
// non-empty blocks for the zero time).
func (a *Appender) flush(cutoff time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	due := func(k, rows int) bool {
		return rows > 0 && (cutoff.IsZero() || a.since[k].Before(cutoff))
	}
	if due(kindFlows, a.flows.Rows()) {
		a.handoff(kindFlows, a.flows.NewBlock, a.flows.Swap)
	}
	if due(kindInterfaces, a.ifs.Rows()) {
		a.handoff(kindInterfaces, a.ifs.NewBlock, a.ifs.Swap)
	}
	if due(kindHosts, a.hosts.Rows()) {
		a.handoff(kindHosts, a.hosts.NewBlock, a.hosts.Swap)
	}
}

// Close hands over what the appender holds and unregisters it.
func (a *Appender) Close() {
	a.flush(time.Time{})
	a.s.amu.Lock()
	delete(a.s.appenders, a)
	a.s.amu.Unlock()
}

// flusher hands over blocks older than batch-time.
func (s *Store) flusher() {
	defer s.wg.Done()
	period := time.Duration(s.cfg.BatchTime) / 4
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-s.stopFlusher:
			return
		case now := <-t.C:
			cutoff := now.Add(-time.Duration(s.cfg.BatchTime))
			s.amu.Lock()
			for a := range s.appenders {
				a.flush(cutoff)
			}
			s.amu.Unlock()
		}
	}
}

// submit queues a block for the writer, or spools it when the queue is full.
func (s *Store) submit(it item) {
	s.qmu.RLock()
	if s.closed {
		s.qmu.RUnlock()
		s.m.dropped(it, "stopped")
		return
	}
	defer s.qmu.RUnlock()
	select {
	case s.queue <- it:
		return
	default:
	}
	// The writer is behind: the spiller writes the block to the spool.
	s.m.queueFull.Inc()
	select {
	case s.spill <- it:
	default:
		// The spiller is behind too: spool it here. The receive path waits
		// for the disk and the socket buffers absorb the input meanwhile
		// (what they cannot hold is dropped and counted by the inlet).
		s.toSpool(it)
	}
}
