package sflow

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
)

// ErrEncode is wrapped by errors about values the wire format cannot carry
// (a compact source index above 24 bits, an IPv6 address in an IPv4 record,
// an enterprise number above 20 bits...).
var ErrEncode = errors.New("cannot encode")

// Maximum lengths of standard strings (the spec's string<N>). Longer values
// are truncated by the encoder.
const (
	MaxHostnameLen  = 64
	MaxOSReleaseLen = 32
	MaxPortNameLen  = 255
	MaxURLLen       = 255
	MaxURLHostLen   = 255
)

// Encoder appends sFlow samples and datagrams to byte slices. The zero value
// is ready to use. Appending does not allocate once the destination slice
// has enough capacity.
type Encoder struct {
	// Enterprise is the enterprise number of hostflow's records; 0 means
	// DefaultEnterprise.
	Enterprise uint32
}

func (e *Encoder) enterprise() (uint32, error) {
	switch {
	case e.Enterprise == 0:
		return DefaultEnterprise, nil
	case e.Enterprise > MaxEnterprise:
		return 0, fmt.Errorf("sflow: enterprise %d above 20 bits: %w", e.Enterprise, ErrEncode)
	}
	return e.Enterprise, nil
}

// AppendDatagram appends a whole datagram: header, then dg's flow samples,
// counter samples and unknown samples, in that order.
func (e *Encoder) AppendDatagram(b []byte, dg *Datagram) ([]byte, error) {
	n := len(dg.FlowSamples) + len(dg.CounterSamples) + len(dg.UnknownSamples)
	b = AppendDatagramHeader(b, dg.AgentAddress, dg.SubAgentID, dg.SequenceNumber, dg.Uptime, uint32(n))
	var err error
	for i := range dg.FlowSamples {
		if b, err = e.AppendFlowSample(b, &dg.FlowSamples[i]); err != nil {
			return b, err
		}
	}
	for i := range dg.CounterSamples {
		if b, err = e.AppendCounterSample(b, &dg.CounterSamples[i]); err != nil {
			return b, err
		}
	}
	for _, u := range dg.UnknownSamples {
		b = appendTLV(b, u.Format, u.Data)
	}
	return b, nil
}

// DatagramHeaderLen is the length of a datagram header for an agent
// address: 28 bytes for IPv4, 40 for IPv6 (including IPv4-mapped), 24 for
// an unknown address.
func DatagramHeaderLen(agent netip.Addr) int {
	switch {
	case agent.Is4():
		return 28
	case agent.Is6():
		return 40
	}
	return 24
}

// AppendDatagramHeader appends a datagram header announcing numSamples
// samples. Addresses are written as given: an IPv4-mapped IPv6 address is
// sent as IPv6 (Unmap it to send IPv4; Packer does).
func AppendDatagramHeader(b []byte, agent netip.Addr, subAgent, seq, uptime, numSamples uint32) []byte {
	b = appendU32(b, Version)
	b = appendAddr(b, agent)
	b = appendU32(b, subAgent)
	b = appendU32(b, seq)
	b = appendU32(b, uptime)
	return appendU32(b, numSamples)
}

