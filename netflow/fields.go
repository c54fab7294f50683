package netflow

import (
	"encoding/binary"
	"net/netip"
)

// VarLength is the field length announcing an IPFIX variable-length field
// (RFC 7011 §7).
const VarLength = 0xFFFF

// EnterpriseReverse is the private enterprise number of the reverse
// information elements of biflows (RFC 5103 §6.1): a field with this
// enterprise number and id N is the reverse direction's element N.
const EnterpriseReverse = 29305

// Information element ids used by the decoder itself (sampling, time) and
// by callers mapping flows. NetFlow v9 field types share these numbers
// (RFC 3954 §8 was the starting point of the IANA IPFIX registry).
const (
	IEOctetDeltaCount             = 1
	IEPacketDeltaCount            = 2
	IEProtocolIdentifier          = 4
	IEIPClassOfService            = 5
	IETCPControlBits              = 6
	IESourceTransportPort         = 7
	IESourceIPv4Address           = 8
	IESourceIPv4PrefixLength      = 9
	IEIngressInterface            = 10
	IEDestinationTransportPort    = 11
	IEDestinationIPv4Address      = 12
	IEDestinationIPv4PrefixLength = 13
	IEEgressInterface             = 14
	IEIPNextHopIPv4Address        = 15
	IEBGPSourceASNumber           = 16
	IEBGPDestinationASNumber      = 17
	IEBGPNextHopIPv4Address       = 18
	IEFlowEndSysUpTime            = 21
	IEFlowStartSysUpTime          = 22
	IEPostOctetDeltaCount         = 23
	IEPostPacketDeltaCount        = 24
	IESourceIPv6Address           = 27
	IEDestinationIPv6Address      = 28
	IESourceIPv6PrefixLength      = 29
	IEDestinationIPv6PrefixLength = 30
	IEFlowLabelIPv6               = 31
	IEICMPTypeCodeIPv4            = 32
	IESamplingInterval            = 34
	IESamplingAlgorithm           = 35
	IESamplerID                   = 48
	IESamplerMode                 = 49
	IESamplerRandomInterval       = 50
	IEMinimumTTL                  = 52
	IEFragmentIdentification      = 54
	IESourceMacAddress            = 56
	IEPostDestinationMacAddress   = 57
	IEVlanID                      = 58
	IEPostVlanID                  = 59
	IEIPVersion                   = 60
	IEFlowDirection               = 61
	IEIPNextHopIPv6Address        = 62
	IEBGPNextHopIPv6Address       = 63
	IEDestinationMacAddress       = 80
	IEPostSourceMacAddress        = 81
	IEOctetTotalCount             = 85
	IEPacketTotalCount            = 86
	IEFragmentOffset              = 88
	IEForwardingStatus            = 89
	IEICMPTypeCodeIPv6            = 139
	IEFlowStartSeconds            = 150
	IEFlowEndSeconds              = 151
	IEFlowStartMilliseconds       = 152
	IEFlowEndMilliseconds         = 153
	IEFlowStartMicroseconds       = 154
	IEFlowEndMicroseconds         = 155
	IEFlowStartNanoseconds        = 156
	IEFlowEndNanoseconds          = 157
	IEFlowStartDeltaMicroseconds  = 158
	IEFlowEndDeltaMicroseconds    = 159
	IESystemInitTimeMilliseconds  = 160
	IEICMPTypeIPv4                = 176
	IEICMPCodeIPv4                = 177
	IEICMPTypeIPv6                = 178
	IEICMPCodeIPv6                = 179
	IEIPTTL                       = 192
	IEPaddingOctets               = 210
	IEDot1qVlanID                 = 243
	IEIngressPhysicalInterface    = 252
	IEEgressPhysicalInterface     = 253
	IEPostDot1qVlanID             = 254
	IESelectorID                  = 302
	IESamplingPacketInterval      = 305
	IESamplingPacketSpace         = 306
	IESamplingSize                = 309
	IESamplingPopulation          = 310
)

// Field is one field of a template.
type Field struct {
	ID         uint16 // element id, enterprise bit cleared
	Length     uint16 // bytes; VarLength for variable-length IPFIX fields
	Enterprise uint32 // private enterprise number, 0 for IANA and NetFlow v9
	// Scope marks the scope fields of an options template. NetFlow v9 scope
	// types (1 system, 2 interface, 3 line card, 4 cache, 5 template) are
	// not IANA elements, so they must never be read as such.
	Scope bool
}

// Value is one field of a decoded record. Data aliases the datagram (or
// the held copy of it) and is valid only during the Handler call.
type Value struct {
	Field
	Data []byte
}

// Uint reads an unsigned integer of 1 to 8 bytes (reduced-size encoding,
// RFC 7011 §6.2, is common). Longer values yield their last 8 bytes.
func (v *Value) Uint() uint64 { return beUint(v.Data) }

// Addr reads a 4- or 16-byte address; other lengths give the zero Addr.
func (v *Value) Addr() netip.Addr {
	switch len(v.Data) {
	case 4:
		return netip.AddrFrom4([4]byte(v.Data))
	case 16:
		return netip.AddrFrom16([16]byte(v.Data))
	}
	return netip.Addr{}
}

// MAC reads a 6-byte MAC address as the low 48 bits of a uint64.
func (v *Value) MAC() uint64 {
	if len(v.Data) != 6 {
		return 0
	}
	return beUint(v.Data)
}

func beUint(b []byte) uint64 {
	switch len(b) {
	case 0:
		return 0
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.BigEndian.Uint16(b))
	case 4:
		return uint64(binary.BigEndian.Uint32(b))
	case 8:
		return binary.BigEndian.Uint64(b)
	}
	if len(b) > 8 {
		b = b[len(b)-8:]
	}
	var x uint64
	for _, c := range b {
		x = x<<8 | uint64(c)
	}
	return x
}
