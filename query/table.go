package query

import (
	"time"

	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/store/schema"
)

// flowTable is one table flows can be read from.
type flowTable struct {
	name       string
	resolution time.Duration // 0 for the raw table (second precision)
	raw        bool
}

// flowTables lists the flow tables from finest to coarsest.
func (b *Builder) flowTables() []flowTable {
	out := []flowTable{{name: schema.Flows, resolution: time.Second, raw: true}}
	if b.store.Options().Rollups {
		out = append(out,
			flowTable{name: schema.Flows1m, resolution: time.Minute},
			flowTable{name: schema.Flows5m, resolution: 5 * time.Minute},
			flowTable{name: schema.Flows1h, resolution: time.Hour})
	}
	return out
}

// shortRecent is the longest range that reads the raw table when it ends
// within schema.RollupLag of now: over it, the rollups would miss the last
// minutes, which a short range shows; the raw table is cheap for it.
const shortRecent = time.Hour

// chooseTable picks the table for a query over [start, end) bucketed by
// step that uses cols. A short range ending within schema.RollupLag of now reads
// the raw table. Among the tables holding every column (a MainOnly
// column means the raw table only) whose retention covers start, it takes
// the coarsest whose resolution divides step; when the finest one covering
// start is still coarser than step, that one, with step raised to its
// resolution. When no table's retention covers start, the table with the
// longest retention is used: what is older is gone everywhere. It returns
// the table and the step to use.
func (b *Builder) chooseTable(start, end time.Time, step time.Duration, cols []*flow.Column) (flowTable, time.Duration) {
	now := b.now()
	// The raw table only: for a column the rollups lack, or for a short
	// range the rollups may not hold yet.
	rawOnly := end.Sub(start) <= shortRecent && end.After(now.Add(-schema.RollupLag))
	for _, c := range cols {
		rawOnly = rawOnly || c.MainOnly
	}
	ttl := b.store.Options().TTL
	var candidates, covering []flowTable
	for _, t := range b.flowTables() {
		if rawOnly && !t.raw {
			continue
		}
		candidates = append(candidates, t)
		if d := ttl[t.name]; d <= 0 || !start.Before(now.Add(-d)) {
			covering = append(covering, t)
		}
	}
	if len(covering) == 0 {
		best := candidates[0]
		for _, t := range candidates[1:] {
			if ttl[t.name] > ttl[best.name] {
				best = t
			}
		}
		return best, max(step, best.resolution)
	}
	var chosen *flowTable
	for i, t := range covering {
		if t.resolution <= step && step%t.resolution == 0 {
			chosen = &covering[i]
		}
	}
	if chosen == nil {
		return covering[0], max(step, covering[0].resolution)
	}
	return *chosen, step
}

// steps are the bucket widths a time series may use.
var steps = []time.Duration{
	time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 48 * time.Hour, 7 * 24 * time.Hour, 28 * 24 * time.Hour,
}

// stepFor returns the smallest step giving at most points buckets over d.
func stepFor(d time.Duration, points int) time.Duration {
	for _, s := range steps {
		if d/s <= time.Duration(points) {
			return s
		}
	}
	return steps[len(steps)-1]
}

// alignRange widens [start, end) to whole buckets of step.
func alignRange(start, end time.Time, step time.Duration) (time.Time, time.Time) {
	if t := alignDown(end, step); t.Before(end) {
		end = t.Add(step)
	}
	return alignDown(start, step), end
}

// alignDown rounds t down to a multiple of step since the Unix epoch, as
// the SQL buckets (intDiv of the timestamp) do. time.Truncate counts from
// year 1, which differs for weeks.
func alignDown(t time.Time, step time.Duration) time.Time {
	secs := int64(step / time.Second)
	u := t.Unix()
	return time.Unix(u-((u%secs)+secs)%secs, 0).UTC()
}
