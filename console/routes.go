package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"time"

	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/query"
	"github.com/hostflow/hostflow/query/filter"
)

func (c *Console) routesSetup() {
	c.api("GET /api/v1/schema", scopeRead, c.getSchema)
	c.api("GET /api/v1/status", scopeRead, c.getStatus)
	c.api("GET /api/v1/timeseries", scopeRead, c.getTimeSeries)
	c.api("GET /api/v1/topn", scopeRead, c.getTopN)
	c.api("GET /api/v1/sankey", scopeRead, c.getSankey)
	c.api("GET /api/v1/flows", scopeRead, c.getFlows)
	c.api("GET /api/v1/hosts", scopeRead, c.getHosts)
	c.api("GET /api/v1/hosts/{host}", scopeRead, c.getHost)
	c.api("GET /api/v1/hosts/{host}/health", scopeRead, c.getHostHealth)
	c.api("GET /api/v1/exporters", scopeRead, c.getExporters)
	c.api("GET /api/v1/filter/validate", scopeRead, c.getFilterValidate)
	c.api("GET /api/v1/filter/complete", scopeRead, c.getFilterComplete)
	c.api("GET /api/v1/detections", scopeRead, c.getDetections)
	c.api("GET /api/v1/whoami", scopeRead, c.getWhoami)
	c.api("GET /api/v1/debug/flows", scopeAdmin, c.getDebugFlows)

	// Unauthenticated: the API description, health, and the console's
	// static files (which hold no data; the app asks for a token).
	c.mux.HandleFunc("GET /api/v1/openapi.json", serveOpenAPI)
	c.routes = append(c.routes, "GET /api/v1/openapi.json")
	c.mux.HandleFunc("GET /api/v1/health", c.getHealth)
	c.routes = append(c.routes, "GET /api/v1/health")
	if c.deps.Ops != nil {
		c.mux.Handle("GET /metrics", c.deps.Ops)
		c.mux.Handle("GET /healthz", c.deps.Ops)
	}
	c.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path+" (see /api/v1/openapi.json)")
	})
	c.mux.Handle("GET /docs/", docsHandler())
	ui := uiHandler()
	c.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeError(w, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		ui.ServeHTTP(w, r)
	})
}

// schemaColumn describes one column for the console's pickers.
type schemaColumn struct {
	Name      string   `json:"name"`
	Label     string   `json:"label"`
	Group     string   `json:"group"`
	Filter    string   `json:"filter,omitempty"`
	Dimension bool     `json:"dimension"`
	MainOnly  bool     `json:"mainOnly"`
	Mirror    string   `json:"mirror,omitempty"`
	Operators []string `json:"operators,omitempty"`
}

var filterTypeNames = map[flow.FilterType]string{
	flow.FilterIP: "ip", flow.FilterString: "string", flow.FilterUint: "uint", flow.FilterASN: "asn",
	flow.FilterProto: "proto", flow.FilterEType: "etype", flow.FilterBoundary: "boundary",
	flow.FilterDirection: "direction",
}

func (c *Console) getSchema(_ http.ResponseWriter, _ *http.Request, _ *params) (any, error) {
	enabled := map[string]bool{}
	for _, col := range c.deps.Store.FlowColumns() {
		enabled[col.Name] = true
	}
	var out []schemaColumn
	for i := range c.deps.Flow.Columns {
		col := &c.deps.Flow.Columns[i]
		if !enabled[col.Name] {
			continue
		}
		sc := schemaColumn{Name: col.Name, Label: col.Label, Group: col.Group, Filter: filterTypeNames[col.Filter],
			Dimension: col.Dimension, MainOnly: col.MainOnly, Mirror: col.Mirror}
		for _, op := range filter.Operators(col.Filter) {
			sc.Operators = append(sc.Operators, op.String())
		}
		out = append(out, sc)
	}
	return map[string]any{"columns": out, "units": []query.Unit{query.UnitL3bps, query.UnitL2bps, query.UnitPPS,
		query.UnitFPS, query.UnitInIfSpeed, query.UnitOutIfSpeed}}, nil
}

