package sampler

import (
	"cmp"
	"context"
	"encoding/binary"
	"math"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hostflow/hostflow/agent/internal/nstest"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// pair is two namespaces joined by a veth pair: a (198.18.0.1, fd18::1) on
// va, b (198.18.0.2, fd18::2) on vb.
type pair struct {
	a, b   *nstest.NS
	vaIdx  int
	linkNL *netlink.Handle
}

func newPair(t *testing.T) *pair {
	nstest.Require(t)
	a, b := nstest.New(t, "a"), nstest.New(t, "b")
	nstest.Veth(t, a, "va", []string{"198.18.0.1/24", "fd18::1/64"}, b, "vb", []string{"198.18.0.2/24", "fd18::2/64"})
	h, err := netns.GetFromName(a.Name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nl.Close)
	l, err := nl.LinkByName("va")
	if err != nil {
		t.Fatal(err)
	}
	return &pair{a: a, b: b, vaIdx: l.Attrs().Index, linkNL: nl}
}

func (p *pair) packets(idx int) (uint64, error) {
	l, err := p.linkNL.LinkByIndex(idx)
	if err != nil {
		return 0, err
	}
	st := l.Attrs().Statistics
	return st.RxPackets + st.TxPackets, nil
}

// collector gathers samples from a sampler.
type collector struct {
	mu      sync.Mutex
	samples []Sample
}

func (c *collector) handle(s *Sample) {
	c.mu.Lock()
	c.samples = append(c.samples, *s)
	c.mu.Unlock()
}

func (c *collector) snapshot() []Sample {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Sample(nil), c.samples...)
}

func (p *pair) start(t *testing.T, cfg Config) (*Sampler, *collector) {
	c := &collector{}
	cfg.IfIndex, cfg.IfName, cfg.Link = p.vaIdx, "va", LinkEthernet
	if cfg.SnapLen == 0 {
		cfg.SnapLen = 128
	}
	s, err := New(cfg, Deps{Handle: c.handle, Packets: p.packets})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.a.Do(func() error { return s.Start(context.Background()) }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	return s, c
}

// udpPair opens a UDP listener in b and a sender in a.
func (p *pair) udp(t *testing.T, dst netip.AddrPort) (send *net.UDPConn, recv *net.UDPConn) {
	var err error
	if err = p.b.Do(func() error {
		recv, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(dst))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { recv.Close() })
	if err = p.a.Do(func() error {
		send, err = net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(dst))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { send.Close() })
	_ = recv.SetReadBuffer(4 << 20)
	return send, recv
}

// settle waits until no sample arrived for 400 ms (at most 5 s): blocks
// reach user space up to the ring's block timeout after the packets.
func settle(c *collector) []Sample {
	n, since := -1, time.Now()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := len(c.snapshot()); m != n {
			n, since = m, time.Now()
		} else if time.Since(since) > 400*time.Millisecond {
			break
		}
	}
	return c.snapshot()
}

// waitSamples waits until n samples arrived or the deadline passes.
func waitSamples(c *collector, n int, d time.Duration) []Sample {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if s := c.snapshot(); len(s) >= n {
			return s
		}
		time.Sleep(20 * time.Millisecond)
	}
	return c.snapshot()
}

func udpDstPort(s *Sample) (netip.Addr, uint16, bool) {
	b := s.Bytes()
	if len(b) < 14 {
		return netip.Addr{}, 0, false
	}
	switch {
	case b[12] == 0x08 && b[13] == 0x00 && len(b) >= 14+28 && b[14+9] == 17:
		ihl := int(b[14]&0xf) * 4
		a, _ := netip.AddrFromSlice(b[14+16 : 14+20])
		return a, uint16(b[14+ihl+2])<<8 | uint16(b[14+ihl+3]), true
	case b[12] == 0x86 && b[13] == 0xdd && len(b) >= 14+48 && b[14+6] == 17:
		a, _ := netip.AddrFromSlice(b[14+24 : 14+40])
		return a, uint16(b[14+42])<<8 | uint16(b[14+43]), true
	}
	return netip.Addr{}, 0, false
}

