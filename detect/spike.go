package detect

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/hostflow/hostflow/query/filter"
)

// spike reports hosts (or processes) sending more than factor times their
// usual egress rate. "Usual" is the average rate at the same hour of the
// day over the previous baseline-days (UTC hours: the daily cycle repeats
// in any fixed zone), when at least min-days of that hour are known;
// otherwise the average over fallback-window before the window, when the
// subject has been sending for min-history. A subject with no egress
// history is not judged.
type spike struct {
	cfg     SpikeConfig
	exclude flowFilter
}

func newSpike(d *Detector, cfg SpikeConfig) (*spike, error) {
	x, err := parseExclude(d.flow, cfg.Exclude)
	if err != nil {
		return nil, err
	}
	return &spike{cfg: cfg, exclude: x}, nil
}

func (r *spike) name() string         { return RuleEgressSpike }
func (r *spike) settings() RuleConfig { return r.cfg.RuleConfig }
func (r *spike) columns() []string {
	return append([]string{"HostName", "ProcessName", "FlowDirection", "Bytes", "SamplingRate"}, r.exclude.columns()...)
}

// subjectKey is a host ("host", "") or one of its processes.
type subjectKey struct{ host, process string }

// traffic is what one query says about one subject.
type traffic struct {
	bytes     float64 // estimated (× sampling rate)
	hourBytes float64 // at the window's hour of the day (baseline query)
	first     time.Time
}

// egressSQL sums egress bytes per host and process over [start, end); with
// hour ≥ 0 it also sums those at that UTC hour of the day. The host
// restriction (host != "") makes the evidence query.
func (r *spike) egressSQL(ev *evaluation, p *filter.Params, start, end time.Time, hour int, host, process string) (sql, table string) {
	table = ev.d.flowTable(start, end, r.exclude.mainOnly())
	hourSum := "0"
	if hour >= 0 {
		hourSum = "sumIf(Bytes * SamplingRate, intDiv(toUInt32(TimeReceived) % 86400, 3600) = " + p.Bind("UInt32", strconv.Itoa(hour)) + ")"
	}
	where := timeRange(p, start, end) + " AND HostName != '' AND FlowDirection = 2" + r.exclude.sql(p)
	if host != "" {
		where += " AND HostName = " + p.Bind("String", host)
		if process != "" {
			where += " AND ProcessName = " + p.Bind("String", process)
		}
	}
	return "SELECT HostName, ProcessName, sum(Bytes * SamplingRate) AS bytes, " + hourSum + " AS hour_bytes, min(TimeReceived) AS first\n" +
		"FROM " + ev.d.table(table) + "\nWHERE " + where + "\nGROUP BY HostName, ProcessName", table
}

// egress runs egressSQL and returns per-subject traffic, host totals
// included (an unattributed flow counts for its host only).
func (r *spike) egress(ctx context.Context, ev *evaluation, start, end time.Time, hour int) (map[subjectKey]*traffic, error) {
	p := filter.NewParams("")
	sql, _ := r.egressSQL(ev, p, start, end, hour, "", "")
	res, err := ev.query(ctx, sql, p)
	if err != nil {
		return nil, err
	}
	out := map[subjectKey]*traffic{}
	add := func(k subjectKey, row []any) {
		t, ok := out[k]
		if !ok {
			t = &traffic{first: when(row[4])}
			out[k] = t
		}
		t.bytes += num(row[2])
		t.hourBytes += num(row[3])
		t.first = minTime(t.first, when(row[4]))
	}
	for _, row := range res.Rows {
		host, process := str(row[0]), str(row[1])
		add(subjectKey{host: host}, row)
		if process != "" {
			add(subjectKey{host: host, process: process}, row)
		}
	}
	return out, nil
}

// baseline is a subject's usual rate and how it was obtained.
type baseline struct {
	bps  float64
	kind string // "hour-of-day" or "trailing"
	span time.Duration
	days int
}

