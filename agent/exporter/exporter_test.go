package exporter

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hostflow/hostflow/internal/daemon"
	"github.com/hostflow/hostflow/sflow"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCollectorAddr(t *testing.T) {
	cases := []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1:6343"},
		{"192.0.2.1:9999", "192.0.2.1:9999"},
		{"2001:db8::1", "[2001:db8::1]:6343"},
		{"[2001:db8::1]:7000", "[2001:db8::1]:7000"},
		{"collector.example", "collector.example:6343"},
		{"collector.example:6000", "collector.example:6000"},
		{"", ""},
		{":6343", ""},
		{"host:notaport", ""},
		{"[2001:db8::1", ""},
	}
	for _, c := range cases {
		got, err := collectorAddr(c.in)
		if c.want == "" {
			if err == nil {
				t.Errorf("%q: accepted as %q", c.in, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q: got %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestSelectAgent(t *testing.T) {
	addrs := []IfAddr{
		{1, "lo", netip.MustParseAddr("127.0.0.1")},
		{1, "lo", netip.MustParseAddr("::1")},
		{2, "eth0", netip.MustParseAddr("10.0.0.5")},
		{2, "eth0", netip.MustParseAddr("fe80::1")},
		{2, "eth0", netip.MustParseAddr("2001:db8::5")},
		{3, "tailscale0", netip.MustParseAddr("100.100.1.2")},
		{3, "tailscale0", netip.MustParseAddr("fd7a:115c:a1e0::2")},
		{4, "eth1", netip.MustParseAddr("198.51.100.7")},
	}
	v6only := []IfAddr{
		{1, "lo", netip.MustParseAddr("::1")},
		{2, "eth0", netip.MustParseAddr("fe80::1")},
		{2, "eth0", netip.MustParseAddr("2001:db8::5")},
	}
	cases := []struct {
		name, addr, ifName string
		addrs              []IfAddr
		current, want      string
	}{
		{"explicit", "192.0.2.9", "", addrs, "", "192.0.2.9"},
		{"interface prefers IPv6", "", "tailscale0", addrs, "", "fd7a:115c:a1e0::2"},
		{"interface keeps current", "", "tailscale0", addrs, "100.100.1.2", "100.100.1.2"},
		{"interface skips link-local", "", "eth0", addrs, "", "2001:db8::5"},
		{"auto: public IPv4 first", "", "", addrs, "", "198.51.100.7"},
		{"auto: IPv6-only host", "", "", v6only, "", "2001:db8::5"},
		{"auto: sticky among equals", "", "", append(addrs, IfAddr{5, "eth2", netip.MustParseAddr("198.51.100.8")}), "198.51.100.8", "198.51.100.8"},
		{"auto: lowest ifIndex among equals", "", "", append(addrs, IfAddr{5, "eth2", netip.MustParseAddr("198.51.100.8")}), "", "198.51.100.7"},
	}
	for _, c := range cases {
		var cur netip.Addr
		if c.current != "" {
			cur = netip.MustParseAddr(c.current)
		}
		got, err := SelectAgent(c.addr, c.ifName, c.addrs, cur)
		if err != nil || got.String() != c.want {
			t.Errorf("%s: got %v, %v; want %s", c.name, got, err, c.want)
		}
	}
	if _, err := SelectAgent("", "wg9", addrs, netip.Addr{}); err == nil {
		t.Error("missing interface accepted")
	}
}

// listen opens a UDP collector on loopback.
func listen(t *testing.T, addr string) *net.UDPConn {
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func recv(t *testing.T, c *net.UDPConn, d time.Duration) (*sflow.Datagram, int) {
	t.Helper()
	buf := make([]byte, 65536)
	_ = c.SetReadDeadline(time.Now().Add(d))
	n, err := c.Read(buf)
	if err != nil {
		return nil, 0
	}
	var dec sflow.Decoder
	dg := &sflow.Datagram{}
	if err := dec.Decode(buf[:n], dg); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return dg, n
}

func newExporter(t *testing.T, cfg Config) (*Exporter, *daemon.Reporter) {
	r := daemon.NewReporter(slog.New(slog.DiscardHandler), nil)
	e, err := New(cfg, Deps{Reporter: r})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop() })
	return e, r
}

func flowSample(ifIndex uint32, hdr int) *sflow.FlowSample {
	return &sflow.FlowSample{SourceType: sflow.SourceIfIndex, SourceIndex: ifIndex, SamplingRate: 100,
		Input: ifIndex, Output: sflow.IfIndexInternal, Has: sflow.HasSampledHeader,
		SampledHeader: sflow.SampledHeader{Protocol: sflow.HeaderIPv4, FrameLength: 1500, Header: make([]byte, hdr)}}
}

func TestExportToTwoCollectors(t *testing.T) {
	v4, v6 := listen(t, "127.0.0.1:0"), listen(t, "[::1]:0")
	cfg := DefaultConfig()
	cfg.Collectors = []string{v4.LocalAddr().String(), v6.LocalAddr().String()}
	cfg.AgentAddress = "2001:db8::7"
	cfg.SubAgentID = 42
	e, _ := newExporter(t, cfg)
	if got := e.Destinations(); len(got) != 2 {
		t.Fatalf("destinations %v", got)
	}
	const n = 40
	for i := 0; i < n; i++ {
		e.AddFlow(flowSample(uint32(2+i%2), 128))
	}
	e.AddCounters(&sflow.CounterSample{SourceType: sflow.SourcePhysical, SourceIndex: 1, Has: sflow.HasHostDescr,
		HostDescr: sflow.HostDescr{Hostname: []byte("h"), OSName: sflow.OSLinux}})
	for _, c := range []*net.UDPConn{v4, v6} {
		seq := map[uint32]uint32{}
		var flows, counters int
		var lastDg uint32
		for flows+counters < n+1 {
			dg, size := recv(t, c, 3*time.Second)
			if dg == nil {
				t.Fatalf("got %d flow and %d counter samples, want %d and 1", flows, counters, n)
			}
			if size > 1232 {
				t.Errorf("datagram of %d bytes > 1232", size)
			}
			if dg.AgentAddress.String() != "2001:db8::7" || dg.SubAgentID != 42 || dg.SequenceNumber != lastDg+1 {
				t.Errorf("agent %v sub %d seq %d (previous %d)", dg.AgentAddress, dg.SubAgentID, dg.SequenceNumber, lastDg)
			}
			lastDg = dg.SequenceNumber
			for _, fs := range dg.FlowSamples {
				if !fs.Expanded || fs.SequenceNumber != seq[fs.SourceIndex]+1 {
					t.Errorf("source %d: sample seq %d after %d (expanded %v)", fs.SourceIndex, fs.SequenceNumber, seq[fs.SourceIndex], fs.Expanded)
				}
				seq[fs.SourceIndex] = fs.SequenceNumber
				flows++
			}
			counters += len(dg.CounterSamples)
		}
	}
}

func TestCollectorDownThenBack(t *testing.T) {
	// Reserve a port, then close it: the collector is down.
	probe := listen(t, "127.0.0.1:0")
	addr := probe.LocalAddr().String()
	probe.Close()
	cfg := DefaultConfig()
	cfg.Collectors = []string{addr}
	cfg.AgentAddress = "192.0.2.1"
	cfg.FlushInterval = 50 * time.Millisecond
	e, r := newExporter(t, cfg)
	errs := r.Sub("exporter").CounterVec("send_errors_total", "", "reason")
	deadline := time.Now().Add(3 * time.Second)
	for testutil.ToFloat64(errs.WithLabelValues("refused")) == 0 && time.Now().Before(deadline) {
		e.AddFlow(flowSample(2, 64))
		time.Sleep(60 * time.Millisecond)
	}
	if testutil.ToFloat64(errs.WithLabelValues("refused")) == 0 {
		t.Fatal("no refused send counted while the collector was down")
	}
	c := listen(t, addr)
	var got *sflow.Datagram
	for deadline := time.Now().Add(3 * time.Second); got == nil && time.Now().Before(deadline); {
		e.AddFlow(flowSample(2, 64))
		got, _ = recv(t, c, 200*time.Millisecond)
	}
	if got == nil {
		t.Fatal("no datagram after the collector came back")
	}
}

func TestValidate(t *testing.T) {
	bad := DefaultConfig()
	bad.Collectors = []string{"host:99999"}
	bad.DatagramSize = 100
	bad.FlushInterval = 5 * time.Second
	bad.AgentAddress = "nope"
	err := bad.Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, key := range []string{"collectors.0", "datagram-size", "flush-interval", "agent-address"} {
		if !strings.Contains(err.Error(), "key "+key+":") {
			t.Errorf("error %q does not name %s", err, key)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("defaults invalid: %v", err)
	}
}

func BenchmarkAddFlow(b *testing.B) {
	r := daemon.NewReporter(slog.New(slog.DiscardHandler), nil)
	cfg := DefaultConfig()
	cfg.Collectors = []string{"127.0.0.1:9"}
	cfg.AgentAddress = "192.0.2.1"
	cfg.QueueSize = 1 << 16
	e, err := New(cfg, Deps{Reporter: r})
	if err != nil {
		b.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer e.Stop()
	s := flowSample(2, 128)
	b.ReportAllocs()
	for b.Loop() {
		e.AddFlow(s)
	}
}
