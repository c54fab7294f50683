package detect

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/hostflow/hostflow/query/filter"
	"github.com/hostflow/hostflow/store/schema"
)

// synFilter selects TCP connection attempts: SYN without ACK, with or
// without the ECN set-up bits (ECE 0x40, CWR 0x80). The same text is the
// rule's SQL condition and the evidence filter, so both select the same
// flows.
const synFilter = "Proto = tcp AND TCPFlags IN (2, 66, 130, 194)"

// portScan finds sources sending connection attempts to many ports or
// hosts. Counting distinct (source port, destination, port) attempts
// rather than samples makes a SYN seen by both ends' agents, or
// retransmitted, count once.
type portScan struct {
	cfg     PortScanConfig
	exclude flowFilter
	syn     *filter.Filter
}

func newPortScan(d *Detector, cfg PortScanConfig) (*portScan, error) {
	x, err := parseExclude(d.flow, cfg.Exclude)
	if err != nil {
		return nil, err
	}
	syn, err := filter.Parse(d.flow, synFilter)
	if err != nil {
		return nil, err
	}
	return &portScan{cfg: cfg, exclude: x, syn: syn}, nil
}

func (r *portScan) name() string         { return RulePortScan }
func (r *portScan) settings() RuleConfig { return r.cfg.RuleConfig }
func (r *portScan) columns() []string {
	return append([]string{"SrcAddr", "DstAddr", "SrcPort", "DstPort", "Proto", "TCPFlags", "HostName", "ProcessName"},
		r.exclude.columns()...)
}

// sql returns the query over [start, end), restricted to one source when
// src is valid.
func (r *portScan) sql(ev *evaluation, p *filter.Params, src netip.Addr, limit int) string {
	c := &r.cfg
	where := timeRange(p, ev.start(c.RuleConfig), ev.end) + " AND " + r.syn.SQL(p) + r.exclude.sql(p)
	if src.IsValid() {
		where += " AND SrcAddr = " + p.Bind("IPv6", netip.AddrFrom16(src.As16()).String())
	}
	minD, ratio := p.Bind("UInt64", strconv.Itoa(c.MinDistinct)), p.Bind("Float64", strconv.FormatFloat(c.MinDistinctRatio, 'g', -1, 64))
	// Estimates scale what the samples saw by the sampling rate when the
	// samples look like a scan (most went to a port, or host, no other
	// sample went to): a scan probes each target once, so with 1-in-N
	// sampling each sampled target stands for N probed ones. Otherwise the
	// count seen is kept.
	estimate := func(col string) string {
		return "if(" + col + " >= " + ratio + " * attempts, " + col + " * rate, toFloat64(" + col + "))"
	}
	return `
SELECT SrcAddr, uniqExact(DstPort) AS ports, uniqExact(DstAddr) AS hosts,
  uniqExact(SrcPort, DstAddr, DstPort) AS attempts, avg(SamplingRate) AS rate,
  least(` + estimate("ports") + `, 65536) AS est_ports, ` + estimate("hosts") + ` AS est_hosts,
  topK(3)(HostName) AS host_names, topK(3)(ProcessName) AS processes, topK(5)(DstAddr) AS targets,
  min(TimeReceived) AS first, max(TimeReceived) AS last
FROM ` + ev.d.table(schema.Flows) + `
WHERE ` + where + `
GROUP BY SrcAddr
HAVING (ports >= ` + minD + ` AND est_ports >= ` + p.Bind("Float64", strconv.Itoa(c.Ports)) + `)
    OR (hosts >= ` + minD + ` AND est_hosts >= ` + p.Bind("Float64", strconv.Itoa(c.Hosts)) + `)
ORDER BY greatest(est_ports / ` + strconv.Itoa(c.Ports) + `, est_hosts / ` + strconv.Itoa(c.Hosts) + `) DESC, SrcAddr
LIMIT ` + strconv.Itoa(limit)
}

func (r *portScan) eval(ctx context.Context, ev *evaluation) ([]finding, error) {
	p := filter.NewParams("")
	res, err := ev.query(ctx, r.sql(ev, p, netip.Addr{}, ev.d.cfg.MaxFindings+1), p)
	if err != nil {
		return nil, err
	}
	start := ev.start(r.cfg.RuleConfig)
	var out []finding
	for _, row := range res.Rows {
		src := addr(row[0])
		ports, hosts, attempts, samplingRate := num(row[1]), num(row[2]), num(row[3]), num(row[4])
		estPorts, estHosts := num(row[5]), num(row[6])
		ep := filter.NewParams("")
		sql := r.sql(ev, ep, src, 1)
		f := finding{
			subject: Subject{Address: src.String()},
			values: map[string]float64{"ports": estPorts, "hosts": estHosts, "distinct_ports": ports,
				"distinct_hosts": hosts, "attempts": attempts, "sampling_rate": samplingRate},
			thresholds: map[string]float64{"ports": float64(r.cfg.Ports), "hosts": float64(r.cfg.Hosts),
				"min_distinct": float64(r.cfg.MinDistinct), "min_distinct_ratio": r.cfg.MinDistinctRatio},
			details: map[string]any{"hosts": stringList(row[7]), "processes": stringList(row[8]), "targets": addrList(row[9]),
				"first": when(row[10]), "last": when(row[11])},
			score: max(estPorts/float64(r.cfg.Ports), estHosts/float64(r.cfg.Hosts)),
			evidence: evidence(ev.d.canonical("SrcAddr = "+src.String()+" AND "+r.syn.String()+r.exclude.text()),
				start, ev.end, schema.Flows, sql, ep),
		}
		f.summary = fmt.Sprintf("%s sent TCP connection attempts to %s on %s in %v", src, plural(estPorts, "port"),
			plural(estHosts, "host"), ev.end.Sub(start))
		if estPorts != ports || estHosts != hosts {
			f.summary += fmt.Sprintf(" (estimated from %s and %s seen at 1:%.0f sampling)", plural(ports, "port"),
				plural(hosts, "host"), samplingRate)
		}
		out = append(out, f)
	}
	return out, nil
}

// plural formats a count and its noun.
func plural(n float64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.FormatFloat(n, 'f', 0, 64) + " " + noun + "s"
}

// stringList reads an Array(String) result value without empty strings.
func stringList(v any) []string {
	var out []string
	a, _ := v.([]any)
	for _, x := range a {
		if s := str(x); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// addrList reads an Array(IPv6) result value as unmapped address strings.
func addrList(v any) []string {
	var out []string
	a, _ := v.([]any)
	for _, x := range a {
		if ad := addr(x); ad.IsValid() {
			out = append(out, ad.String())
		}
	}
	return out
}
