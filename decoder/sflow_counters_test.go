package decoder

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/sflow"
)

func sfCounterDatagram(samples ...sflow.CounterSample) *sflow.Datagram {
	return &sflow.Datagram{AgentAddress: sfAgent, SubAgentID: 100000, SequenceNumber: 1, Uptime: 60000, CounterSamples: samples}
}

func sfGeneric(index uint32) sflow.GenericInterface {
	return sflow.GenericInterface{Index: index, Type: 6, Speed: 10_000_000_000, Direction: 1, Status: 3,
		InOctets: 1 << 40, InUcastPkts: 1000, InMulticastPkts: 0xFFFFFFFF, InBroadcastPkts: 0xFFFFFFFF, InDiscards: 3, InErrors: 4,
		InUnknownProtos: 0xFFFFFFFF, OutOctets: 0xFFFFFFFFFFFFFFFF, OutUcastPkts: 2000, OutMulticastPkts: 5, OutBroadcastPkts: 6,
		OutDiscards: 7, OutErrors: 8, PromiscuousMode: 0}
}

func TestSFlowCounterSamples(t *testing.T) {
	base := flow.InterfaceCounters{TimeReceived: sfNow, ExporterAddress: sfAgent, SubAgentID: 100000}
	generic := func(c flow.InterfaceCounters) flow.InterfaceCounters {
		c.IfType, c.IfSpeed, c.IfDirection, c.IfStatus = 6, 10_000_000_000, 1, 3
		c.InOctets, c.InUcastPkts, c.InDiscards, c.InErrors = 1<<40, 1000, 3, 4
		c.OutUcastPkts, c.OutMulticastPkts, c.OutBroadcastPkts, c.OutDiscards, c.OutErrors = 2000, 5, 6, 7, 8
		return c
	}
	hostBase := flow.HostCounters{TimeReceived: sfNow, ExporterAddress: sfAgent, SubAgentID: 100000}

	cases := []struct {
		name       string
		sample     sflow.CounterSample
		interfaces []flow.InterfaceCounters
		hosts      []flow.HostCounters
	}{
		{
			name: "hostflow interface: generic, ethernet, port name and interface information merge",
			sample: sflow.CounterSample{Expanded: true, SourceType: sflow.SourceIfIndex, SourceIndex: 5,
				Has:      sflow.HasGeneric | sflow.HasEthernet | sflow.HasPortName | sflow.HasInterface,
				Generic:  sfGeneric(5),
				PortName: []byte("eth0"),
				Interface: sflow.InterfaceInfo{IfIndex: 5, Kind: sflow.IfKindPhysical, MTU: 9000, Name: []byte("enp1s0"),
					Alias: []byte("uplink to tor1"), KindName: []byte("virtio_net")}},
			interfaces: []flow.InterfaceCounters{func() flow.InterfaceCounters {
				c := generic(base)
				c.IfIndex, c.IfName, c.IfDescription, c.IfKind = 5, "enp1s0", "uplink to tor1", "physical"
				return c
			}()},
		},
		{
			name: "hsflowd interface: port name and generic (unavailable counters are 0)",
			sample: sflow.CounterSample{Expanded: true, SourceType: sflow.SourceIfIndex, SourceIndex: 2,
				Has: sflow.HasGeneric | sflow.HasPortName, Generic: sfGeneric(2), PortName: []byte("tailscale0")},
			interfaces: []flow.InterfaceCounters{func() flow.InterfaceCounters {
				c := generic(base)
				c.IfIndex, c.IfName = 2, "tailscale0"
				return c
			}()},
		},
		{
			name: "interface kind other: the link kind name",
			sample: sflow.CounterSample{Expanded: true, SourceType: sflow.SourceIfIndex, SourceIndex: 9,
				Has:       sflow.HasInterface,
				Interface: sflow.InterfaceInfo{IfIndex: 9, Kind: sflow.IfKindOther, Name: []byte("vxlan100"), KindName: []byte("vxlan")}},
			interfaces: []flow.InterfaceCounters{func() flow.InterfaceCounters {
				c := base
				c.IfIndex, c.IfName, c.IfKind = 9, "vxlan100", "vxlan"
				return c
			}()},
		},
		{
			name: "host data source: every host record",
			sample: sflow.CounterSample{Expanded: true, SourceType: sflow.SourcePhysical, SourceIndex: 1,
				Has: sflow.HasHostDescr | sflow.HasHostCPU | sflow.HasHostMemory | sflow.HasHostDiskIO | sflow.HasHostNetIO |
					sflow.HasMIB2IP | sflow.HasMIB2TCP | sflow.HasMIB2UDP | sflow.HasAdapters,
				HostDescr: sflow.HostDescr{Hostname: []byte("web-1"), UUID: [16]byte{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 1, 2, 3, 4, 5, 6, 7, 8},
					MachineType: sflow.MachineX86_64, OSName: sflow.OSLinux, OSRelease: []byte("6.1.0-18-amd64")},
				HostCPU: sflow.HostCPU{LoadOne: 0.5, LoadFive: 0.25, LoadFifteen: 0.125, ProcRun: 2, ProcTotal: 300, CPUNum: 8,
					CPUSpeed: 2400, Uptime: 86400, User: 1, Nice: 2, System: 3, Idle: 4, WIO: 5, Intr: 6, SoftIntr: 7,
					Interrupts: 8, Contexts: 9, Steal: 0xFFFFFFFF},
				HostMemory: sflow.HostMemory{Total: 16 << 30, Free: 8 << 30, Shared: 1 << 20, Buffers: 2 << 20, Cached: 4 << 30,
					SwapTotal: 0xFFFFFFFFFFFFFFFF, SwapFree: 0, PageIn: 1, PageOut: 2},
				HostDiskIO: sflow.HostDiskIO{Total: 100 << 30, Free: 50 << 30, PartMaxUsed: 5012, Reads: 10, BytesRead: 4096,
					Writes: 20, BytesWritten: 8192},
				HostNetIO: sflow.HostNetIO{BytesIn: 1 << 33, PktsIn: 100, ErrsIn: 1, DropsIn: 2, BytesOut: 1 << 32, PktsOut: 200, ErrsOut: 3, DropsOut: 4},
				MIB2TCP: sflow.MIB2TCP{ActiveOpens: 5, AttemptFails: 6, EstabResets: 7, CurrEstab: 42, InSegs: 1000, OutSegs: 900,
					RetransSegs: 12},
				MIB2UDP:  sflow.MIB2UDP{InDatagrams: 300, NoPorts: 4, InErrors: 5, OutDatagrams: 310, RcvbufErrors: 6},
				Adapters: sflow.HostAdapters{Adapters: []sflow.HostAdapter{{IfIndex: 2, MACs: []sflow.MAC{{2, 0, 0, 0, 0, 1}}}}}},
			hosts: []flow.HostCounters{func() flow.HostCounters {
				h := hostBase
				h.HostName, h.MachineUUID, h.OSRelease = "web-1", "12345678-9abc-def0-0102-030405060708", "6.1.0-18-amd64"
				h.LoadOne, h.LoadFive, h.LoadFifteen = 0.5, 0.25, 0.125
				h.ProcRun, h.ProcTotal, h.CPUNum, h.CPUSpeedMHz, h.UptimeSeconds = 2, 300, 8, 2400, 86400
				h.CPUUserMs, h.CPUNiceMs, h.CPUSystemMs, h.CPUIdleMs, h.CPUWioMs, h.CPUIntrMs, h.CPUSintrMs = 1, 2, 3, 4, 5, 6, 7
				h.MemTotal, h.MemFree, h.MemShared, h.MemBuffers, h.MemCached = 16<<30, 8<<30, 1<<20, 2<<20, 4<<30
				h.DiskTotal, h.DiskFree, h.DiskPartMaxUsed, h.DiskReads, h.DiskWrites = 100<<30, 50<<30, 5012, 10, 20
				h.DiskBytesRead, h.DiskBytesWritten = 4096, 8192
				h.NetBytesIn, h.NetPktsIn, h.NetErrsIn, h.NetDropsIn = 1<<33, 100, 1, 2
				h.NetBytesOut, h.NetPktsOut, h.NetErrsOut, h.NetDropsOut = 1<<32, 200, 3, 4
				h.TCPCurrEstab, h.TCPRetransSegs, h.TCPInSegs, h.TCPOutSegs, h.TCPAttemptFails, h.TCPEstabResets = 42, 12, 1000, 900, 6, 7
				h.UDPInDatagrams, h.UDPOutDatagrams, h.UDPNoPorts, h.UDPInErrors, h.UDPRcvbufErrors = 300, 310, 4, 5, 6
				return h
			}()},
		},
		{
			name: "disk usage unknown (-1) and no UUID",
			sample: sflow.CounterSample{Expanded: true, SourceType: sflow.SourcePhysical, SourceIndex: 1,
				Has:        sflow.HasHostDescr | sflow.HasHostDiskIO,
				HostDescr:  sflow.HostDescr{Hostname: []byte("db-2")},
				HostDiskIO: sflow.HostDiskIO{PartMaxUsed: -1, Reads: 0xFFFFFFFF}},
			hosts: []flow.HostCounters{func() flow.HostCounters { h := hostBase; h.HostName = "db-2"; return h }()},
		},
		{
			name: "pmacct compact sample with a generic record",
			sample: sflow.CounterSample{SourceType: sflow.SourceIfIndex, SourceIndex: 1,
				Has: sflow.HasGeneric, Generic: sfGeneric(7)},
			interfaces: []flow.InterfaceCounters{func() flow.InterfaceCounters { c := generic(base); c.IfIndex = 7; return c }()},
		},
		{
			name: "container of an hsflowd host: host records with a parent are not a host's",
			sample: sflow.CounterSample{Expanded: true, SourceType: sflow.SourceLogical, SourceIndex: 100001,
				Has:        sflow.HasHostDescr | sflow.HasHostParent | sflow.HasHostCPU,
				HostDescr:  sflow.HostDescr{Hostname: []byte("web-container")},
				HostParent: sflow.HostParent{ContainerType: sflow.SourcePhysical, ContainerIndex: 1}},
		},
		{
			name: "processor only: neither",
			sample: sflow.CounterSample{Expanded: true, SourceType: sflow.SourcePhysical, SourceIndex: 1,
				Has: sflow.HasProcessor, Processor: sflow.Processor{CPU5s: 100}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := sfNew(t)
			var b Batch
			if err := d.Decode(Packet{Payload: sfEncode(t, sfCounterDatagram(tc.sample)), Source: sfSource, Received: sfNow}, &b); err != nil {
				t.Fatal(err)
			}
			if len(b.Flows) != 0 {
				t.Errorf("%d flows from a counter sample", len(b.Flows))
			}
			if diff := cmp.Diff(b.Interfaces, tc.interfaces, sfCmp); diff != "" {
				t.Errorf("interface counters (-got +want):\n%s", diff)
			}
			if diff := cmp.Diff(b.Hosts, tc.hosts, sfCmp); diff != "" {
				t.Errorf("host counters (-got +want):\n%s", diff)
			}
		})
	}
}

