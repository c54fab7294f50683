// Package sampler samples packets in the kernel: one AF_PACKET socket per
// interface with a classic BPF program keeping 1 packet in N at random, a
// TPACKET_V3 memory-mapped ring, and the packet metadata (direction from
// sll_pkttype, GSO segment size from the virtio net header) the agent needs
// to build sFlow flow samples. Only the samples cross into user space, so
// the cost scales with samples, not with traffic.
package sampler

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Config describes one sampled interface.
type Config struct {
	IfIndex int
	IfName  string
	Link    LinkType
	// Rate keeps 1 packet in Rate (1 = every packet).
	Rate uint32
	// SnapLen is the number of header bytes kept per sample (≤ MaxHeader).
	SnapLen uint32
	// MTU bounds segments when the kernel gives no GSO size.
	MTU uint32
	// Exclude lists the agent's own export destinations, never sampled.
	Exclude []netip.AddrPort
	// BlockSize and Blocks size the ring; BlockTimeout bounds how long a
	// sample waits in a partly filled block.
	BlockSize    uint32
	Blocks       uint32
	BlockTimeout time.Duration
}

// Ring defaults: 8 × 64 KiB holds ≈ 2000 samples of 128 bytes; a block is
// handed to user space when full or after 100 ms, so an idle interface costs
// no wake-ups and a busy one at most ten per second plus one per full block.
const (
	DefaultBlockSize    = 64 << 10
	DefaultBlocks       = 8
	DefaultBlockTimeout = 100 * time.Millisecond
)

// Deps are the sampler's collaborators.
type Deps struct {
	// Handle receives every sample on the sampler's goroutine; it must not
	// keep the pointer and must not block.
	Handle func(*Sample)
	// Packets returns the interface's cumulative rx + tx packet count (for
	// sample_pool).
	Packets func(ifIndex int) (uint64, error)
}

// Stats are a sampler's cumulative counters.
type Stats struct {
	Samples     uint64 // samples handed to Handle
	SocketDrops uint64 // samples the kernel dropped (ring full)
	Blocks      uint64 // ring blocks processed (wake-ups)
	PoolErrors  uint64 // failures reading the interface counters
}

// Sampler owns one packet socket.
type Sampler struct {
	cfg  Config
	deps Deps

	fd      int
	file    *os.File
	ring    []byte
	vnet    bool
	cur     uint32
	basePkt uint64
	poolAt  time.Time
	pool    uint32
	drops   atomic.Uint64 // socket + consumer drops, reported in samples
	sample  Sample

	samples, sockDrops, blocks, poolErrs atomic.Uint64

	done chan struct{}
	once sync.Once
}

// New checks cfg and returns an inert sampler.
func New(cfg Config, deps Deps) (*Sampler, error) {
	if cfg.Rate == 0 {
		return nil, fmt.Errorf("sampler %s: rate must be ≥ 1", cfg.IfName)
	}
	if cfg.SnapLen == 0 || cfg.SnapLen > MaxHeader {
		return nil, fmt.Errorf("sampler %s: snap length %d not in 1..%d", cfg.IfName, cfg.SnapLen, MaxHeader)
	}
	if deps.Handle == nil || deps.Packets == nil {
		return nil, errors.New("sampler: Handle and Packets are required")
	}
	if cfg.BlockSize == 0 {
		cfg.BlockSize = DefaultBlockSize
	}
	if cfg.Blocks == 0 {
		cfg.Blocks = DefaultBlocks
	}
	if cfg.BlockTimeout == 0 {
		cfg.BlockTimeout = DefaultBlockTimeout
	}
	if cfg.MTU == 0 {
		cfg.MTU = 1500
	}
	if cfg.BlockSize%uint32(os.Getpagesize()) != 0 {
		return nil, fmt.Errorf("sampler %s: block size %d is not a multiple of the page size", cfg.IfName, cfg.BlockSize)
	}
	return &Sampler{cfg: cfg, deps: deps, fd: -1, done: make(chan struct{})}, nil
}

// VNetHeader reports whether the kernel gives GSO sizes (PACKET_VNET_HDR).
func (s *Sampler) VNetHeader() bool { return s.vnet }

// Stats returns the cumulative counters.
func (s *Sampler) Stats() Stats {
	return Stats{Samples: s.samples.Load(), SocketDrops: s.sockDrops.Load(),
		Blocks: s.blocks.Load(), PoolErrors: s.poolErrs.Load()}
}

