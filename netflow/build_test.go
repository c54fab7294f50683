package netflow

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
)

// Helpers that build export packets field by field, so each test states
// the bytes it feeds in.

func u8(v uint8) []byte   { return []byte{v} }
func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
func ip(s string) []byte  { return netip.MustParseAddr(s).AsSlice() }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// spec is a field specifier; ent != 0 sets the IPFIX enterprise bit.
type spec struct {
	id, length uint16
	ent        uint32
}

func specs(ss []spec) []byte {
	var b []byte
	for _, s := range ss {
		if s.ent != 0 {
			b = cat(b, u16(s.id|0x8000), u16(s.length), u32(s.ent))
		} else {
			b = cat(b, u16(s.id), u16(s.length))
		}
	}
	return b
}

func tmpl(id uint16, ss ...spec) []byte { return cat(u16(id), u16(uint16(len(ss))), specs(ss)) }

func optTmplIPFIX(id uint16, scope []spec, opts ...spec) []byte {
	return cat(u16(id), u16(uint16(len(scope)+len(opts))), u16(uint16(len(scope))), specs(scope), specs(opts))
}

func optTmplV9(id uint16, scope []spec, opts ...spec) []byte {
	return cat(u16(id), u16(uint16(4*len(scope))), u16(uint16(4*len(opts))), specs(scope), specs(opts))
}

func set(id uint16, body ...[]byte) []byte {
	b := cat(body...)
	return cat(u16(id), u16(uint16(4+len(b))), b)
}

func ipfix(domain, seq uint32, sets ...[]byte) []byte {
	b := cat(sets...)
	return cat(u16(10), u16(uint16(16+len(b))), u32(1700000000), u32(seq), u32(domain), b)
}

func v9(source, seq uint32, sets ...[]byte) []byte {
	return cat(u16(9), u16(uint16(len(sets))), u32(60000), u32(1700000000), u32(seq), u32(source), cat(sets...))
}

// recorder is a Handler keeping flows as readable strings.
type recorder struct {
	flows []string
	lost  []string
}

func (r *recorder) Flow(f *Flow) {
	var parts []string
	for _, v := range f.Fields {
		name := fmt.Sprint(v.ID)
		if v.Enterprise != 0 {
			name = fmt.Sprintf("%d/%d", v.Enterprise, v.ID)
		}
		if v.Scope {
			name = "scope" + name
		}
		var val string
		switch {
		case v.ID == IESourceIPv4Address || v.ID == IEDestinationIPv4Address ||
			v.ID == IESourceIPv6Address || v.ID == IEDestinationIPv6Address:
			val = v.Addr().String()
		case len(v.Data) <= 8:
			val = fmt.Sprint(v.Uint())
		default:
			val = fmt.Sprintf("%x", v.Data)
		}
		parts = append(parts, name+"="+val)
	}
	r.flows = append(r.flows, fmt.Sprintf("v%d t%d rate=%d rx=%d %s", f.Version, f.TemplateID, f.SamplingRate, f.Received, strings.Join(parts, " ")))
}

func (r *recorder) Lost(exporter netip.Addr, version uint16, n uint64) {
	r.lost = append(r.lost, fmt.Sprintf("%s v%d %d", exporter, version, n))
}
