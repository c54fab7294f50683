package sflow

import (
	"fmt"
	"net/netip"
)

// Datagram is one sFlow v5 datagram. Decode reuses it: its sample slices
// (and the slices inside samples) keep their capacity, so decoding into the
// same Datagram again does not allocate once it has grown to the largest
// datagram seen.
type Datagram struct {
	// AgentAddress is the agent's IPv4 or IPv6 address; the zero Addr for
	// address type 0 (unknown).
	AgentAddress   netip.Addr
	SubAgentID     uint32
	SequenceNumber uint32
	// Uptime is in milliseconds (hsflowd: since it started; pmacct: whole
	// seconds × 1000).
	Uptime uint32

	FlowSamples    []FlowSample
	CounterSamples []CounterSample
	// UnknownSamples are samples of formats this package does not decode
	// (e.g. 0:5 discarded packets, other enterprises), skipped by length.
	UnknownSamples []Unknown

	fail failure // the decoding cursors' shared failure record
}

// Unknown is a sample or record this package does not decode. Data is the
// body, a sub-slice of the decoded buffer.
type Unknown struct {
	Format DataFormat
	Data   []byte
}

// Interface value formats (the top bits of a compact input/output, or the
// separate format word of an expanded sample).
const (
	IfFormatIndex    uint32 = 0 // value = ifIndex, 0 unknown, IfIndexInternal
	IfFormatDiscard  uint32 = 1 // value = discard reason
	IfFormatMultiple uint32 = 2 // value = number of outputs (0: unknown, >1)
)

// IfIndexInternal as an interface value means the packet originated in, or
// was delivered to, the device itself.
const IfIndexInternal uint32 = 0x3FFFFFFF

// Data source classes (source_id type).
const (
	SourceIfIndex  uint32 = 0
	SourceVLAN     uint32 = 1 // smonVlanDataSource
	SourcePhysical uint32 = 2 // entPhysicalEntry; hsflowd's host is 2:1
	SourceLogical  uint32 = 3 // containers and VMs
)

// FlowSample is a flow sample (0:1 compact or 0:3 expanded) and the records
// it carried. A record's fields are meaningful only when its bit is set in
// Has; Decode zeroes the others. (Reusing a sample, it clears the records
// whose bits were set: a record a caller filled in without its bit is
// left as it was.)
type FlowSample struct {
	// Expanded selects the 0:3 encoding (separate words for source class
	// and interface formats). Compact (0:1) limits SourceIndex to 24 bits
	// and interface values to 30 bits.
	Expanded       bool
	SequenceNumber uint32
	SourceType     uint32 // data source class (SourceIfIndex, ...)
	SourceIndex    uint32
	SamplingRate   uint32
	SamplePool     uint32
	Drops          uint32
	InputFormat    uint32 // IfFormatIndex, IfFormatDiscard, IfFormatMultiple
	Input          uint32
	OutputFormat   uint32
	Output         uint32

	Has FlowRecords

	SampledHeader   SampledHeader
	SampledEthernet SampledEthernet
	SampledIPv4     SampledIP
	SampledIPv6     SampledIP
	Switch          ExtendedSwitch
	Router          ExtendedRouter
	Gateway         ExtendedGateway
	User            ExtendedUser
	URL             ExtendedURL
	SocketIPv4      ExtendedSocket
	SocketIPv6      ExtendedSocket
	TCPInfo         ExtendedTCPInfo
	Process         ProcessInfo // hostflow enterprise record

	// Unknown lists the records of formats this package does not decode.
	// The encoder writes them after the standard records and before
	// hostflow's.
	Unknown []Unknown
}

// FlowRecords is a set of flow record kinds (FlowSample.Has).
type FlowRecords uint32

// Flow record kinds.
const (
	HasSampledHeader FlowRecords = 1 << iota
	HasSampledEthernet
	HasSampledIPv4
	HasSampledIPv6
	HasSwitch
	HasRouter
	HasGateway
	HasUser
	HasURL
	HasSocketIPv4
	HasSocketIPv6
	HasTCPInfo
	HasProcess
)

// Header protocols of SampledHeader.
const (
	HeaderEthernet uint32 = 1
	HeaderPPP      uint32 = 7
	HeaderIPv4     uint32 = 11
	HeaderIPv6     uint32 = 12
	HeaderMPLS     uint32 = 13
	Header80211    uint32 = 15
)

