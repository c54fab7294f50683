package sampler

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// NFLOGConfig is a netfilter log group to read samples from, for hosts that
// already select and sample packets with nftables, e.g.
//
//	nft add rule inet filter input numgen random mod 400 == 0 log group 5 snaplen 128
//
// The kernel does the 1-in-N choice in the rule; the agent cannot see it, so
// Rate must repeat it. As with hsflowd's NFLOG module, sample_pool is
// estimated (Rate per sample) since netfilter counts nothing for us.
type NFLOGConfig struct {
	Group   uint16
	Rate    uint32
	SnapLen uint32
	// MTU bounds the segments of a GSO aggregate (NFLOG gives no GSO size).
	MTU uint32
}

// NFLOG reads sampled packets from a netfilter log group (NETLINK_NETFILTER).
type NFLOG struct {
	cfg    NFLOGConfig
	handle func(*Sample)
	fd     int
	file   *os.File
	buf    []byte
	sample Sample
	pools  map[uint32]uint32
	drops  atomic.Uint64

	samples, overruns atomic.Uint64
	done              chan struct{}
	once              sync.Once
}

// Netfilter log constants (linux/netfilter/nfnetlink_log.h).
const (
	nfnlSubsysULOG   = 4
	nfulnlMsgPacket  = 0
	nfulnlMsgConfig  = 1
	nfulaCfgCmd      = 1
	nfulaCfgMode     = 2
	nfulaCfgTimeout  = 4
	nfulaCfgQthresh  = 5
	nfulnlCmdBind    = 1
	nfulnlCopyPacket = 2
	nfulaPacketHdr   = 1
	nfulaTimestamp   = 3
	nfulaIndev       = 4
	nfulaOutdev      = 5
	nfulaPayload     = 9
	nlaTypeMask      = 0x3fff
)

// NewNFLOG checks cfg and returns an inert source; handle receives every
// sample on the source's goroutine and must not keep the pointer.
func NewNFLOG(cfg NFLOGConfig, handle func(*Sample)) (*NFLOG, error) {
	if cfg.Group == 0 || cfg.Rate == 0 || handle == nil {
		return nil, errors.New("nflog: group, rate and a handler are required")
	}
	if cfg.SnapLen == 0 || cfg.SnapLen > MaxHeader {
		return nil, fmt.Errorf("nflog: snap length %d not in 1..%d", cfg.SnapLen, MaxHeader)
	}
	if cfg.MTU == 0 {
		cfg.MTU = 1500
	}
	return &NFLOG{cfg: cfg, handle: handle, fd: -1, buf: make([]byte, 1<<16), pools: map[uint32]uint32{},
		done: make(chan struct{})}, nil
}

// AddDrops counts samples the consumer had to discard.
func (n *NFLOG) AddDrops(d uint64) { n.drops.Add(d) }

// Stats returns the samples handed over and the socket overruns (each
// loses an unknown number of samples).
func (n *NFLOG) Stats() (samples, overruns uint64) { return n.samples.Load(), n.overruns.Load() }

// Start binds the log group (in the calling thread's network namespace)
// and starts reading.
func (n *NFLOG) Start(ctx context.Context) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return fmt.Errorf("nflog socket: %w", err)
	}
	n.fd = fd
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return fmt.Errorf("nflog bind: %w", err)
	}
	// Bind the group, copy SnapLen bytes of each packet, and let the kernel
	// batch up to 64 packets or 100 ms per message burst.
	if err := n.config(attr(nfulaCfgCmd, []byte{nfulnlCmdBind})); err != nil {
		unix.Close(fd)
		return fmt.Errorf("nflog group %d: %w", n.cfg.Group, err)
	}
	mode := binary.BigEndian.AppendUint32(nil, n.cfg.SnapLen)
	mode = append(mode, nfulnlCopyPacket, 0)
	batch := append(attr(nfulaCfgMode, mode), attr(nfulaCfgQthresh, binary.BigEndian.AppendUint32(nil, 64))...)
	batch = append(batch, attr(nfulaCfgTimeout, binary.BigEndian.AppendUint32(nil, 10))...)
	if err := n.config(batch); err != nil {
		unix.Close(fd)
		return fmt.Errorf("nflog group %d mode: %w", n.cfg.Group, err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return err
	}
	n.file = os.NewFile(uintptr(fd), "nflog")
	go n.run(ctx)
	return nil
}

