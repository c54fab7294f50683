package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync/atomic"

	"github.com/hostflow/hostflow/collector"
	"github.com/hostflow/hostflow/decoder"
	"github.com/hostflow/hostflow/enrich"
	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/inlet"
	"github.com/hostflow/hostflow/internal/daemon"
)

// harnessConfig chooses the listeners and what runs behind them.
type harnessConfig struct {
	// SFlow and NetFlow are listen addresses; empty disables one.
	SFlow, NetFlow string
	// Sockets per listener (SO_REUSEPORT), each with its own goroutine.
	Sockets int
	// ReceiveBuffer and Batch are the inlet's; 0 keeps its defaults.
	ReceiveBuffer, Batch int
	// Enrich runs the real enricher (in-band and static metadata, built-in
	// networks; no SNMP, which would poll the generated agent addresses)
	// instead of a no-op one.
	Enrich bool
}

// tally counts what reached the store appenders. Each worker adds once per
// batch, so the atomics cost nothing per flow.
type tally struct {
	flows, interfaces, hosts atomic.Uint64
}

// countingAppender is the store appender of the decode-only benchmark:
// it counts the records and drops them.
type countingAppender struct{ t *tally }

func (a countingAppender) AppendFlows(recs []flow.Record) { a.t.flows.Add(uint64(len(recs))) }
func (a countingAppender) AppendInterfaces(c []flow.InterfaceCounters) {
	a.t.interfaces.Add(uint64(len(c)))
}
func (a countingAppender) AppendHosts(c []flow.HostCounters) { a.t.hosts.Add(uint64(len(c))) }
func (a countingAppender) Close()                            {}

// noEnrich leaves records as decoded: the benchmark is decode-only.
type noEnrich struct{}

func (noEnrich) ObserveCounters([]flow.InterfaceCounters, []flow.HostCounters) {}
func (noEnrich) Enrich([]flow.Record)                                          {}

// harness is hostflow's real receive path (inlet, decoders, collector
// pipeline) with a counting appender in place of the store.
type harness struct {
	reporter *daemon.Reporter
	tally    tally
	inlet    *inlet.Inlet
	protos   []string // listener protocols, in the order of inlet.Addrs
	comps    []daemon.Named
	group    *daemon.Group
}

func newHarness(cfg harnessConfig, log *slog.Logger) (*harness, error) {
	h := &harness{reporter: daemon.NewReporter(log, nil), group: daemon.NewGroup(log)}
	r := h.reporter
	r.RegisterRuntimeMetrics()
	sub := r.Sub("ingestbench")
	sub.CounterFunc("flows_total", "Flow records handed to the counting appender.",
		func() float64 { return float64(h.tally.flows.Load()) })
	sub.CounterFunc("interface_records_total", "Interface counter records handed to the counting appender.",
		func() float64 { return float64(h.tally.interfaces.Load()) })
	sub.CounterFunc("host_records_total", "Host counter records handed to the counting appender.",
		func() float64 { return float64(h.tally.hosts.Load()) })

	in := inlet.DefaultConfig()
	template := in.Listeners[0]
	template.Sockets = cfg.Sockets
	if cfg.ReceiveBuffer > 0 {
		template.ReceiveBuffer = cfg.ReceiveBuffer
	}
	if cfg.Batch > 0 {
		template.Batch = cfg.Batch
	}
	in.Listeners = nil
	for _, l := range []struct{ proto, addr string }{{inlet.ProtoSFlow, cfg.SFlow}, {inlet.ProtoNetFlow, cfg.NetFlow}} {
		if l.addr == "" {
			continue
		}
		lc := template
		lc.Protocol, lc.Listen = l.proto, l.addr
		in.Listeners = append(in.Listeners, lc)
		h.protos = append(h.protos, l.proto)
	}
	if len(in.Listeners) == 0 {
		return nil, fmt.Errorf("no listener: give an sFlow or a NetFlow address")
	}

	sfCfg, nfCfg := decoder.DefaultSFlowConfig(), decoder.DefaultNetFlowConfig()
	decRep := r.Sub("decoder")
	if _, err := decoder.NewSFlow(sfCfg, decRep); err != nil {
		return nil, err
	}
	if _, err := decoder.NewNetFlow(nfCfg, decRep); err != nil {
		return nil, err
	}
	var en collector.Enricher = noEnrich{}
	if cfg.Enrich {
		ec := enrich.DefaultConfig()
		ec.Providers = []string{enrich.ProviderInBand, enrich.ProviderStatic}
		e, err := enrich.New(ec, enrich.Dependencies{Reporter: r})
		if err != nil {
			return nil, fmt.Errorf("enrich: %w", err)
		}
		en = e
		h.comps = append(h.comps, daemon.Named{Name: "enrich", Component: e})
	}
	pipe := collector.New(collector.Dependencies{
		Reporter: r,
		// Wired as the collector role does: one decoder per socket.
		NewDecoder: func(protocol string) decoder.Decoder {
			if protocol == inlet.ProtoSFlow {
				d, _ := decoder.NewSFlow(sfCfg, decRep)
				return d
			}
			d, _ := decoder.NewNetFlow(nfCfg, decRep)
			return d
		},
		Enricher:    en,
		NewAppender: func() collector.Appender { return countingAppender{&h.tally} },
	})
	var err error
	h.inlet, err = inlet.New(in, inlet.Dependencies{
		Reporter:   r,
		NewHandler: func(protocol string) inlet.Handler { return pipe.NewWorker(protocol) },
	})
	if err != nil {
		return nil, fmt.Errorf("inlet: %w", err)
	}
	h.comps = append(h.comps, daemon.Named{Name: "pipeline", Component: pipe}, daemon.Named{Name: "inlet", Component: h.inlet})
	return h, nil
}

func (h *harness) start(ctx context.Context) error { return h.group.Start(ctx, h.comps...) }
func (h *harness) stop() error                     { return h.group.Stop() }

// addrs are the bound listener addresses, in the order of h.protos.
func (h *harness) addrs() []netip.AddrPort { return h.inlet.Addrs() }

// stats is what the harness reports.
type stats struct {
	flows, interfaces, hosts uint64
	kernelDrops, otherDrops  uint64
	decodeErrors             uint64
}

// stats reads the counts from the tally and the inlet's and collector's
// own metrics.
func (h *harness) stats() (stats, error) {
	s := stats{flows: h.tally.flows.Load(), interfaces: h.tally.interfaces.Load(), hosts: h.tally.hosts.Load()}
	mfs, err := h.reporter.Registry().Gather()
	if err != nil {
		return s, err
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			v := uint64(m.GetCounter().GetValue())
			switch mf.GetName() {
			case "hostflow_inlet_drops_total":
				if label(m.GetLabel(), "reason") == "kernel" {
					s.kernelDrops += v
				} else {
					s.otherDrops += v
				}
			case "hostflow_collector_decode_errors_total":
				s.decodeErrors += v
			}
		}
	}
	return s, nil
}