// SampledHeader is 0:1, the first bytes of the sampled packet.
type SampledHeader struct {
	Protocol uint32 // HeaderEthernet, HeaderIPv4, ...
	// FrameLength is the original length of the packet, for L2 protocols
	// including the FCS.
	FrameLength uint32
	// Stripped is the number of bytes removed before Header (≥ 4 for
	// Ethernet: the FCS).
	Stripped uint32
	Header   []byte
}

// MAC is an Ethernet address. It takes 8 bytes on the wire (XDR padding).
type MAC [6]byte

// String formats the address as aa:bb:cc:dd:ee:ff.
func (m MAC) String() string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

// SampledEthernet is 0:2.
type SampledEthernet struct {
	Length    uint32 // MAC packet length, including the FCS
	SrcMAC    MAC
	DstMAC    MAC
	EtherType uint32
}

// SampledIP is 0:3 (IPv4, TOS) or 0:4 (IPv6, priority in TOS).
type SampledIP struct {
	Length   uint32 // IP packet length, excluding lower layers
	Protocol uint32
	SrcIP    netip.Addr
	DstIP    netip.Addr
	SrcPort  uint32
	DstPort  uint32
	TCPFlags uint32
	TOS      uint32 // IPv4 TOS or IPv6 priority
}

// ExtendedSwitch is 0:1001.
type ExtendedSwitch struct {
	SrcVLAN, SrcPriority, DstVLAN, DstPriority uint32
}

// ExtendedRouter is 0:1002.
type ExtendedRouter struct {
	NextHop                netip.Addr
	SrcMaskLen, DstMaskLen uint32
}

// AS path segment types.
const (
	ASSet      uint32 = 1
	ASSequence uint32 = 2
)

// ASPathSegment is one segment of ExtendedGateway.ASPath.
type ASPathSegment struct {
	Type uint32 // ASSet or ASSequence
	ASNs []uint32
}

// ExtendedGateway is 0:1003.
type ExtendedGateway struct {
	NextHop     netip.Addr
	AS          uint32 // the router's own AS
	SrcAS       uint32
	SrcPeerAS   uint32
	ASPath      []ASPathSegment // toward the destination
	Communities []uint32
	LocalPref   uint32

	asns []uint32 // backing array of the ASPath segments, reused
}

// DstAS is the last AS of the path (the destination's origin), or 0.
func (g *ExtendedGateway) DstAS() uint32 {
	for i := len(g.ASPath) - 1; i >= 0; i-- {
		if n := len(g.ASPath[i].ASNs); n > 0 {
			return g.ASPath[i].ASNs[n-1]
		}
	}
	return 0
}

// DstPeerAS is the first AS of the path, or 0.
func (g *ExtendedGateway) DstPeerAS() uint32 {
	for _, s := range g.ASPath {
		if len(s.ASNs) > 0 {
			return s.ASNs[0]
		}
	}
	return 0
}

// ExtendedUser is 0:1004. Charsets are IANA MIBenum values (106 = UTF-8).
type ExtendedUser struct {
	SrcCharset uint32
	SrcUser    []byte
	DstCharset uint32
	DstUser    []byte
}

// ExtendedURL is 0:1005 (deprecated by the spec, still sent by some agents).
type ExtendedURL struct {
	Direction uint32 // 1 source address is the server, 2 destination is
	URL       []byte
	Host      []byte
}

// ExtendedSocket is 0:2100 (IPv4) or 0:2101 (IPv6): the local socket that
// sent or received the sampled packet.
type ExtendedSocket struct {
	Protocol   uint32
	LocalIP    netip.Addr
	RemoteIP   netip.Addr
	LocalPort  uint32
	RemotePort uint32
}

// ExtendedTCPInfo is 0:2209, the sampled packet's socket's tcp_info.
type ExtendedTCPInfo struct {
	Direction  uint32 // 0 unknown, 1 received, 2 sent
	SndMSS     uint32
	RcvMSS     uint32
	Unacked    uint32
	Lost       uint32
	Retrans    uint32 // total retransmits
	PMTU       uint32
	RTT        uint32 // microseconds
	RTTVar     uint32 // microseconds
	SndCwnd    uint32
	Reordering uint32
	MinRTT     uint32 // microseconds
}

