package decoder

import (
	"net/netip"
	"testing"

	"github.com/hostflow/hostflow/sflow"
)

// sfGoldenDatagrams are whole datagrams shaped like what each kind of agent
// sends; their records are checked against testdata/sflow/<name>.golden.
func sfGoldenDatagrams() map[string]*sflow.Datagram {
	tun6 := sfPad(sfCat(sfIPv6("fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 17, 1200, 0, 64), sfUDP(41641, 41641, 1160)), 96)
	hostflowIf := sflow.CounterSample{Expanded: true, SequenceNumber: 4, SourceType: sflow.SourceIfIndex, SourceIndex: 2,
		Has: sflow.HasGeneric | sflow.HasEthernet | sflow.HasPortName | sflow.HasInterface, Generic: sfGeneric(2),
		Ethernet: sflow.EthernetCounters{FCSErrors: 1}, PortName: []byte("eth0"),
		Interface: sflow.InterfaceInfo{IfIndex: 2, Kind: sflow.IfKindPhysical, MTU: 1500, Name: []byte("eth0"), Alias: []byte("uplink"), KindName: []byte("virtio_net")}}
	host := sflow.CounterSample{Expanded: true, SequenceNumber: 4, SourceType: sflow.SourcePhysical, SourceIndex: 1,
		Has:        sflow.HasHostDescr | sflow.HasHostCPU | sflow.HasHostMemory | sflow.HasHostNetIO | sflow.HasMIB2TCP | sflow.HasMIB2UDP,
		HostDescr:  sflow.HostDescr{Hostname: []byte("web-1"), UUID: [16]byte{0xde, 0xad, 0xbe, 0xef}, MachineType: sflow.MachineX86_64, OSName: sflow.OSLinux, OSRelease: []byte("6.1.0")},
		HostCPU:    sflow.HostCPU{LoadOne: 1.5, CPUNum: 4, Uptime: 3600, User: 100, System: 50, Idle: 1000},
		HostMemory: sflow.HostMemory{Total: 8 << 30, Free: 2 << 30, SwapTotal: 0xFFFFFFFFFFFFFFFF},
		HostNetIO:  sflow.HostNetIO{BytesIn: 1e9, PktsIn: 1e6, BytesOut: 2e9, PktsOut: 2e6},
		MIB2TCP:    sflow.MIB2TCP{CurrEstab: 12, RetransSegs: 3},
		MIB2UDP:    sflow.MIB2UDP{InDatagrams: 100, NoPorts: 0xFFFFFFFF}}

	agentIn := sfHeaderSample(sflow.HeaderEthernet, 1518, 4, sfTCP4Frame())
	agentIn.Input = 2
	agentIn.Has |= sflow.HasProcess | sflow.HasTCPInfo
	agentIn.Process = sfProcess(812, "nginx", "nginx.service")
	agentIn.TCPInfo = sflow.ExtendedTCPInfo{Direction: 1, RTT: 1800, Retrans: 2}
	agentOut := sfHeaderSample(sflow.HeaderIPv6, 1200, 0, tun6)
	agentOut.SourceIndex, agentOut.Input, agentOut.Output = 5, sflow.IfIndexInternal, 5
	agentOut.Has |= sflow.HasProcess
	agentOut.Process = sflow.ProcessInfo{PID: 977, UID: 0, Comm: []byte("tailscaled"), Cgroup: []byte("/system.slice/tailscaled.service"), Unit: []byte("tailscaled.service")}

	hsflowd := sfHeaderSample(sflow.HeaderEthernet, 1518, 4, sfTCP4Frame())
	hsflowd.Input, hsflowd.Output = 0, 0
	hsflowd.Unknown = []sflow.Unknown{{Format: sflow.MakeFormat(0, 1043), Data: []byte{0x18, 0x7a, 0x1b, 0x2c, 0x00, 0x00, 0x00, 0x01}}}
	hsflowdIf := sflow.CounterSample{Expanded: true, SequenceNumber: 9, SourceIndex: 2, Has: sflow.HasGeneric | sflow.HasPortName,
		Generic: sfGeneric(2), PortName: []byte("ens3")}

	routed := sflow.FlowSample{SequenceNumber: 100, SourceIndex: 12, SamplingRate: 4096, SamplePool: 1 << 20, Input: 12, Output: 14,
		Has: sflow.HasSampledIPv4 | sflow.HasSwitch | sflow.HasRouter | sflow.HasGateway,
		SampledIPv4: sflow.SampledIP{Length: 1500, Protocol: 6, SrcIP: netip.MustParseAddr("203.0.113.5"), DstIP: netip.MustParseAddr("198.51.100.9"),
			SrcPort: 443, DstPort: 51000, TCPFlags: 0x10},
		Switch: sflow.ExtendedSwitch{SrcVLAN: 10, DstVLAN: 20},
		Router: sflow.ExtendedRouter{NextHop: netip.MustParseAddr("198.51.100.1"), SrcMaskLen: 24, DstMaskLen: 24},
		Gateway: sflow.ExtendedGateway{NextHop: netip.MustParseAddr("198.51.100.1"), AS: 64500, SrcAS: 64496, SrcPeerAS: 64497,
			ASPath: []sflow.ASPathSegment{{Type: sflow.ASSequence, ASNs: []uint32{64497, 64499}}}}}
	dropped := routed
	dropped.SequenceNumber, dropped.OutputFormat, dropped.Output = 101, sflow.IfFormatDiscard, 258

	return map[string]*sflow.Datagram{
		"hostflow-agent": {AgentAddress: netip.MustParseAddr("fd7a:115c:a1e0::1"), SubAgentID: 7, SequenceNumber: 42, Uptime: 3_600_000,
			FlowSamples: []sflow.FlowSample{agentIn, agentOut}, CounterSamples: []sflow.CounterSample{hostflowIf, host}},
		"hsflowd": {AgentAddress: netip.MustParseAddr("192.0.2.20"), SubAgentID: 100000, SequenceNumber: 7, Uptime: 120_000,
			FlowSamples: []sflow.FlowSample{hsflowd}, CounterSamples: []sflow.CounterSample{hsflowdIf, host}},
		"router-compact": {AgentAddress: netip.MustParseAddr("192.0.2.254"), SubAgentID: 0, SequenceNumber: 1000, Uptime: 1 << 31,
			FlowSamples: []sflow.FlowSample{routed, dropped}},
	}
}

func TestSFlowGolden(t *testing.T) {
	for name, dg := range sfGoldenDatagrams() {
		t.Run(name, func(t *testing.T) {
			d, _ := sfNew(t)
			var b Batch
			if err := d.Decode(Packet{Payload: sfEncode(t, dg), Source: sfSource, Received: sfNow}, &b); err != nil {
				t.Fatal(err)
			}
			sfGolden(t, "sflow/"+name+".golden", sfDescribe(&b))
		})
	}
}
