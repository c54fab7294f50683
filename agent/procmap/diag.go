package procmap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Socket is what sock_diag says about one socket.
type Socket struct {
	Local, Remote netip.AddrPort
	Inode         uint64
	UID           uint32
	HasTCPInfo    bool
	TCPInfo       TCPInfo
}

// TCPInfo is the part of struct tcp_info that sFlow's extended_tcp_info
// (0:2209) carries. Times are microseconds.
type TCPInfo struct {
	SndMSS, RcvMSS, Unacked, Lost, Retrans, PMTU uint32
	RTT, RTTVar, SndCwnd, Reordering, MinRTT     uint32
}

// Offsets in struct tcp_info (linux/tcp.h), stable ABI.
const (
	tiSndMSS       = 16
	tiRcvMSS       = 20
	tiUnacked      = 24
	tiLost         = 32
	tiPMTU         = 60
	tiRTT          = 68
	tiRTTVar       = 72
	tiSndCwnd      = 80
	tiReordering   = 88
	tiTotalRetrans = 100
	tiMinRTT       = 148
)

func parseTCPInfo(b []byte, t *TCPInfo) bool {
	if len(b) < tiTotalRetrans+4 {
		return false
	}
	u := func(off int) uint32 { return binary.NativeEndian.Uint32(b[off:]) }
	*t = TCPInfo{SndMSS: u(tiSndMSS), RcvMSS: u(tiRcvMSS), Unacked: u(tiUnacked), Lost: u(tiLost),
		Retrans: u(tiTotalRetrans), PMTU: u(tiPMTU), RTT: u(tiRTT), RTTVar: u(tiRTTVar),
		SndCwnd: u(tiSndCwnd), Reordering: u(tiReordering)}
	if len(b) >= tiMinRTT+4 {
		t.MinRTT = u(tiMinRTT)
	}
	return true
}

// Netlink sock_diag constants (linux/inet_diag.h).
const (
	sockDiagByFamily = 20 // SOCK_DIAG_BY_FAMILY
	inetDiagInfo     = 2  // INET_DIAG_INFO attribute
	reqLen           = 56 // struct inet_diag_req_v2
	msgLen           = 72 // struct inet_diag_msg
	allStates        = 0xFFFFFFFF
	noCookie         = 0xFFFFFFFF
)

// diag is a NETLINK_SOCK_DIAG socket. One request at a time.
type diag struct {
	mu      sync.Mutex
	fd      int
	seq     uint32
	buf     []byte
	req     [unix.NLMSG_HDRLEN + reqLen]byte
	timeout time.Duration
}

func newDiag(timeout time.Duration) (*diag, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, fmt.Errorf("sock_diag socket: %w", err)
	}
	tv := unix.NsecToTimeval(timeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("sock_diag timeout: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("sock_diag bind: %w", err)
	}
	return &diag{fd: fd, buf: make([]byte, 1<<16), timeout: timeout}, nil
}

func (d *diag) close() error { return unix.Close(d.fd) }

// errNotFound is the kernel's answer for an exact lookup of no socket.
var errNotFound = errors.New("no such socket")

// lookupTCP asks for the TCP socket with exactly this 4-tuple, with its
// tcp_info. IPv4 flows are also tried as v4-mapped IPv6, for dual-stack
// sockets.
func (d *diag) lookupTCP(local, remote netip.AddrPort, out *Socket) error {
	err := d.query(unix.IPPROTO_TCP, local, remote, false, func(s *Socket) bool { *out = *s; return false })
	if errors.Is(err, errNotFound) && local.Addr().Is4() {
		l6 := netip.AddrPortFrom(netip.AddrFrom16(local.Addr().As16()), local.Port())
		r6 := netip.AddrPortFrom(netip.AddrFrom16(remote.Addr().As16()), remote.Port())
		err = d.query(unix.IPPROTO_TCP, l6, r6, false, func(s *Socket) bool { *out = *s; return false })
	}
	return err
}

// dumpUDP lists every UDP socket of the family (v6 dumps include dual-stack
// sockets serving IPv4).
func (d *diag) dumpUDP(v6 bool, f func(*Socket) bool) error {
	var zero netip.AddrPort
	if v6 {
		zero = netip.AddrPortFrom(netip.IPv6Unspecified(), 0)
	} else {
		zero = netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	}
	return d.query(unix.IPPROTO_UDP, zero, zero, true, f)
}

