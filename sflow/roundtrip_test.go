package sflow

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// roundTrip encodes dg and decodes the result.
func roundTrip(t *testing.T, dg *Datagram) (*Datagram, []byte) {
	t.Helper()
	var e Encoder
	b, err := e.AppendDatagram(nil, dg)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	var d Decoder
	var got Datagram
	if err := d.Decode(b, &got); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return &got, b
}

func TestFlowRecordRoundTrip(t *testing.T) {
	all := flowSampleAll(true)
	cases := []struct {
		name string
		set  func(s *FlowSample)
		size int // body length the spec gives the record
	}{
		{"sampled_header", func(s *FlowSample) { s.Has, s.SampledHeader = HasSampledHeader, all.SampledHeader }, 16 + 68},
		{"sampled_ethernet", func(s *FlowSample) { s.Has, s.SampledEthernet = HasSampledEthernet, all.SampledEthernet }, 24},
		{"sampled_ipv4", func(s *FlowSample) { s.Has, s.SampledIPv4 = HasSampledIPv4, all.SampledIPv4 }, 32},
		{"sampled_ipv6", func(s *FlowSample) { s.Has, s.SampledIPv6 = HasSampledIPv6, all.SampledIPv6 }, 56},
		{"extended_switch", func(s *FlowSample) { s.Has, s.Switch = HasSwitch, all.Switch }, 16},
		{"extended_router v6", func(s *FlowSample) { s.Has, s.Router = HasRouter, all.Router }, 28},
		{"extended_router v4", func(s *FlowSample) {
			s.Has, s.Router = HasRouter, ExtendedRouter{NextHop: netip.MustParseAddr("192.0.2.254"), SrcMaskLen: 24, DstMaskLen: 16}
		}, 16},
		{"extended_router unknown next hop", func(s *FlowSample) { s.Has, s.Router = HasRouter, ExtendedRouter{SrcMaskLen: 8} }, 12},
		{"extended_gateway", func(s *FlowSample) { s.Has, s.Gateway = HasGateway, all.Gateway }, 8 + 12 + 4 + (8 + 12) + (8 + 4) + 4 + 8 + 4},
		{"extended_gateway empty path", func(s *FlowSample) {
			s.Has, s.Gateway = HasGateway, ExtendedGateway{NextHop: agent4, AS: 1, LocalPref: 100}
		}, 8 + 12 + 4 + 4 + 4},
		{"extended_user", func(s *FlowSample) { s.Has, s.User = HasUser, all.User }, 4 + 12 + 4 + 8},
		{"extended_url", func(s *FlowSample) { s.Has, s.URL = HasURL, all.URL }, 4 + 16 + 16},
		{"extended_socket_ipv4", func(s *FlowSample) { s.Has, s.SocketIPv4 = HasSocketIPv4, all.SocketIPv4 }, 20},
		{"extended_socket_ipv6", func(s *FlowSample) { s.Has, s.SocketIPv6 = HasSocketIPv6, all.SocketIPv6 }, 44},
		{"extended_tcp_info", func(s *FlowSample) { s.Has, s.TCPInfo = HasTCPInfo, all.TCPInfo }, 48},
		{"hostflow process", func(s *FlowSample) { s.Has, s.Process = HasProcess, all.Process }, 8 + 12 + 12 + 32 + 20 + 16 + 12},
		{"hostflow process unknown", func(s *FlowSample) { s.Has, s.Process = HasProcess, ProcessInfo{UID: UIDUnknown} }, 8 + 6*4},
		{"unknown record", func(s *FlowSample) { s.Unknown = all.Unknown }, 8},
	}
	for _, tc := range cases {
		for _, expanded := range []bool{false, true} {
			for _, agent := range []netip.Addr{agent4, agent6} {
				t.Run(fmt.Sprintf("%s/expanded=%v/%s", tc.name, expanded, agent), func(t *testing.T) {
					want := FlowSample{Expanded: expanded, SequenceNumber: all.SequenceNumber, SourceType: all.SourceType,
						SourceIndex: all.SourceIndex, SamplingRate: all.SamplingRate, SamplePool: all.SamplePool, Drops: all.Drops,
						InputFormat: all.InputFormat, Input: all.Input, OutputFormat: all.OutputFormat, Output: all.Output}
					tc.set(&want)
					dg := Datagram{AgentAddress: agent, SubAgentID: 7, SequenceNumber: 99, Uptime: 12345, FlowSamples: []FlowSample{want}}
					got, b := roundTrip(t, &dg)
					if diff := cmp.Diff(got, &dg, cmpOpts); diff != "" {
						t.Errorf("round trip (-got +want):\n%s", diff)
					}
					// The one record's length word, read straight from the wire.
					fixed := 40
					if expanded {
						fixed = 52
					}
					at := DatagramHeaderLen(agent) + fixed + 4
					if n := int(binary.BigEndian.Uint32(b[at:])); n != tc.size {
						t.Errorf("record length %d, spec says %d", n, tc.size)
					}
				})
			}
		}
	}
}

