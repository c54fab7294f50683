package agent

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hostflow/hostflow/agent/internal/nstest"
	"github.com/hostflow/hostflow/decoder"
	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/internal/daemon"
	"github.com/hostflow/hostflow/packet"
	"github.com/hostflow/hostflow/sflow"
)

// flowObs is what the test keeps of one decoded flow sample.
type flowObs struct {
	source, rate, in, out, frame, stripped uint32
	proto                                  uint32
	header                                 []byte
	comm                                   string
	hasTCPInfo                             bool
}

// collector receives and decodes the agent's datagrams in namespace b.
type collector struct {
	mu       sync.Mutex
	flows    []flowObs
	counters []sflow.CounterSample
	// What hostflow's collector-side decoder (decoder.SFlow) makes of the
	// same datagrams.
	records []flow.Record
	ifaces  []flow.InterfaceCounters
	hosts   []flow.HostCounters
	agents  map[netip.Addr]bool
	maxSize int
	errs    []error
	conn    *net.UDPConn
}

func startCollector(t *testing.T, ns *nstest.NS, addr string) *collector {
	c := &collector{agents: map[netip.Addr]bool{}}
	if err := ns.Do(func() (err error) {
		c.conn, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	_ = c.conn.SetReadBuffer(8 << 20)
	t.Cleanup(func() { c.conn.Close() })
	hdec, err := decoder.NewSFlow(decoder.DefaultSFlowConfig(), daemon.NewReporter(slog.New(slog.DiscardHandler), nil))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 65536)
		var dec sflow.Decoder
		var dg sflow.Datagram
		var batch decoder.Batch
		for {
			n, err := c.conn.Read(buf)
			if err != nil {
				return
			}
			err = dec.Decode(buf[:n], &dg)
			batch.Reset()
			herr := hdec.Decode(decoder.Packet{Payload: buf[:n], Received: uint32(time.Now().Unix())}, &batch)
			c.mu.Lock()
			if herr != nil {
				c.errs = append(c.errs, herr)
			}
			c.records = append(c.records, batch.Flows...)
			c.ifaces = append(c.ifaces, batch.Interfaces...)
			c.hosts = append(c.hosts, batch.Hosts...)
			c.maxSize = max(c.maxSize, n)
			if err != nil {
				c.errs = append(c.errs, err)
			}
			c.agents[dg.AgentAddress] = true
			for i := range dg.FlowSamples {
				fs := &dg.FlowSamples[i]
				o := flowObs{source: fs.SourceIndex, rate: fs.SamplingRate, in: fs.Input, out: fs.Output,
					frame: fs.SampledHeader.FrameLength, stripped: fs.SampledHeader.Stripped,
					proto: fs.SampledHeader.Protocol, header: append([]byte(nil), fs.SampledHeader.Header...),
					hasTCPInfo: fs.Has&sflow.HasTCPInfo != 0}
				if fs.Has&sflow.HasProcess != 0 {
					o.comm = string(fs.Process.Comm)
				}
				c.flows = append(c.flows, o)
			}
			for i := range dg.CounterSamples {
				cs := dg.CounterSamples[i]
				cs.PortName = append([]byte(nil), cs.PortName...)
				c.counters = append(c.counters, cs)
			}
			c.mu.Unlock()
		}
	}()
	return c
}

// estimate sums, over the samples of one direction of one flow (the data
// going to port on interface ifIndex), the estimated application payload:
// (frame − stripped − headers) × rate, which for a GSO sample (rate N×K,
// average segment frame) is N × the aggregate's payload.
type estimate struct {
	samples, withProcess, iperf, tcpInfo int
	bytes                                float64
	// sq sums the squared per-sample estimates, for the variance of a sum
	// of samples of unequal sizes (GSO aggregates).
	sq             float64
	wrongDirection int
}

// bound95 is the 95 % confidence half-width of the byte estimate, relative.
// Sampling 1 in N packets of equal size it is sFlow's 1.96·√(1/samples);
// when samples stand for unequal amounts (aggregates of K segments) the
// variance of the sum, (1 − 1/N)·Σ(xᵢ)², is larger, and this uses it.
func (e estimate) bound95(rate float64) float64 {
	if e.bytes == 0 {
		return 1
	}
	classic := 1.96 / math.Sqrt(float64(max(e.samples, 1)))
	return max(classic, 1.96*math.Sqrt((1-1/rate)*e.sq)/e.bytes)
}

