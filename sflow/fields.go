package sflow

// Wire order of the records made only of same-sized integers. The decoder
// and the encoder both walk these lists, so each order is written once.
// The arrays of pointers stay on the stack.

func (t *ExtendedTCPInfo) fields() [12]*uint32 {
	return [...]*uint32{&t.Direction, &t.SndMSS, &t.RcvMSS, &t.Unacked, &t.Lost, &t.Retrans,
		&t.PMTU, &t.RTT, &t.RTTVar, &t.SndCwnd, &t.Reordering, &t.MinRTT}
}

func (e *EthernetCounters) fields() [13]*uint32 {
	return [...]*uint32{&e.AlignmentErrors, &e.FCSErrors, &e.SingleCollisionFrames,
		&e.MultipleCollisionFrames, &e.SQETestErrors, &e.DeferredTransmissions, &e.LateCollisions,
		&e.ExcessiveCollisions, &e.InternalMacTransmitErrors, &e.CarrierSenseErrors,
		&e.FrameTooLongs, &e.InternalMacReceiveErrors, &e.SymbolErrors}
}

// counters are the u32 fields of host_cpu between the loads and the 2014
// additions.
func (h *HostCPU) counters() [14]*uint32 {
	return [...]*uint32{&h.ProcRun, &h.ProcTotal, &h.CPUNum, &h.CPUSpeed, &h.Uptime, &h.User,
		&h.Nice, &h.System, &h.Idle, &h.WIO, &h.Intr, &h.SoftIntr, &h.Interrupts, &h.Contexts}
}

func (m *HostMemory) bytes() [7]*uint64 {
	return [...]*uint64{&m.Total, &m.Free, &m.Shared, &m.Buffers, &m.Cached, &m.SwapTotal, &m.SwapFree}
}

func (m *HostMemory) pages() [4]*uint32 {
	return [...]*uint32{&m.PageIn, &m.PageOut, &m.SwapIn, &m.SwapOut}
}

func (m *MIB2IP) fields() [19]*uint32 {
	return [...]*uint32{&m.Forwarding, &m.DefaultTTL, &m.InReceives, &m.InHdrErrors,
		&m.InAddrErrors, &m.ForwDatagrams, &m.InUnknownProtos, &m.InDiscards, &m.InDelivers,
		&m.OutRequests, &m.OutDiscards, &m.OutNoRoutes, &m.ReasmTimeout, &m.ReasmReqds,
		&m.ReasmOKs, &m.ReasmFails, &m.FragOKs, &m.FragFails, &m.FragCreates}
}

func (m *MIB2ICMP) fields() [25]*uint32 {
	return [...]*uint32{&m.InMsgs, &m.InErrors, &m.InDestUnreachs, &m.InTimeExcds,
		&m.InParamProbs, &m.InSrcQuenchs, &m.InRedirects, &m.InEchos, &m.InEchoReps,
		&m.InTimestamps, &m.InAddrMasks, &m.InAddrMaskReps, &m.OutMsgs, &m.OutErrors,
		&m.OutDestUnreachs, &m.OutTimeExcds, &m.OutParamProbs, &m.OutSrcQuenchs, &m.OutRedirects,
		&m.OutEchos, &m.OutEchoReps, &m.OutTimestamps, &m.OutTimestampReps, &m.OutAddrMasks,
		&m.OutAddrMaskReps}
}

func (m *MIB2TCP) fields() [15]*uint32 {
	return [...]*uint32{&m.RtoAlgorithm, &m.RtoMin, &m.RtoMax, &m.MaxConn, &m.ActiveOpens,
		&m.PassiveOpens, &m.AttemptFails, &m.EstabResets, &m.CurrEstab, &m.InSegs, &m.OutSegs,
		&m.RetransSegs, &m.InErrs, &m.OutRsts, &m.InCsumErrors}
}

func (m *MIB2UDP) fields() [7]*uint32 {
	return [...]*uint32{&m.InDatagrams, &m.NoPorts, &m.InErrors, &m.OutDatagrams,
		&m.RcvbufErrors, &m.SndbufErrors, &m.InCsumErrors}
}
