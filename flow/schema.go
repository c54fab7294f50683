package flow

import (
	"net/netip"
	"strings"
)

// Kind is how a column is stored; the ClickHouse type derives from it.
type Kind uint8

const (
	KindUInt8 Kind = iota + 1
	KindUInt16
	KindUInt32
	KindUInt64
	KindDateTime     // UInt32 seconds
	KindIPv6         // 16 bytes, IPv4 as ::ffff:a.b.c.d
	KindString       // LowCardinality(String)
	KindFixedString2 // country codes
	KindBoundary     // Enum8('undefined'=0,'external'=1,'internal'=2)
	KindDirection    // Enum8('undefined'=0,'ingress'=1,'egress'=2)
)

// ClickHouseType is the column type in DDL (without codec).
func (k Kind) ClickHouseType() string {
	switch k {
	case KindUInt8:
		return "UInt8"
	case KindUInt16:
		return "UInt16"
	case KindUInt32:
		return "UInt32"
	case KindUInt64:
		return "UInt64"
	case KindDateTime:
		return "DateTime"
	case KindIPv6:
		return "IPv6"
	case KindString:
		return "LowCardinality(String)"
	case KindFixedString2:
		return "FixedString(2)"
	case KindBoundary:
		return "Enum8('undefined' = 0, 'external' = 1, 'internal' = 2)"
	case KindDirection:
		return "Enum8('undefined' = 0, 'ingress' = 1, 'egress' = 2)"
	}
	return ""
}

// Numeric reports whether values are read through Column.Uint.
func (k Kind) Numeric() bool {
	switch k {
	case KindUInt8, KindUInt16, KindUInt32, KindUInt64, KindDateTime, KindBoundary, KindDirection:
		return true
	}
	return false
}

// FilterType selects the operators and value grammar of the filter language
// for a column (Akvorado's filter types).
type FilterType uint8

const (
	FilterNone FilterType = iota
	FilterIP
	FilterString
	FilterUint
	FilterASN
	FilterProto
	FilterEType
	FilterBoundary
	FilterDirection
)

// Column is one entry of the schema. Exactly one of Uint, Str, Addr is set,
// matching Kind.
type Column struct {
	Name  string
	Label string // for the console
	Group string // exporter, interface, address, network, geo, l3l4, host, ...
	Kind  Kind
	// Codec is the ClickHouse compression codec ("" = table default).
	Codec string
	// Filter is the filter-language type; FilterNone makes it unfilterable.
	Filter FilterType
	// Dimension is true when the column can be grouped on in graphs.
	Dimension bool
	// MainOnly columns live only in the raw table, not in rollups: using one
	// in a filter or dimension forces the raw table.
	MainOnly bool
	// Mirror is the opposite-side column (Src<->Dst, In<->Out), used for
	// bidirectional queries. Empty when the column has no mirror.
	Mirror string

	Uint func(*Record) uint64
	Str  func(*Record) string
	Addr func(*Record) netip.Addr
}

// Schema is the ordered column table plus indexes over it. It is immutable
// after construction and safe for concurrent use.
type Schema struct {
	Columns []Column
	byName  map[string]int // lower-cased name -> index
}

// Column returns the column with that name (case-insensitive).
func (s *Schema) Column(name string) (*Column, bool) {
	i, ok := s.byName[strings.ToLower(name)]
	if !ok {
		return nil, false
	}
	return &s.Columns[i], true
}

// Dimensions returns the columns usable as graph dimensions, in table order.
func (s *Schema) Dimensions() []*Column {
	var out []*Column
	for i := range s.Columns {
		if s.Columns[i].Dimension {
			out = append(out, &s.Columns[i])
		}
	}
	return out
}

// RollupColumns returns the columns kept in rollup tables (every column that
// is not MainOnly), in table order.
func (s *Schema) RollupColumns() []*Column {
	var out []*Column
	for i := range s.Columns {
		if !s.Columns[i].MainOnly {
			out = append(out, &s.Columns[i])
		}
	}
	return out
}

