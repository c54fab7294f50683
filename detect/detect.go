// Package detect tells operators when a host behaves unusually. Built-in
// rules run periodic queries over recent flows and counters in the store —
// port scans, new peers, egress spikes, new listening services, interface
// saturation, TCP retransmits — and record what they find as detections:
// stored in the store's detections table with evidence (a console filter
// and time range that show the flows, the SQL that reproduces the finding,
// the numbers that triggered it), de-duplicated per rule and subject over a
// cool-down, logged, sent to a webhook and counted in Prometheus metrics.
//
//	d, err := detect.New(cfg, detect.Dependencies{Reporter: r, Store: st, Flow: flow.NewSchema()})
//	err = d.Start(ctx) // after the store: creates its tables, reloads active detections
//	list, err := d.Detections(ctx, since, 100) // for /api/v1/detections
//	err = d.Stop()
package detect

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/internal/config"
	"github.com/hostflow/hostflow/internal/daemon"
	"github.com/hostflow/hostflow/store/schema"
	"github.com/hostflow/hostflow/store/transport"
)

// Store is what detect needs from the store (store.Store has it).
type Store interface {
	Query(ctx context.Context, sql string, params map[string]string) (*transport.Result, error)
	Exec(ctx context.Context, sql string) error
	Schema() *schema.Schema
}

// Dependencies of the detector.
type Dependencies struct {
	Reporter *daemon.Reporter
	Store    Store
	Flow     *flow.Schema
	// HTTPClient sends webhooks (nil: a client with the configured timeout).
	HTTPClient *http.Client
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Detector is the component.
type Detector struct {
	cfg   Config
	r     *daemon.Reporter
	st    Store
	sc    *schema.Schema
	flow  *flow.Schema
	now   func() time.Time
	rules []rule
	m     *metrics
	hook  *webhook

	mu   sync.Mutex
	open map[string]*Detection // active detections by rule + subject
	// failing counts consecutive rounds with a failed rule, for health.
	failing int

	cancel context.CancelFunc
	done   chan struct{}
}

type metrics struct {
	evaluations *prometheus.CounterVec
	errors      *prometheus.CounterVec
	queries     *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	findings    *prometheus.CounterVec
	detections  *prometheus.CounterVec
	dropped     *prometheus.CounterVec
	active      *prometheus.GaugeVec
}

// New checks the configuration against the store's columns and builds an
// inert detector.
func New(cfg Config, deps Dependencies) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Reporter == nil || deps.Store == nil || deps.Flow == nil {
		return nil, errors.New("detect: Reporter, Store and Flow are required")
	}
	r := deps.Reporter.Sub("detect")
	d := &Detector{cfg: cfg, r: r, st: deps.Store, sc: deps.Store.Schema(), flow: deps.Flow, now: deps.Now,
		open: map[string]*Detection{}}
	if d.now == nil {
		d.now = time.Now
	}
	if err := d.buildRules(); err != nil {
		return nil, err
	}
	d.m = &metrics{
		evaluations: r.CounterVec("evaluations_total", "Rule evaluations, by rule.", "rule"),
		errors:      r.CounterVec("errors_total", "Rule evaluations that failed, by rule and reason.", "rule", "reason"),
		queries:     r.CounterVec("queries_total", "Store queries run, by rule.", "rule"),
		duration: r.HistogramVec("evaluation_duration_seconds", "Duration of one rule evaluation, by rule.",
			prometheus.ExponentialBuckets(0.005, 2, 14), "rule"),
		findings:   r.CounterVec("findings_total", "Findings reported by rules (before de-duplication), by rule.", "rule"),
		detections: r.CounterVec("detections_total", "Detections opened or updated, by rule and event.", "rule", "event"),
		dropped:    r.CounterVec("dropped_total", "Findings not recorded, by rule and reason.", "rule", "reason"),
		active:     r.GaugeVec("active", "Active detections (last found within the cool-down), by rule.", "rule"),
	}
	for _, ru := range d.rules {
		d.m.active.WithLabelValues(ru.name())
	}
	if cfg.Sinks.Webhook.URL != "" {
		d.hook = newWebhook(cfg.Sinks.Webhook, r, deps.HTTPClient)
	}
	return d, nil
}