func (c *Console) unit(p *params) query.Unit {
	u := query.Unit(p.str("unit", string(query.UnitL3bps)))
	switch u {
	case query.UnitL3bps, query.UnitL2bps, query.UnitPPS, query.UnitFPS, query.UnitInIfSpeed, query.UnitOutIfSpeed:
		return u
	}
	p.fail("unit", "want l3bps, l2bps, pps, fps, in-speed-pct or out-speed-pct, got %q", u)
	return query.UnitL3bps
}

func (c *Console) topBy(p *params) query.TopBy {
	t := query.TopBy(p.str("top-by", string(query.TopByAvg)))
	switch t {
	case query.TopBySum, query.TopByAvg, query.TopByMax, query.TopByLast:
		return t
	}
	p.fail("top-by", "want sum, avg, max or last, got %q", t)
	return query.TopByAvg
}

// seriesOut is a time series line in the API.
type seriesOut struct {
	Labels []string    `json:"labels"`
	Other  bool        `json:"other,omitempty"`
	Values []float64   `json:"values"`
	Stats  query.Stats `json:"stats"`
}

func seriesJSON(in []query.Series) []seriesOut {
	out := make([]seriesOut, len(in))
	for i, s := range in {
		out[i] = seriesOut{Labels: s.Labels, Other: s.Other, Values: s.Values, Stats: s.Stats}
		if out[i].Labels == nil {
			out[i].Labels = []string{}
		}
	}
	return out
}

type timeSeriesOut struct {
	Start      time.Time   `json:"start"`
	End        time.Time   `json:"end"`
	Step       int64       `json:"step"` // seconds
	Table      string      `json:"table"`
	Unit       query.Unit  `json:"unit"`
	Dimensions []string    `json:"dimensions"`
	Times      []time.Time `json:"times"`
	Series     []seriesOut `json:"series"`
	Reverse    []seriesOut `json:"reverse,omitempty"`
	Previous   *seriesOut  `json:"previous,omitempty"`
}

func (c *Console) timeSeriesRequest(p *params) query.TimeSeriesRequest {
	start, end := p.timeRange(time.Duration(c.cfg.MaxRange))
	return query.TimeSeriesRequest{
		Start: start, End: end,
		Points:         p.integer("points", 0, 0, 10000),
		Dimensions:     p.list("dimensions"),
		Limit:          p.integer("limit", 10, 1, 1000),
		TopBy:          c.topBy(p),
		Filter:         p.str("filter", ""),
		Unit:           c.unit(p),
		Bidirectional:  p.boolean("bidirectional"),
		PreviousPeriod: p.previous("previous"),
	}
}

func (c *Console) getTimeSeries(_ http.ResponseWriter, r *http.Request, p *params) (any, error) {
	req := c.timeSeriesRequest(p)
	if p.err != nil {
		return nil, p.err
	}
	ts, err := c.deps.Builder.TimeSeries(r.Context(), req)
	if err != nil {
		return nil, err
	}
	out := timeSeriesOut{Start: ts.Start, End: ts.End, Step: int64(ts.Step / time.Second), Table: ts.Table,
		Unit: req.Unit, Dimensions: ts.Dimensions, Times: ts.Times, Series: seriesJSON(ts.Series)}
	if out.Dimensions == nil {
		out.Dimensions = []string{}
	}
	if req.Bidirectional {
		out.Reverse = seriesJSON(ts.Reverse)
	}
	if ts.Previous != nil {
		prev := seriesJSON([]query.Series{*ts.Previous})[0]
		out.Previous = &prev
	}
	return out, nil
}

type topNOut struct {
	Start      time.Time    `json:"start"`
	End        time.Time    `json:"end"`
	Table      string       `json:"table"`
	Unit       query.Unit   `json:"unit"`
	Dimensions []string     `json:"dimensions"`
	Rows       []topNRowOut `json:"rows"`
}