// AppendFlowSample appends s as a flow sample: compact (0:1) or expanded
// (0:3) per s.Expanded. Records are written in a fixed order: the standard
// ones first (sampled header first of all), then s.Unknown, then hostflow's
// process record last, because tshark 4.0 cannot skip a record it does not
// know. On error b is returned unchanged.
func (e *Encoder) AppendFlowSample(b []byte, s *FlowSample) ([]byte, error) {
	ent, err := e.enterprise()
	if err != nil {
		return b, err
	}
	start := len(b)
	if s.Expanded {
		b = appendU32(b, uint32(FormatFlowSampleExpanded))
		b = appendU32(b, 0) // length, patched by endTLV
		b = appendU32(b, s.SequenceNumber)
		b = appendU32(b, s.SourceType)
		b = appendU32(b, s.SourceIndex)
	} else {
		src, err := compactSource(s.SourceType, s.SourceIndex)
		if err != nil {
			return b, err
		}
		b = appendU32(b, uint32(FormatFlowSample))
		b = appendU32(b, 0)
		b = appendU32(b, s.SequenceNumber)
		b = appendU32(b, src)
	}
	b = appendU32(b, s.SamplingRate)
	b = appendU32(b, s.SamplePool)
	b = appendU32(b, s.Drops)
	if s.Expanded {
		b = appendU32(b, s.InputFormat)
		b = appendU32(b, s.Input)
		b = appendU32(b, s.OutputFormat)
		b = appendU32(b, s.Output)
	} else {
		in, err1 := compactIf(s.InputFormat, s.Input)
		out, err2 := compactIf(s.OutputFormat, s.Output)
		if err := errors.Join(err1, err2); err != nil {
			return b[:start], err
		}
		b = appendU32(b, in)
		b = appendU32(b, out)
	}
	countAt := len(b)
	b = appendU32(b, 0) // record count, patched below
	b, n, err := appendFlowRecords(b, s, ent)
	if err != nil {
		return b[:start], err
	}
	binary.BigEndian.PutUint32(b[countAt:], n)
	return endTLV(b, start), nil
}

func compactSource(typ, index uint32) (uint32, error) {
	if typ > 0xFF || index > 0xFFFFFF {
		return 0, fmt.Errorf("sflow: compact source %d:%d beyond 8:24 bits: %w", typ, index, ErrEncode)
	}
	return typ<<24 | index, nil
}

func compactIf(format, value uint32) (uint32, error) {
	if format > 3 || value > IfIndexInternal {
		return 0, fmt.Errorf("sflow: compact interface %d:%d beyond 2:30 bits: %w", format, value, ErrEncode)
	}
	return format<<30 | value, nil
}

