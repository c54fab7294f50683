package exporter

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// TailnetMaxDatagram is the largest datagram the tailnet transport sends:
// the tailnet MTU is 1280 and tsnet drops IPv6 fragments, so anything
// larger would vanish silently over IPv6 (and fragment over IPv4).
const TailnetMaxDatagram = 1232

// TailnetInterface is the interface name under which Tailnet.Addrs lists
// the node's addresses, for agent-interface.
const TailnetInterface = "tailnet"

// TailnetNode is what the tailnet transport needs from an embedded tailnet
// node (*tailnet.Node).
type TailnetNode interface {
	Dial(ctx context.Context, network, addr string) (net.Conn, error)
	// Addrs lists the node's tailnet addresses (none before it joined).
	Addrs() []netip.Addr
}

// Tailnet sends through an embedded tailnet node to the collector's tailnet
// address or MagicDNS name. Writes on a tsnet UDP conn can block for good
// under overload, so every write has the exporter's deadline and writes
// are paced per collector, on top of the exporter's own pacing.
type Tailnet struct {
	Node TailnetNode
	// MaxRate caps datagrams per second per collector (0: 8000, under the
	// ~10k/s measured loss-free through tsnet on 2 vCPU).
	MaxRate int
}

// DefaultTailnetRate is Tailnet's default MaxRate.
const DefaultTailnetRate = 8000

// Dial opens a UDP conn through the node.
func (t Tailnet) Dial(ctx context.Context, collector string) (Conn, error) {
	c, err := t.Node.Dial(ctx, "udp", collector)
	if err != nil {
		return nil, fmt.Errorf("tailnet dial %s: %w", collector, err)
	}
	rate := t.MaxRate
	if rate <= 0 {
		rate = DefaultTailnetRate
	}
	return &tailnetConn{c: c, interval: time.Second / time.Duration(rate)}, nil
}

// Addrs lists the node's addresses as interface TailnetInterface, for
// Deps.Addrs: the agent address is then the node's tailnet address, which
// is what the collector's WhoIs names.
func (t Tailnet) Addrs() ([]IfAddr, error) {
	var out []IfAddr
	for _, a := range t.Node.Addrs() {
		out = append(out, IfAddr{IfName: TailnetInterface, Addr: a})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("tailnet node has no address yet")
	}
	return out, nil
}

type tailnetConn struct {
	c        net.Conn
	interval time.Duration
	next     time.Time // earliest time of the next write
}

// burst is how far behind schedule the pacer lets writes catch up at once.
const burst = 32

func (t *tailnetConn) Write(b []byte, deadline time.Time) error {
	if len(b) > TailnetMaxDatagram {
		return fmt.Errorf("datagram of %d bytes exceeds the tailnet limit of %d (datagram-size)", len(b), TailnetMaxDatagram)
	}
	now := time.Now()
	if floor := now.Add(-burst * t.interval); t.next.Before(floor) {
		t.next = floor
	}
	if wait := t.next.Sub(now); wait > 0 {
		if now.Add(wait).After(deadline) {
			return errPaced
		}
		time.Sleep(wait)
	}
	t.next = t.next.Add(t.interval)
	if err := t.c.SetWriteDeadline(deadline); err != nil {
		return err
	}
	_, err := t.c.Write(b)
	return err
}

// RemoteAddr is zero: tailnet datagrams leave the host as WireGuard, never
// to the collector's address, so the sampler has nothing to exclude.
func (t *tailnetConn) RemoteAddr() netip.AddrPort { return netip.AddrPort{} }
func (t *tailnetConn) Close() error               { return t.c.Close() }

// errPaced is a write the pacer could not fit before its deadline.
var errPaced = pacedError{}

type pacedError struct{}

func (pacedError) Error() string   { return "tailnet pacing: no slot before the write deadline" }
func (pacedError) Timeout() bool   { return true }
func (pacedError) Temporary() bool { return true }
