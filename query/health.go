package query

import (
	"context"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/hostflow/hostflow/query/filter"
	"github.com/hostflow/hostflow/store/schema"
)

// Host counters over time (host_counters, interface_counters): the host
// page's health charts and the hosts list's CPU sparklines.
//
// Counters are cumulative, so a rate needs two samples. Each sample's step
// from the previous sample of its stream (same exporter, sub-agent and, for
// interfaces, ifIndex) is one interval; an interval belongs to the bucket
// of its later sample, and a bucket's rate is the sum of its intervals'
// steps over the sum of their durations. This holds for any bucket width
// and any sampling period, and an interval spanning a gap averages over
// the gap instead of spiking. Negative steps (agent or host restarts,
// 32-bit wraps) leave their interval out of that counter's rate, and a
// decrease of the uptime leaves the interval out of every host rate.

const (
	// minCounterStep is the narrowest counter bucket: agents sample every
	// 20 s by default, routers every 30-60 s, so narrower buckets would
	// be mostly empty.
	minCounterStep = time.Minute
	// counterLookback is how far before the range samples are read, so
	// that the first bucket has the interval ending in it.
	counterLookback         = 10 * time.Minute
	defaultHealthInterfaces = 10
	maxHealthInterfaces     = 50
)

// HostHealthRequest asks for one host's counters over time.
type HostHealthRequest struct {
	Host       string
	Start, End time.Time
	// Points is the most buckets wanted (0: the configured maximum, which
	// also caps it). Buckets are as for flow time series, but never
	// shorter than a minute.
	Points int
	// Interfaces is how many interfaces are returned, busiest (in + out
	// bytes over the range) first (0: 10; at most 50).
	Interfaces int
}

// HostHealthSeries is a host's counters over time. Every slice has one
// value per bucket (Times): NaN where the bucket holds no sample (gauges)
// or no usable interval (rates).
type HostHealthSeries struct {
	Host       string
	Start, End time.Time // aligned to Step
	Step       time.Duration
	Times      []time.Time
	// Samples counts the host counter samples in the range (0: the host
	// sent none, every series is NaN).
	Samples        uint64
	CPUBusyPct     []float64 // from the CPU time counters
	Load1          []float64 // average
	CPUs           []float64 // highest
	MemUsed        []float64 // bytes, total - (free + cached + buffers), average
	MemUsedPct     []float64 // average
	DiskMaxUsedPct []float64 // fullest partition, highest
	// TCPRetransPerSec and TCPRetransPct (of segments sent) come from the
	// MIB-2 TCP counters, NetErrorsPerSec and NetDropsPerSec (receive +
	// transmit) from host_net_io.
	TCPRetransPerSec []float64
	TCPRetransPct    []float64
	NetErrorsPerSec  []float64
	NetDropsPerSec   []float64
	Interfaces       []InterfaceSeries
}

// InterfaceSeries is one interface of the host's agent over time
// (interface_counters of the exporter addresses the host's counters came
// from; interfaces of the same name are merged).
type InterfaceSeries struct {
	Name, Kind    string // the name is the ifIndex when the exporter sent none
	Speed         uint64 // bits per second, latest; 0 unknown
	InBps, OutBps []float64
	// InPct and OutPct are of the bucket's speed; NaN when it is unknown.
	InPct, OutPct []float64
}

// A counter is a cumulative expression of a counter table; its step
// between samples is the column "d" + name of counterSteps.
type counter struct{ name, expr string }

var (
	ctrBusy    = counter{"busy", cpuBusy}
	ctrIdle    = counter{"idle", "CPUIdleMs"}
	ctrUptime  = counter{"up", "UptimeSeconds"}
	ctrRetrans = counter{"retrans", "TCPRetransSegs"}
	ctrOutSegs = counter{"outsegs", "TCPOutSegs"}
	ctrErrors  = counter{"errors", "NetErrsIn + NetErrsOut"}
	ctrDrops   = counter{"drops", "NetDropsIn + NetDropsOut"}
	ctrIn      = counter{"in", "InOctets"}
	ctrOut     = counter{"out", "OutOctets"}
)

// hostInterval is a usable host interval: two samples at different times,
// no reboot in between.
const hostInterval = "dt > 0 AND dup >= 0"

