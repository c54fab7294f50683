package sampler

import "encoding/binary"

// MaxHeader is the largest header snap length (sFlow agents send at most
// 256 bytes of header; hsflowd caps at the same value).
const MaxHeader = 256

// Direction of a sampled packet relative to the host, from the packet
// socket's sll_pkttype (never guessed from MAC addresses).
type Direction uint8

const (
	// In: received on the interface (PACKET_HOST, BROADCAST, MULTICAST,
	// OTHERHOST).
	In Direction = iota
	// Out: sent on the interface (PACKET_OUTGOING).
	Out
)

// Sample is one sampled packet. It is a plain value (no pointers), so it is
// copied through channels without allocating.
type Sample struct {
	IfIndex   uint32
	Direction Direction
	Link      LinkType
	// Rate is the sampling rate N in force when the packet was taken.
	Rate uint32
	// Pool is the interface's packet count (rx + tx, 32-bit wrapping) since
	// the sampler started, read when the ring block holding the sample was
	// processed: sFlow's sample_pool.
	Pool uint32
	// Drops counts samples lost so far: the socket's drops
	// (PACKET_STATISTICS) plus those the consumer reported via
	// Sampler.AddDrops.
	Drops uint32
	// FrameLen is the length of the packet as the socket saw it (link header
	// included on Ethernet, not the FCS). For a GSO/GRO packet it is the
	// length of the whole aggregate.
	FrameLen uint32
	// Segments is how many wire packets this packet stands for: 1, or the
	// number of segments of a GSO/GRO aggregate.
	Segments uint32
	// HeadersLen is the length of the link + network + transport headers
	// (0 when not parsed), which each segment of an aggregate repeats.
	HeadersLen uint16
	HeaderLen  uint16
	// TimeNs is the kernel receive timestamp, Unix nanoseconds.
	TimeNs int64
	Header [MaxHeader]byte
}

// Bytes returns the header bytes captured.
func (s *Sample) Bytes() []byte { return s.Header[:s.HeaderLen] }

// WireBytes is the number of bytes the packet took on the wire, counting
// the headers every segment of a GSO/GRO aggregate repeats (no FCS).
func (s *Sample) WireBytes() uint64 {
	if s.Segments <= 1 {
		return uint64(s.FrameLen)
	}
	return uint64(s.FrameLen) + uint64(s.Segments-1)*uint64(s.HeadersLen)
}

// headersLen returns the length of the link, network and transport headers
// at the start of b, or 0 when b is not IPv4/IPv6 carrying TCP or UDP (or
// is truncated).
func headersLen(link LinkType, b []byte) int {
	off := 0
	if link == LinkEthernet {
		if len(b) < 14 {
			return 0
		}
		et := binary.BigEndian.Uint16(b[12:])
		off = 14
		for (et == 0x8100 || et == 0x88a8) && len(b) >= off+4 {
			et = binary.BigEndian.Uint16(b[off+2:])
			off += 4
		}
		if et != 0x0800 && et != 0x86dd {
			return 0
		}
	}
	if len(b) < off+1 {
		return 0
	}
	var proto byte
	switch b[off] >> 4 {
	case 4:
		if len(b) < off+20 {
			return 0
		}
		ihl := int(b[off]&0xf) * 4
		if ihl < 20 || binary.BigEndian.Uint16(b[off+6:])&0x1fff != 0 {
			return 0
		}
		proto = b[off+9]
		off += ihl
	case 6:
		if len(b) < off+40 {
			return 0
		}
		proto = b[off+6]
		off += 40
	default:
		return 0
	}
	switch proto {
	case 6:
		if len(b) < off+13 {
			return 0
		}
		return off + int(b[off+12]>>4)*4
	case 17:
		return off + 8
	}
	return 0
}

// segments estimates how many wire packets an aggregate of frameLen bytes
// stands for. gsoSize is the segment payload size from the kernel (virtio
// net header) when known; otherwise the MTU bounds each segment.
func segments(frameLen uint32, hdrs int, gsoSize uint16, mtu, l2 uint32) uint32 {
	if hdrs == 0 || frameLen <= uint32(hdrs) {
		return 1
	}
	payload := frameLen - uint32(hdrs)
	per := uint32(gsoSize)
	if per == 0 {
		// No GSO information: only a frame larger than the MTU can be an
		// aggregate, and its segments carry MTU-sized IP packets.
		l3hdrs := uint32(hdrs) - l2
		if frameLen <= mtu+l2 || mtu <= l3hdrs {
			return 1
		}
		per = mtu - l3hdrs
	}
	return (payload + per - 1) / per
}
