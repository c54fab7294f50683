package decoder

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hostflow/hostflow/internal/config"
	"github.com/hostflow/hostflow/internal/daemon"
	"github.com/hostflow/hostflow/netflow"
)

// NetFlowConfig configures the NetFlow v5/v9 and IPFIX decoder: the
// template state limits of the netflow package, and where flow time comes
// from.
type NetFlowConfig struct {
	netflow.Config `yaml:",inline"`
	// TimestampSource sets TimeReceived: "udp" (when the datagram was
	// received), "netflow-packet" (the export time in its header) or
	// "netflow-first-switched" (the flow's start, falling back to udp).
	TimestampSource string `yaml:"timestamp-source"`
}

// DefaultNetFlowConfig returns the defaults.
func DefaultNetFlowConfig() NetFlowConfig {
	return NetFlowConfig{Config: netflow.DefaultConfig(), TimestampSource: "udp"}
}

// Validate checks the limits and the timestamp source.
func (c *NetFlowConfig) Validate() error {
	var errs []error
	if err := c.Config.Validate(); err != nil {
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			var ce *netflow.ConfigError
			if errors.As(e, &ce) {
				errs = append(errs, config.Errorf(ce.Key, "%s", ce.Msg))
			}
		}
	}
	switch c.TimestampSource {
	case "udp", "netflow-packet", "netflow-first-switched":
	default:
		errs = append(errs, config.Errorf("timestamp-source",
			"must be udp, netflow-packet or netflow-first-switched, not %q", c.TimestampSource))
	}
	return errors.Join(errs...)
}

// NetFlow decodes NetFlow v5, v9 and IPFIX datagrams into flow records.
// Like the netflow.Decoder it wraps, it is for one goroutine at a time.
type NetFlow struct {
	cfg NetFlowConfig
	r   *daemon.Reporter
	dec *netflow.Decoder
	m   netflowMetrics

	// Per-Decode state.
	out      *Batch
	exporter netip.Addr
	unknown  int // flows without a known sampling rate
	flows    int // flows added by this Decode
	version  uint16
	prev     netflow.Stats
}

type netflowMetrics struct {
	packets, flows    map[uint16]prometheus.Counter
	packetsOther      prometheus.Counter
	errors            *prometheus.CounterVec
	drops             [len(netflow.DropNames)]prometheus.Counter
	limits            [len(netflow.LimitNames)]prometheus.Counter
	templates         [len(netflow.TemplateEventNames)]prometheus.Counter
	optionsRecords    prometheus.Counter
	held, heldDecoded prometheus.Counter
	lost              *prometheus.CounterVec
	resets            prometheus.Counter
	samplingUnknown   prometheus.Counter
	exportersExpired  prometheus.Counter
	exporters         prometheus.Gauge
	templatesCurrent  prometheus.Gauge
	heldBytes         prometheus.Gauge
	reverseFlows      prometheus.Counter
	icmpFromPortFlows prometheus.Counter
}

// NewNetFlow builds the decoder; r is the decoder's reporter (metrics are
// named hostflow_<r's prefix>netflow_...).
func NewNetFlow(cfg NetFlowConfig, r *daemon.Reporter) (*NetFlow, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dec, err := netflow.New(cfg.Config)
	if err != nil {
		return nil, err
	}
	r = r.Sub("netflow")
	n := &NetFlow{cfg: cfg, r: r, dec: dec}
	m := &n.m
	packets := r.CounterVec("packets_total", "Datagrams received, by version.", "version")
	flows := r.CounterVec("flows_total", "Flow records decoded (biflow reverse halves included), by version.", "version")
	m.packets, m.flows = map[uint16]prometheus.Counter{}, map[uint16]prometheus.Counter{}
	for _, v := range []uint16{5, 9, 10} {
		m.packets[v] = packets.WithLabelValues(strconv.Itoa(int(v)))
		m.flows[v] = flows.WithLabelValues(strconv.Itoa(int(v)))
	}
	m.packetsOther = packets.WithLabelValues("other")
	m.errors = r.CounterVec("errors_total", "Malformed datagrams (decoding stopped there), by reason.", "reason")
	drops := r.CounterVec("drops_total", "Data sets dropped (whole datagrams for reason limit), by reason.", "reason")
	for i, name := range netflow.DropNames {
		m.drops[i] = drops.WithLabelValues(name)
	}
	limits := r.CounterVec("limit_hits_total", "Template state limits reached, by limit.", "limit")
	for i, name := range netflow.LimitNames {
		m.limits[i] = limits.WithLabelValues(name)
	}
	templates := r.CounterVec("templates_total", "Template records received, by event.", "event")
	for i, name := range netflow.TemplateEventNames {
		m.templates[i] = templates.WithLabelValues(name)
	}
	m.optionsRecords = r.Counter("options_records_total", "Options data records read.")
	held := r.CounterVec("held_sets_total", "Data sets that arrived before their template, by outcome (held, decoded later).", "outcome")
	m.held, m.heldDecoded = held.WithLabelValues("held"), held.WithLabelValues("decoded")
	m.lost = r.CounterVec("sequence_lost_total",
		"Data lost according to sequence numbers: export packets for v9, flow records for v5 and IPFIX.", "exporter", "version")
	m.resets = r.Counter("sequence_resets_total", "Sequence numbers that went backwards (reorder, duplicate, exporter restart).")
	m.samplingUnknown = r.Counter("sampling_unknown_total", "Flows without a known sampling rate (stored with rate 1).")
	m.exportersExpired = r.Counter("exporters_expired_total", "Exporters forgotten after exporter-timeout without packets.")
	m.exporters = r.Gauge("exporters", "Exporters with template state.")
	m.templatesCurrent = r.Gauge("templates", "Templates stored.")
	m.heldBytes = r.Gauge("held_bytes", "Bytes of data sets held waiting for their template.")
	m.reverseFlows = r.Counter("biflow_reverse_total", "Reverse flows built from RFC 5103 biflow records.")
	m.icmpFromPortFlows = r.Counter("icmp_from_port_total", "ICMP flows whose type and code were taken from the destination port.")
	return n, nil
}

