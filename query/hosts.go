package query

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/query/filter"
	"github.com/hostflow/hostflow/store/schema"
)

// HostsRequest asks for per-host summaries of hostflow agents (flows with a
// HostName) over a range.
type HostsRequest struct {
	Start, End time.Time
	Filter     string
	Host       string // one host only, when set
	Top        int    // entries in each top list (0: 5)
	MaxHosts   int    // hosts returned, by traffic (0: 100)
	// CPUPoints, when positive, asks for each host's CPU busy % over the
	// range in at most that many buckets (HostSummary.CPUBusyPct), as
	// HostHealthSeries computes it.
	CPUPoints int
}

// Top is an entry of a top list: a label and its average rate (bps).
type Top struct {
	Label string
	Bps   float64
}

// HostHealth is the latest state and the window's changes of a host's
// counters (host_counters). Deltas ignore counter resets.
type HostHealth struct {
	Time          time.Time
	Load1         float64
	CPUs          uint64
	CPUBusyPct    float64 // from the CPU time counters over the window
	MemTotal      uint64
	MemAvailable  uint64  // free + cached + buffers
	DiskMaxUsed   float64 // fullest partition, percent
	Uptime        time.Duration
	TCPRetrans    uint64  // retransmitted segments over the window
	TCPRetransPct float64 // of segments sent
	NetErrors     uint64  // receive + transmit errors over the window
	NetDrops      uint64
	UDPBufErrors  uint64
}

// InterfaceUsage is one interface's counters over the window
// (interface_counters of the host's agent).
type InterfaceUsage struct {
	Name, Kind              string
	Speed                   uint64 // bits per second, 0 unknown
	InBps, OutBps           float64
	InPct, OutPct           float64 // of Speed, 0 when unknown
	InErrors, OutErrors     uint64
	InDiscards, OutDiscards uint64
}

// HostSummary is one host.
type HostSummary struct {
	Host            string
	ExporterAddress netip.Addr
	InBps, OutBps   float64 // ingress / egress flows (FlowDirection)
	InPps, OutPps   float64
	Flows           uint64
	TopProcesses    []Top
	TopPeers        []Top
	// NewPeers are peers with traffic in the range but none in the
	// previous range of the same length, by traffic; NewPeerCount counts
	// them all.
	NewPeers     []Top
	NewPeerCount uint64
	Health       *HostHealth
	Interfaces   []InterfaceUsage
	// CPUBusyPct is the CPU busy % per bucket (NaN: no sample), when the
	// request's CPUPoints asked for it.
	CPUBusyPct []float64
}

// hostPlans prepares the flow statements of a hosts request: traffic,
// top processes, top peers and new peers.
func (b *Builder) hostPlans(req HostsRequest) ([]*plan, error) {
	if err := checkRange(req.Start, req.End); err != nil {
		return nil, err
	}
	f, err := b.parseFilter(req.Filter)
	if err != nil {
		return nil, err
	}
	top, maxHosts := req.Top, req.MaxHosts
	if top == 0 {
		top = 5
	}
	if maxHosts == 0 {
		maxHosts = 100
	}
	if top < 0 || top > b.cfg.DimensionsLimit || maxHosts < 0 || maxHosts > 10000 {
		return nil, badRequest("top must be between 1 and %d, max hosts between 1 and 10000", b.cfg.DimensionsLimit)
	}
	if req.CPUPoints < 0 {
		return nil, badRequest("CPU points must not be negative, got %d", req.CPUPoints)
	}
	col := func(n string) *flow.Column { c, _ := b.flow.Column(n); return c }
	rate := "Bytes * SamplingRate * 8"
	peer := "if(FlowDirection = 2, DstAddr, SrcAddr)"
	mk := func(kind string, start time.Time, cols []*flow.Column, body func(p *filter.Params, from, where string) string) *plan {
		table, _ := b.chooseTable(start, req.End, rangeStep(start, req.End), append(cols, f.Columns()...))
		p := filter.NewParams("")
		where := timeFilter(p, start, req.End) + " AND " + f.SQL(p) + " AND HostName != ''"
		if req.Host != "" {
			where += " AND HostName = " + p.Bind("String", req.Host)
		}
		return &plan{kind: kind, table: table, params: p, start: start, end: req.End, limit: top,
			sql: body(p, b.qualified(table.name), where)}
	}
	hostCols := []*flow.Column{col("HostName"), col("FlowDirection"), col("ExporterAddress")}
	traffic := mk("hosts-traffic", req.Start, hostCols, func(_ *filter.Params, from, where string) string {
		return "SELECT HostName, any(ExporterAddress), " +
			"sumIf(" + rate + ", FlowDirection = 1) AS inb, sumIf(" + rate + ", FlowDirection = 2) AS outb, " +
			"sumIf(Packets * SamplingRate, FlowDirection = 1), sumIf(Packets * SamplingRate, FlowDirection = 2), count()\n" +
			"FROM " + from + "\nWHERE " + where + "\nGROUP BY HostName\nORDER BY inb + outb DESC, HostName\nLIMIT " + itoa(int64(maxHosts))
	})
	topBy := func(kind, expr string, cols ...*flow.Column) *plan {
		return mk(kind, req.Start, append(hostCols, cols...), func(_ *filter.Params, from, where string) string {
			return "SELECT HostName, " + expr + " AS k, sum(" + rate + ") AS v\nFROM " + from + "\nWHERE " + where +
				"\nGROUP BY HostName, k\nORDER BY v DESC, k\nLIMIT " + itoa(int64(top)) + " BY HostName"
		})
	}
	processes := topBy("hosts-processes", "ProcessName", col("ProcessName"))
	peers := topBy("hosts-peers", peer, col("SrcAddr"), col("DstAddr"))
	prevStart := req.Start.Add(-req.End.Sub(req.Start))
	newPeers := mk("hosts-new-peers", prevStart, append(hostCols, col("SrcAddr"), col("DstAddr")),
		func(p *filter.Params, from, where string) string {
			return "SELECT HostName, k, sum(cur) AS v, count() OVER (PARTITION BY HostName) AS n\nFROM (\n" +
				"  SELECT HostName, " + peer + " AS k, TimeReceived >= toDateTime(" +
				p.Bind("UInt32", itoa(req.Start.Unix())) + ") AS current, if(current, " + rate + ", 0) AS cur\n" +
				"  FROM " + from + "\n  WHERE " + where + "\n)\nGROUP BY HostName, k\nHAVING min(current) = 1\n" +
				"ORDER BY v DESC, k\nLIMIT " + itoa(int64(top)) + " BY HostName"
		})
	return []*plan{traffic, processes, peers, newPeers}, nil
}