func (r *spike) eval(ctx context.Context, ev *evaluation) ([]finding, error) {
	start, end := ev.start(r.cfg.RuleConfig), ev.end
	current, err := r.egress(ctx, ev, start, end, -1)
	if err != nil || len(current) == 0 {
		return nil, err
	}
	// Same hour of the previous days: whole hours before the window's.
	hourStart := start.Truncate(time.Hour)
	hour := hourStart.UTC().Hour()
	days := r.cfg.BaselineDays
	daily, err := r.egress(ctx, ev, hourStart.Add(-time.Duration(days)*day), hourStart, hour)
	if err != nil {
		return nil, err
	}
	fallbackStart := start.Add(-time.Duration(r.cfg.FallbackWindow))
	trailing, err := r.egress(ctx, ev, fallbackStart, start, -1)
	if err != nil {
		return nil, err
	}
	usual := func(k subjectKey) (baseline, bool) {
		if t, ok := daily[k]; ok {
			// Days whose slot at that hour the subject existed for.
			n := 0
			for i := 1; i <= days; i++ {
				if t.first.Before(hourStart.Add(-time.Duration(i)*day + time.Hour)) {
					n++
				}
			}
			if n >= r.cfg.MinDays {
				return baseline{bps: 8 * t.hourBytes / (float64(n) * 3600), kind: "hour-of-day", days: n}, true
			}
		}
		if t, ok := trailing[k]; ok {
			if span := start.Sub(t.first); span >= time.Duration(r.cfg.MinHistory) && span > 0 {
				return baseline{bps: 8 * t.bytes / span.Seconds(), kind: "trailing", span: span}, true
			}
		}
		return baseline{}, false
	}
	secs := end.Sub(start).Seconds()
	judge := func(k subjectKey) (finding, bool) {
		t := current[k]
		bps := 8 * t.bytes / secs
		b, ok := usual(k)
		if !ok || bps < r.cfg.MinRate || bps <= r.cfg.Factor*b.bps {
			return finding{}, false
		}
		return r.finding(ev, k, bps, b, current), true
	}
	var hosts []string
	for k := range current {
		if k.process == "" {
			hosts = append(hosts, k.host)
		}
	}
	sort.Strings(hosts)
	var out []finding
	for _, h := range hosts {
		if f, ok := judge(subjectKey{host: h}); ok {
			out = append(out, f)
			continue
		}
		if !r.cfg.PerProcess {
			continue
		}
		var procs []subjectKey
		for k := range current {
			if k.host == h && k.process != "" {
				procs = append(procs, k)
			}
		}
		sort.Slice(procs, func(i, j int) bool { return procs[i].process < procs[j].process })
		for _, k := range procs {
			if f, ok := judge(k); ok {
				out = append(out, f)
			}
		}
	}
	return out, nil
}

func (r *spike) finding(ev *evaluation, k subjectKey, bps float64, b baseline, current map[subjectKey]*traffic) finding {
	start, end := ev.start(r.cfg.RuleConfig), ev.end
	secs := end.Sub(start).Seconds()
	p := filter.NewParams("")
	sql, table := r.egressSQL(ev, p, start, end, -1, k.host, k.process)
	ratio := bps / b.bps
	f := finding{
		subject:    Subject{Host: k.host, Process: k.process},
		values:     map[string]float64{"rate": bps, "baseline_rate": b.bps, "factor": ratio},
		thresholds: map[string]float64{"factor": r.cfg.Factor, "min_rate": r.cfg.MinRate},
		details:    map[string]any{"baseline": b.kind},
		score:      ratio,
		evidence: evidence(ev.d.canonical(subjectFilter(k.host, k.process)+" AND FlowDirection = egress"+r.exclude.text()),
			start, end, table, sql, p),
	}
	how := ""
	switch b.kind {
	case "hour-of-day":
		f.details["baseline_days"] = b.days
		how = fmt.Sprintf("its average at %02d:00 UTC over %d days", start.Truncate(time.Hour).UTC().Hour(), b.days)
	default:
		f.details["baseline_seconds"] = b.span.Seconds()
		how = fmt.Sprintf("its average over the previous %v", b.span.Round(time.Second))
	}
	if k.process == "" {
		// The processes that make up the host's egress, largest first.
		var top []map[string]any
		for pk, t := range current {
			if pk.host == k.host && pk.process != "" {
				top = append(top, map[string]any{"process": pk.process, "rate": 8 * t.bytes / secs})
			}
		}
		sort.Slice(top, func(i, j int) bool { return top[i]["rate"].(float64) > top[j]["rate"].(float64) })
		f.details["processes"] = top[:min(len(top), 5)]
	}
	f.summary = fmt.Sprintf("%s sent %s over %v, %.1f× %s (%s)", describe(k.host, k.process), rate(bps),
		end.Sub(start), ratio, how, rate(b.bps))
	if b.bps == 0 {
		// No finite ratio to a silent baseline.
		f.values["factor"], f.score = 0, bps/max(r.cfg.MinRate, 1)
		f.summary = fmt.Sprintf("%s sent %s over %v, when %s was nothing", describe(k.host, k.process), rate(bps),
			end.Sub(start), how)
	}
	return f
}
