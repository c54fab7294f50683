package store

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hostflow/hostflow/store/native"
	"github.com/hostflow/hostflow/store/transport"
)

// gatedTransport holds every insert until the gate opens: a store too slow
// for its input, which a test cannot cause otherwise on demand.
type gatedTransport struct {
	transport.Transport
	gate chan struct{}
}

func (g gatedTransport) Insert(ctx context.Context, table string, b *native.Block) error {
	<-g.gate
	return g.Transport.Insert(ctx, table, b)
}

// TestSlowStoreSpills: while the writer is stuck in an insert, appenders
// (the receive path) keep going: blocks past the writer queue go to the
// spool (through the spiller, or directly when it is behind too), and once
// the store catches up every block is stored.
func TestSlowStoreSpills(t *testing.T) {
	cfg := testConfig(t, "spill")
	cfg.TTL = map[string]Duration{}
	cfg.Rollups = false
	cfg.QueueBlocks = 1
	cfg.BatchRows = 1000
	s := startStore(t, cfg)
	gate := make(chan struct{})
	s.tr = gatedTransport{Transport: s.tr, gate: gate}

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