// buildRules instantiates the enabled rules and checks that the store
// writes the flow columns they read.
func (d *Detector) buildRules() error {
	rc := &d.cfg.Rules
	var errs []error
	type entry struct {
		key     string
		enabled bool
		build   func() (rule, error)
	}
	for _, e := range []entry{
		{RulePortScan, rc.PortScan.Enabled, func() (rule, error) { return newPortScan(d, rc.PortScan) }},
		{RuleNewPeer, rc.NewPeer.Enabled, func() (rule, error) { return newNewPeer(d, rc.NewPeer) }},
		{RuleEgressSpike, rc.EgressSpike.Enabled, func() (rule, error) { return newSpike(d, rc.EgressSpike) }},
		{RuleNewService, rc.NewService.Enabled, func() (rule, error) { return newNewService(d, rc.NewService) }},
		{RuleInterfaceSaturation, rc.InterfaceSaturation.Enabled, func() (rule, error) { return newSaturation(rc.InterfaceSaturation), nil }},
		{RuleRetransmits, rc.Retransmits.Enabled, func() (rule, error) { return newRetrans(d, rc.Retransmits), nil }},
	} {
		if !e.enabled {
			continue
		}
		ru, err := e.build()
		if err != nil {
			errs = append(errs, config.Errorf("rules."+e.key+".exclude", "%v", err))
			continue
		}
		enabled := map[string]bool{}
		for _, c := range d.sc.FlowColumns() {
			enabled[c.Name] = true
		}
		for _, c := range ru.columns() {
			if !enabled[c] {
				errs = append(errs, config.Errorf("rules."+e.key, "reads flow column %s, which the store does not write "+
					"(store.disabled-columns): enable the column or disable the rule", c))
			}
		}
		d.rules = append(d.rules, ru)
	}
	return errors.Join(errs...)
}

// Start creates detect's tables, reloads the detections still active and,
// when enabled, starts evaluating the rules every interval.
func (d *Detector) Start(ctx context.Context) error {
	if err := d.createTables(ctx); err != nil {
		return err
	}
	active, err := d.list(ctx, d.now().Add(-time.Duration(d.cfg.CoolDown)), 100_000)
	if err != nil {
		return err
	}
	d.mu.Lock()
	for i := range active {
		det := active[i]
		d.open[det.Rule+"|"+det.Subject.String()] = &det
	}
	d.updateActiveLocked()
	d.mu.Unlock()
	d.r.RegisterHealth("rules", d.health)
	if !d.cfg.Enabled {
		return nil
	}
	if d.hook != nil {
		d.hook.start()
	}
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d.cancel, d.done = cancel, make(chan struct{})
	go d.loop(loopCtx)
	return nil
}

// Stop stops evaluating (an evaluation in progress ends at its next
// query) and gives the webhook queue a last chance to drain.
func (d *Detector) Stop() error {
	if d.cancel == nil {
		return nil
	}
	d.cancel()
	<-d.done
	d.cancel = nil
	if d.hook != nil {
		d.hook.stop()
	}
	return nil
}

func (d *Detector) health() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.failing >= 3 {
		return fmt.Errorf("rules failed in the last %d evaluations (see hostflow_detect_errors_total)", d.failing)
	}
	return nil
}

