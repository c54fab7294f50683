// Package packet extracts the L2–L4 fields flow collectors need from the
// first bytes of a packet (an sFlow sampled header, a pcap snapshot): MAC
// addresses, VLAN tags, MPLS labels, IPv4/IPv6 addresses and header fields,
// IPv6 extension headers, fragments, TCP/UDP/SCTP/DCCP ports, TCP flags and
// ICMP type/code. Packets may start with an Ethernet header, an IP header
// (tun devices), an MPLS label stack or a PPP frame.
//
// Parse fills a caller-owned Header and never allocates. It does not need the
// whole packet: a header cut short (a 128-byte sample of an IPv6 packet with
// long extension headers) yields every field that was present plus
// ErrTruncated. Malformed input yields an error, never a panic.
//
// The package has no dependencies beyond the standard library so that other
// programs can use it on its own.
package packet

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// LinkType says what the first byte of the data is.
type LinkType uint8

const (
	// LinkEthernet: an Ethernet II / 802.3 frame without preamble or FCS,
	// possibly with 802.1Q, 802.1ad (QinQ), 0x9100 VLAN tags, MPLS or PPPoE.
	LinkEthernet LinkType = iota + 1
	// LinkIPv4: a bare IPv4 header (sFlow header_protocol 11, DLT_RAW).
	LinkIPv4
	// LinkIPv6: a bare IPv6 header (sFlow header_protocol 12).
	LinkIPv6
	// LinkIP: a bare IP header whose version nibble picks IPv4 or IPv6
	// (Linux tun devices, DLT_RAW captures).
	LinkIP
	// LinkMPLS: an MPLS label stack (sFlow header_protocol 13).
	LinkMPLS
	// LinkPPP: a PPP frame, with or without the RFC 1662 address and
	// control bytes (sFlow header_protocol 7).
	LinkPPP
)

// EtherTypes this package recognises.
const (
	ETypeIPv4      uint16 = 0x0800
	ETypeARP       uint16 = 0x0806
	ETypeVLAN      uint16 = 0x8100 // 802.1Q
	ETypeQinQ      uint16 = 0x88a8 // 802.1ad service tag
	ETypeQinQOld   uint16 = 0x9100 // pre-standard QinQ
	ETypeIPv6      uint16 = 0x86dd
	ETypeMPLS      uint16 = 0x8847
	ETypeMPLSMcast uint16 = 0x8848
	ETypePPPoE     uint16 = 0x8864 // PPPoE session stage
)

// IP protocol numbers this package decodes past.
const (
	ProtoICMP    uint8 = 1
	ProtoTCP     uint8 = 6
	ProtoUDP     uint8 = 17
	ProtoDCCP    uint8 = 33
	ProtoESP     uint8 = 50
	ProtoAH      uint8 = 51
	ProtoICMPv6  uint8 = 58
	ProtoNoNext  uint8 = 59
	ProtoSCTP    uint8 = 132
	ProtoUDPLite uint8 = 136
)

// Layer is a bit set of the headers Parse decoded completely enough to fill
// their fields.
type Layer uint16

const (
	LayerEthernet Layer = 1 << iota
	LayerVLAN           // at least one VLAN tag
	LayerMPLS           // at least one MPLS label stack entry
	LayerPPPoE          // PPPoE session header
	LayerIPv4
	LayerIPv6
	LayerFragment // the IP packet is a fragment (IPv6: has a fragment header)
	LayerL4       // ports (TCP, UDP, SCTP, DCCP, UDP-Lite) or ICMP type/code were read
)

// Limits on stacked headers: deeper stacks stop parsing with ErrTooDeep, so
// the work per packet is bounded whatever the input.
const (
	MaxVLANTags  = 4
	MaxMPLSDepth = 16
	MaxIPv6Ext   = 8
)

// Errors returned by Parse. Fields decoded before the error stay set.
var (
	ErrTruncated   = errors.New("packet: header truncated")
	ErrUnknownLink = errors.New("packet: unknown link type")
	ErrIPVersion   = errors.New("packet: unexpected IP version")
	ErrMalformed   = errors.New("packet: malformed header")
	ErrTooDeep     = errors.New("packet: too many stacked headers")
)

