package decoder

import (
	"net/netip"

	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/netflow"
)

// fallbacks collects elements used only when the preferred one is absent
// from the record (they can come in any order), and the reverse elements
// of biflows.
type fallbacks struct {
	have                     uint16 // bits below: preferred elements seen
	totalBytes, totalPackets uint64 // octetTotalCount, packetTotalCount
	postBytes, postPackets   uint64 // postOctetDeltaCount, postPacketDeltaCount
	physIn, physOut          uint32 // ingress/egressPhysicalInterface
	bgpNextHop               netip.Addr
	dot1qVlan, postDot1qVlan uint16
	postSrcMAC, postDstMAC   uint64
	minTTL                   uint8
	ipVersion                uint8
	icmp                     bool // an ICMP type/code element was present
	rev                      reverse
}

const (
	haveBytes = 1 << iota
	havePackets
	haveInIf
	haveOutIf
	haveNextHop
	haveSrcVlan
	haveDstVlan
	haveSrcMAC
	haveDstMAC
	haveTTL
)

// mapField maps one IANA element onto r (RFC 7012 numbering; NetFlow v9
// field types are the same numbers).
func mapField(r *flow.Record, fb *fallbacks, v *netflow.Value) {
	switch v.ID {
	case netflow.IESourceIPv4Address, netflow.IESourceIPv6Address:
		r.SrcAddr = v.Addr()
	case netflow.IEDestinationIPv4Address, netflow.IEDestinationIPv6Address:
		r.DstAddr = v.Addr()
	case netflow.IESourceTransportPort:
		r.SrcPort = uint16(v.Uint())
	case netflow.IEDestinationTransportPort:
		r.DstPort = uint16(v.Uint())
	case netflow.IEProtocolIdentifier:
		r.Proto = uint8(v.Uint())
	case netflow.IEIPClassOfService:
		r.IPTos = uint8(v.Uint())
	case netflow.IETCPControlBits:
		r.TCPFlags = uint16(v.Uint())
	case netflow.IEOctetDeltaCount:
		r.Bytes, fb.have = v.Uint(), fb.have|haveBytes
	case netflow.IEPacketDeltaCount:
		r.Packets, fb.have = v.Uint(), fb.have|havePackets
	case netflow.IEOctetTotalCount:
		fb.totalBytes = v.Uint()
	case netflow.IEPacketTotalCount:
		fb.totalPackets = v.Uint()
	case netflow.IEPostOctetDeltaCount:
		fb.postBytes = v.Uint()
	case netflow.IEPostPacketDeltaCount:
		fb.postPackets = v.Uint()
	case netflow.IEIngressInterface:
		r.InIf, fb.have = uint32(v.Uint()), fb.have|haveInIf
	case netflow.IEEgressInterface:
		r.OutIf, fb.have = uint32(v.Uint()), fb.have|haveOutIf
	case netflow.IEIngressPhysicalInterface:
		fb.physIn = uint32(v.Uint())
	case netflow.IEEgressPhysicalInterface:
		fb.physOut = uint32(v.Uint())
	case netflow.IEBGPSourceASNumber:
		r.SrcAS = uint32(v.Uint())
	case netflow.IEBGPDestinationASNumber:
		r.DstAS = uint32(v.Uint())
	case netflow.IESourceIPv4PrefixLength, netflow.IESourceIPv6PrefixLength:
		r.SrcNetMask = uint8(v.Uint())
	case netflow.IEDestinationIPv4PrefixLength, netflow.IEDestinationIPv6PrefixLength:
		r.DstNetMask = uint8(v.Uint())
	case netflow.IEIPNextHopIPv4Address, netflow.IEIPNextHopIPv6Address:
		r.NextHop, fb.have = v.Addr(), fb.have|haveNextHop
	case netflow.IEBGPNextHopIPv4Address, netflow.IEBGPNextHopIPv6Address:
		fb.bgpNextHop = v.Addr()
	case netflow.IEVlanID:
		r.SrcVlan, fb.have = uint16(v.Uint()), fb.have|haveSrcVlan
	case netflow.IEPostVlanID:
		r.DstVlan, fb.have = uint16(v.Uint()), fb.have|haveDstVlan
	case netflow.IEDot1qVlanID:
		fb.dot1qVlan = uint16(v.Uint())
	case netflow.IEPostDot1qVlanID:
		fb.postDot1qVlan = uint16(v.Uint())
	case netflow.IESourceMacAddress:
		r.SrcMAC, fb.have = v.MAC(), fb.have|haveSrcMAC
	case netflow.IEDestinationMacAddress:
		r.DstMAC, fb.have = v.MAC(), fb.have|haveDstMAC
	case netflow.IEPostSourceMacAddress:
		fb.postSrcMAC = v.MAC()
	case netflow.IEPostDestinationMacAddress:
		fb.postDstMAC = v.MAC()
	case netflow.IEFlowDirection:
		// IPFIX: 0 ingress, 1 egress.
		switch v.Uint() {
		case 0:
			r.FlowDirection = flow.DirectionIngress
		case 1:
			r.FlowDirection = flow.DirectionEgress
		}
	case netflow.IEForwardingStatus:
		r.ForwardingStatus = uint32(v.Uint())
	case netflow.IEICMPTypeCodeIPv4, netflow.IEICMPTypeCodeIPv6:
		tc := v.Uint()
		r.ICMPType, r.ICMPCode, fb.icmp = uint8(tc>>8), uint8(tc), true
	case netflow.IEICMPTypeIPv4, netflow.IEICMPTypeIPv6:
		r.ICMPType, fb.icmp = uint8(v.Uint()), true
	case netflow.IEICMPCodeIPv4, netflow.IEICMPCodeIPv6:
		r.ICMPCode, fb.icmp = uint8(v.Uint()), true
	case netflow.IEFlowLabelIPv6:
		r.IPv6FlowLabel = uint32(v.Uint()) & 0xFFFFF
	case netflow.IEFragmentIdentification:
		r.IPFragmentID = uint32(v.Uint())
	case netflow.IEFragmentOffset:
		r.IPFragmentOffset = uint16(v.Uint())
	case netflow.IEIPTTL:
		r.IPTTL, fb.have = uint8(v.Uint()), fb.have|haveTTL
	case netflow.IEMinimumTTL:
		fb.minTTL = uint8(v.Uint())
	case netflow.IEIPVersion:
		fb.ipVersion = uint8(v.Uint())
	}
}

