package chdb

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/hostflow/hostflow/store/native"
	"github.com/hostflow/hostflow/store/transport"
)

// Options configure the embedded engine.
type Options struct {
	LibPath string // "" = ResolvePath lookup
	Path    string // storage directory
	// MaxMemory caps the engine's memory (max_server_memory_usage); 0 = the
	// engine default (90 % of RAM).
	MaxMemory int64
	// Readers is the number of query connections (default 2).
	Readers int
}

// Transport is the embedded store: one connection for inserts, a small pool
// for queries (an open insert stream blocks its connection).
type Transport struct {
	lib     *Lib
	writer  *Conn
	readers chan *Conn
	all     []*Conn
}

var _ transport.Transport = (*Transport)(nil)

// NewTransport loads the library and opens the connections.
func NewTransport(o Options) (*Transport, error) {
	path, err := ResolvePath(o.LibPath)
	if err != nil {
		return nil, err
	}
	lib, err := Open(path)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Path, 0o750); err != nil {
		return nil, fmt.Errorf("chdb: store directory: %w", err)
	}
	args := []string{
		// Without this, a cap under ~1 GiB silently makes queries single-threaded.
		"--max_threads_min_free_memory_per_thread=0",
		"--query_profiler_real_time_period_ns=0",
		"--query_profiler_cpu_time_period_ns=0",
		"--session_timezone=UTC",
		// Rollup views already GROUP BY each block: sorting and summing it
		// again while inserting into the SummingMergeTree doubled the insert
		// CPU (measured 54 → 27 µs/row with the three rollups); merges still
		// sum.
		"--optimize_on_insert=0",
	}
	if o.MaxMemory > 0 {
		args = append(args, fmt.Sprintf("--max_server_memory_usage=%d", o.MaxMemory))
	}
	t := &Transport{lib: lib}
	// The first connection boots the engine with the server-level options.
	if t.writer, err = lib.Connect(o.Path, args...); err != nil {
		return nil, err
	}
	t.all = append(t.all, t.writer)
	n := o.Readers
	if n <= 0 {
		n = 2
	}
	t.readers = make(chan *Conn, n)
	for range n {
		c, err := lib.Connect(o.Path, args...)
		if err != nil {
			t.Close()
			return nil, err
		}
		t.all = append(t.all, c)
		t.readers <- c
	}
	return t, nil
}

// Lib returns the loaded library.
func (t *Transport) Lib() *Lib { return t.lib }

func (t *Transport) reader(ctx context.Context) (*Conn, error) {
	select {
	case c := <-t.readers:
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Exec runs a statement on a query connection.
func (t *Transport) Exec(ctx context.Context, sql string, params map[string]string) error {
	c, err := t.reader(ctx)
	if err != nil {
		return err
	}
	defer func() { t.readers <- c }()
	_, _, err = c.Query(sql, "TabSeparated", params)
	return err
}

// Query runs a SELECT with bound parameters and parses its JSONCompact
// output. The engine call cannot be interrupted: ctx only bounds the wait for
// a free connection.
func (t *Transport) Query(ctx context.Context, sql string, params map[string]string) (*transport.Result, error) {
	c, err := t.reader(ctx)
	if err != nil {
		return nil, err
	}
	out, _, err := c.Query(sql, "JSONCompact", params)
	t.readers <- c
	if err != nil {
		return nil, err
	}
	return transport.ParseJSONCompact(out)
}

// Insert streams blocks into table on the writer connection, as one
// insert. The engine squashes the blocks of an insert into parts of
// min_insert_block_size_rows (about a million) rows; the insert raises it
// above its total so that the blocks become one part, committed or not as
// a whole (a failed insert of several blocks then never leaves some of
// them written, which the spool's replay would duplicate).
func (t *Transport) Insert(_ context.Context, table string, blocks ...*native.Block) error {
	if len(blocks) == 0 {
		return nil
	}
	q := "INSERT INTO " + table + " (" + strings.Join(blocks[0].Names(), ", ") + ")"
	if len(blocks) > 1 {
		rows := 0
		for _, b := range blocks {
			if err := blocks[0].SameColumns(b); err != nil {
				return fmt.Errorf("insert into %s: %w", table, err)
			}
			rows += b.Rows
		}
		q += " SETTINGS min_insert_block_size_rows = " + strconv.Itoa(rows+1) + ", min_insert_block_size_bytes = 0"
	}
	var scratch [512]byte
	_, err := t.writer.Insert(q, "Native", func(appendFn func([]byte) error) error {
		for _, b := range blocks {
			if err := b.Pieces(scratch[:], appendFn); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("insert into %s: %w", table, err)
	}
	return nil
}

// Close closes every connection; the engine shuts down with the last one.
func (t *Transport) Close() error {
	for _, c := range t.all {
		c.Close()
	}
	return nil
}
