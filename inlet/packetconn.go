package inlet

import (
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/hostflow/hostflow/decoder"
)

// PacketConn is a socket the inlet reads but did not open (an embedded
// tailnet node's UDP listener on a gVisor stack, which has no file
// descriptor for recvmmsg): one datagram per ReadFrom, handed to its own
// Handler, with the same metrics, drop accounting and allow-list as the
// UDP sockets. Drops inside the conn's own stack are not visible here.
type PacketConn struct {
	// Protocol is sflow, netflow or ipfix.
	Protocol string
	Conn     net.PacketConn
}

type packetConn struct {
	PacketConn
	name    string
	handler Handler
	closed  atomic.Bool
}

// openConns takes the extra sockets from Dependencies.PacketConns. Called
// by Start with in.mu held.
func (in *Inlet) openConns() error {
	if in.deps.PacketConns == nil {
		return nil
	}
	pcs, err := in.deps.PacketConns()
	if err != nil {
		return fmt.Errorf("inlet: %w", err)
	}
	// Every conn is owned (closed on failure or Stop) before any check.
	for _, pc := range pcs {
		in.conns = append(in.conns, &packetConn{PacketConn: pc, name: pc.Protocol + "/" + pc.Conn.LocalAddr().String()})
	}
	for _, c := range in.conns {
		switch c.Protocol {
		case ProtoSFlow, ProtoNetFlow, ProtoIPFIX:
		default:
			return fmt.Errorf("inlet: %s: unknown protocol %q", c.name, c.Protocol)
		}
		c.handler = in.deps.NewHandler(c.Protocol)
	}
	return nil
}

// maxDatagram is the largest datagram accepted from extra sockets: the
// largest any listener accepts, or the default without listeners.
func (in *Inlet) maxDatagram() int {
	if len(in.cfg.Listeners) == 0 {
		return DefaultConfig().Listeners[0].MaxDatagram
	}
	m := 0
	for _, l := range in.cfg.Listeners {
		m = max(m, l.MaxDatagram)
	}
	return m
}

// readConn is one extra socket's loop.
func (in *Inlet) readConn(c *packetConn) {
	defer in.wg.Done()
	acc := in.newAccount(c.name)
	limit := in.maxDatagram()
	// One byte more than the limit tells truncation: ReadFrom cuts
	// silently.
	buf := make([]byte, limit+1)
	pkts := make([]decoder.Packet, 1)
	for {
		n, addr, err := c.Conn.ReadFrom(buf)
		if err != nil {
			if c.closed.Load() {
				return
			}
			acc.readError(err)
			// Bound the loop should the conn fail for good.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		src := addrPortOf(addr)
		if !acc.admit(buf[:min(n, limit)], src, n > limit) {
			continue
		}
		pkts[0] = decoder.Packet{Payload: buf[:n], Source: src, Received: uint32(nowUnix())}
		c.handler.Handle(pkts)
	}
}

func addrPortOf(a net.Addr) netip.AddrPort {
	if u, ok := a.(*net.UDPAddr); ok {
		ap := u.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func (c *packetConn) close() {
	if c.closed.Swap(true) {
		return
	}
	_ = c.Conn.Close()
}