func TestEverySampleDirectionAndPool(t *testing.T) {
	p := newPair(t)
	_, c := p.start(t, Config{Rate: 1})
	for _, dst := range []string{"198.18.0.2:5001", "[fd18::2]:5002"} {
		ap := netip.MustParseAddrPort(dst)
		send, recv := p.udp(t, ap)
		payload := make([]byte, 300)
		for i := 0; i < 50; i++ {
			if _, err := send.Write(payload); err != nil {
				t.Fatal(err)
			}
		}
		// The reply direction: b answers each datagram.
		buf := make([]byte, 2000)
		for i := 0; i < 50; i++ {
			_ = recv.SetReadDeadline(time.Now().Add(2 * time.Second))
			n, from, err := recv.ReadFromUDPAddrPort(buf)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := recv.WriteToUDPAddrPort(buf[:n], from); err != nil {
				t.Fatal(err)
			}
		}
	}
	samples := waitSamples(c, 200, 5*time.Second)
	var out, in = map[uint16]int{}, map[uint16]int{}
	var lastPool uint32
	for i := range samples {
		s := &samples[i]
		if s.Pool < lastPool {
			t.Errorf("sample_pool went backwards: %d after %d", s.Pool, lastPool)
		}
		lastPool = s.Pool
		if s.Rate != 1 || s.IfIndex != uint32(p.vaIdx) {
			t.Errorf("rate %d ifindex %d, want 1 %d", s.Rate, s.IfIndex, p.vaIdx)
		}
		if _, port, ok := udpDstPort(s); ok {
			switch s.Direction {
			case Out:
				out[port]++
				if want := uint32(14 + 300 + 8 + 20); port == 5001 && s.FrameLen != want {
					t.Errorf("IPv4 frame length %d, want %d", s.FrameLen, want)
				}
			case In:
				in[port]++
			}
		}
	}
	if out[5001] != 50 || out[5002] != 50 {
		t.Errorf("outgoing samples to 5001/5002 = %d/%d, want 50/50", out[5001], out[5002])
	}
	// Replies go to the sender's ephemeral ports: count all incoming UDP.
	nIn := 0
	for _, v := range in {
		nIn += v
	}
	if nIn != 100 {
		t.Errorf("incoming UDP samples = %d, want 100", nIn)
	}
	if lastPool < 200 {
		t.Errorf("sample_pool %d, want ≥ 200 (every packet counted)", lastPool)
	}
}

func TestRandomOneInN(t *testing.T) {
	p := newPair(t)
	const rate, sent = 10, 20000
	s, c := p.start(t, Config{Rate: rate})
	send, _ := p.udp(t, netip.MustParseAddrPort("198.18.0.2:5003"))
	payload := make([]byte, 64)
	for i := 0; i < sent; i++ {
		if _, err := send.Write(payload); err != nil {
			t.Fatal(err)
		}
	}
	samples := settle(c)
	got := 0
	for i := range samples {
		if _, port, ok := udpDstPort(&samples[i]); ok && port == 5003 && samples[i].Direction == Out {
			got++
		}
	}
	// Binomial(sent, 1/rate): allow 5 standard deviations.
	mean := float64(sent) / rate
	sd := math.Sqrt(float64(sent) * (1.0 / rate) * (1 - 1.0/rate))
	if math.Abs(float64(got)-mean) > 5*sd {
		t.Errorf("sampled %d of %d at 1:%d, want %.0f ± %.0f", got, sent, rate, mean, 5*sd)
	}
	if st := s.Stats(); st.SocketDrops != 0 {
		t.Errorf("socket drops %d", st.SocketDrops)
	}
}

