//go:build !notailnet

package tailnet

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"os"
	"slices"
	"testing"
	"time"

	"tailscale.com/net/netns"
	"tailscale.com/tailcfg"
	"tailscale.com/tstest/integration"
	"tailscale.com/tstest/integration/testcontrol"
	"tailscale.com/types/logger"

	"github.com/hostflow/hostflow/internal/daemon"
)

// The whole tailnet runs in this process, offline, on 127.0.0.1: control
// (testcontrol), DERP and STUN; nodes advertise no interface addresses and
// probe no gateway, so the only endpoint is the STUN answer on loopback.
func TestMain(m *testing.M) {
	os.Setenv("TS_DEBUG_OMIT_LOCAL_ADDRS", "true")
	os.Setenv("TS_DISABLE_PORTMAPPER", "true")
	netns.SetEnabled(false) // no SO_MARK / bind-to-device
	os.Exit(m.Run())
}

// tailnetTB is what the harness needs from tests and benchmarks.
type tailnetTB interface {
	testing.TB
	Context() context.Context
}

// startControl runs DERP, STUN and a control server; TagOwners makes it
// honour advertised tags.
func startControl(t tailnetTB) string {
	t.Helper()
	derpMap := integration.RunDERPAndSTUN(t, logger.Discard, "127.0.0.1")
	ctl := &testcontrol.Server{
		DERPMap:        derpMap,
		DNSConfig:      &tailcfg.DNSConfig{Proxied: true},
		MagicDNSDomain: "tail.example",
		TagOwners:      map[string][]string{"tag:monitor": nil, "tag:agent": nil},
		Logf:           logger.Discard,
	}
	ctl.HTTPTestServer = httptest.NewUnstartedServer(ctl)
	ctl.HTTPTestServer.Start()
	t.Cleanup(ctl.HTTPTestServer.Close)
	return ctl.HTTPTestServer.URL
}

// startNode joins the test tailnet with an ephemeral node.
func startNode(t tailnetTB, controlURL, hostname string, r *daemon.Reporter, edit func(*Config)) *Node {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Enabled, cfg.ControlURL, cfg.Hostname = true, controlURL, hostname
	cfg.StateDir, cfg.Ephemeral, cfg.UpTimeout = t.TempDir(), true, time.Minute
	if edit != nil {
		edit(&cfg)
	}
	if r == nil {
		r = daemon.NewReporter(slog.New(slog.DiscardHandler), nil)
	}
	n, err := New(cfg, Dependencies{Reporter: r, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s up in %v: %v", hostname, time.Since(start).Round(time.Millisecond), n.Addrs())
	t.Cleanup(func() { n.Stop() })
	return n
}

// waitPeer waits until n sees the peer holding addr with a DERP home:
// before that the first handshake may be retried only 5 s later.
// PeerStatus.Addrs is never filled for peers, so it is not waited on.
func waitPeer(t tailnetTB, n *Node, addr netip.Addr) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		st, err := n.lc.Status(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range st.Peer {
			if slices.Contains(p.TailscaleIPs, addr) && p.Relay != "" {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("peer %v not ready after 30 s", addr)
}
