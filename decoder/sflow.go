package decoder

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hostflow/hostflow/internal/config"
	"github.com/hostflow/hostflow/internal/daemon"
	"github.com/hostflow/hostflow/packet"
	"github.com/hostflow/hostflow/sflow"
)

// SFlowConfig configures the sFlow v5 decoder.
type SFlowConfig struct {
	// Enterprise is the SMI enterprise number of hostflow's own records
	// (process and interface information); it must match the agents'.
	Enterprise uint32 `yaml:"enterprise"`
	// MaxExporters bounds the datagram streams (agent, sub-agent) whose
	// sequence numbers are followed; streams beyond it are not tracked.
	MaxExporters int `yaml:"max-exporters"`
	// ExporterTimeout is how long a silent stream is remembered.
	ExporterTimeout time.Duration `yaml:"exporter-timeout"`
	// MaxStrings bounds the table of shared strings (process names,
	// cgroups, units, interface names, host names) per decoder.
	MaxStrings int `yaml:"max-strings"`
}

// DefaultSFlowConfig returns the defaults.
func DefaultSFlowConfig() SFlowConfig {
	return SFlowConfig{
		Enterprise:      sflow.DefaultEnterprise,
		MaxExporters:    10000,
		ExporterTimeout: time.Hour,
		MaxStrings:      100000,
	}
}

// Validate checks the values.
func (c *SFlowConfig) Validate() error {
	var errs []error
	if c.Enterprise == 0 || c.Enterprise > sflow.MaxEnterprise {
		errs = append(errs, config.Errorf("enterprise", "must be between 1 and %d, not %d", sflow.MaxEnterprise, c.Enterprise))
	}
	if c.MaxExporters < 1 {
		errs = append(errs, config.Errorf("max-exporters", "must be at least 1, not %d", c.MaxExporters))
	}
	if c.ExporterTimeout < time.Minute {
		errs = append(errs, config.Errorf("exporter-timeout", "must be at least 1m, not %s", c.ExporterTimeout))
	}
	if c.MaxStrings < 16 {
		errs = append(errs, config.Errorf("max-strings", "must be at least 16, not %d", c.MaxStrings))
	}
	return errors.Join(errs...)
}

// SFlow decodes sFlow v5 datagrams into flow records (one per flow sample)
// and interface and host counter records (counter samples). It keeps
// per-stream sequence state and a table of shared strings, so it is for one
// goroutine at a time; run one per receive worker. docs/decoding.md
// describes how each field is derived.
type SFlow struct {
	r      *daemon.Reporter
	dec    sflow.Decoder
	dg     sflow.Datagram
	hdr    packet.Header
	seq    *seqTracker
	str    *interner
	procs  procCache
	m      sflowMetrics
	counts sflowCounts // since the last publish
	prev   struct {
		exporters, strings int
		expired, evictions uint64
	}
	uidBuf []byte
}

type sflowMetrics struct {
	datagrams, flows         prometheus.Counter
	ifCounters, hostCounters prometheus.Counter
	children, others         prometheus.Counter
	errors                   *prometheus.CounterVec
	skipped                  [skipReasons]prometheus.Counter
	headerErrors             [headerReasons]prometheus.Counter
	samplingUnknown          prometheus.Counter
	lost, resets, reordered  prometheus.Counter
	untracked, expired       prometheus.Counter
	exporters                prometheus.Gauge
	strings                  prometheus.Gauge
	evictions                prometheus.Counter
}

// Reasons for skipping a sample or a record; the label values of
// hostflow_decoder_sflow_skipped_total.
const (
	skipUnknownSample = iota
	skipUnknownFlowRecord
	skipUnknownCounterRecord
	skipReasons
)

var skipNames = [skipReasons]string{"unknown-sample", "unknown-flow-record", "unknown-counter-record"}

// sflowCounts accumulates per-datagram events so that the hot path touches
// the Prometheus counters once per datagram, not once per flow.
type sflowCounts struct {
	flows, ifCounters, hostCounters, children, others int
	skipped                                           [skipReasons]int
	headerErrors                                      [headerReasons]int
	samplingUnknown                                   int
}

