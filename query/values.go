package query

import (
	"context"
	"strings"
	"time"

	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/query/filter"
)

// completionWindow is how far back value completion looks.
const completionWindow = 24 * time.Hour

// completionLimit is the most values one completion returns.
const completionLimit = 20

var _ filter.ValueSource = (*Builder)(nil)

// Values implements filter.ValueSource for the filter editor: the values
// of column seen in the last 24 hours that start with prefix
// (case-insensitive), busiest first, written as a filter would (addresses
// unmapped, AS64500, protocol names). Enumerated columns are completed by
// the filter package itself and return nothing here.
func (b *Builder) Values(ctx context.Context, column, prefix string) ([]string, error) {
	c, ok := b.flow.Column(column)
	if !ok || !b.enabled[c.Name] || c.Filter == flow.FilterNone {
		return nil, badRequest("unknown or disabled column %q", column)
	}
	switch c.Filter {
	case flow.FilterProto, flow.FilterEType, flow.FilterBoundary, flow.FilterDirection:
		return nil, nil
	case flow.FilterASN:
		if len(prefix) >= 2 && strings.EqualFold(prefix[:2], "AS") {
			prefix = prefix[2:]
		}
	}
	end := b.now()
	start := end.Add(-completionWindow)
	table, _ := b.chooseTable(start, end, time.Hour, []*flow.Column{c})
	p := filter.NewParams("")
	text := "toString(" + c.Name + ")"
	if c.Kind == flow.KindIPv6 {
		// IPv4 is stored mapped: match and show it as users write it.
		text = "if(startsWith(toString(" + c.Name + "), '::ffff:') AND position(toString(" + c.Name + "), '.') > 0, " +
			"substring(toString(" + c.Name + "), 8), toString(" + c.Name + "))"
	}
	sql := "SELECT " + c.Name + ", sum(Bytes * SamplingRate) AS v\nFROM " + b.qualified(table.name) +
		"\nWHERE " + timeFilter(p, start, end) + " AND startsWith(lower(" + text + "), lower(" + p.Bind("String", prefix) + "))" +
		"\nGROUP BY " + c.Name + "\nORDER BY v DESC, " + c.Name + "\nLIMIT " + itoa(completionLimit)
	res, err := b.run(ctx, "values", table.name, sql, p)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(res.Rows))
	for _, row := range res.Rows {
		out = append(out, label(c, row[0]))
	}
	return out, nil
}
