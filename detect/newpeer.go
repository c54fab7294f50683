package detect

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/hostflow/hostflow/query/filter"
	"github.com/hostflow/hostflow/store/schema"
)

// newPeer reports hosts (and processes) opening connections to addresses,
// ASes or countries they did not talk to within the baseline. Only the
// connections the host initiates count: egress flows whose destination
// port is below the source port (the remote side is the service). Clients
// reaching a server from new addresses are the normal life of a server.
type newPeer struct {
	novelty
	cfg NewPeerConfig
	d   *Detector
}

// initiatedSQL selects the egress flows of connections the host opened;
// initiatedFilter is the same in the console filter language.
const (
	initiatedSQL    = "FlowDirection = 2 AND DstPort < SrcPort"
	initiatedFilter = "FlowDirection = egress AND DstPort < SrcPort"
)

func newNewPeer(d *Detector, cfg NewPeerConfig) (*newPeer, error) {
	x, err := parseExclude(d.flow, cfg.Exclude)
	if err != nil {
		return nil, err
	}
	r := &newPeer{cfg: cfg, d: d}
	r.novelty = novelty{rule: RuleNewPeer, cfg: cfg.NoveltyConfig, exclude: x, items: r.items, presence: r.presence}
	return r, nil
}

func (r *newPeer) name() string         { return RuleNewPeer }
func (r *newPeer) settings() RuleConfig { return r.cfg.RuleConfig }
func (r *newPeer) columns() []string {
	cols := []string{"HostName", "ProcessName", "FlowDirection", "SrcPort", "DstPort"}
	for _, k := range r.cfg.Kinds {
		cols = append(cols, peerColumns[k])
	}
	return append(cols, r.exclude.columns()...)
}

// processes is the ARRAY JOIN giving each flow to its host ("") and, per
// process, to its process.
func (r *newPeer) processes() string {
	if r.cfg.PerProcess {
		return "\nARRAY JOIN if(ProcessName = '', [''], ['', ProcessName]) AS Process"
	}
	return ""
}

func (r *newPeer) process() string {
	if r.cfg.PerProcess {
		return "Process"
	}
	return "'' AS Process"
}

func (r *newPeer) items(ev *evaluation, p *filter.Params, start, end time.Time) string {
	var kinds []string
	for _, k := range r.cfg.Kinds {
		switch k {
		case KindAddress:
			kinds = append(kinds, "('address', IPv6NumToString(DstAddr))")
		case KindAS:
			kinds = append(kinds, "('as', if(DstAS = 0, '', toString(DstAS)))")
		case KindCountry:
			kinds = append(kinds, "('country', replaceAll(toString(DstCountry), '\\0', ''))")
		}
	}
	return "SELECT HostName AS Host, " + r.process() + ", kv.1 AS Kind, kv.2 AS Key, " +
		"min(TimeReceived) AS FirstSeen, max(TimeReceived) AS LastSeen\nFROM " + ev.d.table(schema.Flows) +
		"\nARRAY JOIN arrayFilter(x -> x.2 != '', [" + strings.Join(kinds, ", ") + "]) AS kv" + r.processes() +
		"\nWHERE " + timeRange(p, start, end) + " AND HostName != '' AND " + initiatedSQL + r.exclude.sql(p) +
		"\nGROUP BY Host, Process, Kind, Key"
}

func (r *newPeer) presence(ev *evaluation, p *filter.Params, start, end time.Time) string {
	return "SELECT HostName AS Host, " + r.process() + ", '' AS Kind, '' AS Key, " +
		"min(TimeReceived) AS FirstSeen, max(TimeReceived) AS LastSeen\nFROM " + ev.d.table(schema.Flows) + r.processes() +
		"\nWHERE " + timeRange(p, start, end) + " AND HostName != ''\nGROUP BY Host, Process"
}

func (r *newPeer) eval(ctx context.Context, ev *evaluation) ([]finding, error) {
	subjects, err := r.find(ctx, ev)
	if err != nil {
		return nil, err
	}
	// A peer new to the host is reported for the host only, not again for
	// each process that reached it.
	newToHost := map[string]bool{}
	for _, items := range subjects {
		for _, it := range items {
			if it.process == "" {
				newToHost[it.host+"\x00"+it.key.Kind+"\x00"+it.key.Value] = true
			}
		}
	}
	var out []finding
	for _, items := range subjects {
		items = slices.DeleteFunc(items, func(it novel) bool {
			return it.process != "" && newToHost[it.host+"\x00"+it.key.Kind+"\x00"+it.key.Value]
		})
		if len(items) == 0 {
			continue
		}
		for i := range items {
			if items[i].key.Kind == KindAddress {
				if a, err := netip.ParseAddr(items[i].key.Value); err == nil {
					items[i].key.Value = a.Unmap().String()
				}
			}
		}
		out = append(out, r.finding(ev, items))
	}
	return out, nil
}

var peerColumns = map[string]string{KindAddress: "DstAddr", KindAS: "DstAS", KindCountry: "DstCountry"}

// refresh writes a detection's summary and evidence filter from all its
// new peers.
func (r *newPeer) refresh(det *Detection) {
	// Values as the filter language writes them, and as people read them.
	byKind, shown := map[string][]string{}, map[string][]string{}
	for _, k := range det.Keys {
		v, w := k.Value, k.Value
		switch k.Kind {
		case KindAS:
			v, w = "AS"+v, "AS"+w
		case KindCountry:
			v = filter.Quote(v)
		}
		byKind[k.Kind] = append(byKind[k.Kind], v)
		shown[k.Kind] = append(shown[k.Kind], w)
	}
	var conds, parts []string
	for _, kind := range []string{KindAddress, KindAS, KindCountry} {
		if vals := byKind[kind]; len(vals) > 0 {
			conds = append(conds, peerColumns[kind]+" IN ("+strings.Join(vals, ", ")+")")
			parts = append(parts, map[string]string{KindAddress: "address ", KindCountry: "country "}[kind]+
				strings.Join(shown[kind], ", "))
		}
	}
	s := det.Subject
	det.Summary = fmt.Sprintf("%s connected to peers not seen within %v: %s", describe(s.Host, s.Process),
		r.cfg.Baseline, strings.Join(parts, "; "))
	det.Evidence.Filter = r.d.canonical(subjectFilter(s.Host, s.Process) + " AND " + initiatedFilter +
		" AND (" + strings.Join(conds, " OR ") + ")" + r.exclude.text())
}