// Decode decodes one datagram into out.
func (n *NetFlow) Decode(p Packet, out *Batch) error {
	n.out, n.exporter, n.unknown, n.flows, n.version = out, p.Source.Addr().Unmap(), 0, 0, 0
	if len(p.Payload) >= 2 {
		n.version = binary.BigEndian.Uint16(p.Payload)
		if c := n.m.packets[n.version]; c != nil {
			c.Inc()
		} else {
			n.m.packetsOther.Inc()
		}
	}
	err := n.dec.Decode(n.exporter, p.Payload, p.Received, (*netflowSink)(n))
	n.publish()
	n.out = nil
	if err != nil {
		reason := "other"
		var ne *netflow.Error
		if errors.As(err, &ne) {
			reason = ne.Reason
		}
		n.m.errors.WithLabelValues(reason).Inc()
		n.r.Limited("decode-"+reason, "undecodable NetFlow/IPFIX datagram", "exporter", n.exporter, "error", err)
		return fmt.Errorf("netflow %s: %w", n.exporter, err)
	}
	return nil
}

// publish adds what the netflow decoder counted since the last call.
func (n *NetFlow) publish() {
	s := n.dec.Stats()
	p := &n.prev
	m := &n.m
	if n.unknown > 0 {
		m.samplingUnknown.Add(float64(n.unknown))
	}
	if c := m.flows[n.version]; c != nil && n.flows > 0 {
		c.Add(float64(n.flows))
	}
	if s == *p {
		return
	}
	add := func(c prometheus.Counter, now, before uint64) {
		if now != before {
			c.Add(float64(now - before))
		}
	}
	for i := range s.Drops {
		add(m.drops[i], s.Drops[i], p.Drops[i])
	}
	for i := range s.Limits {
		add(m.limits[i], s.Limits[i], p.Limits[i])
	}
	for i := range s.TemplateEvents {
		add(m.templates[i], s.TemplateEvents[i], p.TemplateEvents[i])
	}
	add(m.optionsRecords, s.OptionsRecords, p.OptionsRecords)
	add(m.held, s.Held, p.Held)
	add(m.heldDecoded, s.HeldDecoded, p.HeldDecoded)
	add(m.resets, s.SequenceResets, p.SequenceResets)
	add(m.exportersExpired, s.ExportersExpired, p.ExportersExpired)
	// Gauges move by deltas so that several decoders (one per receive
	// worker) sharing a registry add up.
	m.exporters.Add(float64(s.Exporters - p.Exporters))
	m.templatesCurrent.Add(float64(s.Templates - p.Templates))
	m.heldBytes.Add(float64(s.HeldBytes - p.HeldBytes))
	*p = s
}

// netflowSink is the netflow.Handler side of NetFlow, kept off its API.
type netflowSink NetFlow

func (s *netflowSink) Lost(exporter netip.Addr, version uint16, count uint64) {
	s.m.lost.WithLabelValues(exporter.String(), strconv.Itoa(int(version))).Add(float64(count))
}

func (s *netflowSink) Flow(f *netflow.Flow) {
	n := (*NetFlow)(s)
	out := n.out
	r := out.NewFlow()
	idx := len(out.Flows) - 1
	r.TimeReceived = f.Received
	switch n.cfg.TimestampSource {
	case "netflow-packet":
		r.TimeReceived = f.ExportTime
	case "netflow-first-switched":
		if start, _ := f.Times(); start > 0 {
			r.TimeReceived = uint32(start / 1000)
		}
	}
	r.ExporterAddress = n.exporter
	r.SamplingRate = f.SamplingRate
	if r.SamplingRate == 0 {
		r.SamplingRate = 1
		n.unknown++
	}
	var fb fallbacks
	for i := range f.Fields {
		v := &f.Fields[i]
		switch {
		case v.Scope:
		case v.Enterprise == 0:
			mapField(r, &fb, v)
		case v.Enterprise == netflow.EnterpriseReverse:
			fb.rev.field(v)
		}
	}
	fb.apply(r)
	if (r.Proto == 1 || r.Proto == 58) && !fb.icmp && r.DstPort != 0 {
		// Cisco convention kept by softflowd and pmacct: ICMP type and
		// code travel in the destination port. They are not ports.
		r.ICMPType, r.ICMPCode = uint8(r.DstPort>>8), uint8(r.DstPort)
		r.SrcPort, r.DstPort = 0, 0
		n.m.icmpFromPortFlows.Inc()
	}
	n.flows++
	b, p := fb.rev.counts()
	if !fb.rev.seen || b == 0 && p == 0 {
		return
	}
	n.m.reverseFlows.Inc()
	if r.Bytes == 0 && r.Packets == 0 {
		// softflowd -b sends records whose forward side saw nothing:
		// only the reverse flow is real.
		r.Reverse()
		fb.rev.apply(r)
		return
	}
	rr := out.NewFlow()
	*rr = out.Flows[idx] // NewFlow may have moved the slice
	rr.Reverse()
	fb.rev.apply(rr)
	n.flows++
}
