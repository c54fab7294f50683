package inlet

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func nowUnix() int64 { return time.Now().Unix() }

// mmsghdr mirrors struct mmsghdr (x/sys/unix has no recvmmsg wrapper).
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
	_   [4]byte
}

// cmsgSpace is room for one SO_RXQ_OVFL control message (a uint32).
var cmsgSpace = unix.CmsgSpace(4)

// sysSocket holds the file descriptor and preallocated recvmmsg state: the
// steady-state read path allocates nothing.
type sysSocket struct {
	conn  *net.UDPConn
	raw   syscall.RawConn
	hdrs  []mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6
	ctrl  []byte
	bufs  [][]byte

	// recv state, kept in the struct so the rc.Read closure is built once.
	readFn       func(fd uintptr) bool
	n            int
	err          error
	pendingDrops uint32 // reader-owned: drops seen in the last recv's control data
	// drops is the highest kernel drop count seen for the socket, from
	// SO_RXQ_OVFL control messages (reader) or SO_MEMINFO (periodic check):
	// the control message only comes with the next datagram, so drops at the
	// end of a burst would otherwise be counted late.
	drops atomic.Uint32
}

func listen(addr string, lc *ListenerConfig) (*socket, error) {
	// Go opens "[::]" as an IPv4 socket when it finds no IPv4 loopback to
	// probe v4-mapped support with (IPv6-only hosts): ask for IPv6 and
	// clear IPV6_V6ONLY instead, dual-stack wherever IPv4 exists.
	network, dualStack := "udp", false
	if host, _, err := net.SplitHostPort(addr); err == nil && host == "::" {
		network, dualStack = "udp6", true
	}
	lcfg := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			if dualStack {
				if serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0); serr != nil {
					serr = fmt.Errorf("IPV6_V6ONLY: %w", serr)
					return
				}
			}
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); serr != nil {
				serr = fmt.Errorf("SO_REUSEPORT: %w", serr)
				return
			}
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1); serr != nil {
				serr = fmt.Errorf("SO_RXQ_OVFL: %w", serr)
				return
			}
			if lc.ReceiveBuffer > 0 {
				// FORCE ignores rmem_max but needs CAP_NET_ADMIN; fall back.
				if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, lc.ReceiveBuffer) != nil {
					_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, lc.ReceiveBuffer)
				}
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lcfg.ListenPacket(context.Background(), network, addr)
	if err != nil {
		return nil, err
	}
	conn := pc.(*net.UDPConn)
	raw, err := conn.SyscallConn()
	if err != nil {
		conn.Close()
		return nil, err
	}
	s := &socket{}
	s.conn, s.raw = conn, raw
	local := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	s.local = netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
	n := lc.Batch
	s.hdrs = make([]mmsghdr, n)
	s.iovs = make([]unix.Iovec, n)
	s.names = make([]unix.RawSockaddrInet6, n)
	s.ctrl = make([]byte, n*cmsgSpace)
	s.bufs = make([][]byte, n)
	backing := make([]byte, n*lc.MaxDatagram)
	for i := range s.bufs {
		s.bufs[i] = backing[i*lc.MaxDatagram : (i+1)*lc.MaxDatagram]
		s.iovs[i].Base = &s.bufs[i][0]
		s.iovs[i].SetLen(lc.MaxDatagram)
		h := &s.hdrs[i].hdr
		h.Name = (*byte)(unsafe.Pointer(&s.names[i]))
		h.Iov = &s.iovs[i]
		h.SetIovlen(1)
		h.Control = &s.ctrl[i*cmsgSpace]
	}
	s.readFn = s.recvmmsg
	return s, nil
}