type topNRowOut struct {
	Labels []string `json:"labels"`
	Other  bool     `json:"other,omitempty"`
	// Value is the average rate over the range; Percent its share of the
	// total.
	Value   float64 `json:"value"`
	Percent float64 `json:"percent"`
}

// getTopN is the top-N table without a time axis: the time series
// machinery with the range as buckets, averaged.
func (c *Console) getTopN(_ http.ResponseWriter, r *http.Request, p *params) (any, error) {
	req := c.timeSeriesRequest(p)
	if p.err != nil {
		return nil, p.err
	}
	if len(req.Dimensions) == 0 {
		return nil, &paramError{fmt.Errorf("parameter dimensions: at least one dimension is required")}
	}
	req.Bidirectional, req.PreviousPeriod = false, 0
	ts, err := c.deps.Builder.TimeSeries(r.Context(), req)
	if err != nil {
		return nil, err
	}
	out := topNOut{Start: ts.Start, End: ts.End, Table: ts.Table, Unit: req.Unit, Dimensions: ts.Dimensions, Rows: []topNRowOut{}}
	var total float64
	for _, s := range ts.Series {
		total += s.Stats.Avg
	}
	for _, s := range ts.Series {
		row := topNRowOut{Labels: s.Labels, Other: s.Other, Value: s.Stats.Avg}
		if total > 0 {
			row.Percent = 100 * s.Stats.Avg / total
		}
		out.Rows = append(out.Rows, row)
	}
	return out, nil
}

func (c *Console) getSankey(_ http.ResponseWriter, r *http.Request, p *params) (any, error) {
	start, end := p.timeRange(time.Duration(c.cfg.MaxRange))
	req := query.SankeyRequest{
		Start: start, End: end,
		Dimensions:    p.list("dimensions"),
		Limit:         p.integer("limit", 10, 1, 1000),
		Filter:        p.str("filter", ""),
		Unit:          c.unit(p),
		Bidirectional: p.boolean("bidirectional"),
	}
	if p.err != nil {
		return nil, p.err
	}
	s, err := c.deps.Builder.Sankey(r.Context(), req)
	if err != nil {
		return nil, err
	}
	return sankeyJSON(s), nil
}

type sankeyOut struct {
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	Table      string    `json:"table"`
	Dimensions []string  `json:"dimensions"`
	Nodes      []struct {
		Dimension int    `json:"dimension"`
		Label     string `json:"label"`
	} `json:"nodes"`
	Links []struct {
		Source int     `json:"source"`
		Target int     `json:"target"`
		Value  float64 `json:"value"`
	} `json:"links"`
	Paths []struct {
		Labels []string `json:"labels"`
		Other  bool     `json:"other,omitempty"`
		Value  float64  `json:"value"`
	} `json:"paths"`
	Reverse *sankeyOut `json:"reverse,omitempty"`
}

func sankeyJSON(s *query.Sankey) *sankeyOut {
	if s == nil {
		return nil
	}
	// The query types are plain data with the same shape; a JSON round trip
	// would hide field renames, so copy explicitly.
	out := &sankeyOut{Start: s.Start, End: s.End, Table: s.Table, Dimensions: s.Dimensions}
	for _, n := range s.Nodes {
		out.Nodes = append(out.Nodes, struct {
			Dimension int    `json:"dimension"`
			Label     string `json:"label"`
		}{n.Dimension, n.Label})
	}
	for _, l := range s.Links {
		out.Links = append(out.Links, struct {
			Source int     `json:"source"`
			Target int     `json:"target"`
			Value  float64 `json:"value"`
		}{l.Source, l.Target, l.Value})
	}
	for _, pth := range s.Paths {
		out.Paths = append(out.Paths, struct {
			Labels []string `json:"labels"`
			Other  bool     `json:"other,omitempty"`
			Value  float64  `json:"value"`
		}{pth.Labels, pth.Other, pth.Value})
	}
	out.Reverse = sankeyJSON(s.Reverse)
	return out
}

