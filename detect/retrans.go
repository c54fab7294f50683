package detect

import (
	"context"
	"fmt"
	"strconv"

	"github.com/hostflow/hostflow/query/filter"
	"github.com/hostflow/hostflow/store/schema"
)

// retrans reports hosts retransmitting more than threshold % of the TCP
// segments they send, from their host counters (mib2 tcp: TCPRetransSegs,
// TCPOutSegs). The sockets responsible are named from the flows' tcp_info
// (TCPRetrans, the socket's retransmit count), when the store has it.
type retrans struct {
	cfg RetransConfig
	// sockets is true when flows carry TCPRetrans (and the columns naming
	// the socket).
	sockets bool
}

func newRetrans(d *Detector, cfg RetransConfig) *retrans {
	enabled := map[string]bool{}
	for _, c := range d.sc.FlowColumns() {
		enabled[c.Name] = true
	}
	r := &retrans{cfg: cfg, sockets: true}
	for _, c := range []string{"TCPRetrans", "HostName", "ProcessName", "FlowDirection", "SrcAddr", "DstAddr", "SrcPort", "DstPort"} {
		r.sockets = r.sockets && enabled[c]
	}
	return r
}

func (r *retrans) name() string         { return RuleRetransmits }
func (r *retrans) settings() RuleConfig { return r.cfg.RuleConfig }
func (r *retrans) columns() []string    { return nil }

func (r *retrans) sql(ev *evaluation, p *filter.Params, host string, limit int) string {
	where := timeRange(p, ev.start(r.cfg.RuleConfig), ev.end) + " AND HostName != ''"
	if host != "" {
		where += " AND HostName = " + p.Bind("String", host)
	}
	// Both counters increase between consecutive samples; an interval
	// where either goes back (agent restart, 32-bit wrap) is left out of
	// both sums.
	return `
SELECT HostName,
  arraySort(x -> x.1, groupArray((TimeReceived, TCPRetransSegs, TCPOutSegs))) AS s,
  arrayDifference(arrayMap(x -> toInt64(x.2), s)) AS dr, arrayDifference(arrayMap(x -> toInt64(x.3), s)) AS ds,
  arraySum(arrayMap((r, o) -> if(r >= 0 AND o >= 0, r, 0), dr, ds)) AS retrans,
  arraySum(arrayMap((r, o) -> if(r >= 0 AND o >= 0, o, 0), dr, ds)) AS sent
FROM ` + ev.d.table(schema.HostCounters) + `
WHERE ` + where + `
GROUP BY HostName
HAVING sent >= ` + p.Bind("UInt64", strconv.FormatUint(r.cfg.MinSegments, 10)) + `
  AND retrans * 100 >= ` + p.Bind("Float64", strconv.FormatFloat(r.cfg.Threshold, 'g', -1, 64)) + ` * sent
ORDER BY retrans / sent DESC, HostName
LIMIT ` + strconv.Itoa(limit)
}

func (r *retrans) eval(ctx context.Context, ev *evaluation) ([]finding, error) {
	p := filter.NewParams("")
	res, err := ev.query(ctx, r.sql(ev, p, "", ev.d.cfg.MaxFindings+1), p)
	if err != nil {
		return nil, err
	}
	start := ev.start(r.cfg.RuleConfig)
	var out []finding
	for _, row := range res.Rows {
		host, retransmitted, sent := str(row[0]), num(row[4]), num(row[5])
		pct := 100 * retransmitted / sent
		ep := filter.NewParams("")
		sql := r.sql(ev, ep, host, 1)
		f := finding{
			subject:    Subject{Host: host},
			values:     map[string]float64{"percent": pct, "retransmitted": retransmitted, "sent": sent},
			thresholds: map[string]float64{"percent": r.cfg.Threshold, "min_segments": float64(r.cfg.MinSegments)},
			details:    map[string]any{},
			score:      pct,
			evidence:   evidence(ev.d.canonical(subjectFilter(host, "")+" AND TCPRetrans > 0"), start, ev.end, schema.HostCounters, sql, ep),
		}
		if !r.sockets {
			f.evidence.Filter = ev.d.canonical(subjectFilter(host, "") + " AND Proto = tcp")
		} else if top, err := r.topSockets(ctx, ev, host); err == nil {
			f.details["sockets"] = top
		} else {
			return nil, err
		}
		f.summary = fmt.Sprintf("%s retransmitted %.1f%% of the TCP segments it sent over %v (%.0f of %.0f)", host, pct,
			ev.end.Sub(start), retransmitted, sent)
		out = append(out, f)
	}
	return out, nil
}

// topSockets names the processes and peers whose sockets retransmitted the
// most in the window (tcp_info counts are per socket and cumulative, so
// the increase within the window is max − min).
func (r *retrans) topSockets(ctx context.Context, ev *evaluation, host string) ([]map[string]any, error) {
	p := filter.NewParams("")
	sql := "SELECT ProcessName, if(FlowDirection = 2, DstAddr, SrcAddr) AS peer, if(FlowDirection = 2, DstPort, SrcPort) AS port, " +
		"max(TCPRetrans) - min(TCPRetrans) AS retrans, max(TCPRetrans) AS total\nFROM " + ev.d.table(schema.Flows) +
		"\nWHERE " + timeRange(p, ev.start(r.cfg.RuleConfig), ev.end) + " AND HostName = " + p.Bind("String", host) +
		" AND TCPRetrans > 0\nGROUP BY ProcessName, peer, port\nORDER BY retrans DESC, total DESC\nLIMIT 5"
	res, err := ev.query(ctx, sql, p)
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for _, row := range res.Rows {
		out = append(out, map[string]any{"process": str(row[0]), "peer": addr(row[1]).String(), "port": num(row[2]),
			"retransmits": num(row[3]), "socket_total": num(row[4])})
	}
	return out, nil
}
