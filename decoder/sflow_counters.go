package decoder

import (
	"encoding/hex"
	"net/netip"

	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/sflow"
)

// sFlow sends all ones for a counter the agent cannot read; the counter
// records store 0 for it.
func c32(v uint32) uint64 {
	if v == 0xFFFFFFFF {
		return 0
	}
	return uint64(v)
}

func c64(v uint64) uint64 {
	if v == 0xFFFFFFFFFFFFFFFF {
		return 0
	}
	return v
}

func u32(v uint32) uint32 { return uint32(c32(v)) }

const (
	interfaceRecords = sflow.HasGeneric | sflow.HasEthernet | sflow.HasPortName | sflow.HasInterface
	hostRecords      = sflow.HasHostDescr | sflow.HasHostCPU | sflow.HasHostMemory | sflow.HasHostDiskIO |
		sflow.HasHostNetIO | sflow.HasMIB2TCP | sflow.HasMIB2UDP
)

// counterSample maps one counter sample: the interface records of a data
// source (generic, ethernet, port name, hostflow's interface information)
// merge into one InterfaceCounters, the host records into one HostCounters.
// Host records of a container or VM (the sample has a host_parent record,
// as hsflowd sends for each container) are not a host's: they are counted
// as "child" and not mapped. A sample with neither (processor, VLAN, only
// unknown records) is counted as "other".
func (s *SFlow) counterSample(cs *sflow.CounterSample, exporter netip.Addr, now uint32, out *Batch) {
	s.counts.skipped[skipUnknownCounterRecord] += len(cs.Unknown)
	mapped := false
	if cs.Has&interfaceRecords != 0 {
		s.interfaceCounters(cs, exporter, now, out.NewInterface())
		s.counts.ifCounters++
		mapped = true
	}
	if cs.Has&hostRecords != 0 {
		if cs.Has&sflow.HasHostParent != 0 {
			s.counts.children++
			return
		}
		s.hostCounters(cs, exporter, now, out.NewHost())
		s.counts.hostCounters++
		mapped = true
	}
	if !mapped {
		s.counts.others++
	}
}

func (s *SFlow) interfaceCounters(cs *sflow.CounterSample, exporter netip.Addr, now uint32, c *flow.InterfaceCounters) {
	c.TimeReceived = now
	c.ExporterAddress = exporter
	c.SubAgentID = s.dg.SubAgentID
	if cs.SourceType == sflow.SourceIfIndex {
		c.IfIndex = cs.SourceIndex
	}
	if cs.Has&sflow.HasGeneric != 0 {
		g := &cs.Generic
		c.IfIndex = g.Index
		if g.Index == sflow.IfIndexInternal {
			c.IfIndex = 0 // pmacct sfprobe without an interface map; never a real ifIndex
		}
		c.IfType = g.Type
		c.IfSpeed = c64(g.Speed)
		c.IfDirection = g.Direction
		c.IfStatus = g.Status
		c.InOctets = c64(g.InOctets)
		c.InUcastPkts = c32(g.InUcastPkts)
		c.InMulticastPkts = c32(g.InMulticastPkts)
		c.InBroadcastPkts = c32(g.InBroadcastPkts)
		c.InDiscards = c32(g.InDiscards)
		c.InErrors = c32(g.InErrors)
		c.OutOctets = c64(g.OutOctets)
		c.OutUcastPkts = c32(g.OutUcastPkts)
		c.OutMulticastPkts = c32(g.OutMulticastPkts)
		c.OutBroadcastPkts = c32(g.OutBroadcastPkts)
		c.OutDiscards = c32(g.OutDiscards)
		c.OutErrors = c32(g.OutErrors)
	}
	if cs.Has&sflow.HasPortName != 0 {
		c.IfName = s.str.bytes(cs.PortName)
	}
	if cs.Has&sflow.HasInterface != 0 {
		i := &cs.Interface
		if c.IfIndex == 0 {
			c.IfIndex = i.IfIndex
		}
		if len(i.Name) > 0 {
			c.IfName = s.str.bytes(i.Name)
		}
		c.IfDescription = s.str.bytes(i.Alias)
		c.IfKind = i.Kind.String()
		if i.Kind == sflow.IfKindOther && len(i.KindName) > 0 {
			c.IfKind = s.str.bytes(i.KindName)
		}
	}
}