// NewSFlow builds the decoder; r is the decoder's reporter (metrics are
// named hostflow_<r's prefix>sflow_...).
func NewSFlow(cfg SFlowConfig, r *daemon.Reporter) (*SFlow, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r = r.Sub("sflow")
	s := &SFlow{
		r:   r,
		dec: sflow.Decoder{Enterprise: cfg.Enterprise},
		seq: newSeqTracker(cfg.MaxExporters, uint32(cfg.ExporterTimeout/time.Second)),
		str: newInterner(cfg.MaxStrings),
	}
	m := &s.m
	m.datagrams = r.Counter("datagrams_total", "sFlow datagrams received.")
	m.flows = r.Counter("flows_total", "Flow samples decoded into flow records.")
	counters := r.CounterVec("counter_samples_total",
		"Counter samples decoded, by the record they became: interface, host, child (a container's or VM's host records, not mapped) or other (no interface or host record).", "kind")
	m.ifCounters, m.hostCounters = counters.WithLabelValues("interface"), counters.WithLabelValues("host")
	m.children, m.others = counters.WithLabelValues("child"), counters.WithLabelValues("other")
	m.errors = r.CounterVec("errors_total", "Malformed datagrams (decoding stopped at the bad sample), by reason.", "reason")
	skipped := r.CounterVec("skipped_total", "Samples and records of formats this decoder does not map, skipped by length, by reason.", "reason")
	for i, name := range skipNames {
		m.skipped[i] = skipped.WithLabelValues(name)
	}
	headerErrors := r.CounterVec("sampled_header_errors_total",
		"Sampled headers not fully decoded (the record keeps the fields before the problem), by reason.", "reason")
	for i, name := range headerReasonNames {
		m.headerErrors[i] = headerErrors.WithLabelValues(name)
	}
	m.samplingUnknown = r.Counter("sampling_unknown_total", "Flow samples with sampling rate 0 (stored with rate 1).")
	m.lost = r.Counter("sequence_lost_total", "Datagrams missing according to sequence numbers (late arrivals are also counted in sequence_reordered_total).")
	m.resets = r.Counter("sequence_resets_total", "Datagram streams whose sequence restarted (agent restart).")
	m.reordered = r.Counter("sequence_reordered_total", "Datagrams that arrived after a later one (or twice).")
	m.untracked = r.Counter("sequence_untracked_total", "Datagrams of streams not followed because max-exporters streams are.")
	m.expired = r.Counter("exporters_expired_total", "Datagram streams forgotten after exporter-timeout of silence.")
	m.exporters = r.Gauge("exporters", "Datagram streams (agent, sub-agent) whose sequence numbers are followed.")
	m.strings = r.Gauge("strings", "Shared strings held (process names, cgroups, interface names, ...).")
	m.evictions = r.Counter("string_evictions_total", "Shared strings evicted because max-strings were held.")
	return s, nil
}

// Decode decodes one datagram into out. The samples before a malformed one
// are kept; the error says where decoding stopped.
func (s *SFlow) Decode(p Packet, out *Batch) error {
	s.m.datagrams.Inc()
	err := s.dec.Decode(p.Payload, &s.dg)
	dg := &s.dg
	exporter := dg.AgentAddress.Unmap()
	if !exporter.IsValid() {
		// Address type 0 (unknown): the UDP source is all there is.
		exporter = p.Source.Addr().Unmap()
	}
	if err == nil || len(dg.FlowSamples)+len(dg.CounterSamples) > 0 {
		s.sequence(exporter, p.Received)
	}
	s.counts.skipped[skipUnknownSample] += len(dg.UnknownSamples)
	for i := range dg.FlowSamples {
		s.flowSample(&dg.FlowSamples[i], exporter, p.Received, out)
	}
	for i := range dg.CounterSamples {
		s.counterSample(&dg.CounterSamples[i], exporter, p.Received, out)
	}
	s.publish()
	if err != nil {
		reason := "other"
		switch {
		case errors.Is(err, sflow.ErrVersion):
			reason = "version"
		case errors.Is(err, sflow.ErrTruncated):
			reason = "truncated"
		case errors.Is(err, sflow.ErrAddressType):
			reason = "address-type"
		}
		s.m.errors.WithLabelValues(reason).Inc()
		s.r.Limited("decode-"+reason, "undecodable sFlow datagram", "source", p.Source, "agent", exporter, "error", err)
		return fmt.Errorf("sflow %s: %w", exporter, err)
	}
	return nil
}

// sequence follows the datagram stream's sequence numbers.
func (s *SFlow) sequence(agent netip.Addr, now uint32) {
	dg := &s.dg
	ev, lost := s.seq.observe(seqKey{agent, dg.SubAgentID}, dg.SequenceNumber, dg.Uptime, now)
	switch ev {
	case seqNext:
		if lost > 0 {
			s.m.lost.Add(float64(lost))
		}
	case seqReordered:
		s.m.reordered.Inc()
	case seqReset:
		s.m.resets.Inc()
		s.r.Limited("sequence-reset", "sFlow agent restarted its datagram sequence",
			"agent", agent, "sub_agent", dg.SubAgentID, "sequence", dg.SequenceNumber, "uptime_ms", dg.Uptime)
	case seqUntracked:
		s.m.untracked.Inc()
	}
	s.seq.maybeSweep(now)
}

// publish moves the per-datagram counts to the metrics. Gauges move by
// deltas so that several decoders sharing a registry add up.
func (s *SFlow) publish() {
	c, m := &s.counts, &s.m
	add := func(ctr prometheus.Counter, n int) {
		if n > 0 {
			ctr.Add(float64(n))
		}
	}
	add(m.flows, c.flows)
	add(m.ifCounters, c.ifCounters)
	add(m.hostCounters, c.hostCounters)
	add(m.children, c.children)
	add(m.others, c.others)
	for i, n := range c.skipped {
		add(m.skipped[i], n)
	}
	for i, n := range c.headerErrors {
		add(m.headerErrors[i], n)
	}
	add(m.samplingUnknown, c.samplingUnknown)
	*c = sflowCounts{}

	p := &s.prev
	if n := len(s.seq.streams); n != p.exporters {
		m.exporters.Add(float64(n - p.exporters))
		p.exporters = n
	}
	if n := s.str.len(); n != p.strings {
		m.strings.Add(float64(n - p.strings))
		p.strings = n
	}
	if s.seq.expired != p.expired {
		m.expired.Add(float64(s.seq.expired - p.expired))
		p.expired = s.seq.expired
	}
	if s.str.evictions != p.evictions {
		m.evictions.Add(float64(s.str.evictions - p.evictions))
		p.evictions = s.str.evictions
	}
}