// CounterSample is a counter sample (0:2 compact or 0:4 expanded) and its
// records. A record's fields are meaningful only when its bit is set in Has.
type CounterSample struct {
	Expanded       bool
	SequenceNumber uint32
	SourceType     uint32
	SourceIndex    uint32

	Has CounterRecords

	Generic    GenericInterface
	Ethernet   EthernetCounters
	VLAN       VLANCounters
	Processor  Processor
	PortName   []byte // 0:1005, the interface name
	HostDescr  HostDescr
	Adapters   HostAdapters
	HostParent HostParent
	HostCPU    HostCPU
	HostMemory HostMemory
	HostDiskIO HostDiskIO
	HostNetIO  HostNetIO
	MIB2IP     MIB2IP
	MIB2ICMP   MIB2ICMP
	MIB2TCP    MIB2TCP
	MIB2UDP    MIB2UDP
	Interface  InterfaceInfo // hostflow enterprise record

	Unknown []Unknown
}

// CounterRecords is a set of counter record kinds (CounterSample.Has).
type CounterRecords uint32

// Counter record kinds.
const (
	HasGeneric CounterRecords = 1 << iota
	HasEthernet
	HasVLAN
	HasProcessor
	HasPortName
	HasHostDescr
	HasAdapters
	HasHostParent
	HasHostCPU
	HasHostMemory
	HasHostDiskIO
	HasHostNetIO
	HasMIB2IP
	HasMIB2ICMP
	HasMIB2TCP
	HasMIB2UDP
	HasInterface
)

// GenericInterface is 0:1, the generic interface counters (IF-MIB).
type GenericInterface struct {
	Index            uint32
	Type             uint32 // IANAifType (6 ethernetCsmacd)
	Speed            uint64 // bits per second, 0 unknown
	Direction        uint32 // 0 unknown, 1 full-duplex, 2 half, 3 in, 4 out
	Status           uint32 // bit 0 admin up, bit 1 oper up
	InOctets         uint64
	InUcastPkts      uint32
	InMulticastPkts  uint32
	InBroadcastPkts  uint32
	InDiscards       uint32
	InErrors         uint32
	InUnknownProtos  uint32
	OutOctets        uint64
	OutUcastPkts     uint32
	OutMulticastPkts uint32
	OutBroadcastPkts uint32
	OutDiscards      uint32
	OutErrors        uint32
	PromiscuousMode  uint32
}

// EthernetCounters is 0:2 (EtherLike-MIB dot3Stats).
type EthernetCounters struct {
	AlignmentErrors           uint32
	FCSErrors                 uint32
	SingleCollisionFrames     uint32
	MultipleCollisionFrames   uint32
	SQETestErrors             uint32
	DeferredTransmissions     uint32
	LateCollisions            uint32
	ExcessiveCollisions       uint32
	InternalMacTransmitErrors uint32
	CarrierSenseErrors        uint32
	FrameTooLongs             uint32
	InternalMacReceiveErrors  uint32
	SymbolErrors              uint32
}

// VLANCounters is 0:5.
type VLANCounters struct {
	VLANID        uint32
	Octets        uint64
	UcastPkts     uint32
	MulticastPkts uint32
	BroadcastPkts uint32
	Discards      uint32
}

// Processor is 0:1001. CPU loads are percent × 100, -1 unknown.
type Processor struct {
	CPU5s       int32
	CPU1m       int32
	CPU5m       int32
	TotalMemory uint64 // bytes
	FreeMemory  uint64
}

// Machine types of HostDescr.
const (
	MachineUnknown uint32 = 0
	MachineOther   uint32 = 1
	MachineX86     uint32 = 2
	MachineX86_64  uint32 = 3
	MachineIA64    uint32 = 4
	MachineSPARC   uint32 = 5
	MachineAlpha   uint32 = 6
	MachinePowerPC uint32 = 7
	MachineM68K    uint32 = 8
	MachineMIPS    uint32 = 9
	MachineARM     uint32 = 10
	MachineHPPA    uint32 = 11
	MachineS390    uint32 = 12
)

