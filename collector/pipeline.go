// Package collector is the collector's flow pipeline: each inlet socket
// goroutine owns a Worker that decodes the datagrams it reads, enriches the
// records in place and appends them to the store — all in that goroutine,
// none of it blocking.
package collector

import (
	"context"
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hostflow/hostflow/decoder"
	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/internal/config"
	"github.com/hostflow/hostflow/internal/daemon"
)

// Config is the `collector` section: what the pipeline does between
// decoding and storing.
type Config struct {
	// RateLimit is the most flows per second stored from one exporter; 0
	// means no limit. Above it, one flow in k is kept and its sampling
	// rate multiplied by k, so traffic totals stay right (docs/operations.md).
	// The limit applies per receive socket: an exporter's datagrams stay on
	// one socket unless it sends from several source ports.
	RateLimit uint32 `yaml:"rate-limit"`
	// RateLimitExporters bounds the exporters followed per socket by the
	// rate limit; exporters past it share one limit.
	RateLimitExporters int `yaml:"rate-limit-exporters"`
}

// DefaultConfig has no rate limit.
func DefaultConfig() Config {
	return Config{RateLimitExporters: 10000}
}

// Validate checks the values.
func (c *Config) Validate() error {
	var errs []error
	if c.RateLimit != 0 && c.RateLimit < 10 {
		errs = append(errs, config.Errorf("rate-limit", "must be 0 (no limit) or at least 10 flows/s, not %d", c.RateLimit))
	}
	if c.RateLimitExporters < 1 || c.RateLimitExporters > 1_000_000 {
		errs = append(errs, config.Errorf("rate-limit-exporters", "must be between 1 and 1000000, not %d", c.RateLimitExporters))
	}
	return errors.Join(errs...)
}

// Enricher fills names and attributes on records (enrich.Enricher).
type Enricher interface {
	ObserveCounters(ifaces []flow.InterfaceCounters, hosts []flow.HostCounters)
	Enrich(recs []flow.Record)
}

// Appender takes records into the store without blocking (one per worker);
// Close hands over what it still holds.
type Appender interface {
	AppendFlows(recs []flow.Record)
	AppendInterfaces(c []flow.InterfaceCounters)
	AppendHosts(c []flow.HostCounters)
	Close()
}

// Dependencies of the pipeline.
type Dependencies struct {
	Reporter *daemon.Reporter
	// NewDecoder returns the decoder for a listener protocol; called once
	// per socket.
	NewDecoder func(protocol string) decoder.Decoder
	Enricher   Enricher
	// NewAppender returns a store appender; called once per socket.
	NewAppender func() Appender
	// Tap receives copies of decoded flows for the debug stream; optional.
	Tap *Tap
}

// Pipeline builds workers for the inlet.
type Pipeline struct {
	cfg      Config
	deps     Dependencies
	mu       sync.Mutex
	workers  []*Worker
	flows    *prometheus.CounterVec
	errors   *prometheus.CounterVec
	ifaces   prometheus.Counter
	hosts    prometheus.Counter
	limited  prometheus.Counter // flows dropped by the rate limit
	scaled   prometheus.Counter
	reporter *daemon.Reporter
}

// New returns a pipeline with the default configuration (no rate limit).
func New(deps Dependencies) *Pipeline {
	p, _ := NewPipeline(DefaultConfig(), deps)
	return p
}

// NewPipeline returns a pipeline. The inlet drives its workers; Stop,
// called after the inlet has stopped, closes their appenders so the store
// can flush them.
func NewPipeline(cfg Config, deps Dependencies) (*Pipeline, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := deps.Reporter.Sub("collector")
	return &Pipeline{
		cfg:      cfg,
		deps:     deps,
		reporter: r,
		flows:    r.CounterVec("flows_total", "Flow records decoded, by protocol (before the rate limit).", "protocol"),
		errors:   r.CounterVec("decode_errors_total", "Datagrams that failed to decode (fully or partly), by protocol.", "protocol"),
		ifaces:   r.Counter("interface_counters_total", "Interface counter records decoded."),
		hosts:    r.Counter("host_counters_total", "Host counter records decoded."),
		limited: r.CounterVec("dropped_flows_total", "Flow records decoded but not stored, by reason (rate-limit: the exporter's rate-limit).",
			"reason").WithLabelValues("rate-limit"),
		scaled: r.Counter("rate_limited_flows_total", "Flow records kept by the rate limit with their sampling rate multiplied."),
	}, nil
}

