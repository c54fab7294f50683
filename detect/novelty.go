package detect

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/hostflow/hostflow/query/filter"
	"github.com/hostflow/hostflow/store/schema"
)

// novelty is the machinery of the rules that report items (peers,
// services) new to a subject (a host, or a host's process).
//
// Scanning the whole baseline of raw flows every minute would cost as much
// as the baseline is long, so what each subject did is summarised in the
// detect_seen table: one row per (rule, host, process, kind, item) with
// when it was first and last seen. Each evaluation adds the flows that
// arrived since the previous one (at start: since the newest row, or the
// whole baseline), then looks up the items of the window: those first seen
// within it are new. Rows with kind "" (rule "<rule>:subject") record when
// the subject itself was first seen, so a subject seen for less than
// min-history is not judged.
type novelty struct {
	rule    string
	cfg     NoveltyConfig
	exclude flowFilter
	// items returns the SELECT of (Host, Process, Kind, Key, FirstSeen,
	// LastSeen) of the items in flows over [start, end).
	items func(ev *evaluation, p *filter.Params, start, end time.Time) string
	// presence returns the same for the subjects themselves (kind "").
	presence func(ev *evaluation, p *filter.Params, start, end time.Time) string

	// updated is the end of the flows already summarised (zero before the
	// first evaluation).
	updated time.Time
}

// subjectRule is the Rule value of the rows recording when subjects were
// first seen: apart from the items' rows (a different key prefix), so that
// looking the subjects up reads only theirs.
func (n *novelty) subjectRule() string { return n.rule + ":subject" }

// seenChunk bounds the flows one summary query reads while catching up.
const seenChunk = time.Hour

// update summarises the flows from the last update to ev.end. Catching up
// (at start: the whole baseline) may take longer than one evaluation may:
// it stops when half the evaluation's time is spent and reports false, to
// go on at the next evaluation.
func (n *novelty) update(ctx context.Context, ev *evaluation) (bool, error) {
	started := time.Now()
	budget := time.Duration(ev.d.cfg.QueryTimeout) / 2
	from := n.updated
	if from.IsZero() {
		p := filter.NewParams("")
		res, err := ev.query(ctx, "SELECT toDateTime(max(LastSeen)) FROM "+ev.d.table(TableSeen)+" WHERE Rule = "+p.Bind("String", n.rule), p)
		if err != nil {
			return false, err
		}
		from = ev.end.Add(-time.Duration(n.cfg.Baseline))
		if len(res.Rows) == 1 {
			// Rows at that second may be summarised twice: min and max
			// do not mind. (The aggregate columns read back as
			// SimpleAggregateFunction without the cast.)
			if last := when(res.Rows[0][0]); last.After(from) {
				from = last
			}
		}
	}
	for from.Before(ev.end) {
		if time.Since(started) > budget {
			ev.d.r.Limited("catchup_"+n.rule, "summarising past flows: the rule reports nothing until done",
				"rule", n.rule, "done_until", from, "until", ev.end)
			return false, nil
		}
		to := minTime(ev.end, from.Add(seenChunk))
		p := filter.NewParams("")
		sql := "INSERT INTO " + ev.d.table(TableSeen) + " (Rule, Host, Process, Kind, Key, FirstSeen, LastSeen)\n" +
			"SELECT if(Kind = '', " + p.Bind("String", n.subjectRule()) + ", " + p.Bind("String", n.rule) + "), " +
			"Host, Process, Kind, Key, FirstSeen, LastSeen FROM (\n" +
			n.items(ev, p, from, to) + "\nUNION ALL\n" + n.presence(ev, p, from, to) + ")"
		if _, err := ev.query(ctx, sql, p); err != nil {
			return false, err
		}
		from, n.updated = to, to
	}
	return true, nil
}

// novel is one new item of one subject.
type novel struct {
	host, process string
	key           Key
	since         time.Time // the subject's first sighting
}