func TestSFlowCounterKinds(t *testing.T) {
	d, rep := sfNew(t)
	iface := sflow.CounterSample{Expanded: true, SourceIndex: 3, Has: sflow.HasGeneric, Generic: sfGeneric(3)}
	host := sflow.CounterSample{Expanded: true, SourceType: sflow.SourcePhysical, SourceIndex: 1,
		Has: sflow.HasHostCPU, HostCPU: sflow.HostCPU{CPUNum: 4}}
	var b Batch
	dg := sfCounterDatagram(iface, host, iface)
	dg.AgentAddress = netip.MustParseAddr("2001:db8::1")
	if err := d.Decode(Packet{Payload: sfEncode(t, dg), Source: sfSource, Received: sfNow}, &b); err != nil {
		t.Fatal(err)
	}
	if len(b.Interfaces) != 2 || len(b.Hosts) != 1 {
		t.Fatalf("%d interface and %d host records, want 2 and 1", len(b.Interfaces), len(b.Hosts))
	}
	if got := b.Hosts[0].ExporterAddress; got != dg.AgentAddress {
		t.Errorf("host exporter %v, want %v", got, dg.AgentAddress)
	}
	if got := sfMetric(t, rep, "counter_samples_total", "kind", "interface"); got != 2 {
		t.Errorf("interface counter samples %v, want 2", got)
	}
	if got := sfMetric(t, rep, "counter_samples_total", "kind", "host"); got != 1 {
		t.Errorf("host counter samples %v, want 1", got)
	}
	child := host
	child.Has |= sflow.HasHostParent
	b.Reset()
	if err := d.Decode(Packet{Payload: sfEncode(t, sfCounterDatagram(child)), Source: sfSource, Received: sfNow}, &b); err != nil {
		t.Fatal(err)
	}
	if got := sfMetric(t, rep, "counter_samples_total", "kind", "child"); got != 1 || len(b.Hosts) != 0 {
		t.Errorf("child counter samples %v and %d host records, want 1 and 0", got, len(b.Hosts))
	}
}
