package sflow

import (
	"encoding/hex"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// cmpOpts compare decoded structures: addresses by value, nil and empty
// slices alike, the reusable backing arrays ignored.
var cmpOpts = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmpopts.EquateEmpty(),
	cmpopts.IgnoreUnexported(Datagram{}, ExtendedGateway{}, HostAdapters{}, ProcessInfo{}),
}

var (
	agent4 = netip.MustParseAddr("192.0.2.1")
	agent6 = netip.MustParseAddr("2001:db8::1")
)

// tcpHeader is an Ethernet/IPv4/TCP header as hsflowd samples it:
// 02:00:00:00:00:01 -> 02:00:00:00:00:02, 192.0.2.10:43210 -> 198.51.100.20:443,
// SYN+ACK, padded with payload bytes to n.
func tcpHeader(n int) []byte {
	h, _ := hex.DecodeString("020000000002" + "020000000001" + "0800" +
		"4500" + "05dc" + "1234" + "4000" + "40" + "06" + "0000" + "c000020a" + "c6336414" +
		"a8ca" + "01bb" + "00000001" + "00000002" + "5012" + "ffff" + "0000" + "0000")
	for len(h) < n {
		h = append(h, byte(len(h)))
	}
	return h[:n]
}

// flowSampleAll holds every flow record this package knows, plus an
// unknown one.
func flowSampleAll(expanded bool) FlowSample {
	return FlowSample{
		Expanded:       expanded,
		SequenceNumber: 77,
		SourceType:     SourceIfIndex,
		SourceIndex:    3,
		SamplingRate:   1000,
		SamplePool:     123456,
		Drops:          2,
		InputFormat:    IfFormatIndex,
		Input:          3,
		OutputFormat:   IfFormatIndex,
		Output:         IfIndexInternal,
		Has: HasSampledHeader | HasSampledEthernet | HasSampledIPv4 | HasSampledIPv6 | HasSwitch |
			HasRouter | HasGateway | HasUser | HasURL | HasSocketIPv4 | HasSocketIPv6 | HasTCPInfo | HasProcess,
		SampledHeader:   SampledHeader{Protocol: HeaderEthernet, FrameLength: 1518, Stripped: 4, Header: tcpHeader(66)},
		SampledEthernet: SampledEthernet{Length: 1518, SrcMAC: MAC{2, 0, 0, 0, 0, 1}, DstMAC: MAC{2, 0, 0, 0, 0, 2}, EtherType: 0x0800},
		SampledIPv4: SampledIP{Length: 1500, Protocol: 6, SrcIP: netip.MustParseAddr("192.0.2.10"),
			DstIP: netip.MustParseAddr("198.51.100.20"), SrcPort: 43210, DstPort: 443, TCPFlags: 0x12, TOS: 0x10},
		SampledIPv6: SampledIP{Length: 1280, Protocol: 17, SrcIP: netip.MustParseAddr("2001:db8::10"),
			DstIP: netip.MustParseAddr("2001:db8:1::20"), SrcPort: 5353, DstPort: 53, TOS: 3},
		Switch: ExtendedSwitch{SrcVLAN: 10, SrcPriority: 1, DstVLAN: 20, DstPriority: 2},
		Router: ExtendedRouter{NextHop: netip.MustParseAddr("2001:db8::fe"), SrcMaskLen: 48, DstMaskLen: 64},
		Gateway: ExtendedGateway{NextHop: netip.MustParseAddr("203.0.113.1"), AS: 64500, SrcAS: 64501, SrcPeerAS: 64502,
			ASPath: []ASPathSegment{
				{Type: ASSequence, ASNs: []uint32{64510, 64511, 4200000000}},
				{Type: ASSet, ASNs: []uint32{64520}},
			},
			Communities: []uint32{64500<<16 | 100, 64500<<16 | 200}, LocalPref: 150},
		User:       ExtendedUser{SrcCharset: 106, SrcUser: []byte("alice"), DstCharset: 106, DstUser: []byte("bob")},
		URL:        ExtendedURL{Direction: 2, URL: []byte("/index.html"), Host: []byte("example.com")},
		SocketIPv4: ExtendedSocket{Protocol: 6, LocalIP: netip.MustParseAddr("192.0.2.10"), RemoteIP: netip.MustParseAddr("198.51.100.20"), LocalPort: 43210, RemotePort: 443},
		SocketIPv6: ExtendedSocket{Protocol: 17, LocalIP: netip.MustParseAddr("2001:db8::10"), RemoteIP: netip.MustParseAddr("2001:db8:1::20"), LocalPort: 5353, RemotePort: 53},
		TCPInfo: ExtendedTCPInfo{Direction: 2, SndMSS: 1448, RcvMSS: 536, Unacked: 3, Lost: 1, Retrans: 7,
			PMTU: 1500, RTT: 2500, RTTVar: 300, SndCwnd: 10, Reordering: 3, MinRTT: 1900},
		Process: processRecord(),
		Unknown: []Unknown{{Format: MakeFormat(0, 1043), Data: []byte{0, 0, 0, 0, 0x18, 0x7a, 0x1b, 0x2c}}},
	}
}

func processRecord() ProcessInfo {
	return ProcessInfo{PID: 4242, UID: 1000, Comm: []byte("nginx"), Exe: []byte("nginx"),
		Cgroup: []byte("/system.slice/nginx.service"), Unit: []byte("nginx.service"),
		Container: []byte("3f4e5d6c7b8a"), User: []byte("www-data")}
}