// cpuBusy is the CPU time not idle (host_cpu: every state but idle).
const cpuBusy = "CPUUserMs + CPUNiceMs + CPUSystemMs + CPUWioMs + CPUIntrMs + CPUSintrMs + CPUStealMs"

// delta is the increase of a cumulative counter over the rows of a group,
// ignoring decreases (agent restarts, wraps).
func delta(expr string) string {
	return "arraySum(arrayMap(d -> greatest(d, 0), arrayDifference(arrayMap(x -> toInt64(x.2), " +
		"arraySort(groupArray((TimeReceived, " + expr + ")))))))"
}

// Hosts returns per-host summaries, busiest first.
func (b *Builder) Hosts(ctx context.Context, req HostsRequest) ([]HostSummary, error) {
	plans, err := b.hostPlans(req)
	if err != nil {
		return nil, err
	}
	secs := req.End.Sub(req.Start).Seconds()
	res, err := b.run(ctx, plans[0].kind, plans[0].table.name, plans[0].sql, plans[0].params)
	if err != nil {
		return nil, err
	}
	var out []HostSummary
	index := map[string]int{}
	for _, row := range res.Rows {
		h := HostSummary{Host: row[0].(string), InBps: number(row[2]) / secs, OutBps: number(row[3]) / secs,
			InPps: number(row[4]) / secs, OutPps: number(row[5]) / secs, Flows: uint64(number(row[6]))}
		h.ExporterAddress, _ = row[1].(netip.Addr)
		index[h.Host] = len(out)
		out = append(out, h)
	}
	if len(out) == 0 {
		return out, nil
	}
	lists := []func(h *HostSummary, t Top, n uint64){
		func(h *HostSummary, t Top, _ uint64) { h.TopProcesses = append(h.TopProcesses, t) },
		func(h *HostSummary, t Top, _ uint64) { h.TopPeers = append(h.TopPeers, t) },
		func(h *HostSummary, t Top, n uint64) { h.NewPeers, h.NewPeerCount = append(h.NewPeers, t), n },
	}
	for i, pl := range plans[1:] {
		res, err := b.run(ctx, pl.kind, pl.table.name, pl.sql, pl.params)
		if err != nil {
			return nil, err
		}
		for _, row := range res.Rows {
			j, ok := index[row[0].(string)]
			if !ok {
				continue
			}
			var n uint64
			if len(row) > 3 {
				n = uint64(number(row[3]))
			}
			lists[i](&out[j], Top{Label: label(&flow.Column{}, row[1]), Bps: number(row[2]) / secs}, n)
		}
	}
	if err := b.hostHealth(ctx, req, out, index); err != nil {
		return nil, err
	}
	if err := b.hostInterfaces(ctx, req, out); err != nil {
		return nil, err
	}
	if req.CPUPoints > 0 {
		if err := b.hostCPU(ctx, req, out, index); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (b *Builder) hostHealthPlan(req HostsRequest, hosts []HostSummary) *plan {
	p := filter.NewParams("")
	var names []string
	for _, h := range hosts {
		names = append(names, p.Bind("String", h.Host))
	}
	sql := "SELECT HostName, max(TimeReceived), argMax(LoadOne, TimeReceived), argMax(CPUNum, TimeReceived), " +
		delta(cpuBusy) + ", " + delta(cpuBusy+" + CPUIdleMs") + ", " +
		"argMax(MemTotal, TimeReceived), argMax(MemFree + MemCached + MemBuffers, TimeReceived), " +
		"argMax(DiskPartMaxUsed, TimeReceived), argMax(UptimeSeconds, TimeReceived), " +
		delta("TCPRetransSegs") + ", " + delta("TCPOutSegs") + ", " + delta("NetErrsIn + NetErrsOut") + ", " +
		delta("NetDropsIn + NetDropsOut") + ", " + delta("UDPRcvbufErrors") +
		"\nFROM " + b.qualified(schema.HostCounters) +
		"\nWHERE " + timeFilter(p, req.Start, req.End) + " AND HostName IN (" + strings.Join(names, ", ") + ")" +
		"\nGROUP BY HostName"
	return &plan{kind: "hosts-health", table: flowTable{name: schema.HostCounters}, sql: sql, params: p}
}

func (b *Builder) hostHealth(ctx context.Context, req HostsRequest, hosts []HostSummary, index map[string]int) error {
	pl := b.hostHealthPlan(req, hosts)
	res, err := b.run(ctx, pl.kind, pl.table.name, pl.sql, pl.params)
	if err != nil {
		return err
	}
	for _, r := range res.Rows {
		j, ok := index[r[0].(string)]
		if !ok {
			continue
		}
		h := &HostHealth{Load1: number(r[2]), CPUs: uint64(number(r[3])), MemTotal: uint64(number(r[6])),
			MemAvailable: uint64(number(r[7])), DiskMaxUsed: number(r[8]) / 100,
			Uptime:     time.Duration(number(r[9])) * time.Second,
			TCPRetrans: uint64(number(r[10])), NetErrors: uint64(number(r[12])), NetDrops: uint64(number(r[13])),
			UDPBufErrors: uint64(number(r[14]))}
		h.Time, _ = r[1].(time.Time)
		if total := number(r[5]); total > 0 {
			h.CPUBusyPct = 100 * number(r[4]) / total
		}
		if sent := number(r[11]); sent > 0 {
			h.TCPRetransPct = 100 * number(r[10]) / sent
		}
		hosts[j].Health = h
	}
	return nil
}

func (b *Builder) hostInterfacesPlan(req HostsRequest, hosts []HostSummary) *plan {
	p := filter.NewParams("")
	var addrs []string
	for _, h := range hosts {
		if h.ExporterAddress.IsValid() {
			addrs = append(addrs, p.Bind("IPv6", netip.AddrFrom16(h.ExporterAddress.As16()).String()))
		}
	}
	addrs = slices.Compact(addrs)
	sql := "SELECT ExporterAddress, IfName, argMax(IfKind, TimeReceived), argMax(IfSpeed, TimeReceived), " +
		"max(TimeReceived) - min(TimeReceived), " + delta("InOctets") + ", " + delta("OutOctets") + ", " +
		delta("InErrors") + ", " + delta("OutErrors") + ", " + delta("InDiscards") + ", " + delta("OutDiscards") +
		"\nFROM " + b.qualified(schema.InterfaceCounters) +
		"\nWHERE " + timeFilter(p, req.Start, req.End) + " AND ExporterAddress IN (" + strings.Join(addrs, ", ") + ")" +
		"\nGROUP BY ExporterAddress, IfName\nORDER BY ExporterAddress, IfName"
	return &plan{kind: "hosts-interfaces", table: flowTable{name: schema.InterfaceCounters}, sql: sql, params: p}
}

func (b *Builder) hostInterfaces(ctx context.Context, req HostsRequest, hosts []HostSummary) error {
	if !slices.ContainsFunc(hosts, func(h HostSummary) bool { return h.ExporterAddress.IsValid() }) {
		return nil
	}
	pl := b.hostInterfacesPlan(req, hosts)
	res, err := b.run(ctx, pl.kind, pl.table.name, pl.sql, pl.params)
	if err != nil {
		return err
	}
	for _, r := range res.Rows {
		addr, _ := r[0].(netip.Addr)
		u := InterfaceUsage{Name: r[1].(string), Kind: r[2].(string), Speed: uint64(number(r[3])),
			InErrors: uint64(number(r[7])), OutErrors: uint64(number(r[8])),
			InDiscards: uint64(number(r[9])), OutDiscards: uint64(number(r[10]))}
		if span := number(r[4]); span > 0 {
			u.InBps, u.OutBps = number(r[5])*8/span, number(r[6])*8/span
			if u.Speed > 0 {
				u.InPct, u.OutPct = 100*u.InBps/float64(u.Speed), 100*u.OutBps/float64(u.Speed)
			}
		}
		for i := range hosts {
			if hosts[i].ExporterAddress.Unmap() == addr.Unmap() {
				hosts[i].Interfaces = append(hosts[i].Interfaces, u)
			}
		}
	}
	return nil
}

// rangeStep is the coarsest rollup resolution on which both ends of a range
// fall, so that a rollup table answers for exactly that range.
func rangeStep(start, end time.Time) time.Duration {
	for _, d := range []time.Duration{time.Hour, 5 * time.Minute, time.Minute} {
		if alignDown(start, d).Equal(start) && alignDown(end, d).Equal(end) {
			return d
		}
	}
	return time.Second
}
