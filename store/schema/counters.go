package schema

import (
	"net/netip"
	"strings"

	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/store/native"
)

// Counter columns are declared once as encoder fields; the DDL is derived
// from them. Cumulative counters use T64 (values grow slowly between
// samples of one interface, which the ORDER BY keeps together).

type ifc = flow.InterfaceCounters
type hc = flow.HostCounters

func u32[T any](name string, get func(*T) uint64) native.Field[T] {
	return native.Field[T]{Name: name, Type: "UInt32", Kind: native.KindUInt32, Uint: get}
}
func u64[T any](name string, get func(*T) uint64) native.Field[T] {
	return native.Field[T]{Name: name, Type: "UInt64", Kind: native.KindUInt64, Uint: get}
}
func f32[T any](name string, get func(*T) float64) native.Field[T] {
	return native.Field[T]{Name: name, Type: "Float32", Kind: native.KindFloat32, Float: get}
}
func str[T any](name string, get func(*T) string) native.Field[T] {
	return native.Field[T]{Name: name, Type: "String", Kind: native.KindString, Str: get}
}
func ip[T any](name string, get func(*T) netip.Addr) native.Field[T] {
	return native.Field[T]{Name: name, Type: "IPv6", Kind: native.KindIPv6, Addr: get}
}
func datetime[T any](get func(*T) uint32) native.Field[T] {
	return native.Field[T]{Name: "TimeReceived", Type: "DateTime", Kind: native.KindUInt32,
		Uint: func(r *T) uint64 { return uint64(get(r)) }}
}

// InterfaceFields are the columns of interface_counters.
func InterfaceFields() []native.Field[ifc] {
	return []native.Field[ifc]{
		datetime(func(r *ifc) uint32 { return r.TimeReceived }),
		ip("ExporterAddress", func(r *ifc) netip.Addr { return r.ExporterAddress }),
		str("ExporterName", func(r *ifc) string { return r.ExporterName }),
		u32("SubAgentID", func(r *ifc) uint64 { return uint64(r.SubAgentID) }),
		u32("IfIndex", func(r *ifc) uint64 { return uint64(r.IfIndex) }),
		str("IfName", func(r *ifc) string { return r.IfName }),
		str("IfDescription", func(r *ifc) string { return r.IfDescription }),
		str("IfKind", func(r *ifc) string { return r.IfKind }),
		u32("IfType", func(r *ifc) uint64 { return uint64(r.IfType) }),
		u64("IfSpeed", func(r *ifc) uint64 { return r.IfSpeed }),
		u32("IfDirection", func(r *ifc) uint64 { return uint64(r.IfDirection) }),
		u32("IfStatus", func(r *ifc) uint64 { return uint64(r.IfStatus) }),
		u64("InOctets", func(r *ifc) uint64 { return r.InOctets }),
		u64("InUcastPkts", func(r *ifc) uint64 { return r.InUcastPkts }),
		u64("InMulticastPkts", func(r *ifc) uint64 { return r.InMulticastPkts }),
		u64("InBroadcastPkts", func(r *ifc) uint64 { return r.InBroadcastPkts }),
		u64("InDiscards", func(r *ifc) uint64 { return r.InDiscards }),
		u64("InErrors", func(r *ifc) uint64 { return r.InErrors }),
		u64("OutOctets", func(r *ifc) uint64 { return r.OutOctets }),
		u64("OutUcastPkts", func(r *ifc) uint64 { return r.OutUcastPkts }),
		u64("OutMulticastPkts", func(r *ifc) uint64 { return r.OutMulticastPkts }),
		u64("OutBroadcastPkts", func(r *ifc) uint64 { return r.OutBroadcastPkts }),
		u64("OutDiscards", func(r *ifc) uint64 { return r.OutDiscards }),
		u64("OutErrors", func(r *ifc) uint64 { return r.OutErrors }),
	}
}

