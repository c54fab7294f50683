package netflow

import (
	"encoding/binary"
	"net/netip"
)

const (
	v5HeaderLen    = 24
	v5RecordLen    = 48
	v9HeaderLen    = 20
	ipfixHeaderLen = 16
)

// v5Template presents the fixed NetFlow v5 record as a template of the
// equivalent information elements, so v5 flows are mapped like v9 ones.
var v5Template = func() *template {
	t := &template{fields: []Field{
		{ID: IESourceIPv4Address, Length: 4},
		{ID: IEDestinationIPv4Address, Length: 4},
		{ID: IEIPNextHopIPv4Address, Length: 4},
		{ID: IEIngressInterface, Length: 2},
		{ID: IEEgressInterface, Length: 2},
		{ID: IEPacketDeltaCount, Length: 4},
		{ID: IEOctetDeltaCount, Length: 4},
		{ID: IEFlowStartSysUpTime, Length: 4},
		{ID: IEFlowEndSysUpTime, Length: 4},
		{ID: IESourceTransportPort, Length: 2},
		{ID: IEDestinationTransportPort, Length: 2},
		{ID: IEPaddingOctets, Length: 1},
		{ID: IETCPControlBits, Length: 1},
		{ID: IEProtocolIdentifier, Length: 1},
		{ID: IEIPClassOfService, Length: 1},
		{ID: IEBGPSourceASNumber, Length: 2},
		{ID: IEBGPDestinationASNumber, Length: 2},
		{ID: IESourceIPv4PrefixLength, Length: 1},
		{ID: IEDestinationIPv4PrefixLength, Length: 1},
		{ID: IEPaddingOctets, Length: 2},
	}}
	t.minSize = v5RecordLen
	t.sampling = compileSampling(t.fields, true)
	return t
}()

// decodeV5 decodes a NetFlow v5 packet: a 24-byte header and up to count
// fixed 48-byte records. The header's sampling interval (low 14 bits)
// applies to every record.
func (d *Decoder) decodeV5(addr netip.Addr, b []byte, now uint32, h Handler) error {
	if len(b) < v5HeaderLen {
		return errorf("short", "v5 header truncated (%d bytes)", len(b))
	}
	count := int(binary.BigEndian.Uint16(b[2:]))
	if count == 0 || v5HeaderLen+count*v5RecordLen > len(b) {
		return errorf("length", "v5 count %d does not fit %d bytes", count, len(b))
	}
	engine := uint32(b[20])<<8 | uint32(b[21])
	e, dom := d.begin(addr, 5, engine, now)
	if dom == nil {
		return nil
	}
	dom.rate = uint64(binary.BigEndian.Uint16(b[22:]) & 0x3FFF)
	hd := header{
		version:    5,
		received:   now,
		sysUptime:  binary.BigEndian.Uint32(b[4:]),
		exportTime: binary.BigEndian.Uint32(b[8:]),
	}
	seq := binary.BigEndian.Uint32(b[16:])
	d.sequence(dom, addr, seq, seq+uint32(count), true, h)
	_, err := d.dataSet(e, dom, v5Template, b[v5HeaderLen:v5HeaderLen+count*v5RecordLen], &hd, h)
	return err
}

// decodeV9 decodes a NetFlow v9 packet (RFC 3954): a 20-byte header and
// flowsets until the end of the datagram. The header count is not
// trusted (exporters disagree on what it counts).
func (d *Decoder) decodeV9(addr netip.Addr, b []byte, now uint32, h Handler) error {
	if len(b) < v9HeaderLen {
		return errorf("short", "v9 header truncated (%d bytes)", len(b))
	}
	hd := header{
		version:    9,
		received:   now,
		sysUptime:  binary.BigEndian.Uint32(b[4:]),
		exportTime: binary.BigEndian.Uint32(b[8:]),
	}
	seq := binary.BigEndian.Uint32(b[12:])
	e, dom := d.begin(addr, 9, binary.BigEndian.Uint32(b[16:]), now)
	if dom == nil {
		return nil
	}
	// v9 sequence numbers count export packets.
	d.sequence(dom, addr, seq, seq+1, true, h)
	_, _, err := d.sets(e, dom, b[v9HeaderLen:], &hd, h)
	return err
}

// decodeIPFIX decodes an IPFIX message (RFC 7011): a 16-byte header
// whose length bounds the sets.
func (d *Decoder) decodeIPFIX(addr netip.Addr, b []byte, now uint32, h Handler) error {
	if len(b) < ipfixHeaderLen {
		return errorf("short", "IPFIX header truncated (%d bytes)", len(b))
	}
	length := int(binary.BigEndian.Uint16(b[2:]))
	if length < ipfixHeaderLen || length > len(b) {
		return errorf("length", "IPFIX length %d, datagram %d bytes", length, len(b))
	}
	hd := header{version: 10, received: now, exportTime: binary.BigEndian.Uint32(b[4:])}
	seq := binary.BigEndian.Uint32(b[8:])
	e, dom := d.begin(addr, 10, binary.BigEndian.Uint32(b[12:]), now)
	if dom == nil {
		return nil
	}
	records, complete, err := d.sets(e, dom, b[ipfixHeaderLen:length], &hd, h)
	// IPFIX sequence numbers count data records (flows and options).
	d.sequence(dom, addr, seq, seq+uint32(records), complete && err == nil, h)
	return err
}

// sets walks the sets of a v9 or IPFIX packet. It returns the number of
// data records read and whether that count is complete (no set held or
// dropped for want of a template).
func (d *Decoder) sets(e *exporter, dom *domain, b []byte, hd *header, h Handler) (int, bool, error) {
	ipfix := hd.version == 10
	records, complete := 0, true
	for len(b) > 0 {
		if len(b) < 4 {
			if !ipfix {
				break // v9 allows padding after the last flowset
			}
			return records, complete, errorf("set", "%d trailing bytes after the last set", len(b))
		}
		id := binary.BigEndian.Uint16(b)
		l := int(binary.BigEndian.Uint16(b[2:]))
		if l < 4 || l > len(b) {
			return records, complete, errorf("set", "set %d length %d, %d bytes left", id, l, len(b))
		}
		body := b[4:l]
		b = b[l:]
		var err error
		switch {
		case ipfix && id == setTemplate, !ipfix && id == setV9Template:
			err = d.templateSet(e, dom, body, ipfix, false, h)
		case ipfix && id == setOptionsTemplate, !ipfix && id == setV9OptionsTemplate:
			err = d.templateSet(e, dom, body, ipfix, true, h)
		case id < minDataSetID:
			// Reserved set ids: skipped, as RFC 7011 §3.3.2 asks.
		default:
			t := dom.templates[id]
			if t == nil {
				d.hold(e, dom, id, body, hd)
				complete = false
				continue
			}
			var n int
			n, err = d.dataSet(e, dom, t, body, hd, h)
			records += n
		}
		if err != nil {
			return records, complete, err
		}
	}
	return records, complete, nil
}
