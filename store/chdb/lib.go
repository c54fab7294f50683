// Package chdb binds the parts of libchdb.so (the ClickHouse engine as a
// library) the store needs, without cgo: the library is opened with
// purego.Dlopen only when an embedded store is started, so binaries and roles
// that do not use it (the agent, --help) run without it.
//
// Bound: chdb_connect, chdb_close_conn, chdb_query_n,
// chdb_query_with_params_n, the streaming insert family, result accessors,
// chdb_set_signal_handlers_enabled and chdb_version. chdb-go is not used: its
// package init loads the library unconditionally and panics when it is
// missing.
package chdb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ebitengine/purego"
)

// DefaultSystemPath is the last place the library is looked for.
const DefaultSystemPath = "/usr/lib/hostflow/libchdb.so"

// InstallHint tells the operator how to get the library.
const InstallHint = "install it with `make deps-run` (runs scripts/setup.sh run), or set CHDB_LIB_PATH / store.lib-path to an existing libchdb.so"

// ResolvePath returns the library path to use: $CHDB_LIB_PATH, then
// configured, then the path written in the set-up cache file
// ($XDG_CACHE_HOME or ~/.cache)/hostflow/chdb/current, then
// DefaultSystemPath. The first candidate that is set is used as is for the
// first two (a wrong explicit path is an error, not a fallback).
func ResolvePath(configured string) (string, error) {
	if p := os.Getenv("CHDB_LIB_PATH"); p != "" {
		return checkFile(p, "CHDB_LIB_PATH")
	}
	if configured != "" {
		return checkFile(configured, "store.lib-path")
	}
	var tried []string
	if cache, err := os.UserCacheDir(); err == nil {
		current := filepath.Join(cache, "hostflow", "chdb", "current")
		if b, err := os.ReadFile(current); err == nil {
			p := strings.TrimSpace(string(b))
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
			tried = append(tried, p+" (from "+current+")")
		} else {
			tried = append(tried, current)
		}
	}
	if _, err := os.Stat(DefaultSystemPath); err == nil {
		return DefaultSystemPath, nil
	}
	tried = append(tried, DefaultSystemPath)
	return "", fmt.Errorf("chdb: libchdb.so not found (looked at %s): %s", strings.Join(tried, ", "), InstallHint)
}

func checkFile(p, from string) (string, error) {
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("chdb: libchdb.so from %s: %w: %s", from, err, InstallHint)
	}
	return p, nil
}

// Lib is the loaded library. The engine is process-wide (one storage path per
// process, signal handlers, threads), so Open returns the same Lib for every
// call in a process; its state lives in a package variable for that reason.
type Lib struct {
	path string

	setSignalHandlers func(enabled int32)
	version           func() string
	connect           func(argc int32, argv **byte) *uintptr
	closeConn         func(conn *uintptr)
	queryN            func(conn uintptr, q *byte, qlen uintptr, f *byte, flen uintptr) uintptr
	queryParamsN      func(conn uintptr, q *byte, qlen uintptr, f *byte, flen uintptr,
		names **byte, nameLens *uintptr, values **byte, valueLens *uintptr, n uintptr) uintptr
	streamInsertN   func(conn uintptr, q *byte, qlen uintptr, f *byte, flen uintptr) uintptr
	streamAppend    func(stream uintptr, data *byte, n uintptr) int32
	streamDone      func(stream uintptr) uintptr
	streamError     func(stream uintptr) string
	destroyStream   func(stream uintptr)
	resultBuffer    func(res uintptr) *byte
	resultLength    func(res uintptr) uintptr
	resultError     func(res uintptr) string
	resultRowsWrite func(res uintptr) uint64
	resultRowsRead  func(res uintptr) uint64
	resultElapsed   func(res uintptr) float64
	destroyResult   func(res uintptr)

	mu    sync.Mutex
	conns int    // open connections
	root  string // storage path of the running engine
}

var loaded struct {
	sync.Mutex
	lib *Lib
}

// Open loads the library at path (once per process) and disables chDB's
// signal handlers before any connection exists: with them, a nil
// dereference in Go code hangs the process for minutes instead of
// panicking.
func Open(path string) (*Lib, error) {
	loaded.Lock()
	defer loaded.Unlock()
	if loaded.lib != nil {
		if loaded.lib.path != path {
			return nil, fmt.Errorf("chdb: %s already loaded, cannot load %s in the same process", loaded.lib.path, path)
		}
		return loaded.lib, nil
	}
	h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return nil, fmt.Errorf("chdb: load %s: %w: %s", path, err, InstallHint)
	}
	l := &Lib{path: path}
	syms := []struct {
		fn   any
		name string
	}{
		{&l.setSignalHandlers, "chdb_set_signal_handlers_enabled"},
		{&l.version, "chdb_version"},
		{&l.connect, "chdb_connect"},
		{&l.closeConn, "chdb_close_conn"},
		{&l.queryN, "chdb_query_n"},
		{&l.queryParamsN, "chdb_query_with_params_n"},
		{&l.streamInsertN, "chdb_stream_insert_n"},
		{&l.streamAppend, "chdb_stream_append"},
		{&l.streamDone, "chdb_stream_done"},
		{&l.streamError, "chdb_stream_insert_error"},
		{&l.destroyStream, "chdb_destroy_insert_stream"},
		{&l.resultBuffer, "chdb_result_buffer"},
		{&l.resultLength, "chdb_result_length"},
		{&l.resultError, "chdb_result_error"},
		{&l.resultRowsWrite, "chdb_result_rows_written"},
		{&l.resultRowsRead, "chdb_result_rows_read"},
		{&l.resultElapsed, "chdb_result_elapsed"},
		{&l.destroyResult, "chdb_destroy_query_result"},
	}
	for _, s := range syms {
		if _, err := purego.Dlsym(h, s.name); err != nil {
			return nil, fmt.Errorf("chdb: %s lacks %s (need libchdb 26.7 or later): %w", path, s.name, err)
		}
		purego.RegisterLibFunc(s.fn, h, s.name)
	}
	l.setSignalHandlers(0)
	loaded.lib = l
	return l, nil
}

// Path is where the library was loaded from.
func (l *Lib) Path() string { return l.path }

// Version is chdb_version() (e.g. "26.7.3").
func (l *Lib) Version() string { return l.version() }

// ErrClosed is returned by calls on a closed connection.
var ErrClosed = errors.New("chdb: connection closed")