// NewSchema builds the flow schema. One entry per concept: Src/Dst and In/Out
// pairs are declared once and mirrored.
func NewSchema() *Schema {
	var cols []Column
	add := func(c ...Column) { cols = append(cols, c...) }

	add(
		// Every flow query filters and buckets on TimeReceived: T64 decodes
		// ~3x faster than DoubleDelta (20 M rows: 27 against 75 ms) for
		// +0.3 B per flow (docs/benchmarks.md, "Query").
		Column{Name: "TimeReceived", Label: "Time", Group: "time", Kind: KindDateTime, Codec: "T64, LZ4",
			Uint: func(r *Record) uint64 { return uint64(r.TimeReceived) }},
		Column{Name: "SamplingRate", Label: "Sampling rate", Group: "time", Kind: KindUInt64,
			Uint: func(r *Record) uint64 { return r.SamplingRate }},
		Column{Name: "ExporterAddress", Label: "Exporter address", Group: "exporter", Kind: KindIPv6,
			Filter: FilterIP, Dimension: true, Addr: func(r *Record) netip.Addr { return r.ExporterAddress }},
		strCol("ExporterName", "Exporter", "exporter", func(r *Record) string { return r.ExporterName }),
		strCol("ExporterGroup", "Exporter group", "exporter", func(r *Record) string { return r.ExporterGroup }),
		strCol("ExporterRole", "Exporter role", "exporter", func(r *Record) string { return r.ExporterRole }),
		strCol("ExporterSite", "Exporter site", "exporter", func(r *Record) string { return r.ExporterSite }),
		strCol("ExporterRegion", "Exporter region", "exporter", func(r *Record) string { return r.ExporterRegion }),
		strCol("ExporterTenant", "Exporter tenant", "exporter", func(r *Record) string { return r.ExporterTenant }),
	)
	add(uintPair("In", "Out", "If", "interface index", "interface", KindUInt32, FilterUint, false,
		func(r *Record, o bool) uint64 { return uint64(pick(o, r.InIf, r.OutIf)) })...)
	add(strPair("In", "Out", "IfName", "interface", "interface", false,
		func(r *Record, o bool) string { return pick(o, r.InIfName, r.OutIfName) })...)
	add(strPair("In", "Out", "IfDescription", "interface description", "interface", false,
		func(r *Record, o bool) string { return pick(o, r.InIfDescription, r.OutIfDescription) })...)
	add(uintPair("In", "Out", "IfSpeed", "interface speed (Mbps)", "interface", KindUInt32, FilterUint, false,
		func(r *Record, o bool) uint64 { return uint64(pick(o, r.InIfSpeed, r.OutIfSpeed)) })...)
	add(strPair("In", "Out", "IfConnectivity", "connectivity", "interface", false,
		func(r *Record, o bool) string { return pick(o, r.InIfConnectivity, r.OutIfConnectivity) })...)
	add(strPair("In", "Out", "IfProvider", "provider", "interface", false,
		func(r *Record, o bool) string { return pick(o, r.InIfProvider, r.OutIfProvider) })...)
	add(uintPair("In", "Out", "IfBoundary", "boundary", "interface", KindBoundary, FilterBoundary, false,
		func(r *Record, o bool) uint64 { return uint64(pick(o, r.InIfBoundary, r.OutIfBoundary)) })...)
	add(strPair("In", "Out", "IfKind", "interface kind", "interface", false,
		func(r *Record, o bool) string { return pick(o, r.InIfKind, r.OutIfKind) })...)

	add(addrPair("Src", "Dst", "Addr", "address", "address", true, "ZSTD(1)",
		func(r *Record, o bool) netip.Addr { return pick(o, r.SrcAddr, r.DstAddr) })...)
	add(uintPair("Src", "Dst", "NetMask", "netmask", "address", KindUInt8, FilterUint, true,
		func(r *Record, o bool) uint64 { return uint64(pick(o, r.SrcNetMask, r.DstNetMask)) })...)
	add(uintPair("Src", "Dst", "AS", "AS", "network", KindUInt32, FilterASN, false,
		func(r *Record, o bool) uint64 { return uint64(pick(o, r.SrcAS, r.DstAS)) })...)
	add(strPair("Src", "Dst", "NetName", "network name", "network", false,
		func(r *Record, o bool) string { return pick(o, r.SrcNetName, r.DstNetName) })...)
	add(strPair("Src", "Dst", "NetRole", "network role", "network", false,
		func(r *Record, o bool) string { return pick(o, r.SrcNetRole, r.DstNetRole) })...)
	add(strPair("Src", "Dst", "NetSite", "network site", "network", false,
		func(r *Record, o bool) string { return pick(o, r.SrcNetSite, r.DstNetSite) })...)
	add(strPair("Src", "Dst", "NetRegion", "network region", "network", false,
		func(r *Record, o bool) string { return pick(o, r.SrcNetRegion, r.DstNetRegion) })...)
	add(strPair("Src", "Dst", "NetTenant", "network tenant", "network", false,
		func(r *Record, o bool) string { return pick(o, r.SrcNetTenant, r.DstNetTenant) })...)
	for _, c := range strPair("Src", "Dst", "Country", "country", "geo", false,
		func(r *Record, o bool) string { return pick(o, r.SrcCountry, r.DstCountry) }) {
		c.Kind = KindFixedString2
		add(c)
	}
	add(strPair("Src", "Dst", "GeoCity", "city", "geo", false,
		func(r *Record, o bool) string { return pick(o, r.SrcGeoCity, r.DstGeoCity) })...)
	add(uintPair("Src", "Dst", "Vlan", "VLAN", "l2", KindUInt16, FilterUint, true,
		func(r *Record, o bool) uint64 { return uint64(pick(o, r.SrcVlan, r.DstVlan)) })...)
	add(uintPair("Src", "Dst", "MAC", "MAC", "l2", KindUInt64, FilterUint, true,
		func(r *Record, o bool) uint64 { return pick(o, r.SrcMAC, r.DstMAC) })...)
	add(Column{Name: "NextHop", Label: "Next hop", Group: "address", Kind: KindIPv6, Codec: "ZSTD(1)",
		Filter: FilterIP, Dimension: true, MainOnly: true, Addr: func(r *Record) netip.Addr { return r.NextHop }})

	add(
		uintCol("EType", "Ethernet type", "l3l4", KindUInt32, FilterEType, false, func(r *Record) uint64 { return uint64(r.EType) }),
		uintCol("Proto", "Protocol", "l3l4", KindUInt32, FilterProto, false, func(r *Record) uint64 { return uint64(r.Proto) }),
	)
	add(uintPair("Src", "Dst", "Port", "port", "l3l4", KindUInt16, FilterUint, true,
		func(r *Record, o bool) uint64 { return uint64(pick(o, r.SrcPort, r.DstPort)) })...)
	add(
		uintCol("TCPFlags", "TCP flags", "l3l4", KindUInt16, FilterUint, true, func(r *Record) uint64 { return uint64(r.TCPFlags) }),
		uintCol("IPTos", "IP ToS", "l3l4", KindUInt8, FilterUint, true, func(r *Record) uint64 { return uint64(r.IPTos) }),
		uintCol("IPTTL", "IP TTL", "l3l4", KindUInt8, FilterUint, true, func(r *Record) uint64 { return uint64(r.IPTTL) }),
		uintCol("IPv6FlowLabel", "IPv6 flow label", "l3l4", KindUInt32, FilterUint, true, func(r *Record) uint64 { return uint64(r.IPv6FlowLabel) }),
		uintCol("IPFragmentID", "Fragment ID", "l3l4", KindUInt32, FilterUint, true, func(r *Record) uint64 { return uint64(r.IPFragmentID) }),
		uintCol("IPFragmentOffset", "Fragment offset", "l3l4", KindUInt16, FilterUint, true, func(r *Record) uint64 { return uint64(r.IPFragmentOffset) }),
		uintCol("ICMPType", "ICMP type", "l3l4", KindUInt8, FilterUint, true, func(r *Record) uint64 { return uint64(r.ICMPType) }),
		uintCol("ICMPCode", "ICMP code", "l3l4", KindUInt8, FilterUint, true, func(r *Record) uint64 { return uint64(r.ICMPCode) }),
		uintCol("FlowDirection", "Direction", "l3l4", KindDirection, FilterDirection, false, func(r *Record) uint64 { return uint64(r.FlowDirection) }),
		uintCol("ForwardingStatus", "Forwarding status", "l3l4", KindUInt32, FilterUint, false, func(r *Record) uint64 { return uint64(r.ForwardingStatus) }),
	)

	add(
		strCol("HostName", "Host", "host", func(r *Record) string { return r.HostName }),
		strCol("ProcessName", "Process", "host", func(r *Record) string { return r.ProcessName }),
		uintCol("ProcessID", "PID", "host", KindUInt32, FilterUint, true, func(r *Record) uint64 { return uint64(r.ProcessID) }),
		strCol("ProcessUser", "User", "host", func(r *Record) string { return r.ProcessUser }),
		mainOnly(strCol("Cgroup", "Cgroup", "host", func(r *Record) string { return r.Cgroup })),
		strCol("Unit", "Systemd unit", "host", func(r *Record) string { return r.Unit }),
		strCol("Container", "Container", "host", func(r *Record) string { return r.Container }),
		notDimension(uintCol("TCPRTT", "TCP RTT (µs)", "host", KindUInt32, FilterUint, true, func(r *Record) uint64 { return uint64(r.TCPRTT) })),
		notDimension(uintCol("TCPRetrans", "TCP retransmits", "host", KindUInt32, FilterUint, true, func(r *Record) uint64 { return uint64(r.TCPRetrans) })),
	)

	add(
		Column{Name: "Bytes", Label: "Bytes", Group: "counters", Kind: KindUInt64, Codec: "T64, LZ4",
			Uint: func(r *Record) uint64 { return r.Bytes }},
		Column{Name: "Packets", Label: "Packets", Group: "counters", Kind: KindUInt64, Codec: "T64, LZ4",
			Uint: func(r *Record) uint64 { return r.Packets }},
	)

	s := &Schema{Columns: cols, byName: make(map[string]int, len(cols))}
	for i, c := range cols {
		s.byName[strings.ToLower(c.Name)] = i
	}
	return s
}

