package sflow

// decodeFlowRecord decodes one flow record body (c spans exactly the body)
// into s. A record longer than its known layout is accepted: the tail is an
// extension this version does not know. The record's bit is set in s.Has
// before any of its fields is written (FlowSample.reuse counts on it).
func decodeFlowRecord(c cursor, s *FlowSample, format, process DataFormat) error {
	switch format {
	case FormatSampledHeader:
		s.Has |= HasSampledHeader
		if !s.SampledHeader.decodeWhole(c.r) {
			s.SampledHeader.decode(&c)
		}
	case process:
		s.Has |= HasProcess
		if !s.Process.decodeWhole(c.r) {
			s.Process.decode(&c)
		}
	case FormatSampledEthernet:
		s.Has |= HasSampledEthernet
		e := &s.SampledEthernet
		e.Length = c.u32("length")
		e.SrcMAC = c.mac("source MAC")
		e.DstMAC = c.mac("destination MAC")
		e.EtherType = c.u32("ethertype")
	case FormatSampledIPv4:
		s.Has |= HasSampledIPv4
		decodeSampledIP(&c, &s.SampledIPv4, false)
	case FormatSampledIPv6:
		s.Has |= HasSampledIPv6
		decodeSampledIP(&c, &s.SampledIPv6, true)
	case FormatExtendedSwitch:
		s.Has |= HasSwitch
		w := &s.Switch
		w.SrcVLAN = c.u32("source VLAN")
		w.SrcPriority = c.u32("source priority")
		w.DstVLAN = c.u32("destination VLAN")
		w.DstPriority = c.u32("destination priority")
	case FormatExtendedRouter:
		s.Has |= HasRouter
		r := &s.Router
		r.NextHop = c.addr("next hop")
		r.SrcMaskLen = c.u32("source mask length")
		r.DstMaskLen = c.u32("destination mask length")
	case FormatExtendedGateway:
		s.Has |= HasGateway
		decodeGateway(&c, &s.Gateway)
	case FormatExtendedUser:
		s.Has |= HasUser
		u := &s.User
		u.SrcCharset = c.u32("source charset")
		u.SrcUser = c.opaque("source user")
		u.DstCharset = c.u32("destination charset")
		u.DstUser = c.opaque("destination user")
	case FormatExtendedURL:
		s.Has |= HasURL
		u := &s.URL
		u.Direction = c.u32("direction")
		u.URL = c.opaque("url")
		u.Host = c.opaque("host")
	case FormatExtendedSocketV4:
		s.Has |= HasSocketIPv4
		decodeSocket(&c, &s.SocketIPv4, false)
	case FormatExtendedSocketV6:
		s.Has |= HasSocketIPv6
		decodeSocket(&c, &s.SocketIPv6, true)
	case FormatExtendedTCPInfo:
		s.Has |= HasTCPInfo
		for _, p := range s.TCPInfo.fields() {
			*p = c.u32("tcp_info")
		}
	default:
		s.Unknown = append(s.Unknown, Unknown{Format: format, Data: c.rest()})
	}
	return c.err()
}

// The records every hostflow flow sample carries are decoded by
// decodeWhole, straight from the body's bytes: without the cursor's
// bookkeeping for an error message, it only tells whether the record was
// whole. When it was not, decode reads it again through the cursor, which
// says where it is short. TestDecodeWhole checks that both read the same.

func (h *SampledHeader) decode(c *cursor) {
	if p := c.take(12, "header protocol, frame length, stripped"); p != nil {
		h.Protocol, h.FrameLength, h.Stripped = be32(p), be32(p[4:]), be32(p[8:])
		h.Header = c.opaque("header")
	}
}

func (p *ProcessInfo) decode(c *cursor) {
	p.raw = c.rest()
	if ids := c.take(8, "pid and uid"); ids != nil {
		p.PID, p.UID = be32(ids), be32(ids[4:])
	}
	p.Comm = c.opaque("comm")
	p.Exe = c.opaque("exe")
	p.Cgroup = c.opaque("cgroup")
	p.Unit = c.opaque("unit")
	p.Container = c.opaque("container")
	p.User = c.opaque("user")
}

func (h *SampledHeader) decodeWhole(b []byte) bool {
	if len(b) < 12 {
		return false
	}
	h.Protocol, h.FrameLength, h.Stripped = be32(b), be32(b[4:]), be32(b[8:])
	var ok bool
	h.Header, _, ok = xdrOpaque(b[12:])
	return ok
}

func (p *ProcessInfo) decodeWhole(b []byte) bool {
	if len(b) < 8 {
		return false
	}
	p.raw = b[:len(b):len(b)]
	p.PID, p.UID = be32(b), be32(b[4:])
	b = b[8:]
	// A failed xdrOpaque returns no rest, so the ones after it fail too
	// and the last ok says whether all succeeded.
	var ok bool
	p.Comm, b, _ = xdrOpaque(b)
	p.Exe, b, _ = xdrOpaque(b)
	p.Cgroup, b, _ = xdrOpaque(b)
	p.Unit, b, _ = xdrOpaque(b)
	p.Container, b, _ = xdrOpaque(b)
	p.User, _, ok = xdrOpaque(b)
	return ok
}