// attr encodes one netlink attribute, padded to 4 bytes.
func attr(typ uint16, data []byte) []byte {
	b := binary.NativeEndian.AppendUint16(nil, uint16(4+len(data)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// config sends an NFULNL_MSG_CONFIG message and waits for its ack.
func (n *NFLOG) config(attrs []byte) error {
	msg := make([]byte, unix.NLMSG_HDRLEN+4, unix.NLMSG_HDRLEN+4+len(attrs))
	ne := binary.NativeEndian
	ne.PutUint16(msg[4:], nfnlSubsysULOG<<8|nfulnlMsgConfig)
	ne.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	ne.PutUint32(msg[8:], 1)
	msg[unix.NLMSG_HDRLEN] = unix.AF_UNSPEC
	binary.BigEndian.PutUint16(msg[unix.NLMSG_HDRLEN+2:], n.cfg.Group)
	msg = append(msg, attrs...)
	ne.PutUint32(msg[0:], uint32(len(msg)))
	if err := unix.Sendto(n.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	tv := unix.Timeval{Sec: 1}
	_ = unix.SetsockoptTimeval(n.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	r, _, err := unix.Recvfrom(n.fd, n.buf, 0)
	if err != nil {
		return err
	}
	if r >= unix.NLMSG_HDRLEN+4 && ne.Uint16(n.buf[4:]) == unix.NLMSG_ERROR {
		if e := int32(ne.Uint32(n.buf[unix.NLMSG_HDRLEN:])); e != 0 {
			return unix.Errno(-e)
		}
	}
	return nil
}

// Stop closes the socket and waits for the reader.
func (n *NFLOG) Stop() error {
	var err error
	n.once.Do(func() {
		if n.file == nil {
			close(n.done)
			return
		}
		err = n.file.Close()
		<-n.done
	})
	return err
}

func (n *NFLOG) run(ctx context.Context) {
	defer close(n.done)
	raw, err := n.file.SyscallConn()
	if err != nil {
		return
	}
	stop := context.AfterFunc(ctx, func() { _ = n.file.SetReadDeadline(time.Now()) })
	defer stop()
	_ = raw.Read(func(fd uintptr) bool {
		for {
			m, _, err := unix.Recvfrom(int(fd), n.buf, unix.MSG_DONTWAIT)
			switch {
			case errors.Is(err, unix.ENOBUFS):
				n.overruns.Add(1) // the kernel dropped messages
				continue
			case err != nil:
				return false // EAGAIN: wait for more
			}
			n.parse(n.buf[:m])
		}
	})
}

// parse handles one datagram of netlink messages.
func (n *NFLOG) parse(b []byte) {
	ne := binary.NativeEndian
	for len(b) >= unix.NLMSG_HDRLEN {
		l := int(ne.Uint32(b))
		if l < unix.NLMSG_HDRLEN || l > len(b) {
			return
		}
		if ne.Uint16(b[4:]) == nfnlSubsysULOG<<8|nfulnlMsgPacket && l >= unix.NLMSG_HDRLEN+4 {
			n.packet(b[unix.NLMSG_HDRLEN+4 : l])
		}
		b = b[min((l+3)&^3, len(b)):]
	}
}

// packet turns one logged packet into a sample: incoming on its input
// device when it has one, else outgoing on its output device.
func (n *NFLOG) packet(attrs []byte) {
	var in, out uint32
	var payload []byte
	var ts int64
	for len(attrs) >= 4 {
		l := int(binary.NativeEndian.Uint16(attrs))
		if l < 4 || l > len(attrs) {
			return
		}
		d := attrs[4:l]
		switch binary.NativeEndian.Uint16(attrs[2:]) & nlaTypeMask {
		case nfulaIndev:
			if len(d) >= 4 {
				in = binary.BigEndian.Uint32(d)
			}
		case nfulaOutdev:
			if len(d) >= 4 {
				out = binary.BigEndian.Uint32(d)
			}
		case nfulaPayload:
			payload = d
		case nfulaTimestamp:
			if len(d) >= 16 {
				ts = int64(binary.BigEndian.Uint64(d))*1e9 + int64(binary.BigEndian.Uint64(d[8:]))*1e3
			}
		}
		attrs = attrs[min((l+3)&^3, len(attrs)):]
	}
	frame := ipLength(payload)
	if frame == 0 || (in == 0 && out == 0) {
		return
	}
	s := &n.sample
	s.Link, s.Rate, s.Segments = LinkIP, n.cfg.Rate, 1
	s.IfIndex, s.Direction = in, In
	if in == 0 {
		s.IfIndex, s.Direction = out, Out
	}
	if ts == 0 {
		ts = time.Now().UnixNano()
	}
	s.TimeNs = ts
	s.HeaderLen = uint16(copy(s.Header[:n.cfg.SnapLen], payload))
	s.FrameLen = frame
	hdrs := headersLen(LinkIP, s.Header[:s.HeaderLen])
	s.HeadersLen = uint16(hdrs)
	s.Segments = segments(frame, hdrs, 0, n.cfg.MTU, 0)
	n.pools[s.IfIndex] += n.cfg.Rate
	s.Pool = n.pools[s.IfIndex]
	s.Drops = uint32(n.drops.Load())
	n.samples.Add(1)
	n.handle(s)
}

// ipLength is the length of the IP packet from its header (NFLOG passes the
// packet from the network header, truncated to the copy range), 0 when it
// is not IP.
func ipLength(b []byte) uint32 {
	switch {
	case len(b) >= 20 && b[0]>>4 == 4:
		return uint32(binary.BigEndian.Uint16(b[2:]))
	case len(b) >= 40 && b[0]>>4 == 6:
		return 40 + uint32(binary.BigEndian.Uint16(b[4:]))
	}
	return 0
}
