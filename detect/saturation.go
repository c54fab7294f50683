package detect

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/hostflow/hostflow/query/filter"
	"github.com/hostflow/hostflow/store/schema"
)

// saturation reports interfaces whose rate, measured between consecutive
// counter samples (interface_counters), is above threshold % of their speed
// for more than (100 − percentile) % of the window. Interfaces of unknown
// speed, and kinds whose speed is fictitious (veth, tun: exclude-kinds),
// are skipped.
type saturation struct {
	cfg SaturationConfig
}

func newSaturation(cfg SaturationConfig) *saturation { return &saturation{cfg: cfg} }

func (r *saturation) name() string         { return RuleInterfaceSaturation }
func (r *saturation) settings() RuleConfig { return r.cfg.RuleConfig }
func (r *saturation) columns() []string    { return nil }

// rates is the array of per-interval rates (bits/s) of a cumulative octet
// counter over the group's samples in time order; intervals where the
// counter went back (agent restart, wrap) are left out.
func rates(col string) string {
	return "arrayFilter(x -> x >= 0, arrayMap((d, t) -> if(t > 0 AND d >= 0, d * 8 / t, -1), " +
		"arrayDifference(arrayMap(x -> toInt64(x." + col + "), s)), arrayDifference(arrayMap(x -> toInt64(toUInt32(x.1)), s))))"
}

func (r *saturation) sql(ev *evaluation, p *filter.Params, exporter netip.Addr, ifIndex uint64, limit int) string {
	c := &r.cfg
	where := timeRange(p, ev.start(c.RuleConfig), ev.end)
	if len(c.ExcludeKinds) > 0 {
		var kinds []string
		for _, k := range c.ExcludeKinds {
			kinds = append(kinds, p.Bind("String", k))
		}
		where += " AND IfKind NOT IN (" + strings.Join(kinds, ", ") + ")"
	}
	if exporter.IsValid() {
		where += " AND ExporterAddress = " + p.Bind("IPv6", netip.AddrFrom16(exporter.As16()).String()) +
			" AND IfIndex = " + p.Bind("UInt32", strconv.FormatUint(ifIndex, 10))
	}
	// The aggregate's level must be a literal; it comes from a validated
	// float, not from text.
	q := strconv.FormatFloat(c.Percentile/100, 'f', -1, 64)
	thr := p.Bind("Float64", strconv.FormatFloat(c.Threshold/100, 'g', -1, 64))
	return `
SELECT ExporterAddress, SubAgentID, IfIndex, argMax(ExporterName, TimeReceived) AS exporter,
  argMax(IfName, TimeReceived) AS name, argMax(IfSpeed, TimeReceived) AS speed,
  arraySort(x -> x.1, groupArray((TimeReceived, InOctets, OutOctets))) AS s,
  ` + rates("2") + ` AS in_rates, ` + rates("3") + ` AS out_rates,
  arrayReduce('quantileExact(` + q + `)', in_rates) AS in_q,
  arrayReduce('quantileExact(` + q + `)', out_rates) AS out_q
FROM ` + ev.d.table(schema.InterfaceCounters) + `
WHERE ` + where + `
GROUP BY ExporterAddress, SubAgentID, IfIndex
HAVING speed > 0 AND length(in_rates) >= ` + p.Bind("UInt64", strconv.Itoa(c.MinSamples)) + `
  AND greatest(in_q, out_q) >= ` + thr + ` * speed
ORDER BY greatest(in_q, out_q) / speed DESC, ExporterAddress, IfIndex
LIMIT ` + strconv.Itoa(limit)
}

func (r *saturation) eval(ctx context.Context, ev *evaluation) ([]finding, error) {
	p := filter.NewParams("")
	res, err := ev.query(ctx, r.sql(ev, p, netip.Addr{}, 0, ev.d.cfg.MaxFindings+1), p)
	if err != nil {
		return nil, err
	}
	start := ev.start(r.cfg.RuleConfig)
	var out []finding
	for _, row := range res.Rows {
		exp, ifIndex := addr(row[0]), uint64(num(row[2]))
		expName, ifName, speed := str(row[3]), str(row[4]), num(row[5])
		inQ, outQ := num(row[9]), num(row[10])
		samples := len(row[7].([]any))
		ep := filter.NewParams("")
		sql := r.sql(ev, ep, exp, ifIndex, 1)
		if expName == "" {
			expName = exp.String()
		}
		if ifName == "" {
			ifName = "ifIndex " + strconv.FormatUint(ifIndex, 10)
		}
		dir, q := "in", inQ
		if outQ > inQ {
			dir, q = "out", outQ
		}
		idx := strconv.FormatUint(ifIndex, 10)
		f := finding{
			subject: Subject{Exporter: expName, Interface: ifName},
			values: map[string]float64{"in_percent": 100 * inQ / speed, "out_percent": 100 * outQ / speed,
				"in_rate": inQ, "out_rate": outQ, "speed": speed, "samples": float64(samples)},
			thresholds: map[string]float64{"percent": r.cfg.Threshold, "percentile": r.cfg.Percentile},
			details:    map[string]any{"exporter_address": exp.String(), "if_index": ifIndex},
			score:      q / speed,
			evidence: evidence(ev.d.canonical("ExporterAddress = "+exp.String()+" AND (InIf = "+idx+" OR OutIf = "+idx+")"),
				start, ev.end, schema.InterfaceCounters, sql, ep),
		}
		f.summary = fmt.Sprintf("%s %s: %gth percentile %s rate %s is %.0f%% of its %s speed over %v", expName, ifName,
			r.cfg.Percentile, dir, rate(q), 100*q/speed, rate(speed), ev.end.Sub(start))
		out = append(out, f)
	}
	return out, nil
}