func appendFlowRecords(b []byte, s *FlowSample, ent uint32) ([]byte, uint32, error) {
	var n uint32
	if s.Has&HasSampledHeader != 0 {
		h := &s.SampledHeader
		r := beginTLV(&b, FormatSampledHeader)
		b = appendU32(b, h.Protocol)
		b = appendU32(b, h.FrameLength)
		b = appendU32(b, h.Stripped)
		b = appendOpaque(b, h.Header, math.MaxInt32)
		b = endTLV(b, r)
		n++
	}
	if s.Has&HasSampledEthernet != 0 {
		h := &s.SampledEthernet
		r := beginTLV(&b, FormatSampledEthernet)
		b = appendU32(b, h.Length)
		b = appendMAC(b, h.SrcMAC)
		b = appendMAC(b, h.DstMAC)
		b = appendU32(b, h.EtherType)
		b = endTLV(b, r)
		n++
	}
	var err error
	if s.Has&HasSampledIPv4 != 0 {
		r := beginTLV(&b, FormatSampledIPv4)
		if b, err = appendSampledIP(b, &s.SampledIPv4, false); err != nil {
			return b, n, err
		}
		b = endTLV(b, r)
		n++
	}
	if s.Has&HasSampledIPv6 != 0 {
		r := beginTLV(&b, FormatSampledIPv6)
		if b, err = appendSampledIP(b, &s.SampledIPv6, true); err != nil {
			return b, n, err
		}
		b = endTLV(b, r)
		n++
	}
	if s.Has&HasSwitch != 0 {
		w := &s.Switch
		r := beginTLV(&b, FormatExtendedSwitch)
		b = appendU32(b, w.SrcVLAN)
		b = appendU32(b, w.SrcPriority)
		b = appendU32(b, w.DstVLAN)
		b = appendU32(b, w.DstPriority)
		b = endTLV(b, r)
		n++
	}
	if s.Has&HasRouter != 0 {
		rt := &s.Router
		r := beginTLV(&b, FormatExtendedRouter)
		b = appendAddr(b, rt.NextHop)
		b = appendU32(b, rt.SrcMaskLen)
		b = appendU32(b, rt.DstMaskLen)
		b = endTLV(b, r)
		n++
	}
	if s.Has&HasGateway != 0 {
		r := beginTLV(&b, FormatExtendedGateway)
		b = appendGateway(b, &s.Gateway)
		b = endTLV(b, r)
		n++
	}
	if s.Has&HasUser != 0 {
		u := &s.User
		r := beginTLV(&b, FormatExtendedUser)
		b = appendU32(b, u.SrcCharset)
		b = appendOpaque(b, u.SrcUser, math.MaxInt32)
		b = appendU32(b, u.DstCharset)
		b = appendOpaque(b, u.DstUser, math.MaxInt32)
		b = endTLV(b, r)
		n++
	}
	if s.Has&HasURL != 0 {
		u := &s.URL
		r := beginTLV(&b, FormatExtendedURL)
		b = appendU32(b, u.Direction)
		b = appendOpaque(b, u.URL, MaxURLLen)
		b = appendOpaque(b, u.Host, MaxURLHostLen)
		b = endTLV(b, r)
		n++
	}
	if s.Has&HasSocketIPv4 != 0 {
		r := beginTLV(&b, FormatExtendedSocketV4)
		if b, err = appendSocket(b, &s.SocketIPv4, false); err != nil {
			return b, n, err
		}
		b = endTLV(b, r)
		n++
	}
	if s.Has&HasSocketIPv6 != 0 {
		r := beginTLV(&b, FormatExtendedSocketV6)
		if b, err = appendSocket(b, &s.SocketIPv6, true); err != nil {
			return b, n, err
		}
		b = endTLV(b, r)
		n++
	}
	if s.Has&HasTCPInfo != 0 {
		fs := s.TCPInfo.fields()
		b = appendU32Record(b, FormatExtendedTCPInfo, fs[:])
		n++
	}
	for _, u := range s.Unknown {
		b = appendTLV(b, u.Format, u.Data)
		n++
	}
	if s.Has&HasProcess != 0 {
		p := &s.Process
		r := beginTLV(&b, MakeFormat(ent, HostflowFormatProcess))
		b = appendU32(b, p.PID)
		b = appendU32(b, p.UID)
		b = appendOpaque(b, p.Comm, MaxCommLen)
		b = appendOpaque(b, p.Exe, MaxExeLen)
		b = appendOpaque(b, p.Cgroup, MaxCgroupLen)
		b = appendOpaque(b, p.Unit, MaxUnitLen)
		b = appendOpaque(b, p.Container, MaxContainerLen)
		b = appendOpaque(b, p.User, MaxUserLen)
		b = endTLV(b, r)
		n++
	}
	return b, n, nil
}

func appendSampledIP(b []byte, ip *SampledIP, v6 bool) ([]byte, error) {
	b = appendU32(b, ip.Length)
	b = appendU32(b, ip.Protocol)
	var err1, err2 error
	b, err1 = appendIP(b, ip.SrcIP, v6)
	b, err2 = appendIP(b, ip.DstIP, v6)
	b = appendU32(b, ip.SrcPort)
	b = appendU32(b, ip.DstPort)
	b = appendU32(b, ip.TCPFlags)
	b = appendU32(b, ip.TOS)
	return b, errors.Join(err1, err2)
}

func appendSocket(b []byte, k *ExtendedSocket, v6 bool) ([]byte, error) {
	b = appendU32(b, k.Protocol)
	var err1, err2 error
	b, err1 = appendIP(b, k.LocalIP, v6)
	b, err2 = appendIP(b, k.RemoteIP, v6)
	b = appendU32(b, k.LocalPort)
	b = appendU32(b, k.RemotePort)
	return b, errors.Join(err1, err2)
}

func appendGateway(b []byte, g *ExtendedGateway) []byte {
	b = appendAddr(b, g.NextHop)
	b = appendU32(b, g.AS)
	b = appendU32(b, g.SrcAS)
	b = appendU32(b, g.SrcPeerAS)
	b = appendU32(b, uint32(len(g.ASPath)))
	for _, seg := range g.ASPath {
		b = appendU32(b, seg.Type)
		b = appendU32(b, uint32(len(seg.ASNs)))
		for _, as := range seg.ASNs {
			b = appendU32(b, as)
		}
	}
	b = appendU32(b, uint32(len(g.Communities)))
	for _, c := range g.Communities {
		b = appendU32(b, c)
	}
	return appendU32(b, g.LocalPref)
}