func TestExcludesOwnExport(t *testing.T) {
	p := newPair(t)
	excl := []netip.AddrPort{netip.MustParseAddrPort("198.18.0.2:6343"), netip.MustParseAddrPort("[fd18::2]:6343")}
	_, c := p.start(t, Config{Rate: 1, Exclude: excl})
	for _, dst := range []string{"198.18.0.2:6343", "[fd18::2]:6343", "198.18.0.2:6344", "[fd18::2]:6344"} {
		send, _ := p.udp(t, netip.MustParseAddrPort(dst))
		for i := 0; i < 10; i++ {
			if _, err := send.Write([]byte("x")); err != nil {
				t.Fatal(err)
			}
		}
	}
	samples := waitSamples(c, 20, 3*time.Second)
	ports := map[uint16]int{}
	for i := range samples {
		if _, port, ok := udpDstPort(&samples[i]); ok && samples[i].Direction == Out {
			ports[port]++
		}
	}
	if ports[6343] != 0 || ports[6344] != 20 {
		t.Errorf("samples by port %v, want 6343:0 6344:20", ports)
	}
}

func TestTCPSegmentationOffload(t *testing.T) {
	p := newPair(t)
	s, c := p.start(t, Config{Rate: 1})
	var ln net.Listener
	if err := p.b.Do(func() (err error) { ln, err = net.Listen("tcp", "198.18.0.2:5004"); return }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan int64, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			got <- -1
			return
		}
		defer conn.Close()
		var n int64
		buf := make([]byte, 1<<16)
		for {
			m, err := conn.Read(buf)
			n += int64(m)
			if err != nil {
				got <- n
				return
			}
		}
	}()
	var conn net.Conn
	if err := p.a.Do(func() (err error) { conn, err = net.Dial("tcp", "198.18.0.2:5004"); return }); err != nil {
		t.Fatal(err)
	}
	const total = 4 << 20
	if _, err := conn.Write(make([]byte, total)); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if n := <-got; n != total {
		t.Fatalf("received %d bytes, want %d", n, total)
	}
	settle(c)
	var payload uint64
	var aggregates int
	// Every packet is sampled (rate 1): the payload ranges, by sequence
	// number from the SYN, must cover exactly [0, total) — retransmitted
	// segments overlap, a segment missed or mis-sized leaves a gap.
	var isn uint32
	var synSeen bool
	var ranges [][2]uint64
	for _, smp := range c.snapshot() {
		b := smp.Bytes()
		if smp.Direction != Out || len(b) < 14+20+20 || b[14+9] != 6 {
			continue
		}
		tcp := b[14+int(b[14]&0x0f)*4:]
		seq := binary.BigEndian.Uint32(tcp[4:])
		if tcp[13]&0x02 != 0 { // SYN
			isn, synSeen = seq, true
		}
		n := uint64(smp.FrameLen) - uint64(smp.HeadersLen)
		payload += n
		if n > 0 {
			ranges = append(ranges, [2]uint64{uint64(seq), n})
		}
		if smp.Segments > 1 {
			aggregates++
			mss := (smp.FrameLen - uint32(smp.HeadersLen) + smp.Segments - 1) / smp.Segments
			if mss > 1500 {
				t.Errorf("segments %d for %d bytes: implied segment %d > MTU", smp.Segments, smp.FrameLen, mss)
			}
		}
	}
	if !synSeen {
		t.Fatal("the connection's SYN was not sampled")
	}
	var spans [][2]uint64 // [start, end) relative to the first payload byte
	for _, r := range ranges {
		start := uint64(uint32(r[0]) - isn - 1)
		spans = append(spans, [2]uint64{start, start + r[1]})
	}
	slices.SortFunc(spans, func(a, b [2]uint64) int { return cmp.Compare(a[0], b[0]) })
	var covered uint64 // contiguous from 0
	for _, sp := range spans {
		if sp[0] > covered {
			t.Fatalf("payload bytes [%d, %d) never sampled", covered, sp[0])
		}
		covered = max(covered, sp[1])
	}
	if covered != total {
		t.Errorf("TCP payload covers [0, %d), want [0, %d) (%d bytes seen with retransmissions)", covered, total, payload)
	}
	t.Logf("vnet header: %v, %d GSO aggregates among samples, stats %+v", s.VNetHeader(), aggregates, s.Stats())
	if aggregates == 0 {
		t.Log("no GSO aggregate seen (offload disabled on this veth?)")
	}
}
