package decoder

import (
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/internal/daemon"
	"github.com/hostflow/hostflow/internal/pcapfile"
	"github.com/hostflow/hostflow/packet"
)

var netflowPcaps = flag.String("netflow-pcaps", "",
	"directory where TestNetFlowRealExporters leaves a tcpdump capture of each exporter's datagrams (netflow/testdata/regen.sh)")

// realExporter is an exporter run against iperf3 traffic.
type realExporter struct {
	name    string // also the fixture file name
	version uint16
	v6      bool // exports IPv6 flows
	biflow  bool // RFC 5103 records: the reverse direction is in the same record
	// sampling: announces its (1-in-1) sampling in options data.
	sampling bool
	// badSequence: its sequence numbers do not count what the RFC says
	// (softflowd 1.1.0 IPFIX), so gaps are reported that are not losses.
	badSequence bool
	// run starts the exporter, capturing on the server side and exporting
	// to 127.0.0.1:port; it returns a function that makes it export every
	// flow it still holds.
	run func(t *testing.T, n *testNet, port int, dir string) (flush func())
}

func softflowd(version string, extra ...string) func(t *testing.T, n *testNet, port int, dir string) func() {
	return func(t *testing.T, n *testNet, port int, dir string) func() {
		ctl := filepath.Join(dir, "softflowd.ctl")
		args := append([]string{"-d", "-i", "hfs0", "-n", fmt.Sprintf("127.0.0.1:%d", port), "-v", version,
			"-t", "maxlife=2", "-t", "expint=1", "-t", "tcp=1", "-t", "tcp.fin=1", "-t", "udp=1", "-t", "general=1", "-c", ctl, "-p", filepath.Join(dir, "softflowd.pid")}, extra...)
		start(t, n.server, "", "softflowd", args...)
		waitFile(t, ctl)
		return func() { runIn(t, n.server, "softflowctl", "-c", ctl, "expire-all") }
	}
}

func pmacctd(version int) func(t *testing.T, n *testNet, port int, dir string) func() {
	return func(t *testing.T, n *testNet, port int, dir string) func() {
		conf := filepath.Join(dir, "pmacctd.conf")
		text := fmt.Sprintf(`daemonize: false
pcap_interface: hfs0
plugins: nfprobe
nfprobe_receiver: 127.0.0.1:%d
nfprobe_version: %d
nfprobe_timeouts: tcp=1:tcp.rst=1:tcp.fin=1:udp=1:icmp=1:general=1:maxlife=2:expint=1
aggregate: src_host, dst_host, src_port, dst_port, proto, tos
`, port, version)
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		p := start(t, n.server, "", "pmacctd", "-f", conf)
		// pmacctd logs nothing reliable when ready; give it its second.
		time.Sleep(1500 * time.Millisecond)
		// Its timeouts (expint 1 s) export everything soon after traffic
		// stops; stopping it is not needed.
		return func() { _ = p }
	}
}

var realExporters = []realExporter{
	{name: "softflowd-v5", version: 5, run: softflowd("5")},
	{name: "softflowd-v9", version: 9, v6: true, sampling: true, run: softflowd("9")},
	{name: "softflowd-ipfix", version: 10, v6: true, sampling: true, badSequence: true, run: softflowd("10")},
	{name: "softflowd-ipfix-biflow", version: 10, v6: true, biflow: true, sampling: true, badSequence: true, run: softflowd("10", "-b")},
	{name: "pmacctd-v9", version: 9, v6: true, run: pmacctd(9)},
	{name: "pmacctd-ipfix", version: 10, v6: true, run: pmacctd(10)},
}

// transfer is one iperf3 run, as iperf3 reported it.
type transfer struct {
	name           string
	proto          uint8
	client, server netip.AddrPort
	payload        uint64 // bytes of test data the client sent
	received       uint64 // TCP: bytes of test data the server read
	datagrams      uint64 // UDP: datagrams sent
	datagramLen    uint64 // UDP: payload bytes per datagram
	ipHeader       uint64
}

