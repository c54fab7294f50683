// Package counters reads what the agent's counter samples carry: interface
// counters and attributes from rtnetlink and sysfs, host counters from
// procfs, and fills sFlow counter samples with them.
package counters

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hostflow/hostflow/sflow"
	"github.com/vishvananda/netlink"
)

// Link is one network interface as the agent sees it.
type Link struct {
	Index  int
	Name   string
	Alias  string
	Kind   sflow.IfKind
	Driver string // rtnetlink link kind ("veth", "tun", ...) or sysfs driver
	MTU    int
	MAC    net.HardwareAddr
	// EncapType is the ARPHRD type name ("ether", "none" for tun devices,
	// "loopback").
	EncapType string
	AdminUp   bool
	OperUp    bool
	Promisc   bool
	Master    int
	Speed     uint64 // bits per second, 0 unknown
	Duplex    uint32 // sFlow ifDirection: 0 unknown, 1 full, 2 half
	Stats     netlink.LinkStatistics
}

// Sampleable reports whether the agent samples the link by default: up and
// not loopback.
func (l *Link) Sampleable() bool { return l.AdminUp && l.Kind != sflow.IfKindLoopback }

// Links lists interfaces through rtnetlink (in the handle's namespace) and
// completes them from sysfs (speed, duplex, driver) under SysRoot.
type Links struct {
	h       *netlink.Handle
	sysRoot string
}

// NewLinks returns a lister using h (nil: the calling thread's namespace)
// and the sysfs mounted at sysRoot ("" = /sys).
func NewLinks(h *netlink.Handle, sysRoot string) *Links {
	if h == nil {
		h = &netlink.Handle{}
	}
	if sysRoot == "" {
		sysRoot = "/sys"
	}
	return &Links{h: h, sysRoot: sysRoot}
}

// List returns every interface.
func (ls *Links) List() ([]Link, error) {
	nls, err := ls.h.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	out := make([]Link, 0, len(nls))
	for _, nl := range nls {
		out = append(out, ls.convert(nl))
	}
	return out, nil
}

func (ls *Links) convert(nl netlink.Link) Link {
	a := nl.Attrs()
	l := Link{
		Index:     a.Index,
		Name:      a.Name,
		Alias:     a.Alias,
		MTU:       a.MTU,
		MAC:       a.HardwareAddr,
		EncapType: a.EncapType,
		AdminUp:   a.Flags&net.FlagUp != 0,
		Promisc:   a.Promisc != 0 || a.RawFlags&0x100 != 0, // IFF_PROMISC
		Master:    a.MasterIndex,
	}
	// tun devices report "unknown" while working: fall back on IFF_RUNNING.
	l.OperUp = a.OperState == netlink.OperUp ||
		(a.OperState == netlink.OperUnknown && a.Flags&net.FlagRunning != 0)
	if a.Statistics != nil {
		l.Stats = *a.Statistics
	}
	l.Kind, l.Driver = ls.kind(nl)
	dir := filepath.Join(ls.sysRoot, "class/net", a.Name)
	if mbps, err := readInt(filepath.Join(dir, "speed")); err == nil && mbps > 0 {
		l.Speed = uint64(mbps) * 1e6
	}
	switch readString(filepath.Join(dir, "duplex")) {
	case "full":
		l.Duplex = 1
	case "half":
		l.Duplex = 2
	}
	return l
}

// kind classifies a link from its rtnetlink kind, then sysfs.
func (ls *Links) kind(nl netlink.Link) (sflow.IfKind, string) {
	a := nl.Attrs()
	t := nl.Type()
	switch t {
	case "veth":
		return sflow.IfKindVeth, t
	case "tuntap":
		return sflow.IfKindTun, "tun"
	case "bridge":
		return sflow.IfKindBridge, t
	case "vlan":
		return sflow.IfKindVLAN, t
	case "bond":
		return sflow.IfKindBond, t
	case "wireguard":
		return sflow.IfKindWireGuard, t
	case "device":
		if a.EncapType == "loopback" {
			return sflow.IfKindLoopback, "loopback"
		}
		// A device with no rtnetlink kind is hardware when sysfs links it
		// to a bus device; its driver names it (virtio_net, ixgbe, ...).
		if drv, err := os.Readlink(filepath.Join(ls.sysRoot, "class/net", a.Name, "device/driver")); err == nil {
			return sflow.IfKindPhysical, filepath.Base(drv)
		}
		if a.EncapType == "none" {
			return sflow.IfKindTun, "tun"
		}
		return sflow.IfKindOther, t
	}
	return sflow.IfKindOther, t
}