// xdrOpaque splits a variable-length opaque or string off b: the bytes
// (capacity capped, as cursor.fixed) and the rest after the padding, which
// may be missing at the end of b. ok is false, with no rest, if b is too
// short.
func xdrOpaque(b []byte) (v, rest []byte, ok bool) {
	if len(b) < 4 {
		return nil, nil, false
	}
	n := be32(b)
	if b = b[4:]; uint(n) > uint(len(b)) {
		return nil, nil, false
	}
	return b[:n:n], b[min((n+3)&^3, uint32(len(b))):], true
}

func decodeSampledIP(c *cursor, ip *SampledIP, v6 bool) {
	ip.Length = c.u32("length")
	ip.Protocol = c.u32("protocol")
	if v6 {
		ip.SrcIP = c.ip6("source address")
		ip.DstIP = c.ip6("destination address")
	} else {
		ip.SrcIP = c.ip4("source address")
		ip.DstIP = c.ip4("destination address")
	}
	ip.SrcPort = c.u32("source port")
	ip.DstPort = c.u32("destination port")
	ip.TCPFlags = c.u32("tcp flags")
	ip.TOS = c.u32("tos")
}

func decodeSocket(c *cursor, k *ExtendedSocket, v6 bool) {
	k.Protocol = c.u32("protocol")
	if v6 {
		k.LocalIP = c.ip6("local address")
		k.RemoteIP = c.ip6("remote address")
	} else {
		k.LocalIP = c.ip4("local address")
		k.RemoteIP = c.ip4("remote address")
	}
	k.LocalPort = c.u32("local port")
	k.RemotePort = c.u32("remote port")
}

func decodeGateway(c *cursor, g *ExtendedGateway) {
	g.NextHop = c.addr("next hop")
	g.AS = c.u32("as")
	g.SrcAS = c.u32("source as")
	g.SrcPeerAS = c.u32("source peer as")
	nseg := c.count(8, "as path segment count")
	// Size the shared ASN array for every ASN the record could hold, so
	// the segments' sub-slices are never moved by a later append. Bounded
	// by the record length, not by a wire count.
	if max := c.left() / 4; cap(g.asns) < max {
		g.asns = make([]uint32, 0, max)
	}
	for i := 0; i < nseg; i++ {
		typ := c.u32("as path segment type")
		n := c.count(4, "as path segment length")
		start := len(g.asns)
		for j := 0; j < n; j++ {
			g.asns = append(g.asns, c.u32("as path"))
		}
		g.ASPath = append(g.ASPath, ASPathSegment{Type: typ, ASNs: g.asns[start:len(g.asns):len(g.asns)]})
	}
	n := c.count(4, "community count")
	for i := 0; i < n; i++ {
		g.Communities = append(g.Communities, c.u32("community"))
	}
	g.LocalPref = c.u32("local pref")
}