// counterSteps is the subquery of a counter series: the samples of table
// matching where (t: Unix seconds, then the columns cols) with, for each
// counter, its step from the previous sample of the same stream
// (partition) and dt, the seconds between the two. lagInFrame defaults to
// the current row, so the first sample of a stream has dt = 0.
func counterSteps(table, where, partition string, cols []string, counters []counter) string {
	inner := append([]string{"toInt64(toUInt32(TimeReceived)) AS t"}, cols...)
	steps := []string{"*", "t - lagInFrame(t, 1, t) OVER w AS dt"}
	for _, c := range counters {
		inner = append(inner, "toInt64("+c.expr+") AS c"+c.name)
		steps = append(steps, "c"+c.name+" - lagInFrame(c"+c.name+", 1, c"+c.name+") OVER w AS d"+c.name)
	}
	return "  SELECT " + strings.Join(steps, ", ") + "\n  FROM (\n    SELECT " + strings.Join(inner, ", ") +
		"\n    FROM " + table + "\n    WHERE " + where + "\n  )\n  WINDOW w AS (PARTITION BY " + partition +
		" ORDER BY t ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)"
}

// sumSteps sums the steps of counters, and dt, over the intervals
// satisfying valid where none of them decreased.
func sumSteps(valid string, counters ...counter) string {
	cond := valid
	for _, c := range counters {
		cond += " AND d" + c.name + " >= 0"
	}
	var out []string
	for _, c := range counters {
		out = append(out, "sumIf(d"+c.name+", "+cond+")")
	}
	return strings.Join(append(out, "sumIf(dt, "+cond+")"), ", ")
}

// cpuSteps sums the busy and the total (busy + idle) CPU time: busy % is
// their ratio, whatever the intervals' durations.
const cpuSteps = "sumIf(dbusy, " + hostInterval + " AND dbusy >= 0 AND didle >= 0), " +
	"sumIf(dbusy + didle, " + hostInterval + " AND dbusy >= 0 AND didle >= 0)"

// counterBuckets returns the aligned range and bucket width of a counter
// series.
func (b *Builder) counterBuckets(start, end time.Time, points int) (time.Time, time.Time, time.Duration) {
	n := b.cfg.MaxPoints
	if points > 0 && points < n {
		n = points
	}
	step := max(stepFor(end.Sub(start), n), minCounterStep)
	start, end = alignRange(start, end, step)
	return start, end, step
}

func bucketSQL(step time.Duration) string {
	secs := itoa(int64(step / time.Second))
	return "intDiv(t, " + secs + ") * " + secs + " AS b"
}

// hostHealthPlans prepares the host and interface statements of a health
// request.
func (b *Builder) hostHealthPlans(req HostHealthRequest) (host, ifs *plan, err error) {
	if req.Host == "" {
		return nil, nil, badRequest("host: a host name is required")
	}
	if err := checkRange(req.Start, req.End); err != nil {
		return nil, nil, err
	}
	if req.Interfaces < 0 || req.Interfaces > maxHealthInterfaces {
		return nil, nil, badRequest("interfaces must be between 1 and %d, got %d", maxHealthInterfaces, req.Interfaces)
	}
	start, end, step := b.counterBuckets(req.Start, req.End, req.Points)
	mk := func(kind, table string, body func(p *filter.Params, name, window, from string) string) *plan {
		p := filter.NewParams("")
		name := p.Bind("String", req.Host)
		window := timeFilter(p, start.Add(-counterLookback), end)
		from := p.Bind("UInt32", itoa(start.Unix()))
		return &plan{kind: kind, table: flowTable{name: table}, params: p, start: start, end: end, step: step,
			sql: body(p, name, window, from)}
	}
	host = mk("host-health", schema.HostCounters, func(_ *filter.Params, name, window, from string) string {
		return "SELECT " + bucketSQL(step) + ", count(), avg(LoadOne), max(CPUNum), avgIf(memused, MemTotal > 0), " +
			"avgIf(100 * memused / MemTotal, MemTotal > 0), max(DiskPartMaxUsed) / 100, " + cpuSteps + ", " +
			sumSteps(hostInterval, ctrRetrans, ctrOutSegs) + ", " + sumSteps(hostInterval, ctrErrors, ctrDrops) +
			"\nFROM (\n" + counterSteps(b.qualified(schema.HostCounters), "HostName = "+name+" AND "+window,
			"ExporterAddress, SubAgentID", []string{"ExporterAddress", "SubAgentID", "LoadOne", "CPUNum", "MemTotal",
				"toInt64(MemTotal) - toInt64(MemFree + MemCached + MemBuffers) AS memused", "DiskPartMaxUsed"},
			[]counter{ctrUptime, ctrBusy, ctrIdle, ctrRetrans, ctrOutSegs, ctrErrors, ctrDrops}) +
			"\n)\nWHERE t >= " + from + "\nGROUP BY b\nORDER BY b"
	})
	ifs = mk("host-health-interfaces", schema.InterfaceCounters, func(_ *filter.Params, name, window, from string) string {
		addrs := "SELECT ExporterAddress FROM " + b.qualified(schema.HostCounters) + " WHERE HostName = " + name +
			" AND " + window
		return "SELECT " + bucketSQL(step) + ", name, argMax(IfKind, t), argMax(IfSpeed, t), " +
			sumSteps("dt > 0", ctrIn) + ", " + sumSteps("dt > 0", ctrOut) +
			"\nFROM (\n" + counterSteps(b.qualified(schema.InterfaceCounters), "ExporterAddress IN ("+addrs+") AND "+window,
			"ExporterAddress, SubAgentID, IfIndex", []string{"ExporterAddress", "SubAgentID", "IfIndex",
				"if(IfName != '', IfName, toString(IfIndex)) AS name", "IfKind", "IfSpeed"}, []counter{ctrIn, ctrOut}) +
			"\n)\nWHERE t >= " + from + "\nGROUP BY b, name\nORDER BY name, b"
	})
	return host, ifs, nil
}