// Header holds what Parse extracts. The zero value means "not present".
type Header struct {
	Layers Layer

	// L2. MAC addresses are the 48-bit address as an integer
	// (00:11:22:33:44:55 = 0x001122334455).
	DstMAC, SrcMAC uint64
	// VLAN is the outermost VLAN id (12 bits) and VLANPriority its PCP;
	// InnerVLAN the second tag's id (QinQ). VLANTags counts all tags.
	VLAN, InnerVLAN uint16
	VLANPriority    uint8
	VLANTags        uint8
	// MPLS label stack: number of entries and the outermost label (20 bits).
	MPLSLabels   uint8
	MPLSTopLabel uint32
	// EType is the EtherType of the network layer: 0x0800 or 0x86dd when an
	// IP header was found (also under MPLS, PPPoE or for raw IP links), the
	// last EtherType seen otherwise (0x0806 ARP, 0x8847 MPLS carrying
	// something other than IP, ...), 0 for 802.3 length-field frames.
	EType uint16

	// Offsets of the network and transport headers from the start of the
	// data (0 when not reached).
	L3Offset, L4Offset uint16

	// L3.
	SrcAddr, DstAddr netip.Addr
	// Proto is the upper-layer protocol: for IPv6 the Next Header value
	// where the extension-header walk stopped (50 for ESP, the header type
	// itself when the data ends inside an extension header).
	Proto uint8
	TOS   uint8 // IPv4 ToS / IPv6 traffic class (DSCP + ECN)
	TTL   uint8 // IPv4 TTL / IPv6 hop limit
	// IPLength is the length of the whole IP packet from its header
	// (IPv4 total length, IPv6 40 + payload length; 0 for IPv6 jumbograms),
	// to estimate the original L3 size of a truncated sample.
	IPLength  uint32
	FlowLabel uint32 // IPv6 flow label (20 bits)
	// Fragments: FragID is the IPv4 identification (16 bits) or the IPv6
	// fragment header identification (32 bits); FragOffset is in 8-octet
	// units as on the wire. Non-first fragments (FragOffset > 0) carry no
	// L4 header, so ports stay 0.
	FragID        uint32
	FragOffset    uint16
	MoreFragments bool
	DontFragment  bool

	// L4.
	SrcPort, DstPort uint16
	// TCPFlags holds the low 12 bits of TCP header bytes 12–13 (AE/NS, CWR,
	// ECE, URG, ACK, PSH, RST, SYN, FIN), as IPFIX tcpControlBits.
	TCPFlags           uint16
	ICMPType, ICMPCode uint8
}

// Parse decodes data of the given link type into h, which it resets first.
// It returns nil when every header it reached was complete, ErrTruncated
// when the data ended inside a header (the fields before that point are
// set), or another error for input it cannot make sense of.
func Parse(link LinkType, data []byte, h *Header) error {
	*h = Header{}
	switch link {
	case LinkEthernet:
		return h.ethernet(data)
	case LinkIPv4:
		h.EType = ETypeIPv4
		return h.ipv4(data, 0)
	case LinkIPv6:
		h.EType = ETypeIPv6
		return h.ipv6(data, 0)
	case LinkIP:
		return h.ip(data, 0)
	case LinkMPLS:
		h.EType = ETypeMPLS
		return h.mpls(data, 0)
	case LinkPPP:
		return h.ppp(data, 0)
	}
	return ErrUnknownLink
}

// ip dispatches on the version nibble at off.
func (h *Header) ip(b []byte, off int) error {
	if off >= len(b) {
		return ErrTruncated
	}
	switch b[off] >> 4 {
	case 4:
		h.EType = ETypeIPv4
		return h.ipv4(b, off)
	case 6:
		h.EType = ETypeIPv6
		return h.ipv6(b, off)
	}
	return ErrIPVersion
}

func mac(b []byte) uint64 {
	_ = b[5]
	return uint64(b[0])<<40 | uint64(b[1])<<32 | uint64(b[2])<<24 |
		uint64(b[3])<<16 | uint64(b[4])<<8 | uint64(b[5])
}