func (c *Console) flowsRequest(p *params) query.FlowsRequest {
	start, end := p.timeRange(time.Duration(c.cfg.MaxRange))
	return query.FlowsRequest{
		Start: start, End: end,
		Filter:  p.str("filter", ""),
		Columns: p.list("columns"),
		Limit:   p.integer("limit", 100, 1, 100000),
		Offset:  p.integer("offset", 0, 0, 1<<30),
	}
}

type flowsOut struct {
	Columns []string `json:"columns"`
	Rows    [][]any  `json:"rows"`
	// Next is the offset of the next page, -1 at the end. Pass the same end
	// to keep pages stable while flows arrive.
	Next int       `json:"next"`
	End  time.Time `json:"end"`
}

func (c *Console) getFlows(w http.ResponseWriter, r *http.Request, p *params) (any, error) {
	req := c.flowsRequest(p)
	format := p.str("format", "json")
	if format != "json" && format != "csv" {
		p.fail("format", "want json or csv, got %q", format)
	}
	if p.err != nil {
		return nil, p.err
	}
	if format == "csv" {
		// Validate before the first byte is written: afterwards errors can
		// no longer change the status.
		if _, err := c.deps.Builder.Flows(r.Context(), query.FlowsRequest{Start: req.Start, End: req.End,
			Filter: req.Filter, Columns: req.Columns, Limit: 1}); err != nil {
			return nil, err
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=\"flows-%s.csv\"", req.End.UTC().Format("20060102T150405Z")))
		if err := c.deps.Builder.ExportCSV(r.Context(), req, w); err != nil {
			c.deps.Reporter.Sub("console").Limited("csv", "CSV export interrupted", "error", err)
		}
		return nil, nil
	}
	page, err := c.deps.Builder.Flows(r.Context(), req)
	if err != nil {
		return nil, err
	}
	rows := page.Rows
	if rows == nil {
		rows = [][]any{}
	}
	return flowsOut{Columns: page.Columns, Rows: rows, Next: page.Next, End: req.End}, nil
}

func (c *Console) hostsRequest(p *params) query.HostsRequest {
	start, end := p.timeRange(time.Duration(c.cfg.MaxRange))
	return query.HostsRequest{
		Start: start, End: end,
		Filter:    p.str("filter", ""),
		Top:       p.integer("top", 5, 1, 100),
		MaxHosts:  p.integer("limit", 100, 1, 10000),
		CPUPoints: p.integer("cpu-points", 0, 0, 1000),
	}
}

func (c *Console) getHosts(_ http.ResponseWriter, r *http.Request, p *params) (any, error) {
	req := c.hostsRequest(p)
	if p.err != nil {
		return nil, p.err
	}
	hosts, err := c.deps.Builder.Hosts(r.Context(), req)
	if err != nil {
		return nil, err
	}
	return map[string]any{"hosts": hostsJSON(hosts)}, nil
}

func (c *Console) getHost(w http.ResponseWriter, r *http.Request, p *params) (any, error) {
	req := c.hostsRequest(p)
	req.Host = r.PathValue("host")
	req.Top = p.integer("top", 10, 1, 100)
	if p.err != nil {
		return nil, p.err
	}
	hosts, err := c.deps.Builder.Hosts(r.Context(), req)
	if err != nil {
		return nil, err
	}
	if len(hosts) == 0 {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no flows from host %q between %s and %s", req.Host,
			req.Start.UTC().Format(time.RFC3339), req.End.UTC().Format(time.RFC3339)))
		return nil, nil
	}
	return hostsJSON(hosts)[0], nil
}

type hostOut struct {
	Host            string         `json:"host"`
	ExporterAddress string         `json:"exporterAddress"`
	InBps           float64        `json:"inBps"`
	OutBps          float64        `json:"outBps"`
	InPps           float64        `json:"inPps"`
	OutPps          float64        `json:"outPps"`
	Flows           uint64         `json:"flows"`
	TopProcesses    []topOut       `json:"topProcesses"`
	TopPeers        []topOut       `json:"topPeers"`
	NewPeers        []topOut       `json:"newPeers"`
	NewPeerCount    uint64         `json:"newPeerCount"`
	Health          *hostHealthOut `json:"health,omitempty"`
	Interfaces      []interfaceOut `json:"interfaces"`
	// CPUSeries is the CPU busy % over the range (null: no sample), with
	// cpu-points.
	CPUSeries gaps `json:"cpuSeries,omitempty"`
}