// AddDrops counts samples the consumer had to discard (queue full); they
// appear in the drops field of later samples, as sFlow asks.
func (s *Sampler) AddDrops(n uint64) { s.drops.Add(n) }

// Start opens the socket in the calling thread's network namespace, attaches
// the filter, maps the ring, binds to the interface and starts reading.
func (s *Sampler) Start(ctx context.Context) error {
	if err := s.open(); err != nil {
		s.closeFD()
		return fmt.Errorf("sampler %s: %w", s.cfg.IfName, err)
	}
	go s.run(ctx)
	return nil
}

func (s *Sampler) open() error {
	// sample_pool counts from here: every packet the socket can see.
	base, err := s.deps.Packets(s.cfg.IfIndex)
	if err != nil {
		return fmt.Errorf("interface counters: %w", err)
	}
	s.basePkt = base
	// Protocol 0: the socket receives nothing until bind, so no unfiltered
	// packet reaches the ring while it is being set up.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	s.fd = fd
	prog, err := Filter(s.cfg.Link, s.cfg.Rate, s.cfg.SnapLen, s.cfg.Exclude)
	if err != nil {
		return err
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: (*unix.SockFilter)(unsafe.Pointer(&prog[0]))}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
		return fmt.Errorf("attach filter: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return fmt.Errorf("TPACKET_V3: %w", err)
	}
	// The virtio net header carries gso_size for GSO/GRO aggregates; older
	// kernels refuse it with a ring, and then the MTU bounds segments.
	s.vnet = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1) == nil
	req := unix.TpacketReq3{
		Block_size:     s.cfg.BlockSize,
		Block_nr:       s.cfg.Blocks,
		Frame_size:     unix.TPACKET_ALIGNMENT << 7,
		Retire_blk_tov: uint32(s.cfg.BlockTimeout / time.Millisecond),
	}
	req.Frame_nr = req.Block_size / req.Frame_size * req.Block_nr
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return fmt.Errorf("PACKET_RX_RING: %w", err)
	}
	ring, err := unix.Mmap(fd, 0, int(s.cfg.BlockSize*s.cfg.Blocks), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_LOCKED)
	if err != nil {
		// MAP_LOCKED needs RLIMIT_MEMLOCK headroom; unlocked is fine.
		ring, err = unix.Mmap(fd, 0, int(s.cfg.BlockSize*s.cfg.Blocks), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			return fmt.Errorf("mmap ring: %w", err)
		}
	}
	s.ring = ring
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: s.cfg.IfIndex}); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	s.file = os.NewFile(uintptr(fd), "packet:"+s.cfg.IfName)
	return nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// Stop closes the socket and waits for the reader to finish.
func (s *Sampler) Stop() error {
	var err error
	s.once.Do(func() {
		if s.file == nil {
			s.closeFD()
			close(s.done)
			return
		}
		err = s.file.Close()
		<-s.done
		if s.ring != nil {
			_ = unix.Munmap(s.ring)
			s.ring = nil
		}
	})
	return err
}

func (s *Sampler) closeFD() {
	if s.ring != nil {
		_ = unix.Munmap(s.ring)
		s.ring = nil
	}
	if s.fd >= 0 {
		_ = unix.Close(s.fd)
		s.fd = -1
	}
}

func (s *Sampler) run(ctx context.Context) {
	defer close(s.done)
	raw, err := s.file.SyscallConn()
	if err != nil {
		return
	}
	stop := context.AfterFunc(ctx, func() { _ = s.file.SetReadDeadline(time.Now()) })
	defer stop()
	// Read returns only when the file is closed or the deadline passes;
	// until then the callback drains every ready block and asks the
	// runtime's poller to wait for the next one.
	_ = raw.Read(func(uintptr) bool {
		for s.processBlock() {
		}
		return false
	})
}

// Offsets inside the TPACKET_V3 structures (linux/if_packet.h).
const (
	blockStatusOff = 8  // tpacket_block_desc.hdr.bh1.block_status
	blockNumOff    = 12 // num_pkts
	blockFirstOff  = 16 // offset_to_first_pkt
	sockaddrLLOff  = 48 // TPACKET_ALIGN(sizeof(struct tpacket3_hdr))
	vnetHdrLen     = 10 // struct virtio_net_hdr
)

