package inlet

import (
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hostflow/hostflow/decoder"
	"github.com/hostflow/hostflow/internal/config"
	"github.com/hostflow/hostflow/internal/daemon"
)

// collect is a Handler that copies what it receives and can be paused to
// make the socket buffer overflow.
type collect struct {
	mu    sync.Mutex
	got   []decoder.Packet
	gate  chan struct{}
	proto string
}

func (c *collect) Handle(pkts []decoder.Packet) {
	if c.gate != nil {
		<-c.gate
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range pkts {
		p.Payload = append([]byte(nil), p.Payload...)
		c.got = append(c.got, p)
	}
}

func (c *collect) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.got)
}

func start(t *testing.T, cfg Config, h *collect) (*Inlet, *daemon.Reporter) {
	t.Helper()
	r := daemon.NewReporter(slog.New(slog.DiscardHandler), nil)
	in, err := New(cfg, Dependencies{Reporter: r, NewHandler: func(proto string) Handler {
		h.proto = proto
		return h
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Stop() })
	return in, r
}

func listener(addr string) ListenerConfig {
	return ListenerConfig{Protocol: ProtoSFlow, Listen: addr, Sockets: 1, ReceiveBuffer: 1 << 20, MaxDatagram: 1500, Batch: 16}
}

func send(t *testing.T, from, to string, payload []byte, n int) {
	t.Helper()
	laddr, _ := net.ResolveUDPAddr("udp", from)
	raddr, _ := net.ResolveUDPAddr("udp", to)
	c, err := net.DialUDP("udp", laddr, raddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < n; i++ {
		if _, err := c.Write(payload); err != nil {
			t.Fatal(err)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timeout waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestDualStackReceive(t *testing.T) {
	h := &collect{}
	in, _ := start(t, Config{Listeners: []ListenerConfig{listener("[::]:0")}, MaxExporterLabels: 10}, h)
	port := in.Addrs()[0].Port()
	cases := []struct{ from, to string }{
		{"127.0.0.1:0", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port).String()},
		{"[::1]:0", netip.AddrPortFrom(netip.MustParseAddr("::1"), port).String()},
	}
	for i, tc := range cases {
		send(t, tc.from, tc.to, []byte{byte(i), 1, 2, 3}, 1)
	}
	waitFor(t, "2 datagrams", func() bool { return h.count() == 2 })
	srcs := map[netip.Addr]byte{}
	for _, p := range h.got {
		srcs[p.Source.Addr()] = p.Payload[0]
		if p.Received == 0 || len(p.Payload) != 4 {
			t.Errorf("bad packet %+v", p)
		}
	}
	// IPv4 sources arrive unmapped, not as ::ffff:127.0.0.1.
	if v, ok := srcs[netip.MustParseAddr("127.0.0.1")]; !ok || v != 0 {
		t.Errorf("IPv4 source missing or wrong: %v", srcs)
	}
	if v, ok := srcs[netip.MustParseAddr("::1")]; !ok || v != 1 {
		t.Errorf("IPv6 source missing or wrong: %v", srcs)
	}
	if h.proto != ProtoSFlow {
		t.Errorf("handler built for %q", h.proto)
	}
}

func TestDropsAreCountedByReason(t *testing.T) {
	h := &collect{}
	cfg := Config{Listeners: []ListenerConfig{listener("127.0.0.1:0")}, AllowedExporters: []string{"127.0.0.2"}, MaxExporterLabels: 10}
	cfg.Listeners[0].MaxDatagram = 512
	in, r := start(t, cfg, h)
	to := in.Addrs()[0].String()
	send(t, "127.0.0.1:0", to, []byte("x"), 3)       // not allowed
	send(t, "127.0.0.2:0", to, make([]byte, 600), 2) // truncated
	send(t, "127.0.0.2:0", to, []byte("ok"), 1)      // accepted
	waitFor(t, "accepted datagram", func() bool { return h.count() == 1 })
	drops := r.Sub("inlet").CounterVec("drops_total", "", "listener", "reason")
	name := "sflow/127.0.0.1:0"
	if got := testutil.ToFloat64(drops.WithLabelValues(name, "not_allowed")); got != 3 {
		t.Errorf("not_allowed = %v, want 3", got)
	}
	if got := testutil.ToFloat64(drops.WithLabelValues(name, "truncated")); got != 2 {
		t.Errorf("truncated = %v, want 2", got)
	}
}

// A handler that stalls makes the kernel drop; every datagram sent is then
// either received or counted as a kernel drop — nothing disappears
// silently, and the drops at the end of the burst are counted without
// waiting for more traffic (the periodic SO_MEMINFO read).
func TestKernelDropsAreCountedExactly(t *testing.T) {
	h := &collect{gate: make(chan struct{})}
	cfg := Config{Listeners: []ListenerConfig{listener("127.0.0.1:0")}, MaxExporterLabels: 10}
	cfg.Listeners[0].ReceiveBuffer = 4096
	in, r := start(t, cfg, h)
	const sent = 2000
	send(t, "127.0.0.1:0", in.Addrs()[0].String(), make([]byte, 200), sent)
	close(h.gate)
	drops := r.Sub("inlet").CounterVec("drops_total", "", "listener", "reason").WithLabelValues("sflow/127.0.0.1:0", "kernel")
	deadline := time.Now().Add(3 * DropPollInterval)
	for {
		got, dropped := h.count(), int(testutil.ToFloat64(drops))
		if got+dropped > sent {
			t.Fatalf("received %d + dropped %d > sent %d", got, dropped, sent)
		}
		if got+dropped == sent && dropped > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("received %d + dropped %d != sent %d", got, dropped, sent)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestConfigValidation(t *testing.T) {
	cfg := DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	cfg.Listeners[0].Protocol = "nope"
	cfg.AllowedExporters = []string{"bad"}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"listeners.0.protocol", "allowed-exporters.0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// A listener given as its protocol and address gets the other fields'
// defaults; values given are still checked.
func TestListenerDefaults(t *testing.T) {
	for _, c := range []struct {
		name, yaml, err string
		want            ListenerConfig
	}{
		{"short", "listeners:\n  - protocol: sflow\n    listen: \"[::]:6343\"\n", "",
			ListenerConfig{Protocol: "sflow", Listen: "[::]:6343", ReceiveBuffer: 32 << 20, MaxDatagram: 9216, Batch: 64}},
		{"given", "listeners:\n  - protocol: netflow\n    listen: 127.0.0.1:2055\n    batch: 8\n", "",
			ListenerConfig{Protocol: "netflow", Listen: "127.0.0.1:2055", ReceiveBuffer: 32 << 20, MaxDatagram: 9216, Batch: 8}},
		{"bad", "listeners:\n  - protocol: sflow\n    listen: \":6343\"\n    max-datagram: 100\n",
			"inlet.yaml:4: key listeners.0.max-datagram: must be between 512 and 65535", ListenerConfig{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var cfg Config
			// Parse validates too: errors name the file and line.
			err := config.Parse("inlet.yaml", []byte(c.yaml), &cfg)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.Listeners) != 1 || cfg.Listeners[0] != c.want {
				t.Errorf("listeners %+v, want %+v", cfg.Listeners, c.want)
			}
		})
	}
}
