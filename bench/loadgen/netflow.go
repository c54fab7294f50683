package main

import (
	"encoding/binary"
	"fmt"
)

// A minimal NetFlow v9 encoder (RFC 3954): what a router sends, a template
// FlowSet for IPv4 and one for IPv6 flows, and data FlowSets of records.

// NetFlow v9 field types used here (RFC 3954 section 8).
const (
	nfInBytes      = 1
	nfInPkts       = 2
	nfProtocol     = 4
	nfSrcTOS       = 5
	nfTCPFlags     = 6
	nfL4SrcPort    = 7
	nfIPv4SrcAddr  = 8
	nfSrcMask      = 9
	nfInputSNMP    = 10
	nfL4DstPort    = 11
	nfIPv4DstAddr  = 12
	nfDstMask      = 13
	nfOutputSNMP   = 14
	nfIPv4NextHop  = 15
	nfLastSwitched = 21
	nfFirstSwitch  = 22
	nfIPv6SrcAddr  = 27
	nfIPv6DstAddr  = 28
	nfIPv6SrcMask  = 29
	nfIPv6DstMask  = 30
	nfIPv6FlowLbl  = 31
)

const (
	v9HeaderLen   = 20
	v9TemplateSet = 0 // FlowSet ID of template FlowSets
)

// v9Field is a field specifier: type and length in bytes.
type v9Field struct{ typ, length uint16 }

// v9Template is a data template and the length of its records.
type v9Template struct {
	id     uint16
	fields []v9Field
	size   int
}

func newV9Template(id uint16, fields ...v9Field) *v9Template {
	t := &v9Template{id: id, fields: fields}
	for _, f := range fields {
		t.size += int(f.length)
	}
	return t
}

// The two templates of a typical router export: IPv4 records of 45 bytes
// and IPv6 records of 68 bytes.
var (
	v9IPv4 = newV9Template(256,
		v9Field{nfIPv4SrcAddr, 4}, v9Field{nfIPv4DstAddr, 4}, v9Field{nfL4SrcPort, 2}, v9Field{nfL4DstPort, 2},
		v9Field{nfProtocol, 1}, v9Field{nfSrcTOS, 1}, v9Field{nfTCPFlags, 1}, v9Field{nfInBytes, 4}, v9Field{nfInPkts, 4},
		v9Field{nfInputSNMP, 4}, v9Field{nfOutputSNMP, 4}, v9Field{nfSrcMask, 1}, v9Field{nfDstMask, 1},
		v9Field{nfIPv4NextHop, 4}, v9Field{nfFirstSwitch, 4}, v9Field{nfLastSwitched, 4})
	v9IPv6 = newV9Template(257,
		v9Field{nfIPv6SrcAddr, 16}, v9Field{nfIPv6DstAddr, 16}, v9Field{nfL4SrcPort, 2}, v9Field{nfL4DstPort, 2},
		v9Field{nfProtocol, 1}, v9Field{nfSrcTOS, 1}, v9Field{nfTCPFlags, 1}, v9Field{nfInBytes, 4}, v9Field{nfInPkts, 4},
		v9Field{nfInputSNMP, 4}, v9Field{nfOutputSNMP, 4}, v9Field{nfIPv6SrcMask, 1}, v9Field{nfIPv6DstMask, 1},
		v9Field{nfIPv6FlowLbl, 3}, v9Field{nfFirstSwitch, 4}, v9Field{nfLastSwitched, 4})
)

// appendV9Header appends a packet header announcing count records
// (template and data records alike, as RFC 3954 counts them).
func appendV9Header(b []byte, count uint16, uptime, unixSecs, seq, sourceID uint32) []byte {
	b = binary.BigEndian.AppendUint16(b, 9)
	b = binary.BigEndian.AppendUint16(b, count)
	b = binary.BigEndian.AppendUint32(b, uptime)
	b = binary.BigEndian.AppendUint32(b, unixSecs)
	b = binary.BigEndian.AppendUint32(b, seq)
	return binary.BigEndian.AppendUint32(b, sourceID)
}

// appendV9TemplateSet appends one template FlowSet holding ts.
func appendV9TemplateSet(b []byte, ts ...*v9Template) []byte {
	start := len(b)
	b = binary.BigEndian.AppendUint16(b, v9TemplateSet)
	b = binary.BigEndian.AppendUint16(b, 0)
	for _, t := range ts {
		b = binary.BigEndian.AppendUint16(b, t.id)
		b = binary.BigEndian.AppendUint16(b, uint16(len(t.fields)))
		for _, f := range t.fields {
			b = binary.BigEndian.AppendUint16(b, f.typ)
			b = binary.BigEndian.AppendUint16(b, f.length)
		}
	}
	binary.BigEndian.PutUint16(b[start+2:], uint16(len(b)-start))
	return b
}

// v9SetLen is the length of a data FlowSet of n records of t, padded to
// 32 bits as RFC 3954 recommends.
func v9SetLen(t *v9Template, n int) int {
	if n == 0 {
		return 0
	}
	return (4 + n*t.size + 3) &^ 3
}

// appendV9DataSet appends a data FlowSet of t's records for flows.
func appendV9DataSet(b []byte, t *v9Template, flows []flowSpec) ([]byte, error) {
	if len(flows) == 0 {
		return b, nil
	}
	start := len(b)
	b = binary.BigEndian.AppendUint16(b, t.id)
	b = binary.BigEndian.AppendUint16(b, 0)
	for i := range flows {
		var err error
		if b, err = t.appendRecord(b, &flows[i]); err != nil {
			return nil, err
		}
	}
	for (len(b)-start)%4 != 0 {
		b = append(b, 0)
	}
	binary.BigEndian.PutUint16(b[start+2:], uint16(len(b)-start))
	return b, nil
}

