package packet

import (
	"encoding/binary"
	"net"
	"net/netip"
)

// Builders for test packets: each returns the wire bytes of one header,
// written field by field from the RFC layouts so a reader can check them.

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

func macBytes(s string) []byte {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// eth is the 12 address bytes of an Ethernet header; the EtherType (or the
// first VLAN TPID) follows as u16.
func eth(dst, src string) []byte { return cat(macBytes(dst), macBytes(src)) }

func tag(tpid uint16, pcp uint8, vid uint16) []byte {
	return cat(u16(tpid), u16(uint16(pcp)<<13|vid))
}

func mplsEntry(label uint32, bos bool, ttl uint8) []byte {
	e := label<<12 | uint32(ttl)
	if bos {
		e |= 0x100
	}
	return binary.BigEndian.AppendUint32(nil, e)
}

type v4 struct {
	tos         uint8
	id          uint16
	df, mf      bool
	fragOffset  uint16 // 8-octet units
	ttl, proto  uint8
	src, dst    string
	options     []byte
	payloadSize int
}

func (h v4) bytes() []byte {
	ihl := 20 + len(h.options)
	b := make([]byte, 20, ihl)
	b[0] = 0x40 | byte(ihl/4)
	b[1] = h.tos
	binary.BigEndian.PutUint16(b[2:], uint16(ihl+h.payloadSize))
	binary.BigEndian.PutUint16(b[4:], h.id)
	frag := h.fragOffset
	if h.df {
		frag |= 0x4000
	}
	if h.mf {
		frag |= 0x2000
	}
	binary.BigEndian.PutUint16(b[6:], frag)
	b[8], b[9] = h.ttl, h.proto
	s, d := netip.MustParseAddr(h.src).As4(), netip.MustParseAddr(h.dst).As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	b = append(b, h.options...)
	var sum uint32
	for i := 0; i < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	binary.BigEndian.PutUint16(b[10:], ^uint16(sum))
	return b
}

type v6 struct {
	tc          uint8
	flow        uint32
	payloadSize uint16
	next, hlim  uint8
	src, dst    string
}

func (h v6) bytes() []byte {
	b := make([]byte, 40)
	binary.BigEndian.PutUint32(b, 6<<28|uint32(h.tc)<<20|h.flow)
	binary.BigEndian.PutUint16(b[4:], h.payloadSize)
	b[6], b[7] = h.next, h.hlim
	s, d := netip.MustParseAddr(h.src).As16(), netip.MustParseAddr(h.dst).As16()
	copy(b[8:], s[:])
	copy(b[24:], d[:])
	return b
}

// ext6 is a generic IPv6 extension header of (len+1)*8 bytes.
func ext6(next uint8, units uint8) []byte {
	b := make([]byte, (int(units)+1)*8)
	b[0], b[1] = next, units
	b[2] = 1 // PadN option type for hop-by-hop/dest options
	b[3] = byte(len(b) - 4)
	return b
}

func frag6(next uint8, offset uint16, more bool, id uint32) []byte {
	b := make([]byte, 8)
	b[0] = next
	fo := offset << 3
	if more {
		fo |= 1
	}
	binary.BigEndian.PutUint16(b[2:], fo)
	binary.BigEndian.PutUint32(b[4:], id)
	return b
}

// ah6 is an Authentication Header with a 96-bit ICV (RFC 4302): 24 bytes,
// payload length field 4.
func ah6(next uint8) []byte {
	b := make([]byte, 24)
	b[0], b[1] = next, 4
	binary.BigEndian.PutUint32(b[4:], 0x1000) // SPI
	binary.BigEndian.PutUint32(b[8:], 7)      // sequence
	return b
}

func tcp(sport, dport uint16, flags uint16) []byte {
	b := make([]byte, 20)
	binary.BigEndian.PutUint16(b, sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint32(b[4:], 0x01020304)
	binary.BigEndian.PutUint16(b[12:], 5<<12|flags)
	binary.BigEndian.PutUint16(b[14:], 64240)
	return b
}

func udp(sport, dport uint16, payload int) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint16(b, sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint16(b[4:], uint16(8+payload))
	return b
}

func icmp(typ, code uint8) []byte { return []byte{typ, code, 0, 0, 0, 1, 0, 1} }

func zeros(n int) []byte { return make([]byte, n) }