func (h *Header) ethernet(b []byte) error {
	if len(b) < 12 {
		return ErrTruncated
	}
	h.DstMAC = mac(b[0:6])
	h.SrcMAC = mac(b[6:12])
	h.Layers |= LayerEthernet
	off := 12
	for {
		if len(b) < off+2 {
			return ErrTruncated
		}
		et := binary.BigEndian.Uint16(b[off:])
		off += 2
		switch et {
		case ETypeVLAN, ETypeQinQ, ETypeQinQOld:
			if h.VLANTags == MaxVLANTags {
				h.EType = et
				return ErrTooDeep
			}
			if len(b) < off+2 {
				h.EType = et
				return ErrTruncated
			}
			tci := binary.BigEndian.Uint16(b[off:])
			switch h.VLANTags {
			case 0:
				h.VLAN = tci & 0x0fff
				h.VLANPriority = uint8(tci >> 13)
			case 1:
				h.InnerVLAN = tci & 0x0fff
			}
			h.VLANTags++
			h.Layers |= LayerVLAN
			off += 2
		case ETypeIPv4:
			h.EType = et
			return h.ipv4(b, off)
		case ETypeIPv6:
			h.EType = et
			return h.ipv6(b, off)
		case ETypeMPLS, ETypeMPLSMcast:
			h.EType = et
			return h.mpls(b, off)
		case ETypePPPoE:
			h.EType = et
			return h.pppoe(b, off)
		default:
			if et >= 0x0600 {
				h.EType = et
			}
			return nil
		}
	}
}

// mpls walks the label stack to the bottom-of-stack entry. RFC 3032 gives no
// payload type: like routers doing ECMP hashing, a first nibble of 4 or 6
// is taken as IPv4 or IPv6; anything else (pseudowires, control words)
// stops here with EType still MPLS.
func (h *Header) mpls(b []byte, off int) error {
	for {
		if len(b) < off+4 {
			return ErrTruncated
		}
		if h.MPLSLabels == MaxMPLSDepth {
			return ErrTooDeep
		}
		e := binary.BigEndian.Uint32(b[off:])
		if h.MPLSLabels == 0 {
			h.MPLSTopLabel = e >> 12
		}
		h.MPLSLabels++
		h.Layers |= LayerMPLS
		off += 4
		if e&0x100 != 0 {
			break
		}
	}
	if off >= len(b) {
		return ErrTruncated
	}
	switch b[off] >> 4 {
	case 4, 6:
		return h.ip(b, off)
	}
	return nil
}

// pppoe decodes a PPPoE session header (RFC 2516) and the PPP frame that
// follows it.
func (h *Header) pppoe(b []byte, off int) error {
	if len(b) < off+6 {
		return ErrTruncated
	}
	h.Layers |= LayerPPPoE
	return h.ppp(b, off+6)
}

// ppp decodes a PPP frame: optional address and control bytes (0xff 0x03,
// RFC 1662), then the protocol, one byte when compressed (odd value).
func (h *Header) ppp(b []byte, off int) error {
	if len(b) > off && b[off] == 0xff { // no protocol starts with 0xff
		if len(b) < off+2 {
			return ErrTruncated
		}
		if b[off+1] == 0x03 {
			off += 2
		}
	}
	if len(b) < off+1 {
		return ErrTruncated
	}
	proto := uint16(b[off])
	if proto&1 == 0 {
		if len(b) < off+2 {
			return ErrTruncated
		}
		proto = binary.BigEndian.Uint16(b[off:])
		off++
	}
	off++
	switch proto {
	case 0x0021:
		h.EType = ETypeIPv4
		return h.ipv4(b, off)
	case 0x0057:
		h.EType = ETypeIPv6
		return h.ipv6(b, off)
	case 0x0281:
		h.EType = ETypeMPLS
		return h.mpls(b, off)
	case 0x0283:
		h.EType = ETypeMPLSMcast
		return h.mpls(b, off)
	}
	return nil
}

