// Package store writes flows and counter records to ClickHouse and runs
// queries on it, over one of two transports with the same SQL:
//
//   - embedded: chDB, the ClickHouse engine loaded from libchdb.so in-process
//     (store/chdb), loaded only when such a store starts;
//   - server: a ClickHouse server or cluster over the native protocol
//     (store/server).
//
// # Writing (collector side)
//
//	st, err := store.New(cfg, store.Dependencies{Reporter: r, Schema: flow.NewSchema()})
//	err = st.Start(ctx)            // connects, migrates the schema, replays the spool
//	app := st.NewAppender()        // one per decode worker goroutine
//	app.AppendFlows(batch.Flows)   // and AppendInterfaces / AppendHosts (decoder.Batch fields)
//	...
//	app.Close()                    // hands over what it holds
//	err = st.Stop()                // flushes everything to the store or the spool
//
// Appenders encode records straight into Native column buffers (no
// allocation per flow) and hand full blocks (batch-rows rows) to the writer
// goroutine through a bounded queue; a background flusher also hands over
// blocks older than batch-time. The caller never blocks on the store: when
// the queue is full or the store is down, blocks go to the disk spool, which
// is replayed oldest first when the store is back (and at start). When the
// spool is full its oldest blocks are dropped and counted.
//
// # Querying (query layer side)
//
//	res, err := st.Query(ctx, "SELECT ExporterName, sum(Bytes) AS b FROM flows WHERE TimeReceived > {since:DateTime} GROUP BY 1",
//	        map[string]string{"since": "2026-01-01 00:00:00"})
//	// res.Columns: names and ClickHouse types; res.Rows: typed values (see Result).
//
// Parameters are bound by the engine ({name:Type}), never interpolated.
// Table names are the schema package's constants.
package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/internal/daemon"
	"github.com/hostflow/hostflow/store/chdb"
	"github.com/hostflow/hostflow/store/native"
	"github.com/hostflow/hostflow/store/schema"
	"github.com/hostflow/hostflow/store/server"
	"github.com/hostflow/hostflow/store/spool"
	"github.com/hostflow/hostflow/store/transport"
)

// Result is a typed query result (see transport.Result).
type Result = transport.Result

// Dependencies of the store.
type Dependencies struct {
	Reporter *daemon.Reporter
	Schema   *flow.Schema
}

// Store is the component. Build with New, then Start, then Stop.
type Store struct {
	cfg    Config
	r      *daemon.Reporter
	schema *schema.Schema
	m      *metrics

	kinds [nKinds]kind

	tr    transport.Transport
	spool *spool.Spool
	ws    writerState
	// Writer goroutine only: an item taken from the queue that did not
	// join the previous insert (zero when none).
	carry item
	seen  window   // flows inserted since the last completion refresh
	rl    *rollups // nil without rollups

	qmu    sync.RWMutex // guards closed and sends on queue
	closed bool
	queue  chan item
	// spill carries blocks the writer queue had no room for to the
	// spiller, which writes them to the spool: the appenders (on the
	// receive path) never wait for the disk.
	spill     chan item
	spillDone chan struct{}

	amu       sync.Mutex
	appenders map[*Appender]struct{}

	stopFlusher chan struct{}
	wg          sync.WaitGroup
	writerDone  chan struct{}
	started     bool
}

// New checks the configuration and builds an inert store.
func New(cfg Config, deps Dependencies) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Reporter == nil || deps.Schema == nil {
		return nil, errors.New("store: Reporter and Schema are required")
	}
	opts := cfg.schemaOptions()
	// The writer aggregates flows into the rollup tables (rollups.go):
	// far cheaper than the engine's views.
	opts.RollupsByWriter = opts.Rollups
	sc, err := schema.New(deps.Schema, opts)
	if err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, r: deps.Reporter.Sub("store"), schema: sc, appenders: map[*Appender]struct{}{},
		queue: make(chan item, cfg.QueueBlocks), spill: make(chan item, max(cfg.QueueBlocks, 1)), spillDone: make(chan struct{}),
		stopFlusher: make(chan struct{}), writerDone: make(chan struct{})}
	s.kinds = [nKinds]kind{
		kindFlows:      {table: sc.InsertTable(schema.Flows)},
		kindInterfaces: {table: sc.InsertTable(schema.InterfaceCounters)},
		kindHosts:      {table: sc.InsertTable(schema.HostCounters)},
		kindFlows1m:    {table: sc.InsertTable(schema.Flows1m)},
		kindFlows5m:    {table: sc.InsertTable(schema.Flows5m)},
		kindFlows1h:    {table: sc.InsertTable(schema.Flows1h)},
	}
	for _, k := range []int{kindFlows, kindInterfaces, kindHosts} {
		s.kinds[k].free = make(chan *native.Block, cfg.QueueBlocks+2)
	}
	if opts.RollupsByWriter {
		s.rl = newRollups(sc, cfg)
	}
	s.m = newMetrics(s.r, s)
	return s, nil
}

// Schema returns the store's schema (enabled columns, table names).
func (s *Store) Schema() *schema.Schema { return s.schema }

