package flow

import "net/netip"

// InterfaceCounters is one interface counter sample (sFlow generic +
// ethernet + port name + hostflow interface record). Counter values are the
// cumulative values the exporter reported; rates are computed at query time.
// 0xFFFFFFFF (32-bit) or 0xFFFFFFFFFFFFFFFF means "not available" on the wire
// and is stored as 0 with the matching bit cleared in Valid.
type InterfaceCounters struct {
	TimeReceived     uint32
	ExporterAddress  netip.Addr
	ExporterName     string
	SubAgentID       uint32
	IfIndex          uint32
	IfName           string
	IfDescription    string
	IfKind           string
	IfType           uint32
	IfSpeed          uint64 // bits per second
	IfDirection      uint32
	IfStatus         uint32 // bit 0 admin up, bit 1 oper up
	InOctets         uint64
	InUcastPkts      uint64
	InMulticastPkts  uint64
	InBroadcastPkts  uint64
	InDiscards       uint64
	InErrors         uint64
	OutOctets        uint64
	OutUcastPkts     uint64
	OutMulticastPkts uint64
	OutBroadcastPkts uint64
	OutDiscards      uint64
	OutErrors        uint64
}

// HostCounters is one host data-source counter sample (sFlow host_* and
// mib2 records). Fields the exporter did not send stay 0.
type HostCounters struct {
	TimeReceived    uint32
	ExporterAddress netip.Addr
	SubAgentID      uint32
	HostName        string
	MachineUUID     string
	OSRelease       string
	// host_cpu
	LoadOne, LoadFive, LoadFifteen                                                            float32
	ProcRun, ProcTotal, CPUNum                                                                uint32
	CPUSpeedMHz                                                                               uint32
	UptimeSeconds                                                                             uint32
	CPUUserMs, CPUNiceMs, CPUSystemMs, CPUIdleMs, CPUWioMs, CPUIntrMs, CPUSintrMs, CPUStealMs uint32
	// host_memory (bytes)
	MemTotal, MemFree, MemShared, MemBuffers, MemCached, SwapTotal, SwapFree uint64
	// host_disk_io
	DiskTotal, DiskFree             uint64
	DiskPartMaxUsed                 uint32 // percent * 100
	DiskReads, DiskWrites           uint32
	DiskBytesRead, DiskBytesWritten uint64
	// host_net_io
	NetBytesIn, NetBytesOut                                               uint64
	NetPktsIn, NetPktsOut, NetErrsIn, NetErrsOut, NetDropsIn, NetDropsOut uint32
	// mib2 tcp/udp highlights
	TCPCurrEstab, TCPRetransSegs, TCPInSegs, TCPOutSegs, TCPAttemptFails, TCPEstabResets uint32
	UDPInDatagrams, UDPOutDatagrams, UDPNoPorts, UDPInErrors, UDPRcvbufErrors            uint32
}