func readString(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func readInt(path string) (int64, error) {
	return strconv.ParseInt(readString(path), 10, 64)
}

// unavailable is sFlow's "counter not available" value.
const unavailable = 0xFFFFFFFF

// IANAifType values used in generic interface counters.
const (
	ifTypeOther    = 1
	ifTypeEthernet = 6
	ifTypeLoopback = 24
	ifTypeTunnel   = 131
	ifTypeL2VLAN   = 135
	ifTypeLAG      = 161
	ifTypeBridge   = 209
)

func ifType(l *Link) uint32 {
	switch l.Kind {
	case sflow.IfKindLoopback:
		return ifTypeLoopback
	case sflow.IfKindTun, sflow.IfKindWireGuard:
		return ifTypeTunnel
	case sflow.IfKindVLAN:
		return ifTypeL2VLAN
	case sflow.IfKindBond:
		return ifTypeLAG
	case sflow.IfKindBridge:
		return ifTypeBridge
	}
	if l.EncapType == "ether" {
		return ifTypeEthernet
	}
	return ifTypeOther
}

// FillInterface sets the records of an interface counter sample (data
// source 0:ifIndex): generic 0:1, ethernet 0:2 for physical Ethernet
// devices, port name 0:1005 and hostflow's interface record. out's byte
// slices point into l, which must outlive the encoding.
func FillInterface(out *sflow.CounterSample, l *Link) {
	out.Expanded = true
	out.SourceType, out.SourceIndex = sflow.SourceIfIndex, uint32(l.Index)
	out.Has = sflow.HasGeneric | sflow.HasPortName | sflow.HasInterface
	st := &l.Stats
	g := &out.Generic
	*g = sflow.GenericInterface{
		Index:            uint32(l.Index),
		Type:             ifType(l),
		Speed:            l.Speed,
		Direction:        l.Duplex,
		InOctets:         st.RxBytes,
		InUcastPkts:      uint32(st.RxPackets - min(st.Multicast, st.RxPackets)),
		InMulticastPkts:  uint32(st.Multicast),
		InBroadcastPkts:  unavailable,
		InDiscards:       uint32(st.RxDropped),
		InErrors:         uint32(st.RxErrors),
		InUnknownProtos:  unavailable,
		OutOctets:        st.TxBytes,
		OutUcastPkts:     uint32(st.TxPackets),
		OutMulticastPkts: unavailable,
		OutBroadcastPkts: unavailable,
		OutDiscards:      uint32(st.TxDropped),
		OutErrors:        uint32(st.TxErrors),
		PromiscuousMode:  2, // TruthValue false
	}
	if l.Promisc {
		g.PromiscuousMode = 1
	}
	if l.AdminUp {
		g.Status |= 1
	}
	if l.OperUp {
		g.Status |= 2
	}
	if l.Kind == sflow.IfKindPhysical && l.EncapType == "ether" {
		out.Has |= sflow.HasEthernet
		out.Ethernet = sflow.EthernetCounters{
			AlignmentErrors:           uint32(st.RxFrameErrors),
			FCSErrors:                 uint32(st.RxCrcErrors),
			SingleCollisionFrames:     unavailable,
			MultipleCollisionFrames:   unavailable,
			SQETestErrors:             unavailable,
			DeferredTransmissions:     unavailable,
			LateCollisions:            uint32(st.TxWindowErrors),
			ExcessiveCollisions:       uint32(st.TxAbortedErrors),
			InternalMacTransmitErrors: uint32(st.TxFifoErrors),
			CarrierSenseErrors:        uint32(st.TxCarrierErrors),
			FrameTooLongs:             uint32(st.RxLengthErrors),
			InternalMacReceiveErrors:  uint32(st.RxFifoErrors),
			SymbolErrors:              unavailable,
		}
	}
	out.PortName = []byte(l.Name)
	out.Interface = sflow.InterfaceInfo{
		IfIndex:     uint32(l.Index),
		Kind:        l.Kind,
		MTU:         uint32(l.MTU),
		MasterIndex: uint32(l.Master),
		Name:        out.PortName,
		Alias:       []byte(l.Alias),
		KindName:    []byte(l.Driver),
	}
}
