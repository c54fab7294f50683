package main

import (
	"fmt"
	"net/netip"

	"github.com/hostflow/hostflow/sflow"
)

// sflowOptions shape the sFlow datagrams.
type sflowOptions struct {
	agents       int     // agents (datagram streams), spread over the sockets
	processShare float64 // share of flow samples with hostflow's process record
	counterEvery int     // an interface counter sample every this many flow samples per agent
	maxSize      int     // datagram size limit
	ipv6Share    float64 // share of sampled packets that are IPv6
	hosts        int     // local addresses the flows use
}

// process is what hostflow's process record says about a local process.
type process struct {
	pid                     uint32
	comm, exe, unit, cgroup string
	container, user         string
	uid                     uint32
}

var processes = []process{
	{812, "nginx", "nginx", "nginx.service", "/system.slice/nginx.service", "", "www-data", 33},
	{1201, "postgres", "postgres", "postgresql@15-main.service", "/system.slice/system-postgresql.slice/postgresql@15-main.service", "", "postgres", 112},
	{977, "sshd", "sshd", "ssh.service", "/system.slice/ssh.service", "", "root", 0},
	{4410, "node", "node", "app-frontend.service", "/system.slice/app-frontend.service", "", "app", 1001},
	{23011, "envoy", "envoy", "", "/kubepods.slice/kubepods-burstable.slice/cri-containerd-4f1c2a9e8b7d.scope", "4f1c2a9e8b7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928170615243", "", 101},
	{3302, "redis-server", "redis-server", "redis-server.service", "/system.slice/redis-server.service", "", "redis", 115},
}

// sflowAgent is one simulated hostflow agent: its packer and the
// per-data-source counters the samples carry.
type sflowAgent struct {
	addr      netip.Addr
	packer    *sflow.Packer
	ifIndex   uint32
	pool      uint32 // sample_pool
	sampleSeq uint32
	ctrSeq    uint32
	out       []*dgram
	stream    *stream
	rate      uint32
	mac       uint64
	ifOctets  uint64
	flows     int
}

// buildSFlow pre-builds about size datagrams for the given number of
// sockets. Each datagram is decoded once with the sflow package to record
// exactly how many flow and counter samples it carries.
func buildSFlow(seed uint64, sockets, size int, o sflowOptions) (*pool, error) {
	gen := newFlowGen(seed, o.hosts, o.ipv6Share)
	agents := make([]*sflowAgent, o.agents)
	var dec sflow.Decoder
	var dg sflow.Datagram
	var emitErr error
	for i := range agents {
		a := &sflowAgent{ifIndex: 2, rate: 1000, mac: 0x02_00_5e_00_00_00 | uint64(i)}
		if i%2 == 0 {
			a.addr = netip.AddrFrom4([4]byte{10, 30, byte(i >> 8), byte(i + 1)})
		} else {
			a.addr = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0x30, 14: byte(i >> 8), 15: byte(i + 1)})
		}
		if i%4 == 3 {
			a.ifIndex, a.rate = 5, 4096 // a busier host: tailscale0, coarser sampling
		}
		// The datagram sequence number sits after the version, the address
		// type, the address and the sub-agent id.
		a.stream = &stream{kind: protoSFlow, seqOff: 4 + 4 + a.addr.BitLen()/8 + 4}
		emit := func(b []byte) error {
			d := &dgram{b: append([]byte(nil), b...), stream: a.stream}
			if err := dec.Decode(d.b, &dg); err != nil {
				emitErr = fmt.Errorf("agent %s: built an undecodable datagram: %w", a.addr, err)
				return emitErr
			}
			d.flows, d.counters = len(dg.FlowSamples), len(dg.CounterSamples)
			d.packets = uint64(d.flows)
			a.out = append(a.out, d)
			return nil
		}
		p, err := sflow.NewPacker(sflow.PackerConfig{MaxSize: o.maxSize, SubAgentID: 100 + uint32(i)}, a.addr, emit,
			func() uint32 { return 0 })
		if err != nil {
			return nil, err
		}
		a.packer = p
		agents[i] = a
	}
	var f flowSpec
	for built := 0; built < size; {
		for _, a := range agents {
			before := len(a.out)
			gen.next(&f)
			if err := a.addFlow(&f, gen, o); err != nil {
				return nil, err
			}
			if o.counterEvery > 0 && a.flows%o.counterEvery == 0 {
				if err := a.addCounters(a.flows%(5*o.counterEvery) == 0); err != nil {
					return nil, err
				}
			}
			if emitErr != nil {
				return nil, emitErr
			}
			built += len(a.out) - before
		}
	}
	for _, a := range agents {
		if err := a.packer.Flush(); err != nil {
			return nil, err
		}
	}
	p := &pool{perSocket: make([][]*dgram, sockets), templates: make([][]*dgram, sockets)}
	// Interleave the agents of each socket so that consecutive datagrams
	// come from different agents, as on a real collector.
	for s := range sockets {
		var mine []*sflowAgent
		for i := s; i < len(agents); i += sockets {
			mine = append(mine, agents[i])
		}
		for k := 0; ; k++ {
			added := false
			for _, a := range mine {
				if k < len(a.out) {
					p.perSocket[s] = append(p.perSocket[s], a.out[k])
					added = true
				}
			}
			if !added {
				break
			}
		}
	}
	return p, nil
}

