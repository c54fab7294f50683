// Package flow holds the flow record every decoder produces and every later
// stage (enrichment, store, query, console) consumes, plus the schema: the one
// table of columns from which DDL, insert encoding, API dimensions, filter
// types and console labels are derived.
//
// A Record is a plain value with no pointers other than strings, so a batch of
// records ([]Record) can be reused across datagrams without allocating. Strings
// set by enrichment come from caches and are shared, never built per flow.
package flow

import "net/netip"

// Interface value meaning "the packet originated in or was delivered to the
// device itself" (sFlow's 0x3FFFFFFF).
const IfIndexInternal = 0x3FFFFFFF

// Boundary of an interface (Akvorado's InIfBoundary/OutIfBoundary).
const (
	BoundaryUndefined uint8 = 0
	BoundaryExternal  uint8 = 1
	BoundaryInternal  uint8 = 2
)

// FlowDirection values.
const (
	DirectionUndefined uint8 = 0
	DirectionIngress   uint8 = 1
	DirectionEgress    uint8 = 2
)

// Record is one flow (a sampled packet for sFlow, an aggregated flow for
// NetFlow/IPFIX). Bytes and Packets are as observed, never pre-multiplied by
// SamplingRate: the rate is stored and applied at query time.
type Record struct {
	TimeReceived uint32 // Unix seconds when the collector received it
	SamplingRate uint64

	// Exporter identity: the sFlow agent address or the NetFlow UDP source.
	ExporterAddress netip.Addr
	// SubAgentID separates several sFlow agents behind one address; used to
	// key in-band metadata, not stored.
	SubAgentID     uint32
	ExporterName   string
	ExporterGroup  string
	ExporterRole   string
	ExporterSite   string
	ExporterRegion string
	ExporterTenant string

	InIf, OutIf                         uint32 // ifIndex, kept even when no metadata is known
	InIfName, OutIfName                 string
	InIfDescription, OutIfDescription   string
	InIfSpeed, OutIfSpeed               uint32 // Mbps
	InIfConnectivity, OutIfConnectivity string
	InIfProvider, OutIfProvider         string
	InIfBoundary, OutIfBoundary         uint8
	InIfKind, OutIfKind                 string // physical, tun, bridge, veth, ... (hostflow agents)
	SrcVlan, DstVlan                    uint16
	SrcMAC, DstMAC                      uint64
	SrcAddr, DstAddr                    netip.Addr // always IPv6 or v4-mapped when stored
	SrcNetMask, DstNetMask              uint8
	SrcAS, DstAS                        uint32
	SrcNetName, DstNetName              string
	SrcNetRole, DstNetRole              string
	SrcNetSite, DstNetSite              string
	SrcNetRegion, DstNetRegion          string
	SrcNetTenant, DstNetTenant          string
	SrcCountry, DstCountry              string // ISO 3166 alpha-2
	SrcGeoCity, DstGeoCity              string
	NextHop                             netip.Addr
	EType                               uint16 // 0x0800 IPv4, 0x86dd IPv6
	Proto                               uint8
	SrcPort, DstPort                    uint16
	TCPFlags                            uint16
	IPTos                               uint8
	IPTTL                               uint8
	IPv6FlowLabel                       uint32
	IPFragmentID                        uint32
	IPFragmentOffset                    uint16
	ICMPType, ICMPCode                  uint8
	FlowDirection                       uint8
	ForwardingStatus                    uint32
	Bytes                               uint64
	Packets                             uint64

	// Host attribution, from hostflow agents' in-band records.
	HostName    string
	ProcessName string
	ProcessID   uint32
	ProcessUser string // user name when known, else the numeric uid
	Cgroup      string
	Unit        string
	Container   string
	TCPRTT      uint32 // microseconds, from tcp_info (0 unknown)
	TCPRetrans  uint32 // total retransmits of the socket, from tcp_info
}

// Reset clears r for reuse without releasing anything.
func (r *Record) Reset() { *r = Record{} }

// Reverse swaps the source and destination sides (addresses, ports, ASes,
// networks, interfaces). Used to build the reverse half of biflows.
func (r *Record) Reverse() {
	r.InIf, r.OutIf = r.OutIf, r.InIf
	r.InIfName, r.OutIfName = r.OutIfName, r.InIfName
	r.InIfDescription, r.OutIfDescription = r.OutIfDescription, r.InIfDescription
	r.InIfSpeed, r.OutIfSpeed = r.OutIfSpeed, r.InIfSpeed
	r.InIfConnectivity, r.OutIfConnectivity = r.OutIfConnectivity, r.InIfConnectivity
	r.InIfProvider, r.OutIfProvider = r.OutIfProvider, r.InIfProvider
	r.InIfBoundary, r.OutIfBoundary = r.OutIfBoundary, r.InIfBoundary
	r.InIfKind, r.OutIfKind = r.OutIfKind, r.InIfKind
	r.SrcVlan, r.DstVlan = r.DstVlan, r.SrcVlan
	r.SrcMAC, r.DstMAC = r.DstMAC, r.SrcMAC
	r.SrcAddr, r.DstAddr = r.DstAddr, r.SrcAddr
	r.SrcNetMask, r.DstNetMask = r.DstNetMask, r.SrcNetMask
	r.SrcAS, r.DstAS = r.DstAS, r.SrcAS
	r.SrcNetName, r.DstNetName = r.DstNetName, r.SrcNetName
	r.SrcNetRole, r.DstNetRole = r.DstNetRole, r.SrcNetRole
	r.SrcNetSite, r.DstNetSite = r.DstNetSite, r.SrcNetSite
	r.SrcNetRegion, r.DstNetRegion = r.DstNetRegion, r.SrcNetRegion
	r.SrcNetTenant, r.DstNetTenant = r.DstNetTenant, r.SrcNetTenant
	r.SrcCountry, r.DstCountry = r.DstCountry, r.SrcCountry
	r.SrcGeoCity, r.DstGeoCity = r.DstGeoCity, r.SrcGeoCity
	r.SrcPort, r.DstPort = r.DstPort, r.SrcPort
}
