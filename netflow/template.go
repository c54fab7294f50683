package netflow

import (
	"bytes"
	"encoding/binary"
	"math"
)

// template is a compiled (options) template: the list of fields a data
// record is walked with, plus what the decoder needs to find quickly.
type template struct {
	id      uint16
	options bool
	fields  []Field
	// raw is the definition as received: the periodic resend of an
	// unchanged template is recognised by comparison, without allocating.
	raw []byte
	// minSize is the smallest record: fixed lengths plus one byte per
	// variable-length field. Set padding is shorter than this.
	minSize  int
	sampling samplingFields
}

// samplingFields holds the indexes in fields of the elements announcing a
// sampling rate or naming a sampler; -1 when absent.
type samplingFields struct {
	sampler               int // samplerId (48, v9 FLOW_SAMPLER_ID) or selectorId (302)
	interval, random      int // samplingInterval (34), samplerRandomInterval (50)
	pktInterval, pktSpace int // samplingPacketInterval (305), samplingPacketSpace (306)
	size, population      int // samplingSize (309), samplingPopulation (310)
	hasRate               bool
}

// compileSampling indexes the sampling elements of fields. NetFlow v9
// scope fields are skipped: their types (1 system, 2 interface, ...) are
// not information elements.
func compileSampling(fields []Field, v9 bool) samplingFields {
	s := samplingFields{-1, -1, -1, -1, -1, -1, -1, false}
	for i, f := range fields {
		if f.Enterprise != 0 || v9 && f.Scope {
			continue
		}
		switch f.ID {
		case IESamplerID, IESelectorID:
			s.sampler = i
		case IESamplingInterval:
			s.interval = i
		case IESamplerRandomInterval:
			s.random = i
		case IESamplingPacketInterval:
			s.pktInterval = i
		case IESamplingPacketSpace:
			s.pktSpace = i
		case IESamplingSize:
			s.size = i
		case IESamplingPopulation:
			s.population = i
		}
	}
	s.hasRate = s.interval >= 0 || s.random >= 0 || s.pktInterval >= 0 || s.population >= 0 && s.size >= 0
	return s
}

// rate computes 1-in-N from the sampling fields of one record, 0 when
// they announce nothing usable.
func (s *samplingFields) rate(vals []Value) uint64 {
	get := func(i int) uint64 {
		if i < 0 {
			return 0
		}
		v := vals[i].Uint()
		if v > math.MaxUint32 {
			return 0 // these elements are unsigned32; longer is nonsense
		}
		return v
	}
	if iv := get(s.pktInterval); iv > 0 {
		// Systematic count-based sampling: take interval packets, skip space.
		return (iv + get(s.pktSpace) + iv/2) / iv
	}
	if size := get(s.size); size > 0 {
		if pop := get(s.population); pop >= size {
			return (pop + size/2) / size
		}
	}
	if v := get(s.interval); v > 0 {
		return v
	}
	return get(s.random)
}

// Template set ids.
const (
	setV9Template        = 0
	setV9OptionsTemplate = 1
	setTemplate          = 2 // IPFIX
	setOptionsTemplate   = 3 // IPFIX
	minDataSetID         = 256
)

// templateSet reads the records of a template or options template set.
// Records over a limit are skipped and counted; a malformed set stops
// with an error.
func (d *Decoder) templateSet(e *exporter, dom *domain, body []byte, ipfix, options bool, h Handler) error {
	for len(body) >= 4 {
		id := binary.BigEndian.Uint16(body)
		count := int(binary.BigEndian.Uint16(body[2:]))
		if ipfix && count == 0 {
			// Withdrawal (RFC 7011 §8.1); the set's own id withdraws all.
			d.withdraw(dom, id, options)
			body = body[4:]
			continue
		}
		if id < minDataSetID {
			if allZero(body) {
				return nil // padding
			}
			return errorf("template", "template id %d below 256", id)
		}
		hdr, scope := 4, 0
		if options {
			if len(body) < 6 {
				return errorf("template", "options template %d truncated", id)
			}
			third := int(binary.BigEndian.Uint16(body[4:]))
			hdr = 6
			if ipfix {
				scope = third
				if scope == 0 || scope > count {
					return errorf("template", "options template %d: scope field count %d of %d", id, scope, count)
				}
			} else {
				// v9: scope and option lengths in bytes, 4 per field.
				scopeLen, optLen := count, third
				if scopeLen%4 != 0 || optLen%4 != 0 || scopeLen == 0 {
					return errorf("template", "options template %d: scope length %d, option length %d", id, scopeLen, optLen)
				}
				scope, count = scopeLen/4, (scopeLen+optLen)/4
			}
		}
		n := scanFields(body[hdr:], count, ipfix)
		if n < 0 {
			return errorf("template", "template %d: %d fields overrun the set", id, count)
		}
		d.install(e, dom, id, body[:hdr+n], hdr, count, scope, ipfix, options, h)
		body = body[hdr+n:]
	}
	return nil
}