func (c *collector) estimate(ifIndex uint32, dstPort uint16, proto uint8) (out, back estimate) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.flows {
		if f.source != ifIndex {
			continue
		}
		link := packet.LinkEthernet
		if f.proto != sflow.HeaderEthernet {
			link = packet.LinkIP
		}
		var h packet.Header
		_ = packet.Parse(link, f.header, &h)
		if h.Proto != proto {
			continue
		}
		var e *estimate
		switch {
		case h.DstPort == dstPort:
			e = &out
			if f.out != ifIndex || f.in != sflow.IfIndexInternal {
				e.wrongDirection++
			}
		case h.SrcPort == dstPort:
			e = &back
			if f.in != ifIndex || f.out != sflow.IfIndexInternal {
				e.wrongDirection++
			}
		default:
			continue
		}
		e.samples++
		if f.comm != "" {
			e.withProcess++
		}
		if f.comm == "iperf3" {
			e.iperf++
		}
		if f.hasTCPInfo {
			e.tcpInfo++
		}
		hdrs := uint32(h.L4Offset) + 8
		if proto == 6 && int(h.L4Offset)+12 < len(f.header) {
			hdrs = uint32(h.L4Offset) + uint32(f.header[h.L4Offset+12]>>4)*4
		}
		if f.frame > f.stripped+hdrs {
			x := float64(f.frame-f.stripped-hdrs) * float64(f.rate)
			e.bytes += x
			e.sq += x * x
		}
	}
	return out, back
}

// iperf runs one iperf3 transfer from a to b's address and returns the
// payload bytes the client sent.
func iperf(t *testing.T, a, b *nstest.NS, dst string, port int, udp bool, size, bitrate string) float64 {
	t.Helper()
	// Not one-off (-1): a failed attempt must leave it there for the next.
	srv := b.Command("iperf3", "-s", "-p", strconv.Itoa(port))
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	// Paced, so the transfer lasts a couple of seconds: long enough for
	// the attribution to find the client process, as for a real flow.
	args := []string{"-c", dst, "-p", strconv.Itoa(port), "-n", size, "-b", bitrate, "--json"}
	if udp {
		args = append(args, "-u", "-l", "1200")
	}
	var res struct {
		Error string `json:"error"`
		End   struct {
			SumSent struct {
				Bytes float64 `json:"bytes"`
			} `json:"sum_sent"`
			Sum struct {
				Bytes float64 `json:"bytes"`
			} `json:"sum"`
		} `json:"end"`
	}
	var out []byte
	var err error
	// Until the server listens; iperf3 can also exit 0 with an "error" in
	// its JSON and nothing sent (seen once on CI over IPv6): try again.
	for try := 0; try < 20; try++ {
		time.Sleep(100 * time.Millisecond)
		if out, err = a.Command("iperf3", args...).Output(); err != nil {
			continue
		}
		res.Error, res.End.SumSent.Bytes, res.End.Sum.Bytes = "", 0, 0
		if err = json.Unmarshal(out, &res); err != nil {
			t.Fatalf("iperf3 output: %v\n%s", err, out)
		}
		if res.Error == "" && res.End.SumSent.Bytes > 0 {
			break
		}
		err = fmt.Errorf("iperf3 error %q, sent %v bytes", res.Error, res.End.SumSent.Bytes)
	}
	if err != nil {
		t.Fatalf("iperf3 %v: %v\n%s", args, err, out)
	}
	if udp {
		return res.End.Sum.Bytes
	}
	return res.End.SumSent.Bytes
}

func ifIndex(t *testing.T, ns *nstest.NS, dev string) uint32 {
	out := ns.MustRun(t, "cat", "/sys/class/net/"+dev+"/ifindex")
	v, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		t.Fatal(err)
	}
	return uint32(v)
}