// AppendCounterSample appends s as a counter sample: compact (0:2) or
// expanded (0:4). Records are written generic interface first, then the
// other records tshark 4.0 knows (ethernet, VLAN, processor), then the rest
// of the standard ones, s.Unknown, and hostflow's interface record last.
// On error b is returned unchanged.
func (e *Encoder) AppendCounterSample(b []byte, s *CounterSample) ([]byte, error) {
	ent, err := e.enterprise()
	if err != nil {
		return b, err
	}
	start := len(b)
	if s.Expanded {
		b = appendU32(b, uint32(FormatCounterSampleExpanded))
		b = appendU32(b, 0)
		b = appendU32(b, s.SequenceNumber)
		b = appendU32(b, s.SourceType)
		b = appendU32(b, s.SourceIndex)
	} else {
		src, err := compactSource(s.SourceType, s.SourceIndex)
		if err != nil {
			return b, err
		}
		b = appendU32(b, uint32(FormatCounterSample))
		b = appendU32(b, 0)
		b = appendU32(b, s.SequenceNumber)
		b = appendU32(b, src)
	}
	countAt := len(b)
	b = appendU32(b, 0)
	b, n := appendCounterRecords(b, s, ent)
	binary.BigEndian.PutUint32(b[countAt:], n)
	return endTLV(b, start), nil
}