// scanFields returns the length of count field specifiers at b, or -1 when
// b is too short. IPFIX specifiers with the enterprise bit take 8 bytes.
func scanFields(b []byte, count int, ipfix bool) int {
	off := 0
	for range count {
		if off+4 > len(b) {
			return -1
		}
		if ipfix && b[off]&0x80 != 0 {
			off += 8
		} else {
			off += 4
		}
	}
	if off > len(b) {
		return -1
	}
	return off
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// install adds or refreshes template id from its wire definition raw
// (hdr bytes of header, then count field specifiers, the first scope of
// them scope fields), then decodes data held for it.
func (d *Decoder) install(e *exporter, dom *domain, id uint16, raw []byte, hdr, count, scope int, ipfix, options bool, h Handler) {
	old := dom.templates[id]
	if old != nil && old.options == options && bytes.Equal(old.raw, raw) {
		d.stats.TemplateEvents[TemplateRefreshed]++
		return
	}
	t, limit := d.compile(id, raw, hdr, count, scope, ipfix, options)
	if t == nil {
		d.stats.Limits[limit]++
		d.stats.TemplateEvents[TemplateRejected]++
		if old != nil {
			// Keeping the old definition would misread the new data.
			delete(dom.templates, id)
			d.stats.Templates--
		}
		return
	}
	if old == nil {
		if len(dom.templates) >= d.cfg.MaxTemplates {
			d.stats.Limits[LimitTemplates]++
			d.stats.TemplateEvents[TemplateRejected]++
			return
		}
		if d.stats.Templates >= d.cfg.MaxTemplatesTotal {
			d.stats.Limits[LimitTemplatesTotal]++
			d.stats.TemplateEvents[TemplateRejected]++
			return
		}
		d.stats.Templates++
		d.stats.TemplateEvents[TemplateAdded]++
	} else {
		d.stats.TemplateEvents[TemplateReplaced]++
	}
	dom.templates[id] = t
	d.replay(e, dom, t, h)
}

// compile builds a template, or returns nil and the limit it breaks.
func (d *Decoder) compile(id uint16, raw []byte, hdr, count, scope int, ipfix, options bool) (*template, int) {
	if count > d.cfg.MaxFields {
		return nil, LimitFields
	}
	t := &template{id: id, options: options, fields: make([]Field, count)}
	b := raw[hdr:]
	for i := range t.fields {
		f := &t.fields[i]
		f.ID = binary.BigEndian.Uint16(b)
		f.Length = binary.BigEndian.Uint16(b[2:])
		f.Scope = i < scope
		b = b[4:]
		if ipfix && f.ID&0x8000 != 0 {
			f.ID &^= 0x8000
			f.Enterprise = binary.BigEndian.Uint32(b)
			b = b[4:]
		}
		if ipfix && f.Length == VarLength {
			t.minSize++
		} else {
			t.minSize += int(f.Length)
		}
	}
	// A zero-size record would never advance through a data set.
	if t.minSize == 0 || t.minSize > d.cfg.MaxRecordSize {
		return nil, LimitRecordSize
	}
	t.raw = bytes.Clone(raw)
	t.sampling = compileSampling(t.fields, !ipfix)
	return t, 0
}

// withdraw removes template id of the given kind, or all templates of that
// kind when id is the set id itself (RFC 7011 §8.1).
func (d *Decoder) withdraw(dom *domain, id uint16, options bool) {
	all := !options && id == setTemplate || options && id == setOptionsTemplate
	for tid, t := range dom.templates {
		if all && t.options == options || tid == id {
			delete(dom.templates, tid)
			d.stats.Templates--
			d.stats.TemplateEvents[TemplateWithdrawn]++
		}
	}
}