// iperf runs one iperf3 test from client to server and parses its JSON.
func iperf(t *testing.T, n *testNet, name string, v6, udp bool) transfer {
	t.Helper()
	tr := transfer{name: name, proto: 6, ipHeader: 20}
	cli, srv := "198.18.0.1", "198.18.0.2"
	if v6 {
		cli, srv, tr.ipHeader = "2001:db8::1", "2001:db8::2", 40
	}
	args := []string{"-c", srv, "-B", cli, "-p", "5201", "-J"}
	if udp {
		tr.proto, tr.datagramLen = 17, 1000
		args = append(args, "-u", "-b", "10M", "-l", "1000", "-n", "500K")
	} else {
		args = append(args, "-n", "1M")
	}
	out := runIn(t, n.client, "iperf3", args...)
	var res struct {
		Start struct {
			Connected []struct {
				LocalHost  string `json:"local_host"`
				LocalPort  uint16 `json:"local_port"`
				RemoteHost string `json:"remote_host"`
				RemotePort uint16 `json:"remote_port"`
			} `json:"connected"`
		} `json:"start"`
		End struct {
			Sum struct {
				Bytes   uint64 `json:"bytes"`
				Packets uint64 `json:"packets"`
			} `json:"sum"`
			SumSent struct {
				Bytes uint64 `json:"bytes"`
			} `json:"sum_sent"`
			SumReceived struct {
				Bytes uint64 `json:"bytes"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res.Start.Connected) != 1 {
		t.Fatalf("iperf3 %s: %v\n%s", name, err, out)
	}
	c := res.Start.Connected[0]
	tr.client = netip.AddrPortFrom(netip.MustParseAddr(c.LocalHost), c.LocalPort)
	tr.server = netip.AddrPortFrom(netip.MustParseAddr(c.RemoteHost), c.RemotePort)
	tr.payload, tr.received = res.End.SumSent.Bytes, res.End.SumReceived.Bytes
	if udp {
		tr.payload, tr.datagrams = res.End.Sum.Bytes, res.End.Sum.Packets
	}
	return tr
}

// totals sums the flows of one direction of a transfer.
func totals(flows []flow.Record, src, dst netip.AddrPort, proto uint8) (bytes, packets uint64, records int) {
	for _, f := range flows {
		if f.Proto == proto && f.SrcAddr == src.Addr() && f.DstAddr == dst.Addr() &&
			f.SrcPort == src.Port() && f.DstPort == dst.Port() {
			bytes += f.Bytes
			packets += f.Packets
			records++
		}
	}
	return bytes, packets, records
}

// TestNetFlowRealExporters runs softflowd (v5, v9, IPFIX, IPFIX biflows)
// and pmacctd's nfprobe (v9, IPFIX) on the server side of a veth pair,
// sends iperf3 TCP and UDP over IPv4 and IPv6 through it, decodes what the
// exporters send with NetFlow and checks every transfer against iperf3's
// own figures.
func TestNetFlowRealExporters(t *testing.T) {
	for _, tool := range []string{"softflowd", "softflowctl", "pmacctd", "iperf3", "ethtool", "tcpdump"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: scripts/setup.sh test installs it", tool)
		}
	}
	n := newTestNet(t)
	start(t, n.server, "Server listening", "iperf3", "-s", "-p", "5201", "--forceflush")

	// Every exporter watches the same traffic, each exporting to its own
	// socket (and capture, when regenerating fixtures).
	conns := make([]*net.UDPConn, len(realExporters))
	flushes := make([]func(), len(realExporters))
	for i, e := range realExporters {
		dir := t.TempDir()
		conn := listenUDP(t, n.server)
		port := conn.LocalAddr().(*net.UDPAddr).Port
		if *netflowPcaps != "" {
			pcap, err := filepath.Abs(filepath.Join(*netflowPcaps, e.name+".pcap"))
			if err != nil {
				t.Fatal(err)
			}
			start(t, n.server, "listening on", "tcpdump", "-i", "lo", "-n", "-U", "-w", pcap, "udp", "and", "dst", "port", strconv.Itoa(port))
		}
		flushes[i] = e.run(t, n, port, dir)
		conns[i] = conn
	}
	// What went on the wire, independently of the exporters and of
	// iperf3's own figures (which count what the client wrote to its
	// socket: under load, the tail of a TCP test can be reset unsent).
	wirePcap := filepath.Join(t.TempDir(), "wire.pcap")
	capture := start(t, n.server, "listening on", "tcpdump", "-i", "hfs0", "-n", "-U", "-s", "128", "-w", wirePcap, "ip or ip6")
	var transfers []transfer
	for _, v6 := range []bool{false, true} {
		for _, udp := range []bool{false, true} {
			name := map[bool]string{false: "tcp", true: "udp"}[udp] + map[bool]string{false: "4", true: "6"}[v6]
			transfers = append(transfers, iperf(t, n, name, v6, udp))
		}
	}
	_, err := exec.LookPath("ping")
	havePing := err == nil
	if havePing {
		for _, dst := range []string{"198.18.0.2", "2001:db8::2"} {
			runIn(t, n.client, "ping", "-q", "-c", "100", "-i", "0.002", "-s", "56", dst)
		}
	} else {
		t.Log("ping not found (Debian iputils-ping): ICMP flows not checked")
	}
	// softflowd's libpcap (TPACKET_V3, no timeout) hands packets over by
	// blocks of about 1400 and keeps a partly filled one until it fills:
	// an unchecked trailer of 4096 datagrams pushes the checked traffic out.
	runIn(t, n.client, "iperf3", "-c", "198.18.0.2", "-p", "5201", "-u", "-b", "50M", "-l", "16", "-n", "64K")
	// libpcap hands packets over in buffers: give the exporters time to
	// read the last ones before asking for everything to be exported.
	time.Sleep(2 * time.Second)
	for _, f := range flushes {
		f()
	}
	capture.stop()
	if !strings.Contains("\n"+capture.output(), "\n0 packets dropped by kernel") {
		t.Fatalf("tcpdump dropped packets: the wire totals would be wrong:\n%s", capture.output())
	}
	wire := wireTotals(t, wirePcap)

	// What each exporter counted for each transfer: they all watched the
	// same packets, so they must agree.
	counted := map[string]map[string][2]uint64{}
	for _, tr := range transfers {
		counted[tr.name] = map[string][2]uint64{}
	}
	for i, e := range realExporters {
		t.Run(e.name, func(t *testing.T) {
			pkts := collect(conns[i], 3*time.Second, 20*time.Second)
			rep := newTestReporter()
			d, err := NewNetFlow(DefaultNetFlowConfig(), rep)
			if err != nil {
				t.Fatal(err)
			}
			var b Batch
			for j, p := range pkts {
				if err := d.Decode(Packet{Payload: p, Source: netip.MustParseAddrPort("127.0.0.1:9995"), Received: uint32(time.Now().Unix())}, &b); err != nil {
					t.Errorf("datagram %d: %v", j, err)
				}
			}
			t.Logf("%d datagrams, %d flows", len(pkts), len(b.Flows))
			checkMetrics(t, e, rep)
			for _, f := range b.Flows {
				if f.SamplingRate != 1 || f.ExporterAddress != netip.MustParseAddr("127.0.0.1") || f.TimeReceived == 0 ||
					f.EType != 0x0800 && f.EType != 0x86dd {
					t.Errorf("flow %s → %s: rate %d, exporter %s, time %d, etype %#x",
						f.SrcAddr, f.DstAddr, f.SamplingRate, f.ExporterAddress, f.TimeReceived, f.EType)
				}
			}
			for _, tr := range transfers {
				if tr.server.Addr().Is6() && !e.v6 {
					continue
				}
				checkTransfer(t, tr, b.Flows, wire)
				bytes, packets, _ := totals(b.Flows, tr.client, tr.server, tr.proto)
				counted[tr.name][e.name] = [2]uint64{bytes, packets}
			}
			if havePing {
				checkPings(t, e, b.Flows)
			}
		})
	}
	checkAgreement(t, counted)
}

// checkTransfer compares the flows of one iperf3 transfer with what
// iperf3 says it sent.
// checkMetrics: the exporters' sequence numbers (each counts differently)
// show no gap, nothing was malformed, biflows were recognised as such.
func checkMetrics(t *testing.T, e realExporter, rep *daemon.Reporter) {
	t.Helper()
	r := rep.Sub("netflow")
	if n := testutil.CollectAndCount(r.CounterVec("sequence_lost_total", "", "exporter", "version")); n != 0 && !e.badSequence {
		t.Errorf("sequence gaps reported: %d series", n)
	}
	if n := testutil.CollectAndCount(r.CounterVec("errors_total", "", "reason")); n != 0 {
		t.Errorf("decode errors: %d series", n)
	}
	if reverse := testutil.ToFloat64(r.Counter("biflow_reverse_total", "")); (reverse > 0) != e.biflow {
		t.Errorf("%v reverse flows from biflow records, want some: %v", reverse, e.biflow)
	}
	if unknown := testutil.ToFloat64(r.Counter("sampling_unknown_total", "")); (unknown == 0) != e.sampling {
		t.Errorf("%v flows without a sampling rate; exporter announces it: %v", unknown, e.sampling)
	}
}

func checkAgreement(t *testing.T, counted map[string]map[string][2]uint64) {
	t.Helper()
	for tr, byExporter := range counted {
		var first string
		for name, c := range byExporter {
			if first == "" {
				first = name
			} else if c != byExporter[first] {
				t.Errorf("%s: %s counted %v bytes/packets, %s %v", tr, name, c, first, byExporter[first])
			}
		}
	}
}

func checkTransfer(t *testing.T, tr transfer, flows []flow.Record, wire map[wireKey][2]uint64) {
	t.Helper()
	bytes, packets, records := totals(flows, tr.client, tr.server, tr.proto)
	rbytes, rpackets, rrecords := totals(flows, tr.server, tr.client, tr.proto)
	t.Logf("%s: forward %d records %d bytes %d packets; reverse %d records %d bytes %d packets; iperf3 payload %d (read %d) datagrams %d",
		tr.name, records, bytes, packets, rrecords, rbytes, rpackets, tr.payload, tr.received, tr.datagrams)
	if records == 0 {
		t.Errorf("%s: no flow %s → %s proto %d", tr.name, tr.client, tr.server, tr.proto)
		return
	}
	if tr.proto == 17 {
		// iperf3 UDP: one 4-byte connect datagram, then the test
		// datagrams; the server answers the connect with 4 bytes. Flows
		// count IP packets: payload + UDP header + IP header each.
		udpIP := 8 + tr.ipHeader
		want := [4]uint64{tr.datagrams + 1, tr.datagrams*(tr.datagramLen+udpIP) + 4 + udpIP, 1, 4 + udpIP}
		got := [4]uint64{packets, bytes, rpackets, rbytes}
		if got != want {
			t.Errorf("%s: forward packets, bytes, reverse packets, bytes = %v, want %v", tr.name, got, want)
		}
		return
	}
	// iperf3 TCP: what the exporters counted must be what was on the
	// wire, both ways. And what the server read did cross the wire: with
	// the client's 37-byte cookie, an IP header and a 32-byte TCP header
	// (timestamps option) per packet, the SYN 8 bytes more.
	for _, c := range []struct {
		dir      string
		src, dst netip.AddrPort
		got      [2]uint64
	}{{"forward", tr.client, tr.server, [2]uint64{bytes, packets}}, {"reverse", tr.server, tr.client, [2]uint64{rbytes, rpackets}}} {
		if want := wire[wireKey{c.src, c.dst, tr.proto}]; c.got != want {
			t.Errorf("%s %s: %d bytes in %d packets, on the wire %d bytes in %d packets", tr.name, c.dir, c.got[0], c.got[1], want[0], want[1])
		}
	}
	if minBytes := tr.received + 37 + 8 + packets*(tr.ipHeader+32); bytes < minBytes {
		t.Errorf("%s: %d bytes in %d packets, less than the %d payload bytes the server read", tr.name, bytes, packets, tr.received)
	}
	// The server sends header-only ACKs: 20 to 60 bytes of TCP header
	// (timestamps, SACK blocks when segments were reordered).
	if rpackets == 0 || rbytes < rpackets*(tr.ipHeader+20) || rbytes > rpackets*(tr.ipHeader+60) {
		t.Errorf("%s: reverse (ACKs) %d packets %d bytes, want header-only packets", tr.name, rpackets, rbytes)
	}
}

func newTestReporter() *daemon.Reporter {
	return daemon.NewReporter(slog.New(slog.DiscardHandler), nil)
}

// waitFile waits (10 s at most) for path to exist.
func waitFile(t *testing.T, path string) {
	t.Helper()
	for range 500 {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not appear", path)
}

// checkPings looks for the echo requests and replies of the trailing
// pings, with ICMP type and code decoded and no ports.
func checkPings(t *testing.T, e realExporter, flows []flow.Record) {
	t.Helper()
	want := map[string]bool{"1 198.18.0.1 8/0": false, "1 198.18.0.2 0/0": false}
	if e.v6 {
		want["58 2001:db8::1 128/0"], want["58 2001:db8::2 129/0"] = false, false
	}
	if e.biflow {
		// The replies are the reverse halves of the requests' biflow
		// records, which carry no reverse ICMP type.
		delete(want, "1 198.18.0.2 0/0")
		delete(want, "58 2001:db8::2 129/0")
		want["1 198.18.0.2 0/0"], want["58 2001:db8::2 0/0"] = false, false
	}
	for _, f := range flows {
		if f.Proto != 1 && f.Proto != 58 {
			continue
		}
		key := fmt.Sprintf("%d %s %d/%d", f.Proto, f.SrcAddr, f.ICMPType, f.ICMPCode)
		if _, ok := want[key]; ok {
			want[key] = true
		}
		if f.SrcPort != 0 || f.DstPort != 0 {
			t.Errorf("ICMP flow %s with ports %d → %d", key, f.SrcPort, f.DstPort)
		}
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("no ICMP flow %s", k)
		}
	}
}

// wireKey is one direction of a connection.
type wireKey struct {
	src, dst netip.AddrPort
	proto    uint8
}

// wireTotals sums the IP bytes and packets of a capture by direction of
// each connection (the IP length from the header: the capture keeps the
// first 128 bytes of each frame).
func wireTotals(t *testing.T, path string) map[wireKey][2]uint64 {
	t.Helper()
	lt, frames, err := pcapfile.Read(path)
	if err != nil || lt != pcapfile.LinkEthernet {
		t.Fatalf("capture %s: link type %d, %v", path, lt, err)
	}
	out := map[wireKey][2]uint64{}
	var h packet.Header
	for _, f := range frames {
		if err := packet.Parse(packet.LinkEthernet, f.Data, &h); err != nil || h.IPLength == 0 {
			continue
		}
		k := wireKey{netip.AddrPortFrom(h.SrcAddr, h.SrcPort), netip.AddrPortFrom(h.DstAddr, h.DstPort), h.Proto}
		v := out[k]
		out[k] = [2]uint64{v[0] + uint64(h.IPLength), v[1] + 1}
	}
	return out
}