func appendCounterRecords(b []byte, s *CounterSample, ent uint32) ([]byte, uint32) {
	var n uint32
	if s.Has&HasGeneric != 0 {
		r := beginTLV(&b, FormatGenericInterface)
		b = appendGeneric(b, &s.Generic)
		b = endTLV(b, r)
		n++
	}
	if s.Has&HasEthernet != 0 {
		fs := s.Ethernet.fields()
		b = appendU32Record(b, FormatEthernet, fs[:])
		n++
	}
	if s.Has&HasVLAN != 0 {
		v := &s.VLAN
		r := beginTLV(&b, FormatVLAN)
		b = appendU32(b, v.VLANID)
		b = appendU64(b, v.Octets)
		b = appendU32(b, v.UcastPkts)
		b = appendU32(b, v.MulticastPkts)
		b = appendU32(b, v.BroadcastPkts)
		b = appendU32(b, v.Discards)
		b = endTLV(b, r)
		n++
	}
	if s.Has&HasProcessor != 0 {
		p := &s.Processor
		r := beginTLV(&b, FormatProcessor)
		b = appendU32(b, uint32(p.CPU5s))
		b = appendU32(b, uint32(p.CPU1m))
		b = appendU32(b, uint32(p.CPU5m))
		b = appendU64(b, p.TotalMemory)
		b = appendU64(b, p.FreeMemory)
		b = endTLV(b, r)
		n++
	}
	if s.Has&HasPortName != 0 {
		r := beginTLV(&b, FormatPortName)
		b = appendOpaque(b, s.PortName, MaxPortNameLen)
		b = endTLV(b, r)
		n++
	}
	if s.Has&HasHostDescr != 0 {
		h := &s.HostDescr
		r := beginTLV(&b, FormatHostDescr)
		b = appendOpaque(b, h.Hostname, MaxHostnameLen)
		b = append(b, h.UUID[:]...)
		b = appendU32(b, h.MachineType)
		b = appendU32(b, h.OSName)
		b = appendOpaque(b, h.OSRelease, MaxOSReleaseLen)
		b = endTLV(b, r)
		n++
	}
	if s.Has&HasAdapters != 0 {
		r := beginTLV(&b, FormatHostAdapters)
		b = appendU32(b, uint32(len(s.Adapters.Adapters)))
		for _, a := range s.Adapters.Adapters {
			b = appendU32(b, a.IfIndex)
			b = appendU32(b, uint32(len(a.MACs)))
			for _, m := range a.MACs {
				b = appendMAC(b, m)
			}
		}
		b = endTLV(b, r)
		n++
	}
	if s.Has&HasHostParent != 0 {
		r := beginTLV(&b, FormatHostParent)
		b = appendU32(b, s.HostParent.ContainerType)
		b = appendU32(b, s.HostParent.ContainerIndex)
		b = endTLV(b, r)
		n++
	}
	if s.Has&HasHostCPU != 0 {
		h := &s.HostCPU
		r := beginTLV(&b, FormatHostCPU)
		b = appendU32(b, math.Float32bits(h.LoadOne))
		b = appendU32(b, math.Float32bits(h.LoadFive))
		b = appendU32(b, math.Float32bits(h.LoadFifteen))
		for _, p := range h.counters() {
			b = appendU32(b, *p)
		}
		b = appendU32(b, h.Steal)
		b = appendU32(b, h.Guest)
		b = appendU32(b, h.GuestNice)
		b = endTLV(b, r)
		n++
	}
	if s.Has&HasHostMemory != 0 {
		r := beginTLV(&b, FormatHostMemory)
		for _, p := range s.HostMemory.bytes() {
			b = appendU64(b, *p)
		}
		for _, p := range s.HostMemory.pages() {
			b = appendU32(b, *p)
		}
		b = endTLV(b, r)
		n++
	}
	if s.Has&HasHostDiskIO != 0 {
		d := &s.HostDiskIO
		r := beginTLV(&b, FormatHostDiskIO)
		b = appendU64(b, d.Total)
		b = appendU64(b, d.Free)
		b = appendU32(b, uint32(d.PartMaxUsed))
		b = appendU32(b, d.Reads)
		b = appendU64(b, d.BytesRead)
		b = appendU32(b, d.ReadTime)
		b = appendU32(b, d.Writes)
		b = appendU64(b, d.BytesWritten)
		b = appendU32(b, d.WriteTime)
		b = endTLV(b, r)
		n++
	}
	if s.Has&HasHostNetIO != 0 {
		d := &s.HostNetIO
		r := beginTLV(&b, FormatHostNetIO)
		b = appendU64(b, d.BytesIn)
		b = appendU32(b, d.PktsIn)
		b = appendU32(b, d.ErrsIn)
		b = appendU32(b, d.DropsIn)
		b = appendU64(b, d.BytesOut)
		b = appendU32(b, d.PktsOut)
		b = appendU32(b, d.ErrsOut)
		b = appendU32(b, d.DropsOut)
		b = endTLV(b, r)
		n++
	}
	if s.Has&HasMIB2IP != 0 {
		fs := s.MIB2IP.fields()
		b = appendU32Record(b, FormatMIB2IP, fs[:])
		n++
	}
	if s.Has&HasMIB2ICMP != 0 {
		fs := s.MIB2ICMP.fields()
		b = appendU32Record(b, FormatMIB2ICMP, fs[:])
		n++
	}
	if s.Has&HasMIB2TCP != 0 {
		fs := s.MIB2TCP.fields()
		b = appendU32Record(b, FormatMIB2TCP, fs[:])
		n++
	}
	if s.Has&HasMIB2UDP != 0 {
		fs := s.MIB2UDP.fields()
		b = appendU32Record(b, FormatMIB2UDP, fs[:])
		n++
	}
	for _, u := range s.Unknown {
		b = appendTLV(b, u.Format, u.Data)
		n++
	}
	if s.Has&HasInterface != 0 {
		i := &s.Interface
		r := beginTLV(&b, MakeFormat(ent, HostflowFormatInterface))
		b = appendU32(b, i.IfIndex)
		b = appendU32(b, uint32(i.Kind))
		b = appendU32(b, i.MTU)
		b = appendU32(b, i.MasterIndex)
		b = appendOpaque(b, i.Name, MaxIfNameLen)
		b = appendOpaque(b, i.Alias, MaxIfAliasLen)
		b = appendOpaque(b, i.KindName, MaxIfKindLen)
		b = endTLV(b, r)
		n++
	}
	return b, n
}

