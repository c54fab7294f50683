package store

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/hostflow/hostflow/store/native"
	"github.com/hostflow/hostflow/store/transport"
)

// gatedTransport holds every insert until the gate opens: a store too slow
// for its input, which a test cannot cause otherwise on demand.
type gatedTransport struct {
	transport.Transport
	gate    chan struct{}
	waiting *atomic.Int32 // inserts that reached the gate
}

func (g gatedTransport) Insert(ctx context.Context, table string, b ...*native.Block) error {
	g.waiting.Add(1)
	<-g.gate
	return g.Transport.Insert(ctx, table, b...)
}

// gatedStore starts a store without rollups, with 1000-row blocks, queue
// blocks in the writer queue and a gated transport (the test opens the
// gate). waiting counts the inserts that reached the gate.
func gatedStore(t *testing.T, db string, queue int) (s *Store, gate chan struct{}, waiting *atomic.Int32) {
	cfg := testConfig(t, db)
	cfg.TTL = map[string]Duration{}
	cfg.Rollups = false
	cfg.QueueBlocks = queue
	cfg.BatchRows = 1000
	cfg.BatchTime = Duration(time.Hour) // blocks go out full, never by age
	s = startStore(t, cfg)
	gate, waiting = make(chan struct{}), new(atomic.Int32)
	s.tr = gatedTransport{Transport: s.tr, gate: gate, waiting: waiting}
	return s, gate, waiting
}

// TestSlowStoreSpills: while the writer is stuck in an insert, appenders
// (the receive path) keep going: blocks past the writer queue go to the
// spool (through the spiller, or directly when it is behind too), and once
// the store catches up every block is stored.
func TestSlowStoreSpills(t *testing.T) {
	s, gate, _ := gatedStore(t, "spill", 1)
	cfg := s.cfg

	const blocks = 40
	recs := genFlows(7, blocks*cfg.BatchRows, t0, time.Hour)
	app := s.NewAppender()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < len(recs); i += cfg.BatchRows {
			app.AppendFlows(recs[i : i+cfg.BatchRows])
		}
		app.Close()
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		close(gate)
		t.Fatal("appenders waited for the stuck writer")
	}
	close(gate)
	sync_(t, s)

	table := "spill.flows"
	inserted := testutil.ToFloat64(s.m.rows.WithLabelValues(table, "inserted"))
	spooled := testutil.ToFloat64(s.m.rows.WithLabelValues(table, "spooled"))
	stored := one(t, s, "SELECT count() FROM spill.flows")
	t.Logf("rows: inserted live %v, spooled %v; stored %v; blocks past the queue %v",
		inserted, spooled, stored, testutil.ToFloat64(s.m.queueFull))
	if spooled == 0 || testutil.ToFloat64(s.m.queueFull) == 0 {
		t.Errorf("no block went to the spool (spooled %v rows)", spooled)
	}
	if inserted+spooled != float64(len(recs)) || stored != uint64(len(recs)) {
		t.Errorf("inserted %v + spooled %v rows, stored %v: want all %d appended", inserted, spooled, stored, len(recs))
	}
}

// TestBehindWriterCoalesces: blocks that waited in the queue while the
// writer was busy go out as one insert, written by the engine as one part.
func TestBehindWriterCoalesces(t *testing.T) {
	s, gate, waiting := gatedStore(t, "coalesce", 4)
	cfg := s.cfg
	if _, err := s.Query(context.Background(), "SYSTEM STOP MERGES coalesce.flows", nil); err != nil {
		t.Fatal(err)
	}

	const blocks = 1 + 4
	recs := genFlows(11, blocks*cfg.BatchRows, t0, time.Hour)
	app := s.NewAppender()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				close(gate)
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	// The writer takes the first block and waits at the gate; the next
	// four wait in the queue.
	app.AppendFlows(recs[:cfg.BatchRows])
	waitFor("the first insert", func() bool { return waiting.Load() == 1 })
	for i := cfg.BatchRows; i < len(recs); i += cfg.BatchRows {
		app.AppendFlows(recs[i : i+cfg.BatchRows])
	}
	waitFor("4 queued blocks", func() bool { return len(s.queue) == 4 })
	close(gate)
	app.Close()
	sync_(t, s)

	if n, sum := histogram(t, s.m.insertBlocks.WithLabelValues("coalesce.flows")); n != 2 || sum != blocks {
		t.Errorf("%d inserts of %v blocks in all, want 2 inserts (1 block, then the 4 queued)", n, sum)
	}
	if got := one(t, s, "SELECT count() FROM coalesce.flows"); got != uint64(len(recs)) {
		t.Errorf("stored %v rows, want %d", got, len(recs))
	}
	if got := one(t, s, "SELECT count() FROM system.parts WHERE database = 'coalesce' AND table = 'flows' AND active"); got != uint64(2) {
		t.Errorf("%v parts, want 2 (one per insert)", got)
	}
}

// histogram returns the sample count and sum of a histogram.
func histogram(t *testing.T, o prometheus.Observer) (uint64, float64) {
	t.Helper()
	var m dto.Metric
	if err := o.(prometheus.Metric).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
}