// processBlock handles the current block if the kernel has handed it to
// user space and reports whether it did.
func (s *Sampler) processBlock() bool {
	bs := s.cfg.BlockSize
	blk := s.ring[s.cur*bs : (s.cur+1)*bs]
	status := (*uint32)(unsafe.Pointer(&blk[blockStatusOff]))
	if atomic.LoadUint32(status)&unix.TP_STATUS_USER == 0 {
		return false
	}
	s.blocks.Add(1)
	s.refreshCounters()
	n := binary.NativeEndian.Uint32(blk[blockNumOff:])
	off := binary.NativeEndian.Uint32(blk[blockFirstOff:])
	for i := uint32(0); i < n && off > 0 && off+sockaddrLLOff+12 <= bs; i++ {
		h := (*unix.Tpacket3Hdr)(unsafe.Pointer(&blk[off]))
		s.packet(blk, off, h)
		if h.Next_offset == 0 {
			break
		}
		off += h.Next_offset
	}
	atomic.StoreUint32(status, unix.TP_STATUS_KERNEL)
	s.cur = (s.cur + 1) % s.cfg.Blocks
	return true
}

// poolInterval bounds how often the interface counters are read for
// sample_pool: at most once per block, and at most this often when blocks
// fill fast.
const poolInterval = 50 * time.Millisecond

// refreshCounters reads the socket's drop counter and the interface packet
// counters (sample_pool) when a block is processed.
func (s *Sampler) refreshCounters() {
	if st, err := unix.GetsockoptTpacketStatsV3(s.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS); err == nil && st.Drops > 0 {
		s.sockDrops.Add(uint64(st.Drops))
		s.drops.Add(uint64(st.Drops))
	}
	now := time.Now()
	if now.Sub(s.poolAt) < poolInterval {
		return
	}
	s.poolAt = now
	pk, err := s.deps.Packets(s.cfg.IfIndex)
	if err != nil {
		s.poolErrs.Add(1)
		return
	}
	s.pool = uint32(pk - s.basePkt)
}

func (s *Sampler) packet(blk []byte, off uint32, h *unix.Tpacket3Hdr) {
	mac := off + uint32(h.Mac)
	snap := h.Snaplen
	if mac+snap > uint32(len(blk)) {
		return
	}
	smp := &s.sample
	smp.IfIndex = uint32(s.cfg.IfIndex)
	smp.Link = s.cfg.Link
	smp.Rate = s.cfg.Rate
	smp.Pool = s.pool
	smp.Drops = uint32(s.drops.Load())
	smp.TimeNs = int64(h.Sec)*1e9 + int64(h.Nsec)
	smp.Direction = In
	if blk[off+sockaddrLLOff+10] == unix.PACKET_OUTGOING {
		smp.Direction = Out
	}
	frame := h.Len
	data := blk[mac : mac+snap]
	var n int
	if s.cfg.Link == LinkEthernet && h.Status&unix.TP_STATUS_VLAN_VALID != 0 && len(data) >= 12 {
		// The NIC stripped the 802.1Q tag into the metadata: put it back
		// where it was on the wire, as libpcap does.
		tpid := uint16(0x8100)
		if h.Status&unix.TP_STATUS_VLAN_TPID_VALID != 0 && h.Hv1.Vlan_tpid != 0 {
			tpid = h.Hv1.Vlan_tpid
		}
		copy(smp.Header[:], data[:12])
		binary.BigEndian.PutUint16(smp.Header[12:], tpid)
		binary.BigEndian.PutUint16(smp.Header[14:], uint16(h.Hv1.Vlan_tci))
		n = 16 + copy(smp.Header[16:s.cfg.SnapLen], data[12:])
		frame += 4
	} else {
		n = copy(smp.Header[:s.cfg.SnapLen], data)
	}
	smp.HeaderLen = uint16(n)
	smp.FrameLen = frame
	hdrs := headersLen(s.cfg.Link, smp.Header[:n])
	smp.HeadersLen = uint16(hdrs)
	var gso uint16
	if s.vnet && h.Mac >= vnetHdrLen {
		v := blk[mac-vnetHdrLen : mac]
		if v[1] != unix.VIRTIO_NET_HDR_GSO_NONE {
			gso = binary.NativeEndian.Uint16(v[4:])
		}
	}
	l2 := uint32(0)
	if s.cfg.Link == LinkEthernet {
		l2 = 14
	}
	smp.Segments = segments(frame, hdrs, gso, s.cfg.MTU, l2)
	s.samples.Add(1)
	s.deps.Handle(smp)
}