// HostHealthSeries returns a host's counters over time.
func (b *Builder) HostHealthSeries(ctx context.Context, req HostHealthRequest) (*HostHealthSeries, error) {
	hp, ip, err := b.hostHealthPlans(req)
	if err != nil {
		return nil, err
	}
	n := int(hp.end.Sub(hp.start) / hp.step)
	out := &HostHealthSeries{Host: req.Host, Start: hp.start, End: hp.end, Step: hp.step}
	for t := hp.start; t.Before(hp.end); t = t.Add(hp.step) {
		out.Times = append(out.Times, t)
	}
	series := []*[]float64{&out.CPUBusyPct, &out.Load1, &out.CPUs, &out.MemUsed, &out.MemUsedPct, &out.DiskMaxUsedPct,
		&out.TCPRetransPerSec, &out.TCPRetransPct, &out.NetErrorsPerSec, &out.NetDropsPerSec}
	for _, s := range series {
		*s = gaps(n)
	}
	res, err := b.run(ctx, hp.kind, hp.table.name, hp.sql, hp.params)
	if err != nil {
		return nil, err
	}
	for _, r := range res.Rows {
		i, ok := bucketIndex(hp, r[0])
		if !ok {
			continue
		}
		out.Samples += uint64(number(r[1]))
		out.Load1[i], out.CPUs[i], out.MemUsed[i] = gauge(r[2]), gauge(r[3]), gauge(r[4])
		out.MemUsedPct[i], out.DiskMaxUsedPct[i] = gauge(r[5]), gauge(r[6])
		out.CPUBusyPct[i] = ratio(100*number(r[7]), number(r[8]))
		out.TCPRetransPerSec[i] = ratio(number(r[9]), number(r[11]))
		out.TCPRetransPct[i] = ratio(100*number(r[9]), number(r[10]))
		out.NetErrorsPerSec[i] = ratio(number(r[12]), number(r[14]))
		out.NetDropsPerSec[i] = ratio(number(r[13]), number(r[14]))
	}
	if out.Interfaces, err = b.interfaceSeries(ctx, ip, req.Interfaces); err != nil {
		return nil, err
	}
	return out, nil
}