func appendGeneric(b []byte, g *GenericInterface) []byte {
	b = appendU32(b, g.Index)
	b = appendU32(b, g.Type)
	b = appendU64(b, g.Speed)
	b = appendU32(b, g.Direction)
	b = appendU32(b, g.Status)
	b = appendU64(b, g.InOctets)
	b = appendU32(b, g.InUcastPkts)
	b = appendU32(b, g.InMulticastPkts)
	b = appendU32(b, g.InBroadcastPkts)
	b = appendU32(b, g.InDiscards)
	b = appendU32(b, g.InErrors)
	b = appendU32(b, g.InUnknownProtos)
	b = appendU64(b, g.OutOctets)
	b = appendU32(b, g.OutUcastPkts)
	b = appendU32(b, g.OutMulticastPkts)
	b = appendU32(b, g.OutBroadcastPkts)
	b = appendU32(b, g.OutDiscards)
	b = appendU32(b, g.OutErrors)
	return appendU32(b, g.PromiscuousMode)
}

// appendU32Record appends a record made only of u32 values.
func appendU32Record(b []byte, f DataFormat, fields []*uint32) []byte {
	r := beginTLV(&b, f)
	for _, p := range fields {
		b = appendU32(b, *p)
	}
	return endTLV(b, r)
}

// beginTLV appends a format and a length placeholder; endTLV patches the
// length once the body is written.
func beginTLV(b *[]byte, f DataFormat) int {
	start := len(*b)
	*b = appendU32(appendU32(*b, uint32(f)), 0)
	return start
}

func endTLV(b []byte, start int) []byte {
	binary.BigEndian.PutUint32(b[start+4:], uint32(len(b)-start-8))
	return b
}

// appendTLV appends an already encoded record or sample body.
func appendTLV(b []byte, f DataFormat, body []byte) []byte {
	b = appendU32(b, uint32(f))
	b = appendU32(b, uint32(len(body)))
	b = append(b, body...)
	return appendPad(b, len(body))
}

func appendU32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }

func appendU64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

var zeros [4]byte

func appendPad(b []byte, n int) []byte { return append(b, zeros[:(4-n%4)%4]...) }

// appendOpaque appends a variable-length opaque/string of at most max bytes
// (longer values are truncated).
func appendOpaque(b []byte, v []byte, max int) []byte {
	if len(v) > max {
		v = v[:max]
	}
	b = appendU32(b, uint32(len(v)))
	b = append(b, v...)
	return appendPad(b, len(v))
}

// appendMAC appends a MAC padded to 8 bytes, as XDR pads opaque[6].
func appendMAC(b []byte, m MAC) []byte {
	return append(append(b, m[:]...), 0, 0)
}

// appendAddr appends an sFlow address: type 0 for the zero Addr, 1 for
// IPv4, 2 for IPv6.
func appendAddr(b []byte, a netip.Addr) []byte {
	switch {
	case a.Is4():
		v := a.As4()
		return append(appendU32(b, 1), v[:]...)
	case a.Is6():
		v := a.As16()
		return append(appendU32(b, 2), v[:]...)
	}
	return appendU32(b, 0)
}

// appendIP appends a bare address of the family the record requires; the
// zero Addr is written as all zeros.
func appendIP(b []byte, a netip.Addr, v6 bool) ([]byte, error) {
	switch {
	case v6 && (a.Is6() || !a.IsValid()):
		v := a.As16()
		return append(b, v[:]...), nil
	case !v6 && (a.Is4() || a.Is4In6()):
		v := a.Unmap().As4()
		return append(b, v[:]...), nil
	case !v6 && !a.IsValid():
		return append(b, 0, 0, 0, 0), nil
	}
	n, family := 4, "IPv4"
	if v6 {
		n, family = 16, "IPv6"
	}
	var zero [16]byte
	return append(b, zero[:n]...), fmt.Errorf("sflow: address %s in an %s field: %w", a, family, ErrEncode)
}
