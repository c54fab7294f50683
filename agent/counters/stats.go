package counters

import (
	"encoding/binary"
	"fmt"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Stats reads one interface's packet counters with RTM_GETSTATS, asking
// only for the 64-bit link statistics: far cheaper than RTM_GETLINK, which
// builds every attribute of the link (the samplers read counters up to a
// few times per second per interface). The netlink socket is opened once,
// in the namespace of the thread calling NewStats.
type Stats struct {
	mu  sync.Mutex
	fd  int
	seq uint32
	req [unix.NLMSG_HDRLEN + ifStatsMsgLen]byte
	buf []byte
}

const (
	ifStatsMsgLen   = 12 // struct if_stats_msg
	iflaStatsLink64 = 1  // IFLA_STATS_LINK_64
)

// NewStats opens the rtnetlink socket.
func NewStats() (*Stats, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("rtnetlink socket: %w", err)
	}
	tv := unix.Timeval{Sec: 1}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("rtnetlink timeout: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("rtnetlink bind: %w", err)
	}
	return &Stats{fd: fd, buf: make([]byte, 4096)}, nil
}

// Close releases the socket.
func (s *Stats) Close() error { return unix.Close(s.fd) }

// Packets returns the interface's rx + tx packets.
func (s *Stats) Packets(ifIndex int) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	r := s.req[:]
	ne := binary.NativeEndian
	ne.PutUint32(r[0:], uint32(len(r)))
	ne.PutUint16(r[4:], unix.RTM_GETSTATS)
	ne.PutUint16(r[6:], unix.NLM_F_REQUEST)
	ne.PutUint32(r[8:], s.seq)
	ne.PutUint32(r[12:], 0)
	m := r[unix.NLMSG_HDRLEN:]
	clear(m)
	ne.PutUint32(m[4:], uint32(ifIndex))
	ne.PutUint32(m[8:], 1<<(iflaStatsLink64-1))
	if err := unix.Sendto(s.fd, r, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, fmt.Errorf("link %d stats: %w", ifIndex, err)
	}
	for range 8 { // skip answers to earlier requests that timed out
		n, _, err := unix.Recvfrom(s.fd, s.buf, 0)
		if err != nil {
			return 0, fmt.Errorf("link %d stats: %w", ifIndex, err)
		}
		if n < unix.NLMSG_HDRLEN || ne.Uint32(s.buf[8:]) != s.seq {
			continue
		}
		return parseStats(s.buf[:n], ifIndex)
	}
	return 0, fmt.Errorf("link %d stats: no answer", ifIndex)
}

// parseStats reads rx + tx packets from an RTM_NEWSTATS answer.
func parseStats(b []byte, ifIndex int) (uint64, error) {
	ne := binary.NativeEndian
	switch ne.Uint16(b[4:]) {
	case unix.NLMSG_ERROR:
		if len(b) >= unix.NLMSG_HDRLEN+4 {
			if e := int32(ne.Uint32(b[unix.NLMSG_HDRLEN:])); e != 0 {
				return 0, fmt.Errorf("link %d stats: %w", ifIndex, syscall.Errno(-e))
			}
		}
		return 0, fmt.Errorf("link %d stats: empty answer", ifIndex)
	case unix.RTM_NEWSTATS:
	default:
		return 0, fmt.Errorf("link %d stats: unexpected message %d", ifIndex, ne.Uint16(b[4:]))
	}
	end := min(int(ne.Uint32(b[0:])), len(b))
	for a := unix.NLMSG_HDRLEN + ifStatsMsgLen; a+4 <= end; {
		l := int(ne.Uint16(b[a:]))
		if l < 4 || a+l > end {
			break
		}
		if ne.Uint16(b[a+2:])&0x3fff == iflaStatsLink64 && l >= 4+16 {
			return ne.Uint64(b[a+4:]) + ne.Uint64(b[a+12:]), nil
		}
		a += (l + 3) &^ 3
	}
	return 0, fmt.Errorf("link %d stats: no 64-bit statistics", ifIndex)
}