func TestCounterRecordRoundTrip(t *testing.T) {
	all := counterSampleAll(true)
	cases := []struct {
		name string
		set  func(s *CounterSample)
		size int
	}{
		{"generic", func(s *CounterSample) { s.Has, s.Generic = HasGeneric, all.Generic }, 88},
		{"ethernet", func(s *CounterSample) { s.Has, s.Ethernet = HasEthernet, all.Ethernet }, 52},
		{"vlan", func(s *CounterSample) { s.Has, s.VLAN = HasVLAN, all.VLAN }, 28},
		{"processor", func(s *CounterSample) { s.Has, s.Processor = HasProcessor, all.Processor }, 28},
		{"port_name", func(s *CounterSample) { s.Has, s.PortName = HasPortName, all.PortName }, 8},
		{"host_descr", func(s *CounterSample) { s.Has, s.HostDescr = HasHostDescr, all.HostDescr }, 4 + 20 + 16 + 8 + 4 + 16},
		{"host_adapters", func(s *CounterSample) { s.Has, s.Adapters = HasAdapters, all.Adapters }, 4 + (8 + 8) + (8 + 16)},
		{"host_adapters none", func(s *CounterSample) { s.Has = HasAdapters }, 4},
		{"host_parent", func(s *CounterSample) { s.Has, s.HostParent = HasHostParent, all.HostParent }, 8},
		{"host_cpu", func(s *CounterSample) { s.Has, s.HostCPU = HasHostCPU, all.HostCPU }, 80},
		{"host_memory", func(s *CounterSample) { s.Has, s.HostMemory = HasHostMemory, all.HostMemory }, 72},
		{"host_disk_io", func(s *CounterSample) { s.Has, s.HostDiskIO = HasHostDiskIO, all.HostDiskIO }, 52},
		{"host_net_io", func(s *CounterSample) { s.Has, s.HostNetIO = HasHostNetIO, all.HostNetIO }, 40},
		{"mib2_ip", func(s *CounterSample) { s.Has, s.MIB2IP = HasMIB2IP, all.MIB2IP }, 76},
		{"mib2_icmp", func(s *CounterSample) { s.Has, s.MIB2ICMP = HasMIB2ICMP, all.MIB2ICMP }, 100},
		{"mib2_tcp", func(s *CounterSample) { s.Has, s.MIB2TCP = HasMIB2TCP, all.MIB2TCP }, 60},
		{"mib2_udp", func(s *CounterSample) { s.Has, s.MIB2UDP = HasMIB2UDP, all.MIB2UDP }, 28},
		{"hostflow interface", func(s *CounterSample) { s.Has, s.Interface = HasInterface, all.Interface }, 16 + 16 + 20 + 8},
		{"unknown record", func(s *CounterSample) { s.Unknown = all.Unknown }, 12},
	}
	for _, tc := range cases {
		for _, expanded := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/expanded=%v", tc.name, expanded), func(t *testing.T) {
				want := CounterSample{Expanded: expanded, SequenceNumber: all.SequenceNumber,
					SourceType: all.SourceType, SourceIndex: all.SourceIndex}
				tc.set(&want)
				dg := Datagram{AgentAddress: agent6, CounterSamples: []CounterSample{want}}
				got, b := roundTrip(t, &dg)
				if diff := cmp.Diff(got, &dg, cmpOpts); diff != "" {
					t.Errorf("round trip (-got +want):\n%s", diff)
				}
				fixed := 20
				if expanded {
					fixed = 24
				}
				at := DatagramHeaderLen(agent6) + fixed + 4
				if n := int(binary.BigEndian.Uint32(b[at:])); n != tc.size {
					t.Errorf("record length %d, spec says %d", n, tc.size)
				}
			})
		}
	}
}