func (a *sflowAgent) addFlow(f *flowSpec, gen *flowGen, o sflowOptions) error {
	a.sampleSeq++
	a.pool += a.rate
	a.flows++
	s := sflow.FlowSample{
		Expanded: true, SequenceNumber: a.sampleSeq, SourceType: sflow.SourceIfIndex, SourceIndex: a.ifIndex,
		SamplingRate: a.rate, SamplePool: a.pool, Has: sflow.HasSampledHeader,
		InputFormat: sflow.IfFormatIndex, OutputFormat: sflow.IfFormatIndex,
	}
	// The agent's contract: direction from the packet type, the other
	// side is the host itself.
	if f.outgoing {
		s.Input, s.Output = sflow.IfIndexInternal, a.ifIndex
	} else {
		s.Input, s.Output = a.ifIndex, sflow.IfIndexInternal
	}
	gw := uint64(0x02_00_5e_ff_00_01)
	src, dst := a.mac, gw
	if !f.outgoing {
		src, dst = gw, a.mac
	}
	var hdr [maxHeader]byte
	s.SampledHeader = sflow.SampledHeader{Protocol: sflow.HeaderEthernet, FrameLength: f.frameLen, Stripped: 4,
		Header: appendFrame(hdr[:0], f, src, dst)}
	if gen.rng.Float64() < o.processShare {
		p := &processes[gen.rng.IntN(len(processes))]
		s.Has |= sflow.HasProcess
		s.Process = sflow.ProcessInfo{PID: p.pid, UID: p.uid, Comm: []byte(p.comm), Exe: []byte(p.exe),
			Cgroup: []byte(p.cgroup), Unit: []byte(p.unit), Container: []byte(p.container), User: []byte(p.user)}
	}
	a.ifOctets += uint64(f.frameLen) * uint64(a.rate)
	return a.packer.AddFlowSample(&s)
}

// addCounters adds the interface counter sample an agent sends every
// polling interval and, when host is set, the host sample.
func (a *sflowAgent) addCounters(host bool) error {
	a.ctrSeq++
	name := []byte("eth0")
	kind := sflow.IfKindPhysical
	if a.ifIndex == 5 {
		name, kind = []byte("tailscale0"), sflow.IfKindTun
	}
	pkts := uint32(a.pool)
	c := sflow.CounterSample{
		Expanded: true, SequenceNumber: a.ctrSeq, SourceType: sflow.SourceIfIndex, SourceIndex: a.ifIndex,
		Has: sflow.HasGeneric | sflow.HasEthernet | sflow.HasPortName | sflow.HasInterface,
		Generic: sflow.GenericInterface{Index: a.ifIndex, Type: 6, Speed: 10_000_000_000, Direction: 1, Status: 3,
			InOctets: a.ifOctets / 2, InUcastPkts: pkts / 2, OutOctets: a.ifOctets / 2, OutUcastPkts: pkts / 2},
		PortName:  name,
		Interface: sflow.InterfaceInfo{IfIndex: a.ifIndex, Kind: kind, MTU: 1500, Name: name, Alias: []byte("uplink"), KindName: []byte("virtio_net")},
	}
	if err := a.packer.AddCounterSample(&c); err != nil {
		return err
	}
	if !host {
		return nil
	}
	a.ctrSeq++
	h := sflow.CounterSample{
		Expanded: true, SequenceNumber: a.ctrSeq, SourceType: sflow.SourcePhysical, SourceIndex: 1,
		Has: sflow.HasHostDescr | sflow.HasHostCPU | sflow.HasHostMemory | sflow.HasHostNetIO,
		HostDescr: sflow.HostDescr{Hostname: []byte(fmt.Sprintf("host-%s", a.addr)), UUID: [16]byte{1, 2, 3, byte(a.mac)},
			MachineType: sflow.MachineX86_64, OSName: sflow.OSLinux, OSRelease: []byte("6.1.0-28-amd64")},
		HostCPU:    sflow.HostCPU{LoadOne: 0.5, LoadFive: 0.4, LoadFifteen: 0.3, ProcRun: 2, ProcTotal: 180, CPUNum: 4, CPUSpeed: 2400, Uptime: 86400},
		HostMemory: sflow.HostMemory{Total: 8 << 30, Free: 3 << 30, Cached: 2 << 30},
		HostNetIO:  sflow.HostNetIO{BytesIn: a.ifOctets / 2, PktsIn: pkts / 2, BytesOut: a.ifOctets / 2, PktsOut: pkts / 2},
	}
	return a.packer.AddCounterSample(&h)
}