func pick[T any](other bool, a, b T) T {
	if other {
		return b
	}
	return a
}

func strCol(name, label, group string, get func(*Record) string) Column {
	return Column{Name: name, Label: label, Group: group, Kind: KindString, Filter: FilterString,
		Dimension: true, Str: get}
}

func uintCol(name, label, group string, k Kind, f FilterType, main bool, get func(*Record) uint64) Column {
	return Column{Name: name, Label: label, Group: group, Kind: k, Filter: f, Dimension: true,
		MainOnly: main, Uint: get}
}

func mainOnly(c Column) Column     { c.MainOnly = true; return c }
func notDimension(c Column) Column { c.Dimension = false; return c }

// The pair constructors declare a Src/Dst (or In/Out) column once; the getter
// receives other=false for the first side and true for the mirrored one.

func strPair(a, b, suffix, label, group string, main bool, get func(*Record, bool) string) []Column {
	ca := strCol(a+suffix, a+" "+label, group, func(r *Record) string { return get(r, false) })
	cb := strCol(b+suffix, b+" "+label, group, func(r *Record) string { return get(r, true) })
	return mirror(ca, cb, main)
}

func uintPair(a, b, suffix, label, group string, k Kind, f FilterType, main bool, get func(*Record, bool) uint64) []Column {
	ca := uintCol(a+suffix, a+" "+label, group, k, f, main, func(r *Record) uint64 { return get(r, false) })
	cb := uintCol(b+suffix, b+" "+label, group, k, f, main, func(r *Record) uint64 { return get(r, true) })
	return mirror(ca, cb, main)
}

func addrPair(a, b, suffix, label, group string, main bool, codec string, get func(*Record, bool) netip.Addr) []Column {
	ca := Column{Name: a + suffix, Label: a + " " + label, Group: group, Kind: KindIPv6, Codec: codec,
		Filter: FilterIP, Dimension: true, Addr: func(r *Record) netip.Addr { return get(r, false) }}
	cb := ca
	cb.Name, cb.Label = b+suffix, b+" "+label
	cb.Addr = func(r *Record) netip.Addr { return get(r, true) }
	return mirror(ca, cb, main)
}

func mirror(a, b Column, main bool) []Column {
	a.Mirror, b.Mirror = b.Name, a.Name
	a.MainOnly, b.MainOnly = main, main
	return []Column{a, b}
}