// TestDatagramGolden pins the exact bytes of datagrams holding every record
// in both encodings, and checks they decode back to what was encoded.
func TestDatagramGolden(t *testing.T) {
	cases := []struct {
		file     string
		agent    netip.Addr
		expanded bool
	}{
		{"all-expanded-ipv6.hex", agent6, true},
		{"all-compact-ipv4.hex", agent4, false},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			dg := Datagram{AgentAddress: tc.agent, SubAgentID: 1, SequenceNumber: 42, Uptime: 3600000,
				FlowSamples:    []FlowSample{flowSampleAll(tc.expanded)},
				CounterSamples: []CounterSample{counterSampleAll(tc.expanded)},
				UnknownSamples: []Unknown{{Format: FormatDiscardedPacket, Data: []byte{1, 2, 3, 4}}},
			}
			got, b := roundTrip(t, &dg)
			if diff := cmp.Diff(got, &dg, cmpOpts); diff != "" {
				t.Errorf("round trip (-got +want):\n%s", diff)
			}
			golden(t, tc.file, b)
			if *update {
				writeFuzzSeed(t, tc.file, b)
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	cases := []struct {
		name string
		e    Encoder
		s    FlowSample
	}{
		{"compact source index beyond 24 bits", Encoder{}, FlowSample{SourceIndex: 1 << 24}},
		{"compact source type beyond 8 bits", Encoder{}, FlowSample{SourceType: 256}},
		{"compact input beyond 30 bits", Encoder{}, FlowSample{Input: 1 << 30}},
		{"compact output format beyond 2 bits", Encoder{}, FlowSample{OutputFormat: 4}},
		{"IPv6 address in sampled_ipv4", Encoder{}, FlowSample{Expanded: true, Has: HasSampledIPv4,
			SampledIPv4: SampledIP{SrcIP: agent6}}},
		{"IPv4 address in socket_ipv6", Encoder{}, FlowSample{Expanded: true, Has: HasSocketIPv6,
			SocketIPv6: ExtendedSocket{LocalIP: agent4}}},
		{"enterprise beyond 20 bits", Encoder{Enterprise: 1 << 20}, FlowSample{Expanded: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte{1, 2, 3}
			b, err := tc.e.AppendFlowSample(prefix, &tc.s)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrEncode) {
				t.Errorf("error %v does not wrap ErrEncode", err)
			}
			if diff := cmp.Diff(b, prefix); diff != "" {
				t.Errorf("buffer changed on error (-got +want):\n%s", diff)
			}
		})
	}
}

// TestEncodeTruncatesStrings: strings beyond their documented maximum are
// cut, never sent oversized.
func TestEncodeTruncatesStrings(t *testing.T) {
	long := make([]byte, 1000)
	for i := range long {
		long[i] = 'a'
	}
	dg := Datagram{AgentAddress: agent4,
		FlowSamples: []FlowSample{{Expanded: true, Has: HasProcess, Process: ProcessInfo{Comm: long, Exe: long,
			Cgroup: long, Unit: long, Container: long, User: long}}},
		CounterSamples: []CounterSample{{Expanded: true, Has: HasPortName | HasHostDescr | HasInterface,
			PortName: long, HostDescr: HostDescr{Hostname: long, OSRelease: long},
			Interface: InterfaceInfo{Name: long, Alias: long, KindName: long}}},
	}
	got, _ := roundTrip(t, &dg)
	p, c := got.FlowSamples[0].Process, got.CounterSamples[0]
	lens := map[string][2]int{
		"comm":       {len(p.Comm), MaxCommLen},
		"exe":        {len(p.Exe), MaxExeLen},
		"cgroup":     {len(p.Cgroup), MaxCgroupLen},
		"unit":       {len(p.Unit), MaxUnitLen},
		"container":  {len(p.Container), MaxContainerLen},
		"user":       {len(p.User), MaxUserLen},
		"port name":  {len(c.PortName), MaxPortNameLen},
		"hostname":   {len(c.HostDescr.Hostname), MaxHostnameLen},
		"os release": {len(c.HostDescr.OSRelease), MaxOSReleaseLen},
		"if name":    {len(c.Interface.Name), MaxIfNameLen},
		"if alias":   {len(c.Interface.Alias), MaxIfAliasLen},
		"if kind":    {len(c.Interface.KindName), MaxIfKindLen},
	}
	for name, l := range lens {
		if l[0] != l[1] {
			t.Errorf("%s: %d bytes, want %d", name, l[0], l[1])
		}
	}
}
