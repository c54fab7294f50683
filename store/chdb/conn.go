package chdb

import (
	"errors"
	"fmt"
	"github.com/hostflow/hostflow/store/transport"
	"runtime"
	"sort"
	"strings"
	"sync"
	"unsafe"
)

// Conn is one chDB connection. A connection runs one statement at a time
// (an open insert stream blocks it), so Conn serializes its calls; use one
// connection per writer and another for readers.
type Conn struct {
	lib  *Lib
	mu   sync.Mutex
	ptr  *uintptr // chdb_connection*
	conn uintptr  // *ptr
}

// Connect opens a connection on the storage directory path with extra
// command-line style arguments ("--name=value"). Every connection of a
// process must use the same path while any is open: the engine serves one
// storage path per process.
func (l *Lib) Connect(path string, args ...string) (*Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conns > 0 && l.root != path {
		return nil, fmt.Errorf("chdb: engine already runs on %s; one storage path per process (asked for %s)", l.root, path)
	}
	argv := append([]string{"hostflow", "--path=" + path}, args...)
	cargs := make([][]byte, len(argv))
	ptrs := make([]*byte, len(argv)+1)
	var pin runtime.Pinner
	defer pin.Unpin()
	for i, a := range argv {
		cargs[i] = append([]byte(a), 0)
		ptrs[i] = &cargs[i][0]
		pin.Pin(ptrs[i])
	}
	pin.Pin(&ptrs[0])
	p := l.connect(int32(len(argv)), &ptrs[0])
	runtime.KeepAlive(cargs)
	if p == nil || *p == 0 {
		// chDB prints the reason on stderr only.
		return nil, fmt.Errorf("chdb: connect to %s failed (another process may hold the store: see stderr for the engine's message)", path)
	}
	l.conns++
	l.root = path
	return &Conn{lib: l, ptr: p, conn: *p}, nil
}

// Close closes the connection. Closing the last connection of the process
// shuts the engine down.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ptr == nil {
		return nil
	}
	c.lib.closeConn(c.ptr)
	c.ptr, c.conn = nil, 0
	c.lib.mu.Lock()
	c.lib.conns--
	c.lib.mu.Unlock()
	return nil
}

// Stats are the statistics of a finished statement.
type Stats struct {
	RowsRead    uint64
	RowsWritten uint64
	Elapsed     float64 // seconds
}

func cbytes(s string) (*byte, uintptr) {
	if s == "" {
		return nil, 0
	}
	return unsafe.StringData(s), uintptr(len(s))
}

// Query runs one statement and returns its output in format (e.g.
// "JSONCompact", "TabSeparated"). With params, {name:Type} placeholders are
// bound by the engine (values as text, never interpolated).
func (c *Conn) Query(sql, format string, params map[string]string) ([]byte, Stats, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ptr == nil {
		return nil, Stats{}, ErrClosed
	}
	q, qn := cbytes(sql)
	f, fn := cbytes(format)
	var res uintptr
	if len(params) == 0 {
		res = c.lib.queryN(c.conn, q, qn, f, fn)
	} else {
		keys := make([]string, 0, len(params))
		for k := range params {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		names := make([]*byte, len(keys))
		values := make([]*byte, len(keys))
		nameLens := make([]uintptr, len(keys))
		valueLens := make([]uintptr, len(keys))
		var pin runtime.Pinner
		for i, k := range keys {
			names[i], nameLens[i] = cbytes(k)
			values[i], valueLens[i] = cbytes(transport.EscapeParam(params[k]))
			if values[i] == nil {
				// An empty value still needs a valid pointer.
				values[i] = &emptyByte
			}
			pin.Pin(names[i])
			pin.Pin(values[i])
		}
		pin.Pin(&names[0])
		pin.Pin(&values[0])
		res = c.lib.queryParamsN(c.conn, q, qn, f, fn, &names[0], &nameLens[0], &values[0], &valueLens[0], uintptr(len(keys)))
		pin.Unpin()
		runtime.KeepAlive(keys)
	}
	runtime.KeepAlive(sql)
	runtime.KeepAlive(format)
	return c.lib.takeResult(res)
}

var emptyByte byte

// takeResult copies a result out of C memory and frees it.
func (l *Lib) takeResult(res uintptr) ([]byte, Stats, error) {
	if res == 0 {
		return nil, Stats{}, errors.New("chdb: null result")
	}
	defer l.destroyResult(res)
	if e := l.resultError(res); e != "" {
		return nil, Stats{}, fmt.Errorf("chdb: %s", strings.TrimSpace(e))
	}
	st := Stats{RowsRead: l.resultRowsRead(res), RowsWritten: l.resultRowsWrite(res), Elapsed: l.resultElapsed(res)}
	n := l.resultLength(res)
	if n == 0 {
		return nil, st, nil
	}
	buf := l.resultBuffer(res)
	out := make([]byte, n)
	copy(out, unsafe.Slice(buf, n))
	return out, st, nil
}

// Insert runs a streaming INSERT: query is "INSERT INTO t (cols)" without
// FORMAT, write is called with an append function that pushes data in
// format (any number of pieces, e.g. a Native block header and columns).
// The insert commits when write returns nil; otherwise it is cancelled.
func (c *Conn) Insert(query, format string, write func(appendFn func([]byte) error) error) (Stats, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ptr == nil {
		return Stats{}, ErrClosed
	}
	q, qn := cbytes(query)
	f, fn := cbytes(format)
	stream := c.lib.streamInsertN(c.conn, q, qn, f, fn)
	runtime.KeepAlive(query)
	runtime.KeepAlive(format)
	// The handle is never NULL and must be destroyed on every path (this
	// cancels the insert when it was not finished).
	defer c.lib.destroyStream(stream)
	if e := c.lib.streamError(stream); e != "" {
		return Stats{}, fmt.Errorf("chdb: start insert: %s", strings.TrimSpace(e))
	}
	appendFn := func(p []byte) error {
		if len(p) == 0 {
			return nil
		}
		// The engine copies the data before returning.
		if c.lib.streamAppend(stream, &p[0], uintptr(len(p))) != 0 {
			if e := c.lib.streamError(stream); e != "" {
				return fmt.Errorf("chdb: append: %s", strings.TrimSpace(e))
			}
			return errors.New("chdb: append failed")
		}
		return nil
	}
	if err := write(appendFn); err != nil {
		return Stats{}, err
	}
	_, st, err := c.lib.takeResult(c.lib.streamDone(stream))
	if err != nil {
		return Stats{}, fmt.Errorf("insert: %w", err)
	}
	if e := c.lib.streamError(stream); e != "" {
		return Stats{}, fmt.Errorf("chdb: insert: %s", strings.TrimSpace(e))
	}
	return st, nil
}