// interfaceSeries runs the interface statement and keeps the busiest
// interfaces (ranked here: the statement's cost is the scan, not its
// output of interfaces × buckets rows).
func (b *Builder) interfaceSeries(ctx context.Context, pl *plan, keep int) ([]InterfaceSeries, error) {
	if keep == 0 {
		keep = defaultHealthInterfaces
	}
	res, err := b.run(ctx, pl.kind, pl.table.name, pl.sql, pl.params)
	if err != nil {
		return nil, err
	}
	n := int(pl.end.Sub(pl.start) / pl.step)
	var out []InterfaceSeries
	var bytes []float64
	for _, r := range res.Rows {
		i, ok := bucketIndex(pl, r[0])
		if !ok {
			continue
		}
		name, _ := r[1].(string)
		if len(out) == 0 || out[len(out)-1].Name != name { // rows come ordered by name
			out = append(out, InterfaceSeries{Name: name, InBps: gaps(n), OutBps: gaps(n), InPct: gaps(n), OutPct: gaps(n)})
			bytes = append(bytes, 0)
		}
		s := &out[len(out)-1]
		s.Kind, _ = r[2].(string)
		s.Speed = uint64(number(r[3])) // rows come in time order: the latest stays
		s.InBps[i], s.OutBps[i] = ratio(8*number(r[4]), number(r[5])), ratio(8*number(r[6]), number(r[7]))
		if s.Speed > 0 {
			s.InPct[i], s.OutPct[i] = 100*s.InBps[i]/float64(s.Speed), 100*s.OutBps[i]/float64(s.Speed)
		}
		bytes[len(bytes)-1] += number(r[4]) + number(r[6])
	}
	order := make([]int, len(out))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int {
		switch {
		case bytes[x] > bytes[y]:
			return -1
		case bytes[x] < bytes[y]:
			return 1
		}
		return 0
	})
	kept := make([]InterfaceSeries, 0, min(keep, len(out)))
	for _, i := range order[:min(keep, len(order))] {
		kept = append(kept, out[i])
	}
	return kept, nil
}

// hostCPUPlan prepares the CPU busy series of the hosts list (one
// statement for every host).
func (b *Builder) hostCPUPlan(req HostsRequest, hosts []HostSummary) *plan {
	start, end, step := b.counterBuckets(req.Start, req.End, req.CPUPoints)
	p := filter.NewParams("")
	var names []string
	for _, h := range hosts {
		names = append(names, p.Bind("String", h.Host))
	}
	where := "HostName IN (" + strings.Join(names, ", ") + ") AND " + timeFilter(p, start.Add(-counterLookback), end)
	sql := "SELECT HostName, " + bucketSQL(step) + ", " + cpuSteps +
		"\nFROM (\n" + counterSteps(b.qualified(schema.HostCounters), where, "HostName, ExporterAddress, SubAgentID",
		[]string{"HostName", "ExporterAddress", "SubAgentID"}, []counter{ctrUptime, ctrBusy, ctrIdle}) +
		"\n)\nWHERE t >= " + p.Bind("UInt32", itoa(start.Unix())) + "\nGROUP BY HostName, b\nORDER BY HostName, b"
	return &plan{kind: "hosts-cpu", table: flowTable{name: schema.HostCounters}, sql: sql, params: p,
		start: start, end: end, step: step}
}

func (b *Builder) hostCPU(ctx context.Context, req HostsRequest, hosts []HostSummary, index map[string]int) error {
	pl := b.hostCPUPlan(req, hosts)
	res, err := b.run(ctx, pl.kind, pl.table.name, pl.sql, pl.params)
	if err != nil {
		return err
	}
	n := int(pl.end.Sub(pl.start) / pl.step)
	for j := range hosts {
		hosts[j].CPUBusyPct = gaps(n)
	}
	for _, r := range res.Rows {
		j, ok := index[r[0].(string)]
		i, in := bucketIndex(pl, r[1])
		if ok && in {
			hosts[j].CPUBusyPct[i] = ratio(100*number(r[2]), number(r[3]))
		}
	}
	return nil
}

// bucketIndex is the bucket of a bucket start (Unix seconds) in a plan's
// range.
func bucketIndex(pl *plan, v any) (int, bool) {
	secs := int64(pl.step / time.Second)
	d := int64(number(v)) - pl.start.Unix()
	i := int(d / secs)
	return i, d >= 0 && i < int(pl.end.Sub(pl.start)/pl.step)
}

// gaps is a series with no value yet.
func gaps(n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = math.NaN()
	}
	return s
}

// ratio is a / b, NaN when b is 0 (no interval in the bucket).
func ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

// gauge reads an average or maximum; the engine answers NaN (null in JSON)
// for an average over no row.
func gauge(v any) float64 {
	if v == nil {
		return math.NaN()
	}
	return number(v)
}
