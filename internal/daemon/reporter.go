// Package daemon holds what every component shares: the Reporter (structured
// logs, Prometheus metrics, health checks, rate-limited error logging) and
// the component lifecycle (New → Start → Stop, started in order, stopped in
// reverse).
package daemon

import (
	"errors"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Reporter is passed to every component. Sub-reporters share the registry,
// the health table and the log limiter; they differ by metric prefix and log
// attributes.
type Reporter struct {
	root   *slog.Logger // logger without the component attribute
	path   string       // component path, "agent/exporter"
	log    *slog.Logger
	reg    *prometheus.Registry
	prefix string // hostflow_<component>_
	shared *shared
}

type shared struct {
	mu      sync.Mutex
	health  map[string]func() error
	limits  map[string]*limit
	metrics map[string]prometheus.Collector
	// suppressed counts log lines skipped by the rate limiter.
	suppressed *prometheus.CounterVec
}

type limit struct {
	last       time.Time
	suppressed int
}

// LogInterval is the minimum time between two log lines with the same key
// from Reporter.Limited.
const LogInterval = 10 * time.Second

// NewReporter makes the root reporter. A nil registry gets a fresh one.
func NewReporter(log *slog.Logger, reg *prometheus.Registry) *Reporter {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s := &shared{
		health:  map[string]func() error{},
		limits:  map[string]*limit{},
		metrics: map[string]prometheus.Collector{},
	}
	r := &Reporter{root: log, log: log, reg: reg, prefix: "hostflow_", shared: s}
	s.suppressed = r.CounterVec("daemon_log_suppressed_total",
		"Log lines suppressed by the rate limiter, by key.", "key")
	return r
}

// Sub returns a reporter for a component: logs carry component=name and
// metrics are named hostflow_<name>_<metric>.
func (r *Reporter) Sub(name string) *Reporter {
	path := name
	if r.path != "" {
		path = r.path + "/" + name
	}
	return &Reporter{
		root:   r.root,
		path:   path,
		log:    r.root.With("component", path),
		reg:    r.reg,
		prefix: r.prefix + strings.ReplaceAll(name, "/", "_") + "_",
		shared: r.shared,
	}
}

// Logger returns the component's logger.
func (r *Reporter) Logger() *slog.Logger { return r.log }

// Registry returns the Prometheus registry (for /metrics).
func (r *Reporter) Registry() *prometheus.Registry { return r.reg }

// register registers c under name, or returns the collector already
// registered under that name (components may be rebuilt in tests).
func (r *Reporter) register(name string, c prometheus.Collector) prometheus.Collector {
	r.shared.mu.Lock()
	defer r.shared.mu.Unlock()
	if old, ok := r.shared.metrics[name]; ok {
		return old
	}
	if err := r.reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			c = are.ExistingCollector
		} else {
			panic("metric " + name + ": " + err.Error())
		}
	}
	r.shared.metrics[name] = c
	return c
}

// CounterVec returns the counter hostflow_<component>_<name>.
func (r *Reporter) CounterVec(name, help string, labels ...string) *prometheus.CounterVec {
	full := r.prefix + name
	return r.register(full, prometheus.NewCounterVec(prometheus.CounterOpts{Name: full, Help: help}, labels)).(*prometheus.CounterVec)
}

// Counter returns an unlabelled counter.
func (r *Reporter) Counter(name, help string) prometheus.Counter {
	full := r.prefix + name
	return r.register(full, prometheus.NewCounter(prometheus.CounterOpts{Name: full, Help: help})).(prometheus.Counter)
}

// GaugeVec returns the gauge hostflow_<component>_<name>.
func (r *Reporter) GaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	full := r.prefix + name
	return r.register(full, prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: full, Help: help}, labels)).(*prometheus.GaugeVec)
}

// Gauge returns an unlabelled gauge.
func (r *Reporter) Gauge(name, help string) prometheus.Gauge {
	full := r.prefix + name
	return r.register(full, prometheus.NewGauge(prometheus.GaugeOpts{Name: full, Help: help})).(prometheus.Gauge)
}

