package detect

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/query/filter"
	"github.com/hostflow/hostflow/store/schema"
	"github.com/hostflow/hostflow/store/transport"
)

// rule is one built-in rule.
type rule interface {
	name() string
	settings() RuleConfig
	// columns lists the flow columns the rule reads (checked against the
	// store's enabled columns at New).
	columns() []string
	eval(ctx context.Context, ev *evaluation) ([]finding, error)
}

// evaluation is one round of every rule over data up to end.
type evaluation struct {
	d   *Detector
	end time.Time
	// rule is the name of the rule being evaluated (for metrics).
	rule string
}

// start returns the start of the rule's window ending at end.
func (ev *evaluation) start(rc RuleConfig) time.Time {
	return ev.end.Add(-time.Duration(rc.Window))
}

// query runs one statement for the current rule and accounts for it.
func (ev *evaluation) query(ctx context.Context, sql string, p *filter.Params) (*transport.Result, error) {
	ev.d.m.queries.WithLabelValues(ev.rule).Inc()
	res, err := ev.d.st.Query(ctx, sql, p.Values())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ev.rule, err)
	}
	return res, nil
}

// table is a table's name as queries use it (database.table).
func (d *Detector) table(name string) string { return d.sc.InsertTable(name) }

// flowTable picks the coarsest flow table that answers exactly for
// [start, end): a rollup whose resolution both ends are aligned to and
// whose retention covers start, when rollups exist, mainOnly is false and
// end is older than the rollups' lag; the raw table otherwise. (A trailing
// baseline ending now read from flows_1m lacked its last minute: the
// egress-spike rule saw a sixth of a steady host's rate and fired.)
func (d *Detector) flowTable(start, end time.Time, mainOnly bool) string {
	opts := d.sc.Options()
	now := d.now()
	if opts.Rollups && !mainOnly && !end.After(now.Add(-schema.RollupLag)) {
		for _, t := range []struct {
			name string
			res  time.Duration
		}{{schema.Flows1h, time.Hour}, {schema.Flows5m, 5 * time.Minute}, {schema.Flows1m, time.Minute}} {
			ttl := opts.TTL[t.name]
			if start.Truncate(t.res).Equal(start) && end.Truncate(t.res).Equal(end) &&
				(ttl <= 0 || !start.Before(now.Add(-ttl))) {
				return t.name
			}
		}
	}
	return schema.Flows
}

// timeRange restricts TimeReceived to [start, end), bound as epoch seconds
// so that the session time zone never matters.
func timeRange(p *filter.Params, start, end time.Time) string {
	return "TimeReceived >= " + at(p, start) + " AND TimeReceived < " + at(p, end)
}

// at binds t as a DateTime expression.
func at(p *filter.Params, t time.Time) string {
	return "toDateTime(" + p.Bind("UInt32", strconv.FormatInt(t.Unix(), 10)) + ")"
}

// flowFilter is a rule's parsed exclusion filter (nil f: none).
type flowFilter struct {
	f *filter.Filter
}

func parseExclude(fs *flow.Schema, text string) (flowFilter, error) {
	f, err := filter.Parse(fs, text)
	if err != nil {
		return flowFilter{}, err
	}
	if f.Root == nil {
		return flowFilter{}, nil
	}
	return flowFilter{f: f}, nil
}

// sql renders " AND NOT (exclude)", or nothing.
func (x flowFilter) sql(p *filter.Params) string {
	if x.f == nil {
		return ""
	}
	return " AND NOT (" + x.f.SQL(p) + ")"
}

// text appends " AND NOT (exclude)" to a console filter, or nothing.
func (x flowFilter) text() string {
	if x.f == nil {
		return ""
	}
	return " AND NOT (" + x.f.String() + ")"
}

func (x flowFilter) columns() []string {
	if x.f == nil {
		return nil
	}
	var out []string
	for _, c := range x.f.Columns() {
		out = append(out, c.Name)
	}
	return out
}

func (x flowFilter) mainOnly() bool { return x.f != nil && x.f.MainOnly() }

// canonical parses a console filter the rule built and prints it back in
// canonical form; a rule building an invalid filter is a bug caught by the
// tests, reported here in the text rather than by a panic.
func (d *Detector) canonical(text string) string {
	f, err := filter.Parse(d.flow, text)
	if err != nil {
		d.r.Limited("bad_evidence_filter", "rule built an invalid evidence filter", "filter", text, "error", err)
		return text
	}
	return f.String()
}

// num reads a numeric result value.
func num(v any) float64 {
	switch x := v.(type) {
	case uint64:
		return float64(x)
	case int64:
		return float64(x)
	case float64:
		return x
	}
	return 0
}

// str reads a string result value.
func str(v any) string {
	s, _ := v.(string)
	return s
}

// addr reads an address result value, unmapping IPv4.
func addr(v any) netip.Addr {
	a, _ := v.(netip.Addr)
	return a.Unmap()
}

// when reads a DateTime result value.
func when(v any) time.Time {
	t, _ := v.(time.Time)
	return t
}

// evidence returns the evidence of a finding over [start, end): the
// console filter, and sql with its parameters.
func evidence(filterText string, start, end time.Time, table, sql string, p *filter.Params) Evidence {
	return Evidence{Filter: filterText, Start: start, End: end, Table: table, SQL: strings.TrimSpace(sql), Params: p.Values()}
}

// rate formats bits per second for summaries.
func rate(bps float64) string {
	units := []string{"bps", "kbps", "Mbps", "Gbps", "Tbps"}
	i := 0
	for bps >= 1000 && i < len(units)-1 {
		bps /= 1000
		i++
	}
	return strconv.FormatFloat(bps, 'f', 1, 64) + " " + units[i]
}
