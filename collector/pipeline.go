// Package collector is the collector's flow pipeline: each inlet socket
// goroutine owns a Worker that decodes the datagrams it reads, enriches the
// records in place and appends them to the store — all in that goroutine,
// none of it blocking.
package collector

import (
	"context"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hostflow/hostflow/decoder"
	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/internal/daemon"
)

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
	deps     Dependencies
	mu       sync.Mutex
	workers  []*Worker
	flows    *prometheus.CounterVec
	errors   *prometheus.CounterVec
	ifaces   prometheus.Counter
	hosts    prometheus.Counter
	reporter *daemon.Reporter
}

// New returns a pipeline. The inlet drives its workers; Stop, called after
// the inlet has stopped, closes their appenders so the store can flush them.
func New(deps Dependencies) *Pipeline {
	r := deps.Reporter.Sub("collector")
	return &Pipeline{
		deps:     deps,
		reporter: r,
		flows:    r.CounterVec("flows_total", "Flow records decoded, by protocol.", "protocol"),
		errors:   r.CounterVec("decode_errors_total", "Datagrams that failed to decode (fully or partly), by protocol.", "protocol"),
		ifaces:   r.Counter("interface_counters_total", "Interface counter records decoded."),
		hosts:    r.Counter("host_counters_total", "Host counter records decoded."),
	}
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
	w.p.deps.Enricher.Enrich(b.Flows)
	w.app.AppendFlows(b.Flows)
	w.flows.Add(float64(len(b.Flows)))
	if t := w.p.deps.Tap; t != nil {
		t.Publish(b.Flows)
	}
}
