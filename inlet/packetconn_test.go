package inlet

import (
	"errors"
	"log/slog"
	"net"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hostflow/hostflow/internal/daemon"
)

// Extra sockets get the same accounting as the inlet's own: a plain UDP
// socket stands in for a tailnet node's (both are net.PacketConns).
func TestPacketConnsShareAccounting(t *testing.T) {
	cases := []struct {
		name          string
		from          string
		size, n       int
		got           int
		reason        string
		dropped       float64
		allowedPrefix string
	}{
		{name: "accepted", from: "127.0.0.2:0", size: 100, n: 3, got: 3},
		{name: "not allowed", from: "127.0.0.1:0", size: 100, n: 2, reason: "not_allowed", dropped: 2},
		{name: "truncated", from: "127.0.0.2:0", size: 600, n: 2, reason: "truncated", dropped: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pc, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			h := &collect{}
			r := daemon.NewReporter(slog.New(slog.DiscardHandler), nil)
			in, err := New(Config{Listeners: []ListenerConfig{{Protocol: ProtoSFlow, Listen: "127.0.0.1:0", MaxDatagram: 512, Batch: 1}},
				AllowedExporters: []string{"127.0.0.2"}, MaxExporterLabels: 10},
				Dependencies{Reporter: r, NewHandler: func(proto string) Handler { h.proto = proto; return h },
					PacketConns: func() ([]PacketConn, error) { return []PacketConn{{Protocol: ProtoNetFlow, Conn: pc}}, nil }})
			if err != nil {
				t.Fatal(err)
			}
			if err := in.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { in.Stop() })
			send(t, tc.from, pc.LocalAddr().String(), make([]byte, tc.size), tc.n)
			send(t, "127.0.0.2:0", pc.LocalAddr().String(), []byte("end"), 1)
			waitFor(t, "end marker", func() bool { return h.count() == tc.got+1 })
			if h.proto != ProtoNetFlow {
				t.Errorf("handler built for %q, want netflow", h.proto)
			}
			name := "netflow/" + pc.LocalAddr().String()
			if tc.reason != "" {
				drops := r.Sub("inlet").CounterVec("drops_total", "", "listener", "reason")
				if got := testutil.ToFloat64(drops.WithLabelValues(name, tc.reason)); got != tc.dropped {
					t.Errorf("%s drops = %v, want %v", tc.reason, got, tc.dropped)
				}
			}
			pkts := r.Sub("inlet").CounterVec("packets_total", "", "listener", "exporter")
			if got := testutil.ToFloat64(pkts.WithLabelValues(name, "127.0.0.2")); got != float64(tc.got+1) {
				t.Errorf("packets_total = %v, want %d", got, tc.got+1)
			}
			if err := in.Stop(); err != nil {
				t.Fatal(err)
			}
			if _, _, err := pc.ReadFrom(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
				t.Errorf("conn not closed by Stop: %v", err)
			}
		})
	}
}

func TestPacketConnsErrorsFailStartAndClose(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := daemon.NewReporter(slog.New(slog.DiscardHandler), nil)
	in, err := New(Config{MaxExporterLabels: 1}, Dependencies{Reporter: r, NewHandler: func(string) Handler { return &collect{} },
		PacketConns: func() ([]PacketConn, error) { return []PacketConn{{Protocol: "bogus", Conn: pc}}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Start(t.Context()); err == nil {
		t.Fatal("Start accepted an unknown protocol")
	}
	if _, _, err := pc.ReadFrom(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("conn left open after a failed Start: %v", err)
	}
}
