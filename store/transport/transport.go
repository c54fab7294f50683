// Package transport defines what the store needs from a ClickHouse engine
// (embedded chDB or a ClickHouse server) and the typed query result both
// transports return, so the schema, the writer and the query layer are
// written once.
package transport

import (
	"context"
	"strings"

	"github.com/hostflow/hostflow/store/native"
)

// Transport runs SQL against one ClickHouse engine. Implementations are safe
// for concurrent use: inserts and queries use separate connections.
type Transport interface {
	// Exec runs a statement without result (DDL, ALTER, INSERT … SELECT),
	// with optional bound parameters as in Query.
	Exec(ctx context.Context, sql string, params map[string]string) error
	// Query runs a SELECT with server-side bound parameters: sql refers to
	// them as {name:Type} and params holds their values as text, never
	// interpolated into the SQL.
	Query(ctx context.Context, sql string, params map[string]string) (*Result, error)
	// Insert writes Native blocks into table as one INSERT, listing the
	// blocks' columns (every block must have the same columns, in the same
	// order). The engine writes them as one part (split only by
	// partition), so it returns once all the rows are committed, or with an
	// error: then nothing or everything may have been written, as with any
	// ClickHouse INSERT.
	Insert(ctx context.Context, table string, blocks ...*native.Block) error
	// Close releases the connections.
	Close() error
}

// Column describes one result column.
type Column struct {
	Name string
	Type string // ClickHouse type, e.g. "UInt64", "LowCardinality(String)"
}

// Result is a fully read query result. Values are typed by the column's
// ClickHouse type: UInt*/Enum → uint64 (Enum as its name: string), Int* →
// int64, Float* → float64, String/FixedString/LowCardinality → string,
// DateTime → time.Time (UTC), IPv6/IPv4 → netip.Addr, Array(T) → []any,
// Nullable NULL → nil. FixedString values come without their NUL padding
// (TrimPadding), whatever the transport.
type Result struct {
	Columns []Column
	Rows    [][]any
}

// TrimPadding returns a text value of ClickHouse type typ as users mean
// it: FixedString(N) pads shorter values with NULs (an unknown country is
// "\x00\x00"), which are removed.
func TrimPadding(typ, s string) string {
	if t, _ := baseType(typ); strings.HasPrefix(t, "FixedString(") {
		return strings.TrimRight(s, "\x00")
	}
	return s
}

// EscapeParam encodes a parameter value the way ClickHouse parses bound
// parameters (the TabSeparated escaping): without it a value holding a
// backslash, a tab, a newline or a NUL is misread or rejected.
func EscapeParam(v string) string {
	if !strings.ContainsAny(v, "\\\t\n\r\x00\b\f") {
		return v
	}
	return paramEscaper.Replace(v)
}

var paramEscaper = strings.NewReplacer("\\", "\\\\", "\t", "\\t", "\n", "\\n", "\r", "\\r", "\x00", "\\0", "\b", "\\b", "\f", "\\f")