func (h *Header) ipv4(b []byte, off int) error {
	if len(b) < off+20 {
		return ErrTruncated
	}
	p := b[off : off+20]
	if p[0]>>4 != 4 {
		return ErrIPVersion
	}
	h.L3Offset = uint16(off)
	h.TOS = p[1]
	h.IPLength = uint32(binary.BigEndian.Uint16(p[2:]))
	h.FragID = uint32(binary.BigEndian.Uint16(p[4:]))
	frag := binary.BigEndian.Uint16(p[6:])
	h.DontFragment = frag&0x4000 != 0
	h.MoreFragments = frag&0x2000 != 0
	h.FragOffset = frag & 0x1fff
	h.TTL = p[8]
	h.Proto = p[9]
	h.SrcAddr = netip.AddrFrom4([4]byte(p[12:16]))
	h.DstAddr = netip.AddrFrom4([4]byte(p[16:20]))
	h.Layers |= LayerIPv4
	if h.MoreFragments || h.FragOffset != 0 {
		h.Layers |= LayerFragment
		if h.FragOffset != 0 {
			return nil
		}
	}
	ihl := int(p[0]&0x0f) * 4
	if ihl < 20 {
		return ErrMalformed
	}
	return h.l4(b, off+ihl)
}

func (h *Header) ipv6(b []byte, off int) error {
	if len(b) < off+40 {
		return ErrTruncated
	}
	p := b[off : off+40]
	if p[0]>>4 != 6 {
		return ErrIPVersion
	}
	h.L3Offset = uint16(off)
	vtf := binary.BigEndian.Uint32(p)
	h.TOS = uint8(vtf >> 20)
	h.FlowLabel = vtf & 0xfffff
	if pl := binary.BigEndian.Uint16(p[4:]); pl != 0 {
		h.IPLength = 40 + uint32(pl)
	}
	h.TTL = p[7]
	h.SrcAddr = netip.AddrFrom16([16]byte(p[8:24]))
	h.DstAddr = netip.AddrFrom16([16]byte(p[24:40]))
	h.Layers |= LayerIPv6
	next := p[6]
	off += 40
	for range MaxIPv6Ext {
		h.Proto = next
		var size int
		switch next {
		case 0, 43, 60, 135, 139, 140, 253, 254:
			// Hop-by-hop, routing, destination options, mobility, HIP,
			// shim6, experimental: RFC 8200 §4 generic layout.
			if len(b) < off+2 {
				return ErrTruncated
			}
			size = (int(b[off+1]) + 1) * 8
		case ProtoAH:
			// RFC 4302: length in 4-octet units, minus 2.
			if len(b) < off+2 {
				return ErrTruncated
			}
			size = (int(b[off+1]) + 2) * 4
		case 44:
			if len(b) < off+8 {
				return ErrTruncated
			}
			fo := binary.BigEndian.Uint16(b[off+2:])
			h.FragOffset = fo >> 3
			h.MoreFragments = fo&1 != 0
			h.FragID = binary.BigEndian.Uint32(b[off+4:])
			h.Layers |= LayerFragment
			if h.FragOffset != 0 {
				h.Proto = b[off]
				return nil
			}
			size = 8
		default:
			// Upper layer, ESP (encrypted from here) or no next header.
			return h.l4(b, off)
		}
		next = b[off]
		off += size
	}
	h.Proto = next
	return ErrTooDeep
}

// l4 reads the transport header of protocol h.Proto at off.
// Offsets stay far below 64 KiB: the header stacks are bounded (at most
// MaxIPv6Ext extension headers of at most 2 KiB each).
func (h *Header) l4(b []byte, off int) error {
	switch h.Proto {
	case ProtoTCP, ProtoUDP, ProtoSCTP, ProtoDCCP, ProtoUDPLite:
		h.L4Offset = uint16(off)
		if len(b) < off+4 {
			return ErrTruncated
		}
		h.SrcPort = binary.BigEndian.Uint16(b[off:])
		h.DstPort = binary.BigEndian.Uint16(b[off+2:])
		h.Layers |= LayerL4
		if h.Proto == ProtoTCP {
			if len(b) < off+14 {
				return ErrTruncated
			}
			h.TCPFlags = binary.BigEndian.Uint16(b[off+12:]) & 0x0fff
		}
	case ProtoICMP, ProtoICMPv6:
		h.L4Offset = uint16(off)
		if len(b) < off+2 {
			return ErrTruncated
		}
		h.ICMPType = b[off]
		h.ICMPCode = b[off+1]
		h.Layers |= LayerL4
	}
	return nil
}