// TestAgentEndToEnd samples real iperf3 traffic between two namespaces over
// a veth pair and over a WireGuard tunnel on a kernel TUN device (the shape
// of tailscale0), and checks what collectors make of the agent's sFlow: our
// decoder (estimates within sFlow's 95 % bound, directions, ifIndexes,
// process names), tshark (nothing malformed) and pmacct's sfacctd.
func TestAgentEndToEnd(t *testing.T) {
	nstest.Require(t)
	for _, tool := range []string{"iperf3", "tshark", "tcpdump", "sfacctd"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
	a, b := nstest.New(t, "a"), nstest.New(t, "b")
	nstest.Veth(t, a, "va", []string{"198.18.0.1/24", "fd18::1/64"}, b, "vb", []string{"198.18.0.2/24", "fd18::2/64"})
	privA, pubA := wgKeys(t)
	privB, pubB := wgKeys(t)
	startHelper(t, a.Name, "wg", "HOSTFLOW_WG_NAME=hftun0", "HOSTFLOW_WG_PRIVATE="+privA, "HOSTFLOW_WG_PORT=51820",
		"HOSTFLOW_WG_PEER="+pubB, "HOSTFLOW_WG_ENDPOINT=198.18.0.2:51820", "HOSTFLOW_WG_ALLOWED=198.19.0.0/24,fd19::/64",
		"HOSTFLOW_WG_ADDRS=198.19.0.1/24,fd19::1/64")
	startHelper(t, b.Name, "wg", "HOSTFLOW_WG_NAME=hftun0", "HOSTFLOW_WG_PRIVATE="+privB, "HOSTFLOW_WG_PORT=51820",
		"HOSTFLOW_WG_PEER="+pubA, "HOSTFLOW_WG_ENDPOINT=198.18.0.1:51820", "HOSTFLOW_WG_ALLOWED=198.19.0.0/24,fd19::/64",
		"HOSTFLOW_WG_ADDRS=198.19.0.2/24,fd19::2/64")

	dir := t.TempDir()
	col := startCollector(t, b, "198.18.0.2:6343")
	sfOut := filepath.Join(dir, "sfacctd.csv")
	sfConf := filepath.Join(dir, "sfacctd.conf")
	if err := os.WriteFile(sfConf, []byte(fmt.Sprintf(`sfacctd_ip: 198.18.0.2
sfacctd_port: 6344
sfacctd_renormalize: true
plugins: print
print_output: csv
print_output_file: %s
print_refresh_time: 1
print_output_file_append: true
aggregate: src_host, dst_host, src_port, dst_port, proto
`, sfOut)), 0o644); err != nil {
		t.Fatal(err)
	}
	sfacctd := b.Command("sfacctd", "-f", sfConf)
	sfLog := &strings.Builder{}
	sfacctd.Stdout, sfacctd.Stderr = sfLog, sfLog
	if err := sfacctd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sfacctd.Process.Kill(); _ = sfacctd.Wait() }()

	gfOut := filepath.Join(dir, "goflow2.json")
	if gf := goflow2Path(); gf != "" {
		g := b.Command(gf, "-listen", "sflow://198.18.0.2:6346", "-format", "json", "-transport.file", gfOut)
		g.Stderr = io.Discard
		if err := g.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = g.Process.Kill(); _ = g.Wait() }()
	}

	const rate = 10
	agent := startHelper(t, a.Name, "agent", `HOSTFLOW_TEST_CONFIG=
collectors: ["198.18.0.2:6343", "198.18.0.2:6344", "198.18.0.2:6346"]
agent-interface: va
sub-agent-id: 7
polling: 2s
rescan: 1s
# A /proc pass costs ~50-100 ms of CPU on this (virtualised, shared)
# machine: a larger share lets short iperf3 runs be attributed early.
process: {scan-share: 0.2}
sampling:
  default: `+strconv.Itoa(rate)+`
  interfaces: {va: `+strconv.Itoa(rate)+`, hftun0: `+strconv.Itoa(rate)+`}
`)
	time.Sleep(1500 * time.Millisecond) // first rescan done, counters started

	vaIdx, tunIdx := ifIndex(t, a, "va"), ifIndex(t, a, "hftun0")
	runs := []struct {
		name    string
		dst     string
		ifIndex uint32
		port    int
		udp     bool
		size    string
		bitrate string
	}{
		{"veth tcp4", "198.18.0.2", vaIdx, 5301, false, "120M", "400M"},
		{"veth tcp6", "fd18::2", vaIdx, 5302, false, "120M", "400M"},
		{"veth udp4", "198.18.0.2", vaIdx, 5303, true, "10M", "40M"},
		{"veth udp6", "fd18::2", vaIdx, 5304, true, "10M", "40M"},
		{"tun tcp4", "198.19.0.2", tunIdx, 5305, false, "40M", "150M"},
		{"tun tcp6", "fd19::2", tunIdx, 5306, false, "40M", "150M"},
		{"tun udp4", "198.19.0.2", tunIdx, 5307, true, "8M", "40M"},
		{"tun udp6", "fd19::2", tunIdx, 5308, true, "8M", "40M"},
	}
	sent := make([]float64, len(runs))
	for i, r := range runs {
		sent[i] = iperf(t, a, b, r.dst, r.port, r.udp, r.size, r.bitrate)
	}
	time.Sleep(2500 * time.Millisecond) // last datagrams flushed, counters polled

	col.mu.Lock()
	if len(col.errs) > 0 {
		t.Errorf("decode errors: %v", col.errs)
	}
	if col.maxSize > 1232 {
		t.Errorf("largest datagram %d bytes > 1232", col.maxSize)
	}
	if !col.agents[netip.MustParseAddr("fd18::1")] || len(col.agents) != 1 {
		t.Errorf("agent addresses %v, want fd18::1 (va, IPv6 preferred)", col.agents)
	}
	col.mu.Unlock()

	for i, r := range runs {
		proto := uint8(6)
		if r.udp {
			proto = 17
		}
		out, back := col.estimate(r.ifIndex, uint16(r.port), proto)
		classic := 1.96 / math.Sqrt(float64(max(out.samples, 1)))
		bound := out.bound95(rate)
		errRel := (out.bytes - sent[i]) / sent[i]
		in95 := math.Abs(errRel) <= bound
		t.Logf("%-9s sent %.0f B, estimated %.0f B (%+.1f%%; 95%% bound ±%.1f%%, sFlow formula ±%.1f%%, within: %v) from %d samples; back %d; iperf3 %d/%d; tcp_info %d",
			r.name, sent[i], out.bytes, 100*errRel, 100*bound, 100*classic, in95, out.samples, back.samples, out.iperf, out.samples, out.tcpInfo)
		// A 95 % bound is missed by 1 flow in 20 by design; with eight flows
		// per run, failing on it would fail one run in three. The test fails
		// beyond twice the bound (3.9 σ), which an unbiased estimator
		// essentially never reaches, and logs the 95 % verdict per flow.
		if math.Abs(errRel) > 2*bound {
			t.Errorf("%s: estimate off by %.1f%%, more than twice the 95%% bound %.1f%%", r.name, 100*errRel, 100*bound)
		}
		if out.wrongDirection+back.wrongDirection > 0 {
			t.Errorf("%s: %d samples with wrong input/output", r.name, out.wrongDirection+back.wrongDirection)
		}
		// The first samples of a new process's flow may precede the /proc
		// scan that finds it (scan-interval): most, not all, are attributed.
		if out.samples == 0 || out.iperf < out.samples*7/10 {
			t.Errorf("%s: %d of %d samples attributed to iperf3", r.name, out.iperf, out.samples)
		}
		if !r.udp && (back.samples == 0 || out.tcpInfo == 0) {
			t.Errorf("%s: %d samples of the reverse direction, %d with tcp_info", r.name, back.samples, out.tcpInfo)
		}
	}
	checkCounters(t, col, vaIdx, tunIdx)
	checkRecords(t, col, vaIdx, tunIdx)
	checkSfacctd(t, sfOut, sfLog, runs[0].port)
	checkGoflow2(t, gfOut, runs[0].port)

	// tshark 4.0 cannot skip the standard records it does not know (0:1005,
	// 0:2000–2010, 0:2209) and misreads what follows them, so it only gets
	// flow samples without tcp_info: a second agent, counters off.
	agent.stop(t)
	pcap := filepath.Join(dir, "sflow.pcap")
	dump := b.Command("tcpdump", "-i", "vb", "-U", "-w", pcap, "udp", "port", "6343")
	if err := dump.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = dump.Process.Kill(); _ = dump.Wait() }()
	time.Sleep(500 * time.Millisecond)
	tcol := startCollector(t, b, "198.18.0.2:6345")
	// The NFLOG source: every UDP datagram to port 5314 logged to group 9.
	_, nftErr := exec.LookPath("nft")
	for _, rule := range [][]string{
		{"add", "table", "inet", "hf"},
		{"add", "chain", "inet", "hf", "out", "{ type filter hook output priority 0; }"},
		{"add", "rule", "inet", "hf", "out", "udp", "dport", "5314", "log", "group", "9", "snaplen", "128"},
	} {
		if nftErr == nil {
			a.MustRun(t, "nft", rule...)
		}
	}
	agent2 := startHelper(t, a.Name, "agent", `HOSTFLOW_TEST_CONFIG=
collectors: ["198.18.0.2:6343", "198.18.0.2:6345"]
polling: 0s
rescan: 1s
tcp-info: false
sampling: {default: 10, interfaces: {va: 10}}
nflog: {group: 9, rate: 1}
`)
	time.Sleep(500 * time.Millisecond)
	iperf(t, a, b, "198.18.0.2", 5311, false, "20M", "200M")
	iperf(t, a, b, "fd19::2", 5312, true, "2M", "20M")
	// An interface that appears while the agent runs is sampled after the
	// next rescan.
	nstest.Veth(t, a, "vnew", []string{"198.18.7.1/24"}, b, "vnewb", []string{"198.18.7.2/24"})
	newIdx := ifIndex(t, a, "vnew")
	time.Sleep(2 * time.Second)
	iperf(t, a, b, "198.18.7.2", 5313, true, "1M", "10M")
	nflogSent := iperf(t, a, b, "198.18.0.2", 5314, true, "240K", "2M")
	time.Sleep(1500 * time.Millisecond)
	_ = dump.Process.Signal(os.Interrupt)
	_ = dump.Wait()
	checkTshark(t, pcap, tcol)
	if nftErr == nil {
		checkNFLOG(t, tcol, vaIdx, 5314, int(math.Ceil(nflogSent/1200)))
	} else {
		t.Log("nft (nftables) not installed: NFLOG source not checked")
	}
	if out, _ := tcol.estimate(newIdx, 5313, 17); out.samples == 0 {
		t.Errorf("no sample from vnew (ifindex %d), created after the agent started; agent log:\n%s", newIdx, agent2.stderr)
	} else {
		t.Logf("vnew (created after start): %d samples", out.samples)
	}
}