type interfaceOut struct {
	Name        string  `json:"name"`
	Kind        string  `json:"kind"`
	Speed       uint64  `json:"speed"` // bits per second, 0 unknown
	InBps       float64 `json:"inBps"`
	OutBps      float64 `json:"outBps"`
	InPct       float64 `json:"inPct"`
	OutPct      float64 `json:"outPct"`
	InErrors    uint64  `json:"inErrors"`
	OutErrors   uint64  `json:"outErrors"`
	InDiscards  uint64  `json:"inDiscards"`
	OutDiscards uint64  `json:"outDiscards"`
}

type topOut struct {
	Label string  `json:"label"`
	Bps   float64 `json:"bps"`
}

type hostHealthOut struct {
	Time          time.Time `json:"time"`
	Load1         float64   `json:"load1"`
	CPUs          uint64    `json:"cpus"`
	CPUBusyPct    float64   `json:"cpuBusyPct"`
	MemTotal      uint64    `json:"memTotal"`
	MemAvailable  uint64    `json:"memAvailable"`
	DiskMaxUsed   float64   `json:"diskMaxUsedPct"`
	UptimeSeconds int64     `json:"uptimeSeconds"`
	TCPRetrans    uint64    `json:"tcpRetrans"`
	TCPRetransPct float64   `json:"tcpRetransPct"`
	NetErrors     uint64    `json:"netErrors"`
	NetDrops      uint64    `json:"netDrops"`
	UDPBufErrors  uint64    `json:"udpBufErrors"`
}

func topsJSON(in []query.Top) []topOut {
	out := make([]topOut, len(in))
	for i, t := range in {
		out[i] = topOut{t.Label, t.Bps}
	}
	return out
}

func hostsJSON(in []query.HostSummary) []hostOut {
	out := make([]hostOut, len(in))
	for i, h := range in {
		o := hostOut{Host: h.Host, InBps: h.InBps, OutBps: h.OutBps, InPps: h.InPps, OutPps: h.OutPps, Flows: h.Flows,
			TopProcesses: topsJSON(h.TopProcesses), TopPeers: topsJSON(h.TopPeers), NewPeers: topsJSON(h.NewPeers),
			NewPeerCount: h.NewPeerCount, Interfaces: []interfaceOut{}, CPUSeries: h.CPUBusyPct}
		if h.ExporterAddress.IsValid() {
			o.ExporterAddress = h.ExporterAddress.Unmap().String()
		}
		for _, u := range h.Interfaces {
			o.Interfaces = append(o.Interfaces, interfaceOut{u.Name, u.Kind, u.Speed, u.InBps, u.OutBps, u.InPct, u.OutPct,
				u.InErrors, u.OutErrors, u.InDiscards, u.OutDiscards})
		}
		if hh := h.Health; hh != nil {
			o.Health = &hostHealthOut{Time: hh.Time, Load1: hh.Load1, CPUs: hh.CPUs, CPUBusyPct: hh.CPUBusyPct,
				MemTotal: hh.MemTotal, MemAvailable: hh.MemAvailable, DiskMaxUsed: hh.DiskMaxUsed,
				UptimeSeconds: int64(hh.Uptime / time.Second), TCPRetrans: hh.TCPRetrans, TCPRetransPct: hh.TCPRetransPct,
				NetErrors: hh.NetErrors, NetDrops: hh.NetDrops, UDPBufErrors: hh.UDPBufErrors}
		}
		out[i] = o
	}
	return out
}

type filterValidateOut struct {
	Valid      bool     `json:"valid"`
	Normalized string   `json:"normalized,omitempty"`
	Columns    []string `json:"columns,omitempty"`
	MainOnly   bool     `json:"mainOnly,omitempty"`
	Error      *struct {
		Message string `json:"message"`
		Offset  int    `json:"offset"`
		Line    int    `json:"line"`
		Column  int    `json:"column"`
	} `json:"error,omitempty"`
}