// GaugeFunc registers a gauge whose value is read at scrape time.
func (r *Reporter) GaugeFunc(name, help string, f func() float64) {
	full := r.prefix + name
	r.register(full, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: full, Help: help}, f))
}

// CounterFunc registers a counter whose value is read at scrape time (for
// counters kept as atomics on a hot path).
func (r *Reporter) CounterFunc(name, help string, f func() float64) {
	full := r.prefix + name
	r.register(full, prometheus.NewCounterFunc(prometheus.CounterOpts{Name: full, Help: help}, f))
}

// HistogramVec returns the histogram hostflow_<component>_<name>.
func (r *Reporter) HistogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	full := r.prefix + name
	return r.register(full, prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: full, Help: help, Buckets: buckets}, labels)).(*prometheus.HistogramVec)
}

// Limited logs at warning level at most once per LogInterval per key; the
// lines skipped in between are counted and reported on the next line.
func (r *Reporter) Limited(key, msg string, attrs ...any) {
	full := r.prefix + key
	now := time.Now()
	r.shared.mu.Lock()
	l, ok := r.shared.limits[full]
	if !ok {
		l = &limit{}
		r.shared.limits[full] = l
	}
	if now.Sub(l.last) < LogInterval {
		l.suppressed++
		r.shared.mu.Unlock()
		r.shared.suppressed.WithLabelValues(full).Inc()
		return
	}
	suppressed := l.suppressed
	l.last, l.suppressed = now, 0
	r.shared.mu.Unlock()
	if suppressed > 0 {
		attrs = append(attrs, "suppressed", suppressed)
	}
	r.log.Warn(msg, attrs...)
}

// RegisterHealth adds a named health check, reported under the
// component's path and its name; a nil error means healthy.
func (r *Reporter) RegisterHealth(name string, check func() error) {
	r.shared.mu.Lock()
	defer r.shared.mu.Unlock()
	key := name
	if r.path != "" {
		key = r.path + "/" + name // "store/writer": the component's path, as in logs
	}
	r.shared.health[key] = check
}

// Health runs every check and returns the failures by name.
func (r *Reporter) Health() map[string]error {
	r.shared.mu.Lock()
	checks := make(map[string]func() error, len(r.shared.health))
	for k, v := range r.shared.health {
		checks[k] = v
	}
	r.shared.mu.Unlock()
	out := map[string]error{}
	names := make([]string, 0, len(checks))
	for k := range checks {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if err := checks[k](); err != nil {
			out[k] = err
		}
	}
	return out
}

// MetricInfo describes one registered metric, for the metrics reference.
type MetricInfo struct {
	Name   string
	Help   string
	Labels []string
}

var descRe = regexp.MustCompile(`fqName: "([^"]*)", help: "((?:[^"\\]|\\.)*)", (?:unit: "[^"]*", )?constLabels: \{[^}]*\}, variableLabels: \{([^}]*)\}`)

// Metrics lists the hostflow metrics registered so far, sorted by name.
func (r *Reporter) Metrics() []MetricInfo {
	r.shared.mu.Lock()
	collectors := make([]prometheus.Collector, 0, len(r.shared.metrics))
	for _, c := range r.shared.metrics {
		collectors = append(collectors, c)
	}
	r.shared.mu.Unlock()
	seen := map[string]bool{}
	var out []MetricInfo
	for _, c := range collectors {
		ch := make(chan *prometheus.Desc, 16)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			m := descRe.FindStringSubmatch(d.String())
			if m == nil || !strings.HasPrefix(m[1], "hostflow_") || seen[m[1]] {
				continue
			}
			seen[m[1]] = true
			info := MetricInfo{Name: m[1], Help: strings.ReplaceAll(m[2], `\"`, `"`)}
			if m[3] != "" {
				info.Labels = strings.Split(m[3], ",")
			}
			out = append(out, info)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