func checkCounters(t *testing.T, col *collector, vaIdx, tunIdx uint32) {
	col.mu.Lock()
	defer col.mu.Unlock()
	seen := map[uint32]sflow.CounterSample{}
	host := false
	for _, cs := range col.counters {
		if cs.SourceType == sflow.SourcePhysical && cs.SourceIndex == 1 {
			host = cs.Has&(sflow.HasHostDescr|sflow.HasHostCPU|sflow.HasHostMemory|sflow.HasMIB2TCP) != 0
			continue
		}
		seen[cs.SourceIndex] = cs
	}
	if !host {
		t.Error("no host counter sample (2:1)")
	}
	for _, c := range []struct {
		idx  uint32
		name string
		kind sflow.IfKind
	}{{vaIdx, "va", sflow.IfKindVeth}, {tunIdx, "hftun0", sflow.IfKindTun}} {
		cs, ok := seen[c.idx]
		if !ok {
			t.Errorf("no counter sample for %s", c.name)
			continue
		}
		if string(cs.PortName) != c.name || cs.Interface.Kind != c.kind || cs.Generic.Status != 3 || cs.Generic.OutOctets == 0 {
			t.Errorf("%s counters: name %q kind %v status %d out octets %d", c.name, cs.PortName, cs.Interface.Kind, cs.Generic.Status, cs.Generic.OutOctets)
		}
	}
}

