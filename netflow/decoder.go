// Package netflow decodes NetFlow v5, NetFlow v9 (RFC 3954) and IPFIX
// (RFC 7011) export packets. It has no dependency on the rest of hostflow.
//
// A Decoder keeps, per exporter address and per (version, source id /
// observation domain), the templates and options templates it has learnt,
// the sampling rates announced in options data and the sequence numbers
// seen. It walks data records and hands each one to a Handler as a list of
// field values aliasing the datagram: steady-state decoding allocates
// nothing per flow. NetFlow v5 records are presented through a fixed
// template, so callers map all three versions with the same code.
//
// Data sets that arrive before their template are held (bounded in bytes
// and time) and decoded when the template arrives. Every limit of Config is
// enforced and every drop is counted in Stats.
package netflow

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Flow is one data record handed to a Handler. It and its Fields are
// reused: copy what must outlive the call.
type Flow struct {
	Version  uint16 // 5, 9 or 10
	Exporter netip.Addr
	// Domain is the v9 source id or IPFIX observation domain id; for v5,
	// engine type << 8 | engine id.
	Domain     uint32
	Received   uint32 // Unix seconds the datagram was received (held data keeps its own)
	ExportTime uint32 // Unix seconds from the packet header
	SysUptime  uint32 // v5 and v9: exporter uptime in ms at export; 0 for IPFIX
	TemplateID uint16
	// SamplingRate is 1-in-N packets as announced for this record (inline
	// sampling fields, sampler/selector id from options data, the domain's
	// options data, or the v5 header), 0 when unknown.
	SamplingRate uint64
	Fields       []Value
}

// Handler receives the decoded content of packets.
type Handler interface {
	// Flow is called for each flow data record.
	Flow(f *Flow)
	// Lost is called when sequence numbers show missing data: n export
	// packets for NetFlow v9, n flow records for v5 and IPFIX.
	Lost(exporter netip.Addr, version uint16, n uint64)
}

// Error is a malformed packet. Reason is a short stable label for metrics.
type Error struct {
	Reason string
	Msg    string
}

func (e *Error) Error() string { return "netflow: " + e.Msg }

func errorf(reason, format string, args ...any) error {
	return &Error{Reason: reason, Msg: fmt.Sprintf(format, args...)}
}

// Decoder decodes export packets. It is not safe for concurrent use: give
// each receive goroutine its own (with SO_REUSEPORT the kernel keeps an
// exporter on one socket, so template state is not split).
type Decoder struct {
	cfg       Config
	holdTime  uint32 // seconds
	expTime   uint32 // seconds
	exporters map[netip.Addr]*exporter
	last      *exporter // cache: consecutive packets often come from one exporter
	lastSweep uint32
	lastIdle  uint32 // last look for idle exporters
	holding   int    // exporters with held data
	stats     Stats
	values    []Value
	flow      Flow
}

type exporter struct {
	addr      netip.Addr
	domains   map[uint64]*domain
	held      []heldSet
	heldBytes int
	lastSeen  uint32
}

type domain struct {
	version   uint16
	id        uint32
	templates map[uint16]*template
	samplers  map[uint64]uint64 // sampler / selector id → rate
	rate      uint64            // from options data without a sampler id
	seqValid  bool
	nextSeq   uint32
}

// New returns a Decoder with the given limits.
func New(cfg Config) (*Decoder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Decoder{
		cfg:       cfg,
		holdTime:  uint32(cfg.HoldTime.Seconds()),
		expTime:   uint32(cfg.ExporterTimeout.Seconds()),
		exporters: map[netip.Addr]*exporter{},
		values:    make([]Value, 0, 64),
	}, nil
}

// Stats returns the counters accumulated since New.
func (d *Decoder) Stats() Stats {
	s := d.stats
	s.Exporters = len(d.exporters)
	return s
}

