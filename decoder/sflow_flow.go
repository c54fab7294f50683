package decoder

import (
	"bytes"
	"net/netip"
	"strconv"

	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/packet"
	"github.com/hostflow/hostflow/sflow"
)

// IPFIX forwardingStatus values (RFC 7270 §4.12) for sFlow interface
// formats: 64 forwarded, 128 dropped for an unknown reason, 128+n a known
// reason.
const (
	forwarded      = 64
	droppedUnknown = 128
	droppedACL     = 130 // ACL drop
	droppedUnroute = 131 // unroutable
	droppedFragDF  = 133 // fragmentation needed and DF set
	droppedBadTTL  = 137
	droppedPolicer = 138
	droppedWRED    = 139
)

// sFlow discard reasons (output format 1) that have an IPFIX counterpart.
func discardStatus(reason uint32) uint32 {
	switch {
	case reason <= 255: // ICMP destination-unreachable codes
		return droppedUnroute
	case reason == 257:
		return droppedBadTTL
	case reason == 258:
		return droppedACL
	case reason == 260:
		return droppedWRED
	case reason == 261:
		return droppedPolicer
	case reason == 262:
		return droppedFragDF
	}
	return droppedUnknown
}

func macUint(m sflow.MAC) uint64 {
	return uint64(m[0])<<40 | uint64(m[1])<<32 | uint64(m[2])<<24 | uint64(m[3])<<16 | uint64(m[4])<<8 | uint64(m[5])
}

// flowSample maps one flow sample onto a new record of out.
func (s *SFlow) flowSample(fs *sflow.FlowSample, exporter netip.Addr, now uint32, out *Batch) {
	r := out.NewFlow()
	s.counts.flows++
	s.counts.skipped[skipUnknownFlowRecord] += len(fs.Unknown)
	r.TimeReceived = now
	r.ExporterAddress = exporter
	r.SubAgentID = s.dg.SubAgentID
	r.SamplingRate = uint64(fs.SamplingRate)
	if fs.SamplingRate == 0 {
		r.SamplingRate = 1
		s.counts.samplingUnknown++
	}
	r.Packets = 1
	s.interfaces(fs, r)

	switch {
	case fs.Has&sflow.HasSampledHeader != 0:
		s.sampledHeader(&fs.SampledHeader, r)
	case fs.Has&sflow.HasSampledIPv4 != 0:
		sampledIP(&fs.SampledIPv4, packet.ETypeIPv4, r)
	case fs.Has&sflow.HasSampledIPv6 != 0:
		sampledIP(&fs.SampledIPv6, packet.ETypeIPv6, r)
	}
	if fs.Has&sflow.HasSampledEthernet != 0 {
		e := &fs.SampledEthernet
		r.SrcMAC, r.DstMAC = macUint(e.SrcMAC), macUint(e.DstMAC)
		if r.EType == 0 {
			r.EType = uint16(e.EtherType)
		}
		if r.Bytes == 0 {
			r.Bytes = uint64(withoutFCS(e.Length))
		}
	}
	if fs.Has&sflow.HasSwitch != 0 {
		r.SrcVlan, r.DstVlan = uint16(fs.Switch.SrcVLAN&0xfff), uint16(fs.Switch.DstVLAN&0xfff)
	}
	if fs.Has&sflow.HasRouter != 0 {
		r.NextHop = fs.Router.NextHop.Unmap()
		r.SrcNetMask, r.DstNetMask = uint8(min(fs.Router.SrcMaskLen, 128)), uint8(min(fs.Router.DstMaskLen, 128))
	}
	if fs.Has&sflow.HasGateway != 0 {
		g := &fs.Gateway
		r.SrcAS, r.DstAS = g.SrcAS, g.DstAS()
		if !r.NextHop.IsValid() {
			r.NextHop = g.NextHop.Unmap()
		}
	}
	if fs.Has&sflow.HasTCPInfo != 0 {
		r.TCPRTT, r.TCPRetrans = fs.TCPInfo.RTT, fs.TCPInfo.Retrans
	}
	if fs.Has&sflow.HasProcess != 0 {
		s.process(&fs.Process, r)
	}
}