// HostFields are the columns of host_counters.
func HostFields() []native.Field[hc] {
	return []native.Field[hc]{
		datetime(func(r *hc) uint32 { return r.TimeReceived }),
		ip("ExporterAddress", func(r *hc) netip.Addr { return r.ExporterAddress }),
		u32("SubAgentID", func(r *hc) uint64 { return uint64(r.SubAgentID) }),
		str("HostName", func(r *hc) string { return r.HostName }),
		str("MachineUUID", func(r *hc) string { return r.MachineUUID }),
		str("OSRelease", func(r *hc) string { return r.OSRelease }),
		f32("LoadOne", func(r *hc) float64 { return float64(r.LoadOne) }),
		f32("LoadFive", func(r *hc) float64 { return float64(r.LoadFive) }),
		f32("LoadFifteen", func(r *hc) float64 { return float64(r.LoadFifteen) }),
		u32("ProcRun", func(r *hc) uint64 { return uint64(r.ProcRun) }),
		u32("ProcTotal", func(r *hc) uint64 { return uint64(r.ProcTotal) }),
		u32("CPUNum", func(r *hc) uint64 { return uint64(r.CPUNum) }),
		u32("CPUSpeedMHz", func(r *hc) uint64 { return uint64(r.CPUSpeedMHz) }),
		u32("UptimeSeconds", func(r *hc) uint64 { return uint64(r.UptimeSeconds) }),
		u32("CPUUserMs", func(r *hc) uint64 { return uint64(r.CPUUserMs) }),
		u32("CPUNiceMs", func(r *hc) uint64 { return uint64(r.CPUNiceMs) }),
		u32("CPUSystemMs", func(r *hc) uint64 { return uint64(r.CPUSystemMs) }),
		u32("CPUIdleMs", func(r *hc) uint64 { return uint64(r.CPUIdleMs) }),
		u32("CPUWioMs", func(r *hc) uint64 { return uint64(r.CPUWioMs) }),
		u32("CPUIntrMs", func(r *hc) uint64 { return uint64(r.CPUIntrMs) }),
		u32("CPUSintrMs", func(r *hc) uint64 { return uint64(r.CPUSintrMs) }),
		u32("CPUStealMs", func(r *hc) uint64 { return uint64(r.CPUStealMs) }),
		u64("MemTotal", func(r *hc) uint64 { return r.MemTotal }),
		u64("MemFree", func(r *hc) uint64 { return r.MemFree }),
		u64("MemShared", func(r *hc) uint64 { return r.MemShared }),
		u64("MemBuffers", func(r *hc) uint64 { return r.MemBuffers }),
		u64("MemCached", func(r *hc) uint64 { return r.MemCached }),
		u64("SwapTotal", func(r *hc) uint64 { return r.SwapTotal }),
		u64("SwapFree", func(r *hc) uint64 { return r.SwapFree }),
		u64("DiskTotal", func(r *hc) uint64 { return r.DiskTotal }),
		u64("DiskFree", func(r *hc) uint64 { return r.DiskFree }),
		u32("DiskPartMaxUsed", func(r *hc) uint64 { return uint64(r.DiskPartMaxUsed) }),
		u32("DiskReads", func(r *hc) uint64 { return uint64(r.DiskReads) }),
		u32("DiskWrites", func(r *hc) uint64 { return uint64(r.DiskWrites) }),
		u64("DiskBytesRead", func(r *hc) uint64 { return r.DiskBytesRead }),
		u64("DiskBytesWritten", func(r *hc) uint64 { return r.DiskBytesWritten }),
		u64("NetBytesIn", func(r *hc) uint64 { return r.NetBytesIn }),
		u64("NetBytesOut", func(r *hc) uint64 { return r.NetBytesOut }),
		u32("NetPktsIn", func(r *hc) uint64 { return uint64(r.NetPktsIn) }),
		u32("NetPktsOut", func(r *hc) uint64 { return uint64(r.NetPktsOut) }),
		u32("NetErrsIn", func(r *hc) uint64 { return uint64(r.NetErrsIn) }),
		u32("NetErrsOut", func(r *hc) uint64 { return uint64(r.NetErrsOut) }),
		u32("NetDropsIn", func(r *hc) uint64 { return uint64(r.NetDropsIn) }),
		u32("NetDropsOut", func(r *hc) uint64 { return uint64(r.NetDropsOut) }),
		u32("TCPCurrEstab", func(r *hc) uint64 { return uint64(r.TCPCurrEstab) }),
		u32("TCPRetransSegs", func(r *hc) uint64 { return uint64(r.TCPRetransSegs) }),
		u32("TCPInSegs", func(r *hc) uint64 { return uint64(r.TCPInSegs) }),
		u32("TCPOutSegs", func(r *hc) uint64 { return uint64(r.TCPOutSegs) }),
		u32("TCPAttemptFails", func(r *hc) uint64 { return uint64(r.TCPAttemptFails) }),
		u32("TCPEstabResets", func(r *hc) uint64 { return uint64(r.TCPEstabResets) }),
		u32("UDPInDatagrams", func(r *hc) uint64 { return uint64(r.UDPInDatagrams) }),
		u32("UDPOutDatagrams", func(r *hc) uint64 { return uint64(r.UDPOutDatagrams) }),
		u32("UDPNoPorts", func(r *hc) uint64 { return uint64(r.UDPNoPorts) }),
		u32("UDPInErrors", func(r *hc) uint64 { return uint64(r.UDPInErrors) }),
		u32("UDPRcvbufErrors", func(r *hc) uint64 { return uint64(r.UDPRcvbufErrors) }),
	}
}