func (d *diag) query(proto uint8, local, remote netip.AddrPort, dump bool, f func(*Socket) bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seq++
	req := d.req[:]
	clear(req)
	flags := uint16(unix.NLM_F_REQUEST)
	if dump {
		flags |= unix.NLM_F_DUMP
	}
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], sockDiagByFamily)
	binary.NativeEndian.PutUint16(req[6:], flags)
	binary.NativeEndian.PutUint32(req[8:], d.seq)
	r := req[unix.NLMSG_HDRLEN:]
	r[0] = unix.AF_INET
	if local.Addr().Is6() {
		r[0] = unix.AF_INET6
	}
	r[1] = proto
	r[2] = 1 << (inetDiagInfo - 1)
	binary.NativeEndian.PutUint32(r[4:], allStates)
	id := r[8:]
	binary.BigEndian.PutUint16(id[0:], local.Port())
	binary.BigEndian.PutUint16(id[2:], remote.Port())
	putAddr(id[4:20], local.Addr())
	putAddr(id[20:36], remote.Addr())
	binary.NativeEndian.PutUint32(id[40:], noCookie)
	binary.NativeEndian.PutUint32(id[44:], noCookie)
	if err := unix.Sendto(d.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("sock_diag send: %w", err)
	}
	deadline := time.Now().Add(d.timeout)
	for time.Now().Before(deadline) {
		n, _, err := unix.Recvfrom(d.fd, d.buf, 0)
		if err != nil {
			return fmt.Errorf("sock_diag receive: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(d.buf[:n])
		if err != nil {
			return fmt.Errorf("sock_diag parse: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != d.seq {
				continue // a late answer to an earlier, timed-out request
			}
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return nil
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if e := int32(binary.NativeEndian.Uint32(m.Data)); e != 0 {
						if unix.Errno(-e) == unix.ENOENT {
							return errNotFound
						}
						return fmt.Errorf("sock_diag: %w", unix.Errno(-e))
					}
				}
				return nil
			case sockDiagByFamily:
				var s Socket
				if !parseMsg(m.Data, &s) {
					continue
				}
				if !f(&s) || !dump {
					if dump {
						d.drain()
					}
					return nil
				}
			}
		}
	}
	return fmt.Errorf("sock_diag: no answer within %v", d.timeout)
}

// drain discards the rest of a dump the caller stopped reading.
func (d *diag) drain() {
	for i := 0; i < 1000; i++ {
		n, _, err := unix.Recvfrom(d.fd, d.buf, unix.MSG_DONTWAIT)
		if err != nil || n == 0 {
			return
		}
		msgs, _ := syscall.ParseNetlinkMessage(d.buf[:n])
		for _, m := range msgs {
			if m.Header.Type == unix.NLMSG_DONE || m.Header.Type == unix.NLMSG_ERROR {
				return
			}
		}
	}
}

func putAddr(b []byte, a netip.Addr) {
	if a.Is4() {
		v := a.As4()
		copy(b, v[:])
		return
	}
	v := a.As16()
	copy(b, v[:])
}

func parseMsg(b []byte, s *Socket) bool {
	if len(b) < msgLen {
		return false
	}
	family := b[0]
	id := b[4:52]
	var la, ra netip.Addr
	if family == unix.AF_INET {
		la = netip.AddrFrom4([4]byte(id[4:8]))
		ra = netip.AddrFrom4([4]byte(id[20:24]))
	} else {
		la = netip.AddrFrom16([16]byte(id[4:20]))
		ra = netip.AddrFrom16([16]byte(id[20:36]))
	}
	s.Local = netip.AddrPortFrom(la, binary.BigEndian.Uint16(id[0:]))
	s.Remote = netip.AddrPortFrom(ra, binary.BigEndian.Uint16(id[2:]))
	s.UID = binary.NativeEndian.Uint32(b[64:])
	s.Inode = uint64(binary.NativeEndian.Uint32(b[68:]))
	// Attributes follow, 4-byte aligned: {u16 len, u16 type, data}.
	for a := b[msgLen:]; len(a) >= 4; {
		l := int(binary.NativeEndian.Uint16(a[0:]))
		if l < 4 || l > len(a) {
			break
		}
		if binary.NativeEndian.Uint16(a[2:]) == inetDiagInfo {
			s.HasTCPInfo = parseTCPInfo(a[4:l], &s.TCPInfo)
		}
		a = a[min((l+3)&^3, len(a)):]
	}
	return true
}