// interfaces sets InIf/OutIf, FlowDirection and ForwardingStatus. The
// "internal" interface (0x3FFFFFFF: the host itself) is stored as 0 and
// gives the direction: a packet delivered to the host is ingress on its
// input interface, one the host sent is egress on its output interface.
func (s *SFlow) interfaces(fs *sflow.FlowSample, r *flow.Record) {
	inInternal := fs.InputFormat == sflow.IfFormatIndex && fs.Input == sflow.IfIndexInternal
	if fs.InputFormat == sflow.IfFormatIndex && !inInternal {
		r.InIf = fs.Input
	}
	outInternal := false
	switch fs.OutputFormat {
	case sflow.IfFormatIndex:
		outInternal = fs.Output == sflow.IfIndexInternal
		if !outInternal {
			r.OutIf = fs.Output
			if fs.Output != 0 {
				r.ForwardingStatus = forwarded
			}
		}
	case sflow.IfFormatDiscard:
		r.ForwardingStatus = discardStatus(fs.Output)
	case sflow.IfFormatMultiple:
		r.ForwardingStatus = forwarded
	}
	switch {
	case outInternal && !inInternal:
		r.FlowDirection = flow.DirectionIngress
	case inInternal && !outInternal:
		r.FlowDirection = flow.DirectionEgress
	}
}

// withoutFCS removes the 4-byte Ethernet FCS that sFlow L2 lengths include.
func withoutFCS(n uint32) uint32 {
	if n >= 4 {
		return n - 4
	}
	return n
}

// sampledHeader parses the sampled packet header into r and sets Bytes to
// what the sampling interface counted: the frame without its FCS for
// Ethernet; frame_length − stripped for IPv4/IPv6 headers (the IP packet,
// whatever the agent's convention for a phantom link layer: hsflowd
// +18/18, pmacct +4/4, hostflow +0/0), for MPLS and for PPP;
// frame_length for protocols not parsed.
func (s *SFlow) sampledHeader(h *sflow.SampledHeader, r *flow.Record) {
	var link packet.LinkType
	switch h.Protocol {
	case sflow.HeaderEthernet:
		link = packet.LinkEthernet
		r.Bytes = uint64(h.FrameLength)
		if h.Stripped >= 4 {
			r.Bytes = uint64(withoutFCS(h.FrameLength))
		}
	case sflow.HeaderIPv4, sflow.HeaderIPv6, sflow.HeaderMPLS, sflow.HeaderPPP:
		switch h.Protocol {
		case sflow.HeaderMPLS:
			link = packet.LinkMPLS
		case sflow.HeaderPPP:
			link = packet.LinkPPP
		default:
			link = packet.LinkIP
		}
		r.Bytes = uint64(h.FrameLength)
		if h.FrameLength > h.Stripped {
			r.Bytes = uint64(h.FrameLength - h.Stripped)
		}
	default:
		r.Bytes = uint64(h.FrameLength)
		s.counts.headerErrors[headerUnsupported]++
		return
	}
	hdr := &s.hdr
	if err := packet.Parse(link, h.Header, hdr); err != nil {
		s.counts.headerErrors[headerErrorReason(err)]++
	}
	if link == packet.LinkIP && r.Bytes == 0 {
		r.Bytes = uint64(hdr.IPLength)
	}
	r.SrcMAC, r.DstMAC = hdr.SrcMAC, hdr.DstMAC
	r.SrcVlan = hdr.VLAN // the tag on the sampled frame; extended_switch overrides
	r.EType = hdr.EType
	r.SrcAddr, r.DstAddr = hdr.SrcAddr, hdr.DstAddr
	r.Proto = hdr.Proto
	r.SrcPort, r.DstPort = hdr.SrcPort, hdr.DstPort
	r.TCPFlags = hdr.TCPFlags
	r.IPTos, r.IPTTL = hdr.TOS, hdr.TTL
	r.IPv6FlowLabel = hdr.FlowLabel
	r.IPFragmentID, r.IPFragmentOffset = hdr.FragID, hdr.FragOffset
	r.ICMPType, r.ICMPCode = hdr.ICMPType, hdr.ICMPCode
}