// NewWorker returns the worker for one inlet socket of the given protocol.
func (p *Pipeline) NewWorker(protocol string) *Worker {
	w := &Worker{
		p:        p,
		protocol: protocol,
		dec:      p.deps.NewDecoder(protocol),
		app:      p.deps.NewAppender(),
		flows:    p.flows.WithLabelValues(protocol),
		errors:   p.errors.WithLabelValues(protocol),
	}
	if p.cfg.RateLimit > 0 {
		w.limit = newLimiter(p.cfg.RateLimit, p.cfg.RateLimitExporters)
	}
	p.mu.Lock()
	p.workers = append(p.workers, w)
	p.mu.Unlock()
	return w
}

// Start implements daemon.Component; workers are created by the inlet.
func (p *Pipeline) Start(context.Context) error { return nil }

// Stop closes every worker's appender. The inlet must be stopped first.
func (p *Pipeline) Stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, w := range p.workers {
		w.app.Close()
	}
	p.workers = nil
	return nil
}

// Worker decodes, enriches and stores; it is used by one goroutine.
type Worker struct {
	p        *Pipeline
	protocol string
	dec      decoder.Decoder
	app      Appender
	batch    decoder.Batch
	limit    *limiter // nil without a rate limit
	logAt    uint32   // Unix second before which the rate limit is not logged again
	flows    prometheus.Counter
	errors   prometheus.Counter
}

// Handle implements inlet.Handler.
func (w *Worker) Handle(pkts []decoder.Packet) {
	b := &w.batch
	b.Reset()
	for i := range pkts {
		if err := w.dec.Decode(pkts[i], b); err != nil {
			w.errors.Inc()
			w.p.reporter.Limited("decode_"+w.protocol, "cannot decode datagram",
				"protocol", w.protocol, "exporter", pkts[i].Source.String(), "error", err)
		}
	}
	if len(b.Interfaces) > 0 || len(b.Hosts) > 0 {
		w.p.deps.Enricher.ObserveCounters(b.Interfaces, b.Hosts)
		w.app.AppendInterfaces(b.Interfaces)
		w.app.AppendHosts(b.Hosts)
		w.p.ifaces.Add(float64(len(b.Interfaces)))
		w.p.hosts.Add(float64(len(b.Hosts)))
	}
	if len(b.Flows) == 0 {
		return
	}
	w.flows.Add(float64(len(b.Flows)))
	if w.limit != nil {
		// Before enrichment: what is dropped costs nothing more.
		var dropped, scaled int
		b.Flows, dropped, scaled = w.limit.apply(b.Flows)
		if dropped > 0 {
			w.p.limited.Add(float64(dropped))
			// At most every 10 s per worker: the log arguments allocate.
			if now := pkts[0].Received; now >= w.logAt {
				w.logAt = now + 10
				w.p.reporter.Limited("rate-limit", "exporters over the rate limit: flows sampled, sampling rates multiplied",
					"rate_limit", w.p.cfg.RateLimit, "dropped", dropped, "kept", scaled)
			}
		}
		if scaled > 0 {
			w.p.scaled.Add(float64(scaled))
		}
		if len(b.Flows) == 0 {
			return
		}
	}
	w.p.deps.Enricher.Enrich(b.Flows)
	w.app.AppendFlows(b.Flows)
	if t := w.p.deps.Tap; t != nil {
		t.Publish(b.Flows)
	}
}