// apply fills what the preferred elements left empty.
func (fb *fallbacks) apply(r *flow.Record) {
	if fb.have&haveBytes == 0 {
		// Total counts double-count long flows exported several times;
		// still better than nothing for exporters that send only them.
		r.Bytes = max(fb.postBytes, fb.totalBytes)
	}
	if fb.have&havePackets == 0 {
		r.Packets = max(fb.postPackets, fb.totalPackets)
	}
	if fb.have&haveInIf == 0 {
		r.InIf = fb.physIn
	}
	if fb.have&haveOutIf == 0 {
		r.OutIf = fb.physOut
	}
	if fb.have&haveNextHop == 0 {
		r.NextHop = fb.bgpNextHop
	}
	if fb.have&haveSrcVlan == 0 {
		r.SrcVlan = fb.dot1qVlan
	}
	if fb.have&haveDstVlan == 0 {
		r.DstVlan = fb.postDot1qVlan
	}
	if fb.have&haveSrcMAC == 0 {
		r.SrcMAC = fb.postSrcMAC
	}
	if fb.have&haveDstMAC == 0 {
		r.DstMAC = fb.postDstMAC
	}
	if fb.have&haveTTL == 0 {
		r.IPTTL = fb.minTTL
	}
	switch {
	case r.SrcAddr.Is4() || r.DstAddr.Is4() || fb.ipVersion == 4:
		r.EType = 0x0800
	case r.SrcAddr.Is6() || r.DstAddr.Is6() || fb.ipVersion == 6:
		r.EType = 0x86dd
	}
}

// reverse holds the RFC 5103 reverse elements of a biflow record: the
// counters and per-direction header fields of the destination → source
// half. Key fields (addresses, ports) have no reverse elements: the
// reverse flow swaps the forward ones.
type reverse struct {
	seen                 bool
	bytes, packets       uint64
	totalBytes, totalPkt uint64
	tcpFlags             uint16
	tos, ttl             uint8
	haveTos, haveTTL     bool
	flowLabel            uint32
	vlan                 uint16
	haveVlan             bool
}

func (rv *reverse) field(v *netflow.Value) {
	rv.seen = true
	switch v.ID {
	case netflow.IEOctetDeltaCount:
		rv.bytes = v.Uint()
	case netflow.IEPacketDeltaCount:
		rv.packets = v.Uint()
	case netflow.IEOctetTotalCount:
		rv.totalBytes = v.Uint()
	case netflow.IEPacketTotalCount:
		rv.totalPkt = v.Uint()
	case netflow.IETCPControlBits:
		rv.tcpFlags = uint16(v.Uint())
	case netflow.IEIPClassOfService:
		rv.tos, rv.haveTos = uint8(v.Uint()), true
	case netflow.IEIPTTL:
		rv.ttl, rv.haveTTL = uint8(v.Uint()), true
	case netflow.IEFlowLabelIPv6:
		rv.flowLabel = uint32(v.Uint()) & 0xFFFFF
	case netflow.IEVlanID:
		rv.vlan, rv.haveVlan = uint16(v.Uint()), true
	}
}

// counts returns the reverse byte and packet counts, delta preferred.
func (rv *reverse) counts() (bytes, packets uint64) {
	bytes, packets = rv.bytes, rv.packets
	if bytes == 0 {
		bytes = rv.totalBytes
	}
	if packets == 0 {
		packets = rv.totalPkt
	}
	return bytes, packets
}

// apply sets the reverse half's own values on r, already swapped.
func (rv *reverse) apply(r *flow.Record) {
	r.Bytes, r.Packets = rv.counts()
	r.TCPFlags = rv.tcpFlags
	r.IPv6FlowLabel = rv.flowLabel
	if rv.haveTos {
		r.IPTos = rv.tos
	}
	if rv.haveTTL {
		r.IPTTL = rv.ttl
	} else {
		r.IPTTL = 0 // the forward TTL says nothing of the other direction
	}
	if rv.haveVlan {
		r.SrcVlan = rv.vlan
	}
	// The record's ICMP type is the forward one (an echo request's reply
	// is another type); the reverse type is not exported.
	r.ICMPType, r.ICMPCode = 0, 0
}