// Reasons a sampled header was not fully decoded; the label values of
// hostflow_decoder_sflow_sampled_header_errors_total.
const (
	headerTruncated = iota
	headerMalformed
	headerIPVersion
	headerTooDeep
	headerUnsupported
	headerReasons
)

var headerReasonNames = [headerReasons]string{"truncated", "malformed", "ip-version", "too-deep", "unsupported-protocol"}

func headerErrorReason(err error) int {
	switch err {
	case packet.ErrTruncated:
		return headerTruncated
	case packet.ErrIPVersion:
		return headerIPVersion
	case packet.ErrTooDeep:
		return headerTooDeep
	}
	return headerMalformed
}

// sampledIP maps the sampled IPv4/IPv6 records (0:3, 0:4), which agents
// send instead of a header.
func sampledIP(ip *sflow.SampledIP, etype uint16, r *flow.Record) {
	r.EType = etype
	r.Bytes = uint64(ip.Length)
	r.Proto = uint8(ip.Protocol)
	r.SrcAddr, r.DstAddr = ip.SrcIP.Unmap(), ip.DstIP.Unmap()
	r.SrcPort, r.DstPort = uint16(ip.SrcPort), uint16(ip.DstPort)
	r.TCPFlags = uint16(ip.TCPFlags & 0xfff)
	r.IPTos = uint8(ip.TOS)
}

// process maps hostflow's process record. The process name is the
// executable's basename when known (stable across threads, not cut at 15
// characters), else the kernel task name; the user is the name, else the
// numeric uid.
func (s *SFlow) process(p *sflow.ProcessInfo, r *flow.Record) {
	r.ProcessID = p.PID
	e := s.procs.lookup(p)
	if e == nil {
		e = s.procs.fill(p, s.str, &s.uidBuf)
	}
	r.ProcessName, r.ProcessUser = e.name, e.user
	r.Cgroup, r.Unit, r.Container = e.cgroup, e.unit, e.container
}

// procCache remembers the strings of recently seen processes, so that the
// usual case (the same process again) costs one array index and one
// comparison of the record's bytes instead of five string-table lookups.
// It is direct-mapped by PID: a collision just replaces the entry. Equal
// record bytes are equal records, so a hit maps exactly as a fill would.
type procCache [256]procEntry

// maxCachedProcess bounds the records the cache keeps (256 of them): the
// largest a hostflow agent sends, every string at its maximum, is 1008
// bytes. Longer ones (another encoder's) are mapped but not remembered.
const maxCachedProcess = 1024

type procEntry struct {
	filled                              bool
	raw                                 []byte // the record as received (sflow.ProcessInfo.Raw), reused
	name, user, cgroup, unit, container string // as mapped
}

func (c *procCache) lookup(p *sflow.ProcessInfo) *procEntry {
	e := &c[p.PID%uint32(len(c))]
	// A record that was not decoded (no Raw) is never recognised.
	if !e.filled || p.Raw() == nil || !bytes.Equal(e.raw, p.Raw()) {
		return nil
	}
	return e
}

func (c *procCache) fill(p *sflow.ProcessInfo, str *interner, uidBuf *[]byte) *procEntry {
	e := &c[p.PID%uint32(len(c))]
	e.filled = len(p.Raw()) <= maxCachedProcess
	if e.filled {
		e.raw = append(e.raw[:0], p.Raw()...)
	}
	e.name = str.bytes(p.Exe)
	if e.name == "" {
		e.name = str.bytes(p.Comm)
	}
	e.user = ""
	switch {
	case len(p.User) > 0:
		e.user = str.bytes(p.User)
	case p.UID != sflow.UIDUnknown:
		*uidBuf = strconv.AppendUint((*uidBuf)[:0], uint64(p.UID), 10)
		e.user = str.bytes(*uidBuf)
	}
	e.cgroup, e.unit, e.container = str.bytes(p.Cgroup), str.bytes(p.Unit), str.bytes(p.Container)
	return e
}