// tableColumns turns encoder fields into DDL columns: strings become
// LowCardinality, counters get T64.
func tableColumns[T any](fields []native.Field[T]) []Column {
	out := make([]Column, 0, len(fields))
	for _, f := range fields {
		c := Column{Name: f.Name, Type: f.Type}
		switch {
		case f.Type == "String":
			c.Type = "LowCardinality(String)"
		case f.Name == "TimeReceived":
			c.Codec = "DoubleDelta, LZ4"
		case f.Type == "UInt64":
			c.Codec = "T64, LZ4"
		}
		out = append(out, c)
	}
	return out
}

func (s *Schema) counterTables() []Table {
	settings := "index_granularity = 8192, ttl_only_drop_parts = 1"
	return []Table{
		{Name: InterfaceCounters, Columns: tableColumns(InterfaceFields()), Engine: "MergeTree",
			PartitionBy: "toYYYYMMDD(TimeReceived)", OrderBy: []string{"ExporterAddress", "IfIndex", "TimeReceived"},
			TTLColumn: "TimeReceived", TTL: s.ttl(InterfaceCounters), Settings: settings},
		{Name: HostCounters, Columns: tableColumns(HostFields()), Engine: "MergeTree",
			PartitionBy: "toYYYYMMDD(TimeReceived)", OrderBy: []string{"HostName", "ExporterAddress", "TimeReceived"},
			TTLColumn: "TimeReceived", TTL: s.ttl(HostCounters), Settings: settings},
	}
}

// exporterAttrs and interfaceAttrs are the columns of the completion
// tables, filled by views over flows.
var exporterAttrs = []string{"ExporterName", "ExporterGroup", "ExporterRole", "ExporterSite", "ExporterRegion", "ExporterTenant"}
var interfaceAttrs = []string{"IfName", "IfDescription", "IfSpeed", "IfConnectivity", "IfProvider", "IfBoundary", "IfKind"}

func (s *Schema) flowType(name string) string {
	c, _ := s.flow.Column(name)
	return c.Kind.ClickHouseType()
}

func (s *Schema) completionTables() []Table {
	ex := []Column{{Name: "TimeReceived", Type: "DateTime"}, {Name: "ExporterAddress", Type: "IPv6"}}
	for _, a := range exporterAttrs {
		ex = append(ex, Column{Name: a, Type: s.flowType(a)})
	}
	in := []Column{{Name: "TimeReceived", Type: "DateTime"}, {Name: "ExporterAddress", Type: "IPv6"},
		{Name: "ExporterName", Type: "LowCardinality(String)"}, {Name: "IfIndex", Type: "UInt32"}}
	for _, a := range interfaceAttrs {
		in = append(in, Column{Name: a, Type: s.flowType("In" + a)})
	}
	keys := func(cols []Column) []string {
		var out []string
		for _, c := range cols[1:] {
			out = append(out, c.Name)
		}
		return out
	}
	return []Table{
		{Name: Exporters, Columns: ex, Engine: "ReplacingMergeTree(TimeReceived)", OrderBy: keys(ex),
			TTLColumn: "TimeReceived", TTL: s.ttl(Exporters)},
		{Name: Interfaces, Columns: in, Engine: "ReplacingMergeTree(TimeReceived)", OrderBy: keys(in),
			TTLColumn: "TimeReceived", TTL: s.ttl(Interfaces)},
	}
}

// CompletionRefresh returns the statements that add the exporters and
// interfaces seen in flows between {from:DateTime} and {to:DateTime} to the
// completion tables. The store runs them periodically over the time range
// it inserted: materialized views doing the same GROUP BY on every insert
// cost more than a quarter of the insert CPU.
func (s *Schema) CompletionRefresh() []string {
	where := " FROM " + s.InsertTable(Flows) + " WHERE TimeReceived >= {from:DateTime} AND TimeReceived <= {to:DateTime}"
	out := []string{"INSERT INTO " + s.InsertTable(Exporters) + " (TimeReceived, ExporterAddress, " + strings.Join(exporterAttrs, ", ") +
		") SELECT max(TimeReceived), ExporterAddress, " + strings.Join(exporterAttrs, ", ") + where +
		" GROUP BY ExporterAddress, " + strings.Join(exporterAttrs, ", ")}
	for _, dir := range []string{"In", "Out"} {
		cols := []string{"TimeReceived", "ExporterAddress", "ExporterName", "IfIndex"}
		sel := []string{"max(TimeReceived)", "ExporterAddress", "ExporterName", dir + "If"}
		group := []string{"ExporterAddress", "ExporterName", dir + "If"}
		for _, a := range interfaceAttrs {
			cols = append(cols, a)
			sel = append(sel, dir+a)
			group = append(group, dir+a)
		}
		out = append(out, "INSERT INTO "+s.InsertTable(Interfaces)+" ("+strings.Join(cols, ", ")+") SELECT "+
			strings.Join(sel, ", ")+where+" GROUP BY "+strings.Join(group, ", "))
	}
	return out
}
