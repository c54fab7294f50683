//go:build !notailnet

package tailnet

import (
	"net/netip"
	"testing"
	"time"

	"github.com/hostflow/hostflow/agent/exporter"
)

// Agents name their collector by MagicDNS name (short or full); the node
// resolves it from its netmap, without any DNS server.
func TestDialByName(t *testing.T) {
	controlURL := startControl(t)
	col := startNode(t, controlURL, "collector", nil, nil)
	agent := startNode(t, controlURL, "agent", nil, nil)
	waitPeer(t, agent, col.Addrs()[0])
	pcs, err := col.ListenPacket(6343)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan netip.Addr, 16)
	for _, pc := range pcs {
		t.Cleanup(func() { pc.Close() })
		go func() {
			buf := make([]byte, 2048)
			for {
				if _, _, err := pc.ReadFrom(buf); err != nil {
					return
				}
				a, _ := netip.ParseAddrPort(pc.LocalAddr().String())
				got <- a.Addr()
			}
		}()
	}
	for _, name := range []string{"collector:6343", "collector.tail.example:6343"} {
		t.Run(name, func(t *testing.T) {
			c, err := exporter.Tailnet{Node: agent}.Dial(t.Context(), name)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			deadline := time.Now().Add(20 * time.Second)
			for {
				if err := c.Write([]byte("hello"), time.Now().Add(time.Second)); err != nil {
					t.Fatal(err)
				}
				select {
				case a := <-got:
					t.Logf("%s reached the collector on %v", name, a)
					return
				case <-time.After(200 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					t.Fatalf("nothing received through %s", name)
				}
			}
		})
	}
}
