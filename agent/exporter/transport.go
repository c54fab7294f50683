package exporter

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// Transport opens the path to one collector. Plain UDP is the default; an
// embedded tailnet node can provide another without changing the exporter.
type Transport interface {
	// Dial resolves and connects to collector ("host:port").
	Dial(ctx context.Context, collector string) (Conn, error)
}

// Conn sends datagrams to one collector.
type Conn interface {
	// Write sends one datagram, giving up at deadline.
	Write(b []byte, deadline time.Time) error
	// RemoteAddr is the collector's address as seen on the host's network
	// stack, which the sampler excludes from sampling; the zero value when
	// the datagrams do not cross the host's interfaces as such.
	RemoteAddr() netip.AddrPort
	Close() error
}

// UDP is the plain UDP transport.
type UDP struct {
	// Resolver resolves host names (nil: net.DefaultResolver).
	Resolver *net.Resolver
}

// Dial resolves the collector (IPv6 and IPv4 both work; the first address
// the resolver returns is used) and opens a connected UDP socket.
func (u UDP) Dial(ctx context.Context, collector string) (Conn, error) {
	host, port, err := net.SplitHostPort(collector)
	if err != nil {
		return nil, err
	}
	r := u.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	var addr netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addr = a
	} else {
		addrs, err := r.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", host, err)
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("resolve %s: no address", host)
		}
		addr = addrs[0]
	}
	pn, err := net.LookupPort("udp", port)
	if err != nil {
		return nil, err
	}
	ap := netip.AddrPortFrom(addr.Unmap(), uint16(pn))
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(ap))
	if err != nil {
		return nil, err
	}
	// Room for a burst of datagrams while the collector path is slow.
	_ = c.SetWriteBuffer(1 << 20)
	return &udpConn{c: c, remote: ap}, nil
}

type udpConn struct {
	c      *net.UDPConn
	remote netip.AddrPort
}

func (u *udpConn) Write(b []byte, deadline time.Time) error {
	if err := u.c.SetWriteDeadline(deadline); err != nil {
		return err
	}
	_, err := u.c.Write(b)
	return err
}

func (u *udpConn) RemoteAddr() netip.AddrPort { return u.remote }
func (u *udpConn) Close() error               { return u.c.Close() }

// errReason classifies a send error for the send_errors_total metric.
func errReason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EADDRNOTAVAIL):
		return "unreachable"
	case errors.Is(err, syscall.ENOBUFS), errors.Is(err, syscall.EAGAIN):
		return "no_buffer"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "other"
}