// OS names of HostDescr.
const (
	OSUnknown uint32 = 0
	OSOther   uint32 = 1
	OSLinux   uint32 = 2
)

// HostDescr is 0:2000, the host description.
type HostDescr struct {
	Hostname    []byte   // at most 64 bytes
	UUID        [16]byte // fixed 16 bytes on the wire
	MachineType uint32
	OSName      uint32
	OSRelease   []byte // at most 32 bytes
}

// HostAdapter is one entry of HostAdapters.
type HostAdapter struct {
	IfIndex uint32
	MACs    []MAC
}

// HostAdapters is 0:2001, the host's interfaces and their MAC addresses.
type HostAdapters struct {
	Adapters []HostAdapter

	macs []MAC // backing array of the Adapters' MACs, reused
}

// HostParent is 0:2002, the data source containing this one.
type HostParent struct {
	ContainerType  uint32 // data source class
	ContainerIndex uint32
}

// HostCPU is 0:2003. Times are milliseconds. The 68-byte form (before 2014)
// has no Steal, Guest and GuestNice; they decode as 0. The encoder always
// writes the 80-byte form.
type HostCPU struct {
	LoadOne, LoadFive, LoadFifteen float32
	ProcRun                        uint32
	ProcTotal                      uint32
	CPUNum                         uint32
	CPUSpeed                       uint32 // MHz
	Uptime                         uint32 // seconds
	User, Nice, System, Idle       uint32
	WIO, Intr, SoftIntr            uint32
	Interrupts, Contexts           uint32
	Steal, Guest, GuestNice        uint32
}

// HostMemory is 0:2004; sizes are bytes.
type HostMemory struct {
	Total, Free, Shared, Buffers, Cached, SwapTotal, SwapFree uint64
	PageIn, PageOut, SwapIn, SwapOut                          uint32
}

// HostDiskIO is 0:2005.
type HostDiskIO struct {
	Total, Free  uint64 // bytes
	PartMaxUsed  int32  // percent × 100, -1 unknown
	Reads        uint32
	BytesRead    uint64
	ReadTime     uint32 // ms
	Writes       uint32
	BytesWritten uint64
	WriteTime    uint32 // ms
}

// HostNetIO is 0:2006 (totals over the host's interfaces).
type HostNetIO struct {
	BytesIn                    uint64
	PktsIn, ErrsIn, DropsIn    uint32
	BytesOut                   uint64
	PktsOut, ErrsOut, DropsOut uint32
}

// MIB2IP is 0:2007 (RFC 4293 ip group).
type MIB2IP struct {
	Forwarding, DefaultTTL, InReceives, InHdrErrors, InAddrErrors, ForwDatagrams    uint32
	InUnknownProtos, InDiscards, InDelivers, OutRequests, OutDiscards, OutNoRoutes  uint32
	ReasmTimeout, ReasmReqds, ReasmOKs, ReasmFails, FragOKs, FragFails, FragCreates uint32
}

// MIB2ICMP is 0:2008 (RFC 4293 icmp group; the spec has no InTimestampReps).
type MIB2ICMP struct {
	InMsgs, InErrors, InDestUnreachs, InTimeExcds, InParamProbs, InSrcQuenchs          uint32
	InRedirects, InEchos, InEchoReps, InTimestamps, InAddrMasks, InAddrMaskReps        uint32
	OutMsgs, OutErrors, OutDestUnreachs, OutTimeExcds, OutParamProbs, OutSrcQuenchs    uint32
	OutRedirects, OutEchos, OutEchoReps, OutTimestamps, OutTimestampReps, OutAddrMasks uint32
	OutAddrMaskReps                                                                    uint32
}

// MIB2TCP is 0:2009 (RFC 4022 tcp group).
type MIB2TCP struct {
	RtoAlgorithm, RtoMin, RtoMax, MaxConn, ActiveOpens, PassiveOpens, AttemptFails uint32
	EstabResets, CurrEstab, InSegs, OutSegs, RetransSegs, InErrs, OutRsts          uint32
	InCsumErrors                                                                   uint32
}

// MIB2UDP is 0:2010 (RFC 4113 udp group).
type MIB2UDP struct {
	InDatagrams, NoPorts, InErrors, OutDatagrams, RcvbufErrors, SndbufErrors, InCsumErrors uint32
}