// checkRecords looks at the flow and counter records hostflow's collector
// decoder produced: process attribution, tcp_info and interface kinds
// survive the trip.
func checkRecords(t *testing.T, col *collector, vaIdx, tunIdx uint32) {
	col.mu.Lock()
	defer col.mu.Unlock()
	var iperfTCP, withRTT, tunOut int
	for i := range col.records {
		r := &col.records[i]
		if r.ProcessName == "iperf3" && r.Proto == 6 && r.DstPort == 5301 {
			iperfTCP++
			if r.TCPRTT > 0 {
				withRTT++
			}
		}
		// The decoder reports "internal" (0x3FFFFFFF) as 0 and sets the
		// flow direction instead.
		if r.OutIf == tunIdx && r.FlowDirection == flow.DirectionEgress && r.ProcessName == "iperf3" {
			tunOut++
		}
	}
	if iperfTCP == 0 || withRTT == 0 || tunOut == 0 {
		t.Errorf("decoded records: %d iperf3 TCP to 5301 (%d with RTT), %d iperf3 out of the tun device", iperfTCP, withRTT, tunOut)
	}
	kinds := map[uint32]string{}
	for _, c := range col.ifaces {
		kinds[c.IfIndex] = c.IfKind
	}
	if kinds[vaIdx] != "veth" || kinds[tunIdx] != "tun" {
		t.Errorf("decoded interface kinds: va %q, hftun0 %q", kinds[vaIdx], kinds[tunIdx])
	}
	if len(col.hosts) == 0 || col.hosts[0].HostName == "" || col.hosts[0].MemTotal == 0 {
		t.Errorf("decoded host counters: %+v", col.hosts)
	}
	t.Logf("collector decoder: %d flow records, %d interface and %d host counter records", len(col.records), len(col.ifaces), len(col.hosts))
}