func (s *sysSocket) recvmmsg(fd uintptr) bool {
	for i := range s.hdrs {
		h := &s.hdrs[i].hdr
		h.Namelen = unix.SizeofSockaddrInet6
		h.SetControllen(cmsgSpace)
		h.Flags = 0
	}
	r, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&s.hdrs[0])),
		uintptr(len(s.hdrs)), unix.MSG_DONTWAIT, 0, 0)
	if errno == unix.EAGAIN || errno == unix.EWOULDBLOCK {
		return false
	}
	if errno == unix.EINTR {
		return false
	}
	if errno != 0 {
		s.n, s.err = 0, errno
		return true
	}
	s.n, s.err = int(r), nil
	return true
}

// recv blocks until at least one datagram is available and returns how many
// were read.
func (s *sysSocket) recv() (int, error) {
	if err := s.raw.Read(s.readFn); err != nil {
		return 0, err
	}
	if s.err != nil {
		return 0, s.err
	}
	for i := 0; i < s.n; i++ {
		s.parseOverflow(i)
	}
	return s.n, nil
}

// parseOverflow reads the SO_RXQ_OVFL counter (datagrams the kernel dropped
// on this socket since it was opened) from message i's control data.
func (s *sysSocket) parseOverflow(i int) {
	h := &s.hdrs[i].hdr
	ctrl := s.ctrl[i*cmsgSpace : i*cmsgSpace+int(h.Controllen)]
	for len(ctrl) >= unix.SizeofCmsghdr {
		cm := (*unix.Cmsghdr)(unsafe.Pointer(&ctrl[0]))
		if cm.Len < unix.SizeofCmsghdr || int(cm.Len) > len(ctrl) {
			return
		}
		if cm.Level == unix.SOL_SOCKET && cm.Type == unix.SO_RXQ_OVFL && int(cm.Len) >= unix.CmsgLen(4) {
			s.pendingDrops += s.observeDrops(binary.NativeEndian.Uint32(ctrl[unix.CmsgLen(0):]))
		}
		next := unix.CmsgSpace(int(cm.Len) - unix.CmsgLen(0))
		if next > len(ctrl) {
			return
		}
		ctrl = ctrl[next:]
	}
}

// observeDrops records the socket's cumulative drop count v and returns
// how many drops it adds to what was already counted.
func (s *sysSocket) observeDrops(v uint32) uint32 {
	for {
		old := s.drops.Load()
		if int32(v-old) <= 0 { // not newer (wrap-safe)
			return 0
		}
		if s.drops.CompareAndSwap(old, v) {
			return v - old
		}
	}
}

func (s *sysSocket) takeKernelDrops() uint32 {
	d := s.pendingDrops
	s.pendingDrops = 0
	return d
}

// skMeminfoDrops is the index of sk_drops in SO_MEMINFO's array.
const skMeminfoDrops = 8

// pollDrops reads the socket's drop counter with SO_MEMINFO and returns the
// drops not counted yet.
func (s *sysSocket) pollDrops() uint32 {
	var info [16]uint32
	var n uint32
	err := s.raw.Control(func(fd uintptr) {
		size := uint32(unsafe.Sizeof(info))
		_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_MEMINFO,
			uintptr(unsafe.Pointer(&info[0])), uintptr(unsafe.Pointer(&size)), 0)
		if errno == 0 && size >= (skMeminfoDrops+1)*4 {
			n = s.observeDrops(info[skMeminfoDrops])
		}
	})
	if err != nil {
		return 0
	}
	return n
}

// message returns datagram i of the last recv: payload, source, and
// whether it was truncated.
func (s *sysSocket) message(i int) ([]byte, netip.AddrPort, bool) {
	h := &s.hdrs[i]
	trunc := h.hdr.Flags&unix.MSG_TRUNC != 0
	var src netip.AddrPort
	sa := &s.names[i]
	switch sa.Family {
	case unix.AF_INET6:
		src = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), ntohs(sa.Port))
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		src = netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), ntohs(sa4.Port))
	}
	return s.bufs[i][:h.n], src, trunc
}

func ntohs(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}

func (s *socket) close() {
	if s.closed.Swap(true) {
		return
	}
	_ = s.conn.Close()
}