// Start connects, migrates the schema (manage-schema), opens the spool and
// starts the writer, which replays the spool before new blocks.
func (s *Store) Start(ctx context.Context) error {
	if s.tr != nil {
		return errors.New("store: already started")
	}
	tr, err := s.connect()
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if s.cfg.ManageSchema {
		applied, err := s.schema.Migrate(ctx, tr)
		if err != nil {
			tr.Close()
			return fmt.Errorf("store: %w", err)
		}
		for _, st := range applied {
			s.r.Logger().Info("schema migrated", "statement", firstLine(st))
		}
	}
	if s.spool, err = spool.Open(s.cfg.spoolDir(), int64(s.cfg.Spool.MaxBytes)); err != nil {
		tr.Close()
		return fmt.Errorf("store: %w", err)
	}
	s.tr = tr
	if n := s.spool.Len(); n > 0 {
		s.r.Logger().Info("replaying spool", "blocks", n, "bytes", s.spool.Bytes(), "dir", s.spool.Dir())
	}
	s.r.RegisterHealth("writer", s.health)
	go s.writer()
	go s.spiller()
	s.wg.Add(2)
	go s.flusher()
	go s.housekeeping()
	s.started = true
	return nil
}

func (s *Store) connect() (transport.Transport, error) {
	if s.cfg.Type == "server" {
		return server.New(server.Options{Addresses: s.cfg.Server.Addresses,
			User: s.cfg.Server.User, Password: s.cfg.password(), DialTimeout: time.Duration(s.cfg.Server.DialTimeout),
			TLS: server.TLSOptions(s.cfg.Server.TLS)})
	}
	return chdb.NewTransport(chdb.Options{LibPath: s.cfg.LibPath, Path: s.cfg.Path, MaxMemory: int64(s.cfg.MaxMemory)})
}

// Stop hands over every appender's rows, writes everything queued (or spools
// it when the store is down) and closes the connections.
func (s *Store) Stop() error {
	if !s.started {
		return nil
	}
	s.started = false
	close(s.stopFlusher)
	s.wg.Wait()
	s.amu.Lock()
	for a := range s.appenders {
		a.flush(time.Time{})
	}
	s.amu.Unlock()
	s.qmu.Lock()
	s.closed = true
	close(s.queue)
	close(s.spill)
	s.qmu.Unlock()
	<-s.writerDone
	<-s.spillDone
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s.refreshCompletion(ctx)
	return s.tr.Close()
}

// Sync hands over every appender's rows, waits until the writer has dealt
// with everything handed over before the call, then until the spool is
// replayed, and has the writer emit the rollup rows it holds. It fails when
// the store is down (the rows stay spooled). For tests, imports and orderly
// hand-offs; collectors do not need it.
func (s *Store) Sync(ctx context.Context) error {
	s.amu.Lock()
	for a := range s.appenders {
		a.flush(time.Time{})
	}
	s.amu.Unlock()
	if err := s.barrier(ctx); err != nil {
		return err
	}
	for s.spool.Len() > 0 {
		if err := s.health(); err != nil {
			return err
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// Blocks replayed after the first barrier were rolled up (before
	// leaving the spool) but not emitted: a second barrier emits them.
	if err := s.barrier(ctx); err != nil {
		return err
	}
	s.refreshCompletion(ctx)
	return nil
}

// barrier returns once the writer has dealt with every block queued before
// the call and emitted the rollup rows it holds.
func (s *Store) barrier(ctx context.Context) error {
	// First the blocks on their way to the spool, so that the spool holds
	// them when the writer's turn comes.
	if err := s.mark(ctx, s.spill); err != nil {
		return err
	}
	return s.mark(ctx, s.queue)
}

// mark sends a marker through ch and waits until it is dealt with.
func (s *Store) mark(ctx context.Context, ch chan item) error {
	done := make(chan struct{})
	s.qmu.RLock()
	if s.closed {
		s.qmu.RUnlock()
		return errors.New("store: stopped")
	}
	// A blocking send: Sync waits behind the queued blocks by design.
	select {
	case ch <- item{done: done}:
	case <-ctx.Done():
		s.qmu.RUnlock()
		return ctx.Err()
	}
	s.qmu.RUnlock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Query runs a SELECT with bound {name:Type} parameters.
func (s *Store) Query(ctx context.Context, sql string, params map[string]string) (*Result, error) {
	if s.tr == nil {
		return nil, errors.New("store: not started")
	}
	start := time.Now()
	res, err := s.tr.Query(ctx, sql, params)
	s.m.queryDuration.Observe(time.Since(start).Seconds())
	if err != nil {
		s.m.queryErrors.Inc()
		return nil, fmt.Errorf("store query: %w", err)
	}
	return res, nil
}

// Exec runs a statement without result (maintenance, tests).
func (s *Store) Exec(ctx context.Context, sql string) error {
	if s.tr == nil {
		return errors.New("store: not started")
	}
	return s.tr.Exec(ctx, sql, nil)
}

func firstLine(s string) string {
	for i := range len(s) {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}