func (c *Console) getFilterValidate(_ http.ResponseWriter, _ *http.Request, p *params) (any, error) {
	src := p.str("q", "")
	f, err := filter.Parse(c.deps.Flow, src)
	var out filterValidateOut
	if err != nil {
		fe, ok := err.(*filter.Error)
		if !ok {
			return nil, err
		}
		out.Error = &struct {
			Message string `json:"message"`
			Offset  int    `json:"offset"`
			Line    int    `json:"line"`
			Column  int    `json:"column"`
		}{fe.Msg, fe.Offset, fe.Line, fe.Column}
		return out, nil
	}
	out.Valid = true
	if f != nil {
		out.Normalized = f.String()
		for _, col := range f.Columns() {
			out.Columns = append(out.Columns, col.Name)
		}
		out.MainOnly = f.MainOnly()
	}
	return out, nil
}

func (c *Console) getFilterComplete(_ http.ResponseWriter, r *http.Request, p *params) (any, error) {
	src := p.str("q", "")
	cursor := p.integer("cursor", len(src), 0, len(src))
	if p.err != nil {
		return nil, p.err
	}
	comp, err := filter.Complete(r.Context(), c.deps.Flow, src, cursor, c.deps.Builder)
	if err != nil {
		return nil, err
	}
	return comp, nil
}

type exporterOut struct {
	Address  string    `json:"address"`
	Name     string    `json:"name"`
	Group    string    `json:"group,omitempty"`
	Role     string    `json:"role,omitempty"`
	Site     string    `json:"site,omitempty"`
	Region   string    `json:"region,omitempty"`
	Tenant   string    `json:"tenant,omitempty"`
	LastSeen time.Time `json:"lastSeen"`
}

func (c *Console) getExporters(_ http.ResponseWriter, r *http.Request, p *params) (any, error) {
	limit := p.integer("limit", 1000, 1, 100000)
	if p.err != nil {
		return nil, p.err
	}
	res, err := c.deps.Querier.Query(r.Context(),
		"SELECT ExporterAddress, argMax(ExporterName, TimeReceived), argMax(ExporterGroup, TimeReceived), "+
			"argMax(ExporterRole, TimeReceived), argMax(ExporterSite, TimeReceived), argMax(ExporterRegion, TimeReceived), "+
			"argMax(ExporterTenant, TimeReceived), max(TimeReceived) AS t FROM "+c.deps.Store.InsertTable("exporters")+
			" GROUP BY ExporterAddress ORDER BY t DESC LIMIT {limit:UInt32}",
		map[string]string{"limit": fmt.Sprint(limit)})
	if err != nil {
		return nil, err
	}
	out := []exporterOut{}
	for _, row := range res.Rows {
		e := exporterOut{Name: fmt.Sprint(row[1]),
			Group: fmt.Sprint(row[2]), Role: fmt.Sprint(row[3]), Site: fmt.Sprint(row[4]), Region: fmt.Sprint(row[5]),
			Tenant: fmt.Sprint(row[6])}
		if a, ok := row[0].(netip.Addr); ok {
			e.Address = a.Unmap().String()
		}
		if t, ok := row[7].(time.Time); ok {
			e.LastSeen = t
		}
		out = append(out, e)
	}
	return map[string]any{"exporters": out}, nil
}

type statusOut struct {
	// FlowsPerSecond is flow records received per second over the last
	// five minutes (not scaled by sampling).
	FlowsPerSecond float64 `json:"flowsPerSecond"`
	Exporters      uint64  `json:"exporters"`
	Hosts          uint64  `json:"hosts"`
	// LastFlow is when the newest stored flow was received.
	LastFlow *time.Time `json:"lastFlow,omitempty"`
}