// counterSampleAll holds every counter record this package knows, plus an
// unknown one.
func counterSampleAll(expanded bool) CounterSample {
	s := CounterSample{
		Expanded:       expanded,
		SequenceNumber: 9,
		SourceType:     SourceIfIndex,
		SourceIndex:    3,
		Has: HasGeneric | HasEthernet | HasVLAN | HasProcessor | HasPortName | HasHostDescr | HasAdapters |
			HasHostParent | HasHostCPU | HasHostMemory | HasHostDiskIO | HasHostNetIO | HasMIB2IP | HasMIB2ICMP |
			HasMIB2TCP | HasMIB2UDP | HasInterface,
		Generic:   genericCounters(),
		Ethernet:  EthernetCounters{AlignmentErrors: 1, FCSErrors: 2, SingleCollisionFrames: 3, SymbolErrors: 13, FrameTooLongs: 11},
		VLAN:      VLANCounters{VLANID: 100, Octets: 1 << 40, UcastPkts: 5, MulticastPkts: 6, BroadcastPkts: 7, Discards: 8},
		Processor: Processor{CPU5s: 1234, CPU1m: 2345, CPU5m: -1, TotalMemory: 16 << 30, FreeMemory: 3 << 30},
		PortName:  []byte("eth0"),
		HostDescr: HostDescr{Hostname: []byte("web-1.example.net"),
			UUID:        [16]byte{0x5d, 0x3c, 0x2b, 0x1a, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
			MachineType: MachineX86_64, OSName: OSLinux, OSRelease: []byte("6.1.0-18-amd64")},
		Adapters: HostAdapters{Adapters: []HostAdapter{
			{IfIndex: 2, MACs: []MAC{{2, 0, 0, 0, 0, 1}}},
			{IfIndex: 3, MACs: []MAC{{2, 0, 0, 0, 0, 2}, {2, 0, 0, 0, 0, 3}}},
		}},
		HostParent: HostParent{ContainerType: SourcePhysical, ContainerIndex: 1},
		HostCPU: HostCPU{LoadOne: 0.5, LoadFive: 0.25, LoadFifteen: 1.75, ProcRun: 2, ProcTotal: 321, CPUNum: 8,
			CPUSpeed: 2400, Uptime: 86400, User: 1, Nice: 2, System: 3, Idle: 4, WIO: 5, Intr: 6, SoftIntr: 7,
			Interrupts: 8, Contexts: 9, Steal: 10, Guest: 11, GuestNice: 12},
		HostMemory: HostMemory{Total: 16 << 30, Free: 1 << 30, Shared: 1, Buffers: 2, Cached: 3, SwapTotal: 4, SwapFree: 5,
			PageIn: 6, PageOut: 7, SwapIn: 8, SwapOut: 9},
		HostDiskIO: HostDiskIO{Total: 1 << 40, Free: 1 << 39, PartMaxUsed: 4567, Reads: 1, BytesRead: 2, ReadTime: 3,
			Writes: 4, BytesWritten: 5, WriteTime: 6},
		HostNetIO: HostNetIO{BytesIn: 1 << 33, PktsIn: 1, ErrsIn: 2, DropsIn: 3, BytesOut: 1 << 34, PktsOut: 4, ErrsOut: 5, DropsOut: 6},
		Interface: InterfaceInfo{IfIndex: 3, Kind: IfKindTun, MTU: 1280, MasterIndex: 0, Name: []byte("tailscale0"),
			Alias: []byte("tailnet uplink"), KindName: []byte("tun")},
		Unknown: []Unknown{{Format: MakeFormat(0, 1004), Data: []byte{0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2}}},
	}
	// Distinct values in every field of the all-u32 records, so that a
	// field order mismatch between encoder and decoder cannot go unseen.
	fill := func(fields []*uint32, base uint32) {
		for i, p := range fields {
			*p = base + uint32(i)
		}
	}
	f1, f2, f3, f4 := s.MIB2IP.fields(), s.MIB2ICMP.fields(), s.MIB2TCP.fields(), s.MIB2UDP.fields()
	fill(f1[:], 100)
	fill(f2[:], 200)
	fill(f3[:], 300)
	fill(f4[:], 400)
	return s
}

func genericCounters() GenericInterface {
	return GenericInterface{Index: 3, Type: 6, Speed: 10_000_000_000, Direction: 1, Status: 3,
		InOctets: 1<<32 + 5, InUcastPkts: 11, InMulticastPkts: 12, InBroadcastPkts: 13, InDiscards: 14,
		InErrors: 15, InUnknownProtos: 0xFFFFFFFF, OutOctets: 1<<33 + 7, OutUcastPkts: 21,
		OutMulticastPkts: 22, OutBroadcastPkts: 23, OutDiscards: 24, OutErrors: 25, PromiscuousMode: 0}
}

// golden compares got with testdata/<name> (hex, 32 bytes a line), or
// rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	var sb strings.Builder
	for i := 0; i < len(got); i += 32 {
		sb.WriteString(hex.EncodeToString(got[i:min(i+32, len(got))]))
		sb.WriteByte('\n')
	}
	if *update {
		if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(sb.String(), string(want)); diff != "" {
		t.Errorf("%s differs (-got +want):\n%s", path, diff)
	}
}

// readGolden returns the bytes of a hex golden file.
func readGolden(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(strings.Join(strings.Fields(string(raw)), ""))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return b
}
