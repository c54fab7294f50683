// Package query builds and runs the console's queries over the flow store:
// time series with top-N dimensions and "Other", bidirectional and
// previous-period views, sankey diagrams, per-series tables, raw flow search
// with CSV export and per-host summaries.
//
// Every query picks the coarsest flow table (flows_1h, flows_5m, flows_1m,
// flows) whose resolution fits the time bucket, which holds every column the
// query uses and whose retention covers the start of the range. User input
// reaches the SQL only as bound parameters (see package filter); numbers the
// builder computes itself (bucket widths, limits) are formatted from Go
// integers.
package query

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/internal/config"
	"github.com/hostflow/hostflow/internal/daemon"
	"github.com/hostflow/hostflow/query/filter"
	"github.com/hostflow/hostflow/store/schema"
	"github.com/hostflow/hostflow/store/transport"
)

// Config bounds what one request may ask for.
type Config struct {
	// MaxPoints is the most time buckets a series has (the bucket width is
	// the smallest round step giving at most this many).
	MaxPoints int `yaml:"max-points"`
	// DimensionsLimit is the largest top-N a request may ask for.
	DimensionsLimit int `yaml:"dimensions-limit"`
	// MaxFlows is the most raw flows one page returns.
	MaxFlows int `yaml:"max-flows"`
	// MaxExportRows caps a CSV export.
	MaxExportRows int `yaml:"max-export-rows"`
	// L2Overhead is the per-packet byte count added for L2 rates: Ethernet
	// preamble, header, FCS and inter-frame gap (as Akvorado).
	L2Overhead int `yaml:"l2-overhead"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{MaxPoints: 200, DimensionsLimit: 50, MaxFlows: 1000, MaxExportRows: 1_000_000, L2Overhead: 38}
}

// Validate checks the bounds.
func (c Config) Validate() error {
	switch {
	case c.MaxPoints < 10 || c.MaxPoints > 10000:
		return config.Errorf("max-points", "must be between 10 and 10000, got %d", c.MaxPoints)
	case c.DimensionsLimit < 1 || c.DimensionsLimit > 1000:
		return config.Errorf("dimensions-limit", "must be between 1 and 1000, got %d", c.DimensionsLimit)
	case c.MaxFlows < 1:
		return config.Errorf("max-flows", "must be positive, got %d", c.MaxFlows)
	case c.MaxExportRows < 1:
		return config.Errorf("max-export-rows", "must be positive, got %d", c.MaxExportRows)
	case c.L2Overhead < 0 || c.L2Overhead > 100:
		return config.Errorf("l2-overhead", "must be between 0 and 100 bytes, got %d", c.L2Overhead)
	}
	return nil
}

// Querier runs a SELECT with bound parameters (store transports do).
type Querier interface {
	Query(ctx context.Context, sql string, params map[string]string) (*transport.Result, error)
}

// Dependencies of a Builder.
type Dependencies struct {
	Flow     *flow.Schema
	Store    *schema.Schema // tables, enabled columns, retention
	Querier  Querier
	Reporter *daemon.Reporter
	Now      func() time.Time // nil: time.Now
}

// Builder builds and runs queries. It is safe for concurrent use.
type Builder struct {
	cfg     Config
	flow    *flow.Schema
	store   *schema.Schema
	q       Querier
	now     func() time.Time
	enabled map[string]bool

	queries  *prometheus.CounterVec
	errors   *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// New returns a Builder.
func New(cfg Config, deps Dependencies) (*Builder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Flow == nil || deps.Store == nil || deps.Querier == nil || deps.Reporter == nil {
		return nil, fmt.Errorf("query: missing dependency")
	}
	r := deps.Reporter.Sub("query")
	b := &Builder{
		cfg: cfg, flow: deps.Flow, store: deps.Store, q: deps.Querier, now: deps.Now,
		enabled: map[string]bool{},
		queries: r.CounterVec("queries_total", "Queries run, by kind and table.", "kind", "table"),
		errors:  r.CounterVec("errors_total", "Queries that failed, by kind and reason.", "kind", "reason"),
		duration: r.HistogramVec("duration_seconds", "Query duration, by kind.",
			prometheus.ExponentialBuckets(0.005, 2, 12), "kind"),
	}
	if b.now == nil {
		b.now = time.Now
	}
	for _, c := range deps.Store.FlowColumns() {
		b.enabled[c.Name] = true
	}
	return b, nil
}

// RequestError is a problem with the request itself (bad filter, unknown
// dimension, bad range): the API answers it with 400.
type RequestError struct{ Err error }

func (e *RequestError) Error() string { return e.Err.Error() }
func (e *RequestError) Unwrap() error { return e.Err }

func badRequest(format string, args ...any) error {
	return &RequestError{Err: fmt.Errorf(format, args...)}
}

// run executes one statement and accounts for it.
func (b *Builder) run(ctx context.Context, kind, table, sql string, p *filter.Params) (*transport.Result, error) {
	start := time.Now()
	b.queries.WithLabelValues(kind, table).Inc()
	res, err := b.q.Query(ctx, sql, p.Values())
	b.duration.WithLabelValues(kind).Observe(time.Since(start).Seconds())
	if err != nil {
		reason := "store"
		if ctx.Err() != nil {
			reason = "canceled"
		}
		b.errors.WithLabelValues(kind, reason).Inc()
		return nil, fmt.Errorf("query %s on %s: %w", kind, table, err)
	}
	return res, nil
}

// parseFilter parses a filter and checks its columns exist in this store.
func (b *Builder) parseFilter(text string) (*filter.Filter, error) {
	f, err := filter.Parse(b.flow, text)
	if err != nil {
		return nil, &RequestError{Err: fmt.Errorf("filter: %w", err)}
	}
	for _, c := range f.Columns() {
		if !b.enabled[c.Name] {
			return nil, badRequest("filter: column %s is disabled in this store", c.Name)
		}
	}
	return f, nil
}

// dimensions resolves dimension names (case-insensitive) to columns.
func (b *Builder) dimensions(names []string, min, max int) ([]*flow.Column, error) {
	if len(names) < min || len(names) > max {
		return nil, badRequest("expected %d to %d dimensions, got %d", min, max, len(names))
	}
	var out []*flow.Column
	for _, n := range names {
		c, ok := b.flow.Column(n)
		if !ok || !c.Dimension {
			return nil, badRequest("unknown dimension %q", n)
		}
		if !b.enabled[c.Name] {
			return nil, badRequest("dimension %s is disabled in this store", c.Name)
		}
		if slices.Contains(out, c) {
			return nil, badRequest("dimension %s given twice", c.Name)
		}
		out = append(out, c)
	}
	return out, nil
}

func (b *Builder) limit(n int) (int, error) {
	if n == 0 {
		return 10, nil
	}
	if n < 1 || n > b.cfg.DimensionsLimit {
		return 0, badRequest("limit must be between 1 and %d, got %d", b.cfg.DimensionsLimit, n)
	}
	return n, nil
}

func checkRange(start, end time.Time) error {
	if start.IsZero() || end.IsZero() || !end.After(start) {
		return badRequest("time range: end (%s) must be after start (%s)", end.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	return nil
}

// timeFilter restricts TimeReceived to [start, end). Bound as epoch seconds
// so that the session time zone never matters.
func timeFilter(p *filter.Params, start, end time.Time) string {
	return "TimeReceived >= toDateTime(" + p.Bind("UInt32", strconv.FormatInt(start.Unix(), 10)) +
		") AND TimeReceived < toDateTime(" + p.Bind("UInt32", strconv.FormatInt(end.Unix(), 10)) + ")"
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func columnNames(cols []*flow.Column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
	}
	return out
}

// qualified returns the table name as queries use it (database.table).
func (b *Builder) qualified(table string) string { return b.store.InsertTable(table) }