// appendRecord appends f as one record of t. Integers are written
// big-endian in the field's length.
func (t *v9Template) appendRecord(b []byte, f *flowSpec) ([]byte, error) {
	for _, fl := range t.fields {
		var v uint64
		switch fl.typ {
		case nfIPv4SrcAddr, nfIPv6SrcAddr, nfIPv4DstAddr, nfIPv6DstAddr, nfIPv4NextHop:
			a := f.src
			switch fl.typ {
			case nfIPv4DstAddr, nfIPv6DstAddr:
				a = f.dst
			case nfIPv4NextHop:
				a = f.nextHop
			}
			if a.BitLen()/8 != int(fl.length) {
				return nil, fmt.Errorf("netflow v9 field %d: %s is not %d bytes", fl.typ, a, fl.length)
			}
			b = append(b, a.AsSlice()...)
			continue
		case nfL4SrcPort:
			v = uint64(f.sport)
		case nfL4DstPort:
			v = uint64(f.dport)
		case nfProtocol:
			v = uint64(f.proto)
		case nfSrcTOS:
			v = uint64(f.tos)
		case nfTCPFlags:
			v = uint64(f.tcpFlags)
		case nfInBytes:
			v = uint64(f.bytes)
		case nfInPkts:
			v = uint64(f.packets)
		case nfInputSNMP:
			v = uint64(f.inIf)
		case nfOutputSNMP:
			v = uint64(f.outIf)
		case nfSrcMask, nfIPv6SrcMask:
			v = uint64(f.srcMask)
		case nfDstMask, nfIPv6DstMask:
			v = uint64(f.dstMask)
		case nfIPv6FlowLbl:
			v = uint64(f.flowLabel)
		case nfFirstSwitch:
			v = uint64(f.first)
		case nfLastSwitched:
			v = uint64(f.last)
		default:
			return nil, fmt.Errorf("netflow v9 field %d: not supported", fl.typ)
		}
		for i := int(fl.length) - 1; i >= 0; i-- {
			b = append(b, byte(v>>(8*i)))
		}
	}
	return b, nil
}

// netflowOptions shape the NetFlow v9 datagrams.
type netflowOptions struct {
	exporters int     // exporters (source IDs), spread over the sockets
	maxSize   int     // datagram size limit
	ipv6Share float64 // share of IPv6 flows
	hosts     int
}

// buildNetFlow pre-builds about size data datagrams for the given number of
// sockets, plus each exporter's template datagram. Packets are filled with
// IPv4 and IPv6 records up to maxSize bytes (about 28 flows in 1400 bytes).
func buildNetFlow(seed uint64, sockets, size int, o netflowOptions) (*pool, error) {
	if v9HeaderLen+v9SetLen(v9IPv6, 1) > o.maxSize {
		return nil, fmt.Errorf("max size %d cannot hold one record", o.maxSize)
	}
	gen := newFlowGen(seed, o.hosts, o.ipv6Share)
	p := &pool{perSocket: make([][]*dgram, sockets), templates: make([][]*dgram, sockets)}
	perExporter := make([][]*dgram, o.exporters)
	streams := make([]*stream, o.exporters)
	for e := range o.exporters {
		// v9 headers carry the sequence number at offset 12.
		streams[e] = &stream{kind: protoNetFlow, seqOff: 12}
		t := appendV9TemplateSet(appendV9Header(nil, 2, 0, 0, 0, uint32(e+1)), v9IPv4, v9IPv6)
		p.templates[e%sockets] = append(p.templates[e%sockets], &dgram{b: t, stream: streams[e]})
	}
	var v4, v6 []flowSpec
	var f flowSpec
	for built := 0; built < size; {
		for e := range o.exporters {
			v4, v6 = v4[:0], v6[:0]
			for {
				gen.next(&f)
				f.last = uint32(gen.rng.IntN(3_600_000))
				f.first = f.last - min(f.last, uint32(gen.rng.IntN(60_000)))
				n4, n6 := len(v4), len(v6)
				if f.src.Is4() {
					n4++
				} else {
					n6++
				}
				if v9HeaderLen+v9SetLen(v9IPv4, n4)+v9SetLen(v9IPv6, n6) > o.maxSize {
					break // this flow is dropped: the next packet draws new ones
				}
				if f.src.Is4() {
					v4 = append(v4, f)
				} else {
					v6 = append(v6, f)
				}
			}
			b := appendV9Header(make([]byte, 0, o.maxSize), uint16(len(v4)+len(v6)), 0, 0, 0, uint32(e+1))
			var err error
			if b, err = appendV9DataSet(b, v9IPv4, v4); err != nil {
				return nil, err
			}
			if b, err = appendV9DataSet(b, v9IPv6, v6); err != nil {
				return nil, err
			}
			d := &dgram{b: b, flows: len(v4) + len(v6), stream: streams[e]}
			for i := range v4 {
				d.packets += uint64(v4[i].packets)
			}
			for i := range v6 {
				d.packets += uint64(v6[i].packets)
			}
			perExporter[e] = append(perExporter[e], d)
			built++
		}
	}
	for k := 0; k < len(perExporter[0]); k++ {
		for e := range o.exporters {
			if k < len(perExporter[e]) {
				p.perSocket[e%sockets] = append(p.perSocket[e%sockets], perExporter[e][k])
			}
		}
	}
	return p, nil
}