func (s *SFlow) hostCounters(cs *sflow.CounterSample, exporter netip.Addr, now uint32, h *flow.HostCounters) {
	h.TimeReceived = now
	h.ExporterAddress = exporter
	h.SubAgentID = s.dg.SubAgentID
	if cs.Has&sflow.HasHostDescr != 0 {
		d := &cs.HostDescr
		h.HostName = s.str.bytes(d.Hostname)
		h.MachineUUID = s.uuid(&d.UUID)
		h.OSRelease = s.str.bytes(d.OSRelease)
	}
	if cs.Has&sflow.HasHostCPU != 0 {
		p := &cs.HostCPU
		h.LoadOne, h.LoadFive, h.LoadFifteen = p.LoadOne, p.LoadFive, p.LoadFifteen
		h.ProcRun, h.ProcTotal, h.CPUNum = u32(p.ProcRun), u32(p.ProcTotal), u32(p.CPUNum)
		h.CPUSpeedMHz, h.UptimeSeconds = u32(p.CPUSpeed), u32(p.Uptime)
		h.CPUUserMs, h.CPUNiceMs, h.CPUSystemMs, h.CPUIdleMs = u32(p.User), u32(p.Nice), u32(p.System), u32(p.Idle)
		h.CPUWioMs, h.CPUIntrMs, h.CPUSintrMs, h.CPUStealMs = u32(p.WIO), u32(p.Intr), u32(p.SoftIntr), u32(p.Steal)
	}
	if cs.Has&sflow.HasHostMemory != 0 {
		m := &cs.HostMemory
		h.MemTotal, h.MemFree, h.MemShared = c64(m.Total), c64(m.Free), c64(m.Shared)
		h.MemBuffers, h.MemCached = c64(m.Buffers), c64(m.Cached)
		h.SwapTotal, h.SwapFree = c64(m.SwapTotal), c64(m.SwapFree)
	}
	if cs.Has&sflow.HasHostDiskIO != 0 {
		d := &cs.HostDiskIO
		h.DiskTotal, h.DiskFree = c64(d.Total), c64(d.Free)
		h.DiskPartMaxUsed = uint32(max(d.PartMaxUsed, 0)) // -1: unknown
		h.DiskReads, h.DiskWrites = u32(d.Reads), u32(d.Writes)
		h.DiskBytesRead, h.DiskBytesWritten = c64(d.BytesRead), c64(d.BytesWritten)
	}
	if cs.Has&sflow.HasHostNetIO != 0 {
		n := &cs.HostNetIO
		h.NetBytesIn, h.NetBytesOut = c64(n.BytesIn), c64(n.BytesOut)
		h.NetPktsIn, h.NetPktsOut = u32(n.PktsIn), u32(n.PktsOut)
		h.NetErrsIn, h.NetErrsOut = u32(n.ErrsIn), u32(n.ErrsOut)
		h.NetDropsIn, h.NetDropsOut = u32(n.DropsIn), u32(n.DropsOut)
	}
	if cs.Has&sflow.HasMIB2TCP != 0 {
		t := &cs.MIB2TCP
		h.TCPCurrEstab, h.TCPRetransSegs = u32(t.CurrEstab), u32(t.RetransSegs)
		h.TCPInSegs, h.TCPOutSegs = u32(t.InSegs), u32(t.OutSegs)
		h.TCPAttemptFails, h.TCPEstabResets = u32(t.AttemptFails), u32(t.EstabResets)
	}
	if cs.Has&sflow.HasMIB2UDP != 0 {
		u := &cs.MIB2UDP
		h.UDPInDatagrams, h.UDPOutDatagrams, h.UDPNoPorts = u32(u.InDatagrams), u32(u.OutDatagrams), u32(u.NoPorts)
		h.UDPInErrors, h.UDPRcvbufErrors = u32(u.InErrors), u32(u.RcvbufErrors)
	}
}

// uuid formats a host UUID (8-4-4-4-12 hex) as a shared string; "" when
// all zero (unknown).
func (s *SFlow) uuid(u *[16]byte) string {
	if *u == ([16]byte{}) {
		return ""
	}
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:16])
	return s.str.bytes(b[:])
}