// checkNFLOG counts the samples of the NFLOG source: IP headers (not
// Ethernet) on va at rate 1, one per datagram iperf3 sent to port.
func checkNFLOG(t *testing.T, col *collector, vaIdx uint32, port uint16, datagrams int) {
	col.mu.Lock()
	defer col.mu.Unlock()
	n := 0
	for _, f := range col.flows {
		var h packet.Header
		if f.proto == sflow.HeaderIPv4 && f.source == vaIdx && f.rate == 1 && f.out == vaIdx &&
			packet.Parse(packet.LinkIP, f.header, &h) == nil && h.DstPort == port {
			n++
		}
	}
	// Every data datagram, plus iperf3's few UDP handshake datagrams.
	t.Logf("NFLOG source: %d samples to port %d for %d data datagrams", n, port, datagrams)
	if n < datagrams || n > datagrams+3 {
		t.Errorf("NFLOG source: %d samples to port %d, want %d (+ up to 3 handshake datagrams)", n, port, datagrams)
	}
}

// goflow2Path finds goflow2 (scripts/setup.sh test installs it into
// ~/.cache/hostflow/bin) in PATH, that cache or ~/go/bin; "" when absent.
func goflow2Path() string {
	if p, err := exec.LookPath("goflow2"); err == nil {
		return p
	}
	if home, err := os.UserHomeDir(); err == nil {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			cache = filepath.Join(home, ".cache")
		}
		for _, p := range []string{filepath.Join(cache, "hostflow", "bin", "goflow2"), filepath.Join(home, "go", "bin", "goflow2")} {
			if fileExists(p) {
				return p
			}
		}
	}
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// checkGoflow2 looks for the first run's flow, with its sampling rate, in
// goflow2's JSON output.
func checkGoflow2(t *testing.T, path string, port int) {
	if goflow2Path() == "" {
		t.Log("goflow2 not installed: skipping its check")
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("goflow2 output: %v", err)
		return
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		var m struct {
			Type         string `json:"type"`
			DstPort      int    `json:"dst_port"`
			SamplingRate int    `json:"sampling_rate"`
			InIf         uint32 `json:"in_if"`
			OutIf        uint32 `json:"out_if"`
		}
		if json.Unmarshal([]byte(line), &m) == nil && m.Type == "SFLOW_5" && m.DstPort == port && m.SamplingRate >= 10 && m.InIf == sflow.IfIndexInternal {
			n++
		}
	}
	t.Logf("goflow2 decoded %d flow samples to port %d", n, port)
	if n == 0 {
		t.Errorf("goflow2 decoded no flow to port %d:\n%.2000s", port, data)
	}
}

// checkTshark decodes the captured datagrams with tshark and compares the
// number of flow samples with ours.
func checkTshark(t *testing.T, pcap string, col *collector) {
	out, err := exec.Command("tshark", "-r", pcap, "-V").CombinedOutput()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	text := string(out)
	if strings.Contains(text, "Malformed") {
		i := strings.Index(text, "Malformed")
		t.Errorf("tshark reports malformed packets:\n%s", text[max(0, i-3000):i+200])
	}
	fields, err := exec.Command("tshark", "-r", pcap, "-T", "fields", "-e", "sflow.flow_sample.source_id_index").Output()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(fields), "\n") {
		if line != "" {
			n += len(strings.Split(line, ","))
		}
	}
	col.mu.Lock()
	ours := len(col.flows)
	col.mu.Unlock()
	t.Logf("tshark decoded %d flow samples, our decoder %d", n, ours)
	if n == 0 || n < ours*9/10 {
		t.Errorf("tshark decoded %d flow samples, our decoder %d", n, ours)
	}
}

// checkSfacctd looks for the first run's flow in sfacctd's CSV output.
func checkSfacctd(t *testing.T, path string, log *strings.Builder, port int) {
	var data []byte
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		data, _ = os.ReadFile(path)
		if strings.Contains(string(data), ","+strconv.Itoa(port)+",") {
			break
		}
	}
	if !strings.Contains(string(data), ","+strconv.Itoa(port)+",") {
		t.Errorf("sfacctd printed no flow to port %d:\n%s\nlog:\n%s", port, data, log)
		return
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, ","+strconv.Itoa(port)+",") {
			t.Logf("sfacctd: %s", line)
		}
	}
}