// decodeCounterRecord decodes one counter record body into s.
func decodeCounterRecord(c cursor, s *CounterSample, format, iface DataFormat) error {
	switch format {
	case FormatGenericInterface:
		decodeGeneric(&c, &s.Generic)
		s.Has |= HasGeneric
	case FormatEthernet:
		for _, p := range s.Ethernet.fields() {
			*p = c.u32("ethernet counters")
		}
		s.Has |= HasEthernet
	case FormatVLAN:
		v := &s.VLAN
		v.VLANID = c.u32("vlan id")
		v.Octets = c.u64("octets")
		v.UcastPkts = c.u32("unicast packets")
		v.MulticastPkts = c.u32("multicast packets")
		v.BroadcastPkts = c.u32("broadcast packets")
		v.Discards = c.u32("discards")
		s.Has |= HasVLAN
	case FormatProcessor:
		p := &s.Processor
		p.CPU5s = int32(c.u32("cpu 5s"))
		p.CPU1m = int32(c.u32("cpu 1m"))
		p.CPU5m = int32(c.u32("cpu 5m"))
		p.TotalMemory = c.u64("total memory")
		p.FreeMemory = c.u64("free memory")
		s.Has |= HasProcessor
	case FormatPortName:
		s.PortName = c.opaque("port name")
		s.Has |= HasPortName
	case FormatHostDescr:
		h := &s.HostDescr
		h.Hostname = c.opaque("hostname")
		copy(h.UUID[:], c.fixed(16, "uuid"))
		h.MachineType = c.u32("machine type")
		h.OSName = c.u32("os name")
		h.OSRelease = c.opaque("os release")
		s.Has |= HasHostDescr
	case FormatHostAdapters:
		decodeAdapters(&c, &s.Adapters)
		s.Has |= HasAdapters
	case FormatHostParent:
		s.HostParent.ContainerType = c.u32("container type")
		s.HostParent.ContainerIndex = c.u32("container index")
		s.Has |= HasHostParent
	case FormatHostCPU:
		decodeHostCPU(&c, &s.HostCPU)
		s.Has |= HasHostCPU
	case FormatHostMemory:
		m := &s.HostMemory
		for _, p := range m.bytes() {
			*p = c.u64("host memory")
		}
		for _, p := range m.pages() {
			*p = c.u32("host memory")
		}
		s.Has |= HasHostMemory
	case FormatHostDiskIO:
		d := &s.HostDiskIO
		d.Total = c.u64("disk total")
		d.Free = c.u64("disk free")
		d.PartMaxUsed = int32(c.u32("partition max used"))
		d.Reads = c.u32("reads")
		d.BytesRead = c.u64("bytes read")
		d.ReadTime = c.u32("read time")
		d.Writes = c.u32("writes")
		d.BytesWritten = c.u64("bytes written")
		d.WriteTime = c.u32("write time")
		s.Has |= HasHostDiskIO
	case FormatHostNetIO:
		n := &s.HostNetIO
		n.BytesIn = c.u64("bytes in")
		n.PktsIn = c.u32("packets in")
		n.ErrsIn = c.u32("errors in")
		n.DropsIn = c.u32("drops in")
		n.BytesOut = c.u64("bytes out")
		n.PktsOut = c.u32("packets out")
		n.ErrsOut = c.u32("errors out")
		n.DropsOut = c.u32("drops out")
		s.Has |= HasHostNetIO
	case FormatMIB2IP:
		for _, p := range s.MIB2IP.fields() {
			*p = c.u32("mib2 ip group")
		}
		s.Has |= HasMIB2IP
	case FormatMIB2ICMP:
		for _, p := range s.MIB2ICMP.fields() {
			*p = c.u32("mib2 icmp group")
		}
		s.Has |= HasMIB2ICMP
	case FormatMIB2TCP:
		for _, p := range s.MIB2TCP.fields() {
			*p = c.u32("mib2 tcp group")
		}
		s.Has |= HasMIB2TCP
	case FormatMIB2UDP:
		for _, p := range s.MIB2UDP.fields() {
			*p = c.u32("mib2 udp group")
		}
		s.Has |= HasMIB2UDP
	case iface:
		i := &s.Interface
		i.IfIndex = c.u32("ifindex")
		i.Kind = IfKind(c.u32("kind"))
		i.MTU = c.u32("mtu")
		i.MasterIndex = c.u32("master ifindex")
		i.Name = c.opaque("name")
		i.Alias = c.opaque("alias")
		i.KindName = c.opaque("kind name")
		s.Has |= HasInterface
	default:
		s.Unknown = append(s.Unknown, Unknown{Format: format, Data: c.rest()})
	}
	return c.err()
}

func decodeGeneric(c *cursor, g *GenericInterface) {
	g.Index = c.u32("ifindex")
	g.Type = c.u32("iftype")
	g.Speed = c.u64("ifspeed")
	g.Direction = c.u32("ifdirection")
	g.Status = c.u32("ifstatus")
	g.InOctets = c.u64("in octets")
	g.InUcastPkts = c.u32("in unicast packets")
	g.InMulticastPkts = c.u32("in multicast packets")
	g.InBroadcastPkts = c.u32("in broadcast packets")
	g.InDiscards = c.u32("in discards")
	g.InErrors = c.u32("in errors")
	g.InUnknownProtos = c.u32("in unknown protocols")
	g.OutOctets = c.u64("out octets")
	g.OutUcastPkts = c.u32("out unicast packets")
	g.OutMulticastPkts = c.u32("out multicast packets")
	g.OutBroadcastPkts = c.u32("out broadcast packets")
	g.OutDiscards = c.u32("out discards")
	g.OutErrors = c.u32("out errors")
	g.PromiscuousMode = c.u32("promiscuous mode")
}

// hostCPUShort is the length of host_cpu before steal/guest/guest_nice
// were appended in 2014.
const hostCPUShort = 68

func decodeHostCPU(c *cursor, h *HostCPU) {
	h.LoadOne = c.f32("load one")
	h.LoadFive = c.f32("load five")
	h.LoadFifteen = c.f32("load fifteen")
	for _, p := range h.counters() {
		*p = c.u32("host cpu")
	}
	if c.left() >= 80-hostCPUShort {
		h.Steal = c.u32("cpu steal")
		h.Guest = c.u32("cpu guest")
		h.GuestNice = c.u32("cpu guest nice")
	}
}

func decodeAdapters(c *cursor, a *HostAdapters) {
	n := c.count(8, "adapter count")
	// As for AS paths: one backing array sized by the record length.
	if max := c.left() / 8; cap(a.macs) < max {
		a.macs = make([]MAC, 0, max)
	}
	for i := 0; i < n; i++ {
		index := c.u32("adapter ifindex")
		m := c.count(8, "adapter MAC count")
		start := len(a.macs)
		for j := 0; j < m; j++ {
			a.macs = append(a.macs, c.mac("adapter MAC"))
		}
		a.Adapters = append(a.Adapters, HostAdapter{IfIndex: index, MACs: a.macs[start:len(a.macs):len(a.macs)]})
	}
}