func (d *Detector) loop(ctx context.Context) {
	defer close(d.done)
	t := time.NewTicker(time.Duration(d.cfg.Interval))
	defer t.Stop()
	for {
		d.evaluate(ctx, d.now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// evaluate runs every rule once over data up to now − delay (aligned to
// the minute when the interval allows it, so that rollups can answer).
func (d *Detector) evaluate(ctx context.Context, now time.Time) {
	align := time.Second
	if time.Duration(d.cfg.Interval) >= time.Minute {
		align = time.Minute
	}
	end := now.Add(-time.Duration(d.cfg.Delay)).Truncate(align)
	failed := false
	for _, ru := range d.rules {
		if ctx.Err() != nil {
			return
		}
		ev := &evaluation{d: d, end: end, rule: ru.name()}
		rctx, cancel := context.WithTimeout(ctx, time.Duration(d.cfg.QueryTimeout))
		start := time.Now()
		found, err := ru.eval(rctx, ev)
		cancel()
		d.m.duration.WithLabelValues(ru.name()).Observe(time.Since(start).Seconds())
		d.m.evaluations.WithLabelValues(ru.name()).Inc()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failed = true
			reason := "store"
			if errors.Is(err, context.DeadlineExceeded) {
				reason = "timeout"
			}
			d.m.errors.WithLabelValues(ru.name(), reason).Inc()
			d.r.Limited("eval_"+ru.name(), "rule evaluation failed", "rule", ru.name(), "error", err)
			continue
		}
		d.record(ctx, ru, found, now)
	}
	d.mu.Lock()
	if failed {
		d.failing++
	} else {
		d.failing = 0
	}
	d.updateActiveLocked()
	d.mu.Unlock()
}

// record turns findings into new or updated detections, saves them and
// notifies the sinks.
func (d *Detector) record(ctx context.Context, ru rule, found []finding, now time.Time) {
	name, rc := ru.name(), ru.settings()
	d.m.findings.WithLabelValues(name).Add(float64(len(found)))
	if len(found) > d.cfg.MaxFindings {
		sort.SliceStable(found, func(i, j int) bool { return found[i].score > found[j].score })
		d.m.dropped.WithLabelValues(name, "max_findings").Add(float64(len(found) - d.cfg.MaxFindings))
		found = found[:d.cfg.MaxFindings]
	}
	coolDown := time.Duration(d.cfg.CoolDown)
	dets := make([]*Detection, 0, len(found))
	events := make([]string, 0, len(found))
	versions := make([]uint64, 0, len(found))
	d.mu.Lock()
	for i := range found {
		f := &found[i]
		key := name + "|" + f.subject.String()
		det, ok := d.open[key]
		event := "updated"
		if !ok || now.Sub(det.LastSeen) >= coolDown {
			det = &Detection{ID: newID(), Rule: name, Severity: rc.Severity, Subject: f.subject, FirstSeen: now}
			event = "opened"
		} else {
			det = cloneDetection(det)
			f.evidence.Start = minTime(f.evidence.Start, det.Evidence.Start)
		}
		det.LastSeen, det.Count = now, det.Count+1
		det.Summary, det.Values, det.Thresholds, det.Details, det.Evidence = f.summary, f.values, f.thresholds, f.details, f.evidence
		if f.keys != nil {
			det.Keys = mergeKeys(det.Keys, f.keys)
			if m, ok := ru.(keyedRule); ok {
				m.refresh(det)
			}
		}
		d.open[key] = det
		dets, events = append(dets, det), append(events, event)
		// The version orders the rows of one detection; nanoseconds keep
		// two updates within a second apart.
		versions = append(versions, uint64(now.UnixNano())+det.Count)
	}
	d.mu.Unlock()
	if err := d.save(ctx, dets, versions); err != nil {
		d.m.dropped.WithLabelValues(name, "store").Add(float64(len(dets)))
		d.r.Limited("save", "cannot save detections", "rule", name, "error", err)
	}
	for i, det := range dets {
		d.m.detections.WithLabelValues(name, events[i]).Inc()
		d.notify(events[i], det)
	}
}

// keyedRule is a novelty rule: its detections accumulate new items, and
// their summary and evidence are rebuilt from all of them.
type keyedRule interface {
	refresh(det *Detection)
}

// maxKeys bounds the items one detection keeps.
const maxKeys = 100

func mergeKeys(old, add []Key) []Key {
	out := slices.Clone(old)
	for _, k := range add {
		if len(out) >= maxKeys {
			break
		}
		if !slices.ContainsFunc(out, func(o Key) bool { return o.Kind == k.Kind && o.Value == k.Value }) {
			out = append(out, k)
		}
	}
	return out
}

func cloneDetection(d *Detection) *Detection {
	c := *d
	c.Keys = slices.Clone(d.Keys)
	return &c
}

func minTime(a, b time.Time) time.Time {
	if b.IsZero() || (!a.IsZero() && a.Before(b)) {
		return a
	}
	return b
}

// notify sends a detection to the log and webhook sinks.
func (d *Detector) notify(event string, det *Detection) {
	s := &d.cfg.Sinks
	if s.Log.Enabled {
		attrs := []any{"id", det.ID, "rule", det.Rule, "severity", det.Severity, "subject", det.Subject.String(),
			"summary", det.Summary, "filter", det.Evidence.Filter, "count", det.Count}
		switch {
		case event == "opened":
			d.r.Logger().Warn("detection", attrs...)
		case s.Log.Updates:
			d.r.Logger().Info("detection updated", attrs...)
		}
	}
	if d.hook != nil && (event == "opened" || s.Webhook.Updates) {
		c := *det
		c.Active = true
		d.hook.enqueue(event, &c)
	}
}

// updateActiveLocked forgets detections past their cool-down and sets the
// active gauge.
func (d *Detector) updateActiveLocked() {
	now := d.now()
	counts := map[string]int{}
	for k, det := range d.open {
		if now.Sub(det.LastSeen) >= time.Duration(d.cfg.CoolDown) {
			delete(d.open, k)
			continue
		}
		counts[det.Rule]++
	}
	for _, ru := range d.rules {
		d.m.active.WithLabelValues(ru.name()).Set(float64(counts[ru.name()]))
	}
}

// Detections lists the detections last seen at or after since, most
// recent first (console.DetectionSource).
func (d *Detector) Detections(ctx context.Context, since time.Time, limit int) (any, error) {
	return d.List(ctx, since, limit)
}

// List is Detections with its concrete type.
func (d *Detector) List(ctx context.Context, since time.Time, limit int) ([]Detection, error) {
	if limit < 1 || limit > 100_000 {
		return nil, fmt.Errorf("detect: limit must be between 1 and 100000, not %d", limit)
	}
	return d.list(ctx, since, limit)
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}
