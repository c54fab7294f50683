package detect

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hostflow/hostflow/query/filter"
	"github.com/hostflow/hostflow/store/schema"
)

// newService reports hosts serving on a local port that served nothing
// within the baseline. A local port serves when, on its host's flows:
//   - it is the lower port of the conversation and at most max-port (the
//     service side; clients use ephemeral ports above it);
//   - TCP: the host received a segment with ACK and without RST on it — a
//     completed handshake, which a scan of a closed port never gives (SYN
//     in, RST out);
//   - UDP: the host both received on it and sent from it — a closed port
//     answers with ICMP, not from the port.
type newService struct {
	novelty
	cfg NewServiceConfig
	d   *Detector
}

func newNewService(d *Detector, cfg NewServiceConfig) (*newService, error) {
	x, err := parseExclude(d.flow, cfg.Exclude)
	if err != nil {
		return nil, err
	}
	r := &newService{cfg: cfg, d: d}
	r.novelty = novelty{rule: RuleNewService, cfg: cfg.NoveltyConfig, exclude: x, items: r.items, presence: r.presence}
	return r, nil
}

func (r *newService) name() string         { return RuleNewService }
func (r *newService) settings() RuleConfig { return r.cfg.RuleConfig }
func (r *newService) columns() []string {
	return append([]string{"HostName", "FlowDirection", "Proto", "SrcPort", "DstPort", "TCPFlags"}, r.exclude.columns()...)
}

func (r *newService) items(ev *evaluation, p *filter.Params, start, end time.Time) string {
	return `SELECT HostName AS Host, '' AS Process, if(Proto = 6, 'tcp', 'udp') AS Kind, toString(LocalPort) AS Key,
  min(TimeReceived) AS FirstSeen, max(TimeReceived) AS LastSeen
FROM ` + ev.d.table(schema.Flows) + `
WHERE ` + timeRange(p, start, end) + ` AND HostName != '' AND Proto IN (6, 17) AND FlowDirection IN (1, 2)
  AND (if(FlowDirection = 1, DstPort, SrcPort) AS LocalPort) <= ` + p.Bind("UInt16", strconv.Itoa(r.cfg.MaxPort)) + `
  AND LocalPort < if(FlowDirection = 1, SrcPort, DstPort)` + r.exclude.sql(p) + `
GROUP BY Host, Kind, LocalPort
HAVING if(Kind = 'tcp', countIf(FlowDirection = 1 AND bitAnd(TCPFlags, 0x14) = 0x10) > 0,
  countIf(FlowDirection = 1) > 0 AND countIf(FlowDirection = 2) > 0)`
}

func (r *newService) presence(ev *evaluation, p *filter.Params, start, end time.Time) string {
	return "SELECT HostName AS Host, '' AS Process, '' AS Kind, '' AS Key, " +
		"min(TimeReceived) AS FirstSeen, max(TimeReceived) AS LastSeen\nFROM " + ev.d.table(schema.Flows) +
		"\nWHERE " + timeRange(p, start, end) + " AND HostName != ''\nGROUP BY Host"
}

func (r *newService) eval(ctx context.Context, ev *evaluation) ([]finding, error) {
	subjects, err := r.find(ctx, ev)
	if err != nil {
		return nil, err
	}
	out := make([]finding, 0, len(subjects))
	for _, items := range subjects {
		out = append(out, r.finding(ev, items))
	}
	return out, nil
}

// refresh writes a detection's summary and evidence filter from all its
// new services. The filter shows every flow to or from the ports.
func (r *newService) refresh(det *Detection) {
	var names, conds []string
	for _, k := range det.Keys {
		names = append(names, k.Kind+"/"+k.Value)
		conds = append(conds, fmt.Sprintf("(Proto = %s AND (FlowDirection = ingress AND DstPort = %s OR FlowDirection = egress AND SrcPort = %s))",
			k.Kind, k.Value, k.Value))
	}
	det.Summary = fmt.Sprintf("%s serves on ports not seen within %v: %s", det.Subject.Host, r.cfg.Baseline,
		strings.Join(names, ", "))
	det.Evidence.Filter = r.d.canonical(subjectFilter(det.Subject.Host, "") + " AND (" + strings.Join(conds, " OR ") + ")" +
		r.exclude.text())
}
