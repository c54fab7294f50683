package main

import (
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsghdr mirrors struct mmsghdr (x/sys/unix has no sendmmsg wrapper).
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
	_   [4]byte
}

// sender is one connected UDP socket and the datagrams it cycles through.
type sender struct {
	fd        int
	datagrams []*dgram
	templates []*dgram
	next      int
	hdrs      []mmsghdr
	iovs      []unix.Iovec
}

// openSender binds a UDP socket to src and connects it to dst.
func openSender(src, dst netip.AddrPort, batch int) (*sender, error) {
	family := unix.AF_INET
	if dst.Addr().Is6() {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	s := &sender{fd: fd, hdrs: make([]mmsghdr, batch), iovs: make([]unix.Iovec, batch)}
	// A large send buffer lets a whole batch through even when the
	// receiving side is slow (on loopback the buffer empties as the
	// datagram is delivered or dropped).
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
	if err := unix.Bind(fd, sockaddr(src)); err != nil {
		s.close()
		return nil, fmt.Errorf("bind %s: %w", src, err)
	}
	if err := unix.Connect(fd, sockaddr(dst)); err != nil {
		s.close()
		return nil, fmt.Errorf("connect %s: %w", dst, err)
	}
	for i := range s.hdrs {
		s.hdrs[i].hdr.Iov = &s.iovs[i]
		s.hdrs[i].hdr.SetIovlen(1)
	}
	return s, nil
}

func sockaddr(a netip.AddrPort) unix.Sockaddr {
	if a.Addr().Is4() {
		return &unix.SockaddrInet4{Port: int(a.Port()), Addr: a.Addr().As4()}
	}
	return &unix.SockaddrInet6{Port: int(a.Port()), Addr: a.Addr().As16()}
}

func (s *sender) close() { _ = unix.Close(s.fd) }

// send patches and sends ds with one sendmmsg call per len(s.hdrs)
// datagrams. It returns how many were sent; an error stops it (the rest
// are sent again later, with new sequence numbers: the collector sees a
// gap, as it would on a real network).
func (s *sender) send(ds []*dgram, uptime uint32, now time.Time) (int, error) {
	sent := 0
	for len(ds) > 0 {
		n := min(len(ds), len(s.hdrs))
		for i, d := range ds[:n] {
			d.patch(uptime, now)
			s.iovs[i].Base = &d.b[0]
			s.iovs[i].SetLen(len(d.b))
		}
		r, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&s.hdrs[0])), uintptr(n), 0, 0, 0)
		if errno != 0 {
			if errno == unix.EINTR {
				continue
			}
			return sent, errno
		}
		sent += int(r)
		ds = ds[r:]
	}
	return sent, nil
}

// counts is what was sent.
type counts struct {
	datagrams, templates int
	flows, counters      int
	packets              uint64
	bytes                int
	errors               int
	lastError            error
}

func (c *counts) add(ds []*dgram) {
	f, ctr, p, b := totals(ds)
	c.datagrams += len(ds)
	c.flows += f
	c.counters += ctr
	c.packets += p
	c.bytes += b
}

// uptimeBase is the exporters' uptime (ms) when the run starts: an hour,
// so that NetFlow records' switched times lie in the past.
const uptimeBase = 3_600_000

// pacer sends the senders' datagrams round robin, batch by batch, so that
// flows go out at rate per second (0: as fast as possible) until the
// duration has passed. NetFlow templates go out first and then every
// templateEvery.
type pacer struct {
	senders       []*sender
	rate          float64
	duration      time.Duration
	templateEvery time.Duration
	batch         int
}

func (p *pacer) run() (counts, time.Duration) {
	var c counts
	start := time.Now()
	deadline := start.Add(p.duration)
	uptime := func(now time.Time) uint32 { return uptimeBase + uint32(now.Sub(start).Milliseconds()) }
	sendTemplates := func(now time.Time) {
		for _, s := range p.senders {
			if len(s.templates) == 0 {
				continue
			}
			n, err := s.send(s.templates, uptime(now), now)
			c.templates += n
			c.bytes += n * len(s.templates[0].b)
			if err != nil {
				c.errors++
				c.lastError = err
			}
		}
	}
	sendTemplates(start)
	nextTemplates := start.Add(p.templateEvery)
	var last time.Time
	for k, now := 0, start; now.Before(deadline); now = time.Now() {
		if p.rate > 0 {
			due := start.Add(time.Duration(float64(c.flows) / p.rate * float64(time.Second)))
			if wait := due.Sub(now); wait > 0 {
				time.Sleep(min(wait, deadline.Sub(now)))
				if now = time.Now(); !now.Before(deadline) {
					break
				}
			}
		}
		if p.templateEvery > 0 && !now.Before(nextTemplates) {
			sendTemplates(now)
			nextTemplates = nextTemplates.Add(p.templateEvery)
		}
		s := p.senders[k]
		k = (k + 1) % len(p.senders)
		end := min(s.next+p.batch, len(s.datagrams))
		n, err := s.send(s.datagrams[s.next:end], uptime(now), now)
		c.add(s.datagrams[s.next : s.next+n])
		if s.next += n; s.next == len(s.datagrams) {
			s.next = 0
		}
		last = time.Now()
		if err != nil {
			c.errors++
			c.lastError = err
			if errors.Is(err, syscall.ECONNREFUSED) {
				// Nobody listens (yet): ICMP port unreachable. Do not spin.
				time.Sleep(time.Millisecond)
			}
		}
	}
	if last.IsZero() {
		last = time.Now()
	}
	return c, last.Sub(start)
}

// batchFor picks datagrams per sendmmsg call: large enough to amortise the
// system call, small enough that a batch is at most about half a
// millisecond of the offered load, so bursts stay short.
func batchFor(rate, flowsPerDatagram float64, max int) int {
	if rate <= 0 {
		return max
	}
	b := int(rate / flowsPerDatagram / 2000)
	return min(max, 1+b)
}
