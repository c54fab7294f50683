package exporter

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// udpNode is a TailnetNode over the host's own UDP stack: the transport's
// size limit, pacing and deadlines do not depend on what carries the
// datagrams (the tsnet path is tested in package tailnet).
type udpNode struct{ addrs []netip.Addr }

func (udpNode) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}
func (n udpNode) Addrs() []netip.Addr { return n.addrs }

func dialTailnet(t *testing.T, rate int) (Conn, net.PacketConn) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	c, err := Tailnet{Node: udpNode{}, MaxRate: rate}.Dial(t.Context(), pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, pc
}

func TestTailnetDatagramLimit(t *testing.T) {
	c, pc := dialTailnet(t, 0)
	far := time.Now().Add(time.Second)
	if err := c.Write(make([]byte, TailnetMaxDatagram+1), far); err == nil || !strings.Contains(err.Error(), "1232") {
		t.Errorf("1233-byte datagram: err = %v, want the 1232 limit", err)
	}
	if err := c.Write(make([]byte, TailnetMaxDatagram), far); err != nil {
		t.Fatalf("1232-byte datagram: %v", err)
	}
	buf := make([]byte, 2000)
	_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, _, err := pc.ReadFrom(buf); err != nil || n != TailnetMaxDatagram {
		t.Errorf("received %d bytes (%v), want %d", n, err, TailnetMaxDatagram)
	}
	if c.RemoteAddr().IsValid() {
		t.Errorf("RemoteAddr = %v, want none (nothing for the sampler to exclude)", c.RemoteAddr())
	}
}

func TestTailnetPacing(t *testing.T) {
	const rate = 1000
	c, _ := dialTailnet(t, rate)
	far := time.Now().Add(10 * time.Second)
	start := time.Now()
	// A burst passes at once; the next 100 writes need 100 intervals.
	for i := range burst + 100 {
		if err := c.Write([]byte("x"), far); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if el := time.Since(start); el < 99*time.Second/rate {
		t.Errorf("%d writes at %d/s took %v, want at least %v", burst+100, rate, el, 99*time.Second/rate)
	}
	// With no slot before the deadline, the write fails at once as a
	// timeout instead of blocking the sender.
	slow, _ := dialTailnet(t, 1)
	for range burst + 1 {
		_ = slow.Write([]byte("x"), far)
	}
	err := slow.Write([]byte("x"), time.Now().Add(time.Millisecond))
	if err == nil || errReason(err) != "timeout" {
		t.Errorf("write without a slot: err = %v (reason %q), want a timeout", err, errReason(err))
	}
}

func TestTailnetAgentAddress(t *testing.T) {
	v4, v6 := netip.MustParseAddr("100.64.0.7"), netip.MustParseAddr("fd7a:115c:a1e0::7")
	tn := Tailnet{Node: udpNode{addrs: []netip.Addr{v4, v6}}}
	addrs, err := tn.Addrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ifName string
		want   netip.Addr
	}{{TailnetInterface, v6}, {"", v4}} {
		got, err := SelectAgent("", tc.ifName, addrs, netip.Addr{})
		if err != nil || got != tc.want {
			t.Errorf("agent-interface %q: got %v (%v), want %v", tc.ifName, got, err, tc.want)
		}
	}
	if _, err := (Tailnet{Node: udpNode{}}).Addrs(); err == nil {
		t.Error("a node without addresses gave no error")
	}
}