func (c *Console) getStatus(_ http.ResponseWriter, r *http.Request, p *params) (any, error) {
	flows := c.deps.Store.InsertTable("flows")
	res, err := c.deps.Querier.Query(r.Context(),
		"SELECT countIf(TimeReceived >= {since:DateTime}) / 300, uniqExact(ExporterAddress), uniqExactIf(HostName, HostName != ''), max(TimeReceived) FROM "+
			flows+" WHERE TimeReceived >= {day:DateTime}",
		map[string]string{"since": fmt.Sprint(p.now.Add(-5 * time.Minute).Unix()), "day": fmt.Sprint(p.now.Add(-24 * time.Hour).Unix())})
	if err != nil {
		return nil, err
	}
	var out statusOut
	if len(res.Rows) == 1 {
		row := res.Rows[0]
		out.FlowsPerSecond = toFloat(row[0])
		out.Exporters = uint64(toFloat(row[1]))
		out.Hosts = uint64(toFloat(row[2]))
		if t, ok := row[3].(time.Time); ok && t.Unix() > 0 {
			out.LastFlow = &t
		}
	}
	return out, nil
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case float32:
		return float64(x)
	case uint64:
		return float64(x)
	case int64:
		return float64(x)
	case uint32:
		return float64(x)
	case int:
		return float64(x)
	case json.Number:
		f, _ := x.Float64()
		return f
	}
	var f float64
	fmt.Sscan(fmt.Sprint(v), &f)
	return f
}

func (c *Console) getDetections(_ http.ResponseWriter, r *http.Request, p *params) (any, error) {
	since := p.when("since", p.now.Add(-7*24*time.Hour))
	limit := p.integer("limit", 100, 1, 10000)
	if p.err != nil {
		return nil, p.err
	}
	if c.deps.Detections == nil {
		return map[string]any{"detections": []any{}, "enabled": false}, nil
	}
	d, err := c.deps.Detections.Detections(r.Context(), since, limit)
	if err != nil {
		return nil, err
	}
	return map[string]any{"detections": d, "enabled": true}, nil
}

func (c *Console) getWhoami(_ http.ResponseWriter, r *http.Request, _ *params) (any, error) {
	id, _ := r.Context().Value(ctxKey{}).(Identity)
	return id, nil
}

func (c *Console) getHealth(w http.ResponseWriter, _ *http.Request) {
	failures := c.deps.Reporter.Health()
	if len(failures) == 0 {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return
	}
	checks := map[string]string{}
	for k, err := range failures {
		checks[k] = err.Error()
	}
	writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unhealthy", "failures": checks})
}

// getDebugFlows streams decoded flows as JSON lines (admin only: flows can
// carry process and user names).
func (c *Console) getDebugFlows(w http.ResponseWriter, r *http.Request, p *params) (any, error) {
	limit := p.integer("limit", 10, 1, 10000)
	wait := time.Duration(p.integer("timeout", 30, 1, 300)) * time.Second
	if p.err != nil {
		return nil, p.err
	}
	if c.deps.Tap == nil {
		return nil, &paramError{fmt.Errorf("no flow pipeline in this process")}
	}
	sub := c.deps.Tap.Subscribe(limit)
	defer c.deps.Tap.Unsubscribe(sub)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	enc := json.NewEncoder(w)
	for {
		select {
		case rec, ok := <-sub.C:
			if !ok {
				return nil, nil
			}
			_ = enc.Encode(debugRecord(c.deps.Flow, &rec))
			if flusher != nil {
				flusher.Flush()
			}
		case <-ctx.Done():
			return nil, nil
		}
	}
}

// debugRecord renders a record as a map of every schema column.
func debugRecord(s *flow.Schema, r *flow.Record) map[string]any {
	out := make(map[string]any, len(s.Columns))
	for i := range s.Columns {
		col := &s.Columns[i]
		switch {
		case col.Uint != nil:
			if v := col.Uint(r); v != 0 {
				out[col.Name] = v
			}
		case col.Str != nil:
			if v := col.Str(r); v != "" {
				out[col.Name] = v
			}
		case col.Addr != nil:
			if v := col.Addr(r); v.IsValid() {
				out[col.Name] = v.String()
			}
		}
	}
	return out
}