// findSQL returns the query of the items first seen in [start, end) of
// subjects known since eligible, restricted to one subject when host is
// set.
func (n *novelty) findSQL(ev *evaluation, p *filter.Params, start time.Time, host, process string) string {
	seen := ev.d.table(TableSeen)
	base := at(p, ev.end.Add(-time.Duration(n.cfg.Baseline)))
	rule := p.Bind("String", n.rule)
	subject := ""
	if host != "" {
		subject = " AND Host = " + p.Bind("String", host) + " AND Process = " + p.Bind("String", process)
	}
	return `
SELECT i.Host, i.Process, i.Kind, i.Key, i.first, s.since FROM (
  SELECT Host, Process, Kind, Key, toDateTime(min(FirstSeen)) AS first FROM ` + seen + `
  WHERE Rule = ` + rule + ` AND LastSeen >= ` + base + subject + ` AND (Host, Process, Kind, Key) IN (
    SELECT Host, Process, Kind, Key FROM (` + n.items(ev, p, start, ev.end) + `))
  GROUP BY Host, Process, Kind, Key
  HAVING first >= ` + at(p, start) + `
) AS i INNER JOIN (
  SELECT Host, Process, toDateTime(min(FirstSeen)) AS since FROM ` + seen + `
  WHERE Rule = ` + p.Bind("String", n.subjectRule()) + ` AND LastSeen >= ` + base + subject + `
  GROUP BY Host, Process
) AS s ON i.Host = s.Host AND i.Process = s.Process
WHERE s.since <= ` + at(p, start.Add(-time.Duration(n.cfg.MinHistory))) + `
ORDER BY i.Host, i.Process, i.Kind, i.Key
LIMIT ` + strconv.Itoa(maxNovel)
}

// maxNovel bounds the new items one evaluation reads.
const maxNovel = 10000

// find updates the summary and returns the new items of the window,
// grouped by subject (host, process) in order.
func (n *novelty) find(ctx context.Context, ev *evaluation) ([][]novel, error) {
	if done, err := n.update(ctx, ev); err != nil || !done {
		return nil, err
	}
	p := filter.NewParams("")
	start := ev.start(n.cfg.RuleConfig)
	res, err := ev.query(ctx, n.findSQL(ev, p, start, "", ""), p)
	if err != nil {
		return nil, err
	}
	var out [][]novel
	for _, row := range res.Rows {
		x := novel{host: str(row[0]), process: str(row[1]), key: Key{Kind: str(row[2]), Value: str(row[3]), FirstSeen: when(row[4])},
			since: when(row[5])}
		if l := len(out); l > 0 && out[l-1][0].host == x.host && out[l-1][0].process == x.process {
			out[l-1] = append(out[l-1], x)
		} else {
			out = append(out, []novel{x})
		}
	}
	return out, nil
}

// finding builds the finding of one subject's new items. Its summary and
// evidence filter are written by the rule's refresh, once the items are
// merged with those of the detection it updates.
func (n *novelty) finding(ev *evaluation, items []novel) finding {
	start := ev.start(n.cfg.RuleConfig)
	host, process := items[0].host, items[0].process
	p := filter.NewParams("")
	sql := n.findSQL(ev, p, start, host, process)
	keys := make([]Key, len(items))
	for i, it := range items {
		keys[i] = it.key
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].FirstSeen.Before(keys[j].FirstSeen) })
	return finding{
		subject:    Subject{Host: host, Process: process},
		values:     map[string]float64{"new": float64(len(keys))},
		thresholds: map[string]float64{"baseline_seconds": time.Duration(n.cfg.Baseline).Seconds()},
		keys:       keys,
		details:    map[string]any{"subject_since": items[0].since},
		score:      float64(len(keys)),
		evidence:   evidence("", start, ev.end, schema.Flows, sql, p),
	}
}

// subjectFilter is the console filter of a subject's flows.
func subjectFilter(host, process string) string {
	s := "HostName = " + filter.Quote(host)
	if process != "" {
		s += " AND ProcessName = " + filter.Quote(process)
	}
	return s
}

// describe names a subject in summaries.
func describe(host, process string) string {
	if process != "" {
		return fmt.Sprintf("%s (process %s)", host, process)
	}
	return host
}