// Decode decodes one export packet received from exporter at received
// (Unix seconds), calling h for each flow. Flows of held data sets whose
// template this packet brings are handed to h too. On a malformed packet
// it returns an *Error; flows decoded before the error have been handed
// over.
func (d *Decoder) Decode(exporter netip.Addr, payload []byte, received uint32, h Handler) error {
	if received-d.lastSweep >= 1 || received < d.lastSweep {
		d.sweep(received)
	}
	if len(payload) < 2 {
		return errorf("short", "packet of %d bytes", len(payload))
	}
	switch v := binary.BigEndian.Uint16(payload); v {
	case 5:
		return d.decodeV5(exporter, payload, received, h)
	case 9:
		return d.decodeV9(exporter, payload, received, h)
	case 10:
		return d.decodeIPFIX(exporter, payload, received, h)
	default:
		return errorf("version", "unsupported version %d", v)
	}
}

// exporter returns the state of addr, creating it within limits.
func (d *Decoder) exporter(addr netip.Addr, now uint32) *exporter {
	e := d.last
	if e == nil || e.addr != addr {
		e = d.exporters[addr]
		if e == nil {
			if len(d.exporters) >= d.cfg.MaxExporters {
				d.stats.Limits[LimitExporters]++
				return nil
			}
			e = &exporter{addr: addr, domains: map[uint64]*domain{}}
			d.exporters[addr] = e
		}
		d.last = e
	}
	e.lastSeen = now
	return e
}

// domain returns the state of (version, id) of e, creating it within limits.
func (d *Decoder) domain(e *exporter, version uint16, id uint32) *domain {
	key := uint64(version)<<32 | uint64(id)
	dom := e.domains[key]
	if dom == nil {
		if len(e.domains) >= d.cfg.MaxDomains {
			d.stats.Limits[LimitDomains]++
			return nil
		}
		dom = &domain{version: version, id: id, templates: map[uint16]*template{}}
		e.domains[key] = dom
	}
	return dom
}

// begin resolves the exporter and domain of a packet; nil means the packet
// is dropped for a limit (already counted).
func (d *Decoder) begin(addr netip.Addr, version uint16, id uint32, now uint32) (*exporter, *domain) {
	e := d.exporter(addr, now)
	if e == nil {
		d.stats.Drops[DropLimit]++
		return nil, nil
	}
	dom := d.domain(e, version, id)
	if dom == nil {
		d.stats.Drops[DropLimit]++
		return nil, nil
	}
	return e, dom
}

// sequence checks seq against what the previous packet announced and
// remembers what the next one should carry. complete is false when some of
// this packet's records could not be counted (held data), for sequence
// schemes that count records.
func (d *Decoder) sequence(dom *domain, addr netip.Addr, seq, next uint32, complete bool, h Handler) {
	if dom.seqValid && seq != dom.nextSeq {
		if gap := seq - dom.nextSeq; int32(gap) > 0 {
			d.stats.SequenceLost += uint64(gap)
			h.Lost(addr, dom.version, uint64(gap))
		} else {
			// Behind: a reordered or duplicated packet, or an exporter
			// restart. Not loss; resynchronise.
			d.stats.SequenceResets++
		}
	}
	dom.nextSeq, dom.seqValid = next, complete
}

// sweep expires held data and idle exporters.
func (d *Decoder) sweep(now uint32) {
	d.lastSweep = now
	if d.holding > 0 {
		for _, e := range d.exporters {
			if len(e.held) > 0 {
				d.expireHeld(e, now)
			}
		}
	}
	// Idle exporters are looked for once a minute, or at once when full.
	if now-d.lastIdle < 60 && now >= d.lastIdle && len(d.exporters) < d.cfg.MaxExporters {
		return
	}
	d.lastIdle = now
	for addr, e := range d.exporters {
		if now-e.lastSeen > d.expTime && now >= e.lastSeen {
			d.forget(e)
			delete(d.exporters, addr)
		}
	}
}

// forget releases what e holds from the shared budgets.
func (d *Decoder) forget(e *exporter) {
	for _, dom := range e.domains {
		d.stats.Templates -= len(dom.templates)
	}
	d.stats.HeldBytes -= e.heldBytes
	if len(e.held) > 0 {
		d.holding--
		d.stats.Drops[DropHoldExpired] += uint64(len(e.held))
	}
	if d.last == e {
		d.last = nil
	}
	d.stats.ExportersExpired++
}
