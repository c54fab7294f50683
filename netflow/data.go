package netflow

import "encoding/binary"

// header is what data records need from their packet header; held data
// sets keep a copy.
type header struct {
	version    uint16
	received   uint32
	exportTime uint32
	sysUptime  uint32
}

// heldSet is a data set that arrived before its template.
type heldSet struct {
	dom  *domain
	id   uint16
	hd   header
	data []byte
}

// dataSet decodes the records of body with template t and returns how
// many it read. Trailing bytes shorter than a record are padding.
func (d *Decoder) dataSet(e *exporter, dom *domain, t *template, body []byte, hd *header, h Handler) (int, error) {
	f := &d.flow
	f.Version, f.Exporter, f.Domain = hd.version, e.addr, dom.id
	f.Received, f.ExportTime, f.SysUptime = hd.received, hd.exportTime, hd.sysUptime
	f.TemplateID = t.id
	if cap(d.values) < len(t.fields) {
		d.values = make([]Value, len(t.fields))
	}
	vals := d.values[:len(t.fields)]
	n := 0
	for len(body) >= t.minSize {
		off := 0
		for i := range t.fields {
			fd := &t.fields[i]
			l := int(fd.Length)
			if fd.Length == VarLength && hd.version == 10 {
				// RFC 7011 §7: one length byte, or 255 then two.
				if off >= len(body) {
					return n, errorf("record", "template %d: variable-length field truncated", t.id)
				}
				l = int(body[off])
				off++
				if l == 255 {
					if off+2 > len(body) {
						return n, errorf("record", "template %d: variable-length field truncated", t.id)
					}
					l = int(binary.BigEndian.Uint16(body[off:]))
					off += 2
				}
			}
			if off+l > len(body) {
				return n, errorf("record", "template %d: record overruns its set", t.id)
			}
			v := &vals[i]
			v.Field, v.Data = *fd, body[off:off+l:off+l]
			off += l
		}
		body = body[off:]
		n++
		if t.options {
			d.optionsRecord(dom, t, vals)
			continue
		}
		f.Fields = vals
		f.SamplingRate = d.rate(dom, t, vals)
		h.Flow(f)
	}
	return n, nil
}

// rate resolves the sampling rate of a data record: its own sampling
// fields, then its sampler id in the options table, then the domain's.
func (d *Decoder) rate(dom *domain, t *template, vals []Value) uint64 {
	s := &t.sampling
	if s.hasRate {
		if r := s.rate(vals); r > 0 {
			return r
		}
	}
	if s.sampler >= 0 && len(dom.samplers) > 0 {
		if r, ok := dom.samplers[vals[s.sampler].Uint()]; ok {
			return r
		}
	}
	return dom.rate
}

// optionsRecord learns sampling rates from an options data record; other
// options (interface names, exporter statistics) are not used.
func (d *Decoder) optionsRecord(dom *domain, t *template, vals []Value) {
	d.stats.OptionsRecords++
	s := &t.sampling
	if !s.hasRate {
		return
	}
	r := s.rate(vals)
	if r == 0 {
		return
	}
	if s.sampler < 0 {
		dom.rate = r
		return
	}
	id := vals[s.sampler].Uint()
	if _, ok := dom.samplers[id]; !ok {
		if len(dom.samplers) >= d.cfg.MaxSamplers {
			d.stats.Limits[LimitSamplers]++
			return
		}
		if dom.samplers == nil {
			dom.samplers = map[uint64]uint64{}
		}
	}
	dom.samplers[id] = r
}

// hold keeps a copy of a data set whose template is unknown, within the
// per-exporter and total budgets.
func (d *Decoder) hold(e *exporter, dom *domain, id uint16, body []byte, hd *header) {
	if d.cfg.HoldBytesPerExporter == 0 || d.holdTime == 0 {
		d.stats.Drops[DropNoTemplate]++
		return
	}
	if e.heldBytes+len(body) > d.cfg.HoldBytesPerExporter || d.stats.HeldBytes+len(body) > d.cfg.HoldBytes {
		d.stats.Drops[DropHoldOverflow]++
		return
	}
	if len(e.held) == 0 {
		d.holding++
	}
	e.held = append(e.held, heldSet{dom: dom, id: id, hd: *hd, data: append([]byte(nil), body...)})
	e.heldBytes += len(body)
	d.stats.HeldBytes += len(body)
	d.stats.Held++
}

// replay decodes the data held for template t, now that it is known.
func (d *Decoder) replay(e *exporter, dom *domain, t *template, h Handler) {
	if len(e.held) == 0 {
		return
	}
	d.filterHeld(e, func(s *heldSet) bool {
		if s.dom != dom || s.id != t.id {
			return true
		}
		d.stats.HeldDecoded++
		// A malformed held set was malformed when it arrived; its records
		// up to the error are kept, like for any packet.
		_, _ = d.dataSet(e, dom, t, s.data, &s.hd, h)
		return false
	})
}

// expireHeld drops held data older than HoldTime.
func (d *Decoder) expireHeld(e *exporter, now uint32) {
	d.filterHeld(e, func(s *heldSet) bool {
		if now-s.hd.received <= d.holdTime || now < s.hd.received {
			return true
		}
		d.stats.Drops[DropHoldExpired]++
		return false
	})
}

// filterHeld keeps the held sets of e for which keep returns true.
func (d *Decoder) filterHeld(e *exporter, keep func(*heldSet) bool) {
	kept := e.held[:0]
	for i := range e.held {
		s := &e.held[i]
		if keep(s) {
			kept = append(kept, *s)
			continue
		}
		e.heldBytes -= len(s.data)
		d.stats.HeldBytes -= len(s.data)
	}
	clear(e.held[len(kept):])
	e.held = kept
	if len(kept) == 0 {
		e.held = nil
		d.holding--
	}
}
