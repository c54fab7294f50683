package main

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/hostflow/hostflow/decoder"
	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/internal/daemon"
	"github.com/hostflow/hostflow/packet"
	"github.com/hostflow/hostflow/sflow"
)

var (
	equateAddr = cmpopts.EquateComparable(netip.Addr{})
	exporter   = netip.MustParseAddrPort("127.0.0.2:40000")
)

func testReporter() *daemon.Reporter { return daemon.NewReporter(slog.New(slog.DiscardHandler), nil) }

func TestAppendFrame(t *testing.T) {
	tcp4 := flowSpec{src: netip.MustParseAddr("10.20.0.1"), dst: netip.MustParseAddr("198.51.100.7"), sport: 443, dport: 50000,
		proto: 6, tos: 0x28, ttl: 63, tcpFlags: 0x18, ipID: 0x1234, frameLen: 1518}
	udp6 := flowSpec{src: netip.MustParseAddr("2001:db8::1"), dst: netip.MustParseAddr("2001:db8:20::5"), sport: 53, dport: 40000,
		proto: 17, tos: 0xb8, ttl: 64, frameLen: 90, flowLabel: 0xabcde}
	small4 := tcp4
	small4.frameLen = 64
	cases := []struct {
		name    string
		f       flowSpec
		wantLen int
		want    packet.Header
	}{
		{"tcp4 full size", tcp4, maxHeader, packet.Header{EType: 0x0800, SrcAddr: tcp4.src, DstAddr: tcp4.dst, Proto: 6, TOS: 0x28, TTL: 63,
			IPLength: 1500, FragID: 0x1234, DontFragment: true, SrcPort: 443, DstPort: 50000, TCPFlags: 0x18}},
		{"tcp4 minimum frame", small4, 60, packet.Header{EType: 0x0800, SrcAddr: tcp4.src, DstAddr: tcp4.dst, Proto: 6, TOS: 0x28, TTL: 63,
			IPLength: 46, FragID: 0x1234, DontFragment: true, SrcPort: 443, DstPort: 50000, TCPFlags: 0x18}},
		{"udp6 short frame", udp6, 86, packet.Header{EType: 0x86dd, SrcAddr: udp6.src, DstAddr: udp6.dst, Proto: 17, TOS: 0xb8, TTL: 64,
			IPLength: 72, FlowLabel: 0xabcde, SrcPort: 53, DstPort: 40000}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := appendFrame(nil, &c.f, 0x020000000001, 0x020000000002)
			if len(b) != c.wantLen {
				t.Errorf("header is %d bytes, want %d", len(b), c.wantLen)
			}
			var h packet.Header
			if err := packet.Parse(packet.LinkEthernet, b, &h); err != nil {
				t.Fatal(err)
			}
			c.want.SrcMAC, c.want.DstMAC = 0x020000000001, 0x020000000002
			ignore := cmpopts.IgnoreFields(packet.Header{}, "Layers", "L3Offset", "L4Offset")
			if d := cmp.Diff(h, c.want, equateAddr, ignore); d != "" {
				t.Errorf("parsed header (-got +want):\n%s", d)
			}
			if c.f.src.Is4() {
				if sum := ipChecksum(b[14:34]); sum != 0 {
					t.Errorf("IPv4 header checksum does not verify (%#04x)", sum)
				}
			}
		})
	}
}

// TestSFlowPool decodes every pre-built datagram with hostflow's decoder:
// the counts the generator reports must be what a collector decodes.
func TestSFlowPool(t *testing.T) {
	cases := []struct {
		name         string
		processShare float64
		ipv6Share    float64
	}{
		{"no process records, IPv4", 0, 0},
		{"half with process records", 0.5, 0.3},
		{"all with process records, IPv6", 1, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			const sockets, size = 3, 600
			p, err := buildSFlow(7, sockets, size, sflowOptions{agents: 6, processShare: c.processShare, counterEvery: 20,
				maxSize: 1232, ipv6Share: c.ipv6Share, hosts: 16})
			if err != nil {
				t.Fatal(err)
			}
			d, err := decoder.NewSFlow(decoder.DefaultSFlowConfig(), testReporter())
			if err != nil {
				t.Fatal(err)
			}
			var total, withProcess, v6, ifaces, hosts int
			agents := map[netip.Addr]int{} // agent -> socket
			for s, ds := range p.perSocket {
				for _, dg := range ds {
					if len(dg.b) > 1232 {
						t.Fatalf("datagram of %d bytes", len(dg.b))
					}
					var b decoder.Batch
					if err := d.Decode(decoder.Packet{Payload: dg.b, Source: exporter, Received: 1}, &b); err != nil {
						t.Fatal(err)
					}
					if len(b.Flows) != dg.flows || len(b.Interfaces)+len(b.Hosts) != dg.counters {
						t.Fatalf("decoded %d flows and %d counter records, the pool says %d and %d",
							len(b.Flows), len(b.Interfaces)+len(b.Hosts), dg.flows, dg.counters)
					}
					for i := range b.Flows {
						r := &b.Flows[i]
						if prev, ok := agents[r.ExporterAddress]; ok && prev != s {
							t.Fatalf("agent %s on sockets %d and %d", r.ExporterAddress, prev, s)
						}
						agents[r.ExporterAddress] = s
						if !r.SrcAddr.IsValid() || !r.DstAddr.IsValid() || r.SrcPort == 0 || r.DstPort == 0 ||
							(r.Proto != 6 && r.Proto != 17) || r.Packets != 1 || r.Bytes < 40 {
							t.Fatalf("implausible flow %+v", r)
						}
						if r.EType == 0x86dd {
							v6++
						}
						if r.ProcessName != "" {
							withProcess++
						}
					}
					total += len(b.Flows)
					ifaces += len(b.Interfaces)
					hosts += len(b.Hosts)
				}
			}
			if got := len(p.perSocket[0]) + len(p.perSocket[1]) + len(p.perSocket[2]); got < size {
				t.Errorf("%d datagrams, want at least %d", got, size)
			}
			if len(agents) != 6 {
				t.Errorf("%d agents, want 6", len(agents))
			}
			if ifaces == 0 || hosts == 0 {
				t.Errorf("%d interface and %d host counter records, want some of each", ifaces, hosts)
			}
			share := func(n int) float64 { return float64(n) / float64(total) }
			if s := share(withProcess); s < c.processShare-0.05 || s > c.processShare+0.05 {
				t.Errorf("%.2f of the flows have a process, want %.2f", s, c.processShare)
			}
			if s := share(v6); s < c.ipv6Share-0.05 || s > c.ipv6Share+0.05 {
				t.Errorf("%.2f of the flows are IPv6, want %.2f", s, c.ipv6Share)
			}
		})
	}
}

func TestNetFlowRecords(t *testing.T) {
	f4 := flowSpec{src: netip.MustParseAddr("10.20.0.1"), dst: netip.MustParseAddr("198.51.100.7"), sport: 443, dport: 50000,
		proto: 6, tos: 0x28, tcpFlags: 0x1b, bytes: 150000, packets: 100, inIf: 3, outIf: 7, srcMask: 24, dstMask: 16,
		nextHop: netip.MustParseAddr("192.0.2.1"), first: 1000, last: 5000}
	f6 := flowSpec{src: netip.MustParseAddr("2001:db8::1"), dst: netip.MustParseAddr("2001:db8:20::5"), sport: 53, dport: 40000,
		proto: 17, tos: 0xb8, bytes: 900, packets: 9, inIf: 1, outIf: 2, srcMask: 48, dstMask: 32, flowLabel: 0xabcde,
		first: 2000, last: 2500}
	b := appendV9TemplateSet(appendV9Header(nil, 2, 10_000, 1_700_000_000, 1, 7), v9IPv4, v9IPv6)
	data := appendV9Header(nil, 3, 10_000, 1_700_000_000, 2, 7)
	data, err := appendV9DataSet(data, v9IPv4, []flowSpec{f4, f4})
	if err != nil {
		t.Fatal(err)
	}
	if data, err = appendV9DataSet(data, v9IPv6, []flowSpec{f6}); err != nil {
		t.Fatal(err)
	}
	if len(data)%4 != 0 {
		t.Errorf("packet of %d bytes: sets not padded", len(data))
	}
	d, err := decoder.NewNetFlow(decoder.DefaultNetFlowConfig(), testReporter())
	if err != nil {
		t.Fatal(err)
	}
	var batch decoder.Batch
	for _, p := range [][]byte{b, data} {
		if err := d.Decode(decoder.Packet{Payload: p, Source: exporter, Received: 1_700_000_001}, &batch); err != nil {
			t.Fatal(err)
		}
	}
	base := flow.Record{TimeReceived: 1_700_000_001, ExporterAddress: exporter.Addr(), SamplingRate: 1}
	r4 := base
	r4.SrcAddr, r4.DstAddr, r4.SrcPort, r4.DstPort, r4.Proto, r4.IPTos, r4.TCPFlags = f4.src, f4.dst, 443, 50000, 6, 0x28, 0x1b
	r4.Bytes, r4.Packets, r4.InIf, r4.OutIf, r4.SrcNetMask, r4.DstNetMask, r4.NextHop = 150000, 100, 3, 7, 24, 16, f4.nextHop
	r4.EType = 0x0800
	r6 := base
	r6.SrcAddr, r6.DstAddr, r6.SrcPort, r6.DstPort, r6.Proto, r6.IPTos = f6.src, f6.dst, 53, 40000, 17, 0xb8
	r6.Bytes, r6.Packets, r6.InIf, r6.OutIf, r6.SrcNetMask, r6.DstNetMask, r6.IPv6FlowLabel = 900, 9, 1, 2, 48, 32, 0xabcde
	r6.EType = 0x86dd
	if diff := cmp.Diff(batch.Flows, []flow.Record{r4, r4, r6}, equateAddr); diff != "" {
		t.Errorf("decoded records (-got +want):\n%s", diff)
	}
}

// TestNetFlowPool decodes every pre-built packet after the templates.
func TestNetFlowPool(t *testing.T) {
	const sockets, size = 2, 200
	p, err := buildNetFlow(3, sockets, size, netflowOptions{exporters: 4, maxSize: 1400, ipv6Share: 0.3, hosts: 16})
	if err != nil {
		t.Fatal(err)
	}
	d, err := decoder.NewNetFlow(decoder.DefaultNetFlowConfig(), testReporter())
	if err != nil {
		t.Fatal(err)
	}
	// Each socket is its own exporter address, as when sent.
	for s := range sockets {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, byte(2 + s)}), 40000)
		if len(p.templates[s]) != 2 {
			t.Fatalf("socket %d: %d template packets, want 2 (one per exporter)", s, len(p.templates[s]))
		}
		var b decoder.Batch
		for _, tp := range p.templates[s] {
			if err := d.Decode(decoder.Packet{Payload: tp.b, Source: src, Received: 1}, &b); err != nil {
				t.Fatal(err)
			}
		}
		for _, dg := range p.perSocket[s] {
			if len(dg.b) > 1400 {
				t.Fatalf("packet of %d bytes", len(dg.b))
			}
			b.Reset()
			if err := d.Decode(decoder.Packet{Payload: dg.b, Source: src, Received: 1}, &b); err != nil {
				t.Fatal(err)
			}
			var pkts uint64
			for i := range b.Flows {
				pkts += b.Flows[i].Packets
			}
			if len(b.Flows) != dg.flows || pkts != dg.packets {
				t.Fatalf("decoded %d flows of %d packets, the pool says %d of %d", len(b.Flows), pkts, dg.flows, dg.packets)
			}
			if dg.flows < 20 || dg.flows > 32 {
				t.Errorf("%d flows in a packet, want about 25-30", dg.flows)
			}
		}
	}
	if n := len(p.perSocket[0]) + len(p.perSocket[1]); n < size {
		t.Errorf("%d packets, want at least %d", n, size)
	}
}

// receiver counts datagrams arriving on a loopback socket and checks that
// each stream's sequence numbers are consecutive.
type receiver struct {
	conn      *net.UDPConn
	mu        sync.Mutex
	datagrams int
	gaps      int
	last      map[string]uint32
	wg        sync.WaitGroup
}

func newReceiver(t *testing.T, proto string) *receiver {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadBuffer(8 << 20)
	r := &receiver{conn: c, last: map[string]uint32{}}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		buf := make([]byte, 9000)
		var dec sflow.Decoder
		var dg sflow.Datagram
		for {
			n, src, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			var key string
			var seq uint32
			if proto == protoSFlow {
				if err := dec.Decode(buf[:n], &dg); err != nil {
					t.Errorf("received an undecodable datagram: %v", err)
					continue
				}
				key, seq = fmt.Sprint(dg.AgentAddress, "/", dg.SubAgentID), dg.SequenceNumber
			} else {
				key = fmt.Sprint(src.Addr(), "/", binary.BigEndian.Uint32(buf[16:]))
				seq = binary.BigEndian.Uint32(buf[12:])
			}
			r.mu.Lock()
			if prev, ok := r.last[key]; ok && seq != prev+1 {
				r.gaps++
			}
			r.last[key] = seq
			r.datagrams++
			r.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.Close(); r.wg.Wait() })
	return r
}

func (r *receiver) count() (int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.datagrams, r.gaps
}

// TestPacedSend sends over loopback for a short while: everything the
// generator reports must arrive, sequence numbers must be consecutive per
// stream, and the offered rate must not exceed the target.
func TestPacedSend(t *testing.T) {
	for _, proto := range []string{protoSFlow, protoNetFlow} {
		t.Run(proto, func(t *testing.T) {
			r := newReceiver(t, proto)
			o, err := parseFlags([]string{"-proto", proto, "-dst", r.conn.LocalAddr().String(), "-rate", "40000",
				"-duration", "400ms", "-sockets", "2", "-streams", "4", "-pool", "256", "-template-interval", "100ms"})
			if err != nil {
				t.Fatal(err)
			}
			p, err := o.build()
			if err != nil {
				t.Fatal(err)
			}
			pc := &pacer{rate: o.rate, duration: o.duration, templateEvery: o.templateEvery, batch: 8}
			for i := range o.sockets {
				s, err := openSender(netip.AddrPortFrom(sourceAddr(o.src, i), 0), o.dst, o.batch)
				if err != nil {
					t.Fatal(err)
				}
				defer s.close()
				s.datagrams, s.templates = p.perSocket[i], p.templates[i]
				pc.senders = append(pc.senders, s)
			}
			c, elapsed := pc.run()
			if c.errors != 0 {
				t.Fatalf("%d send errors: %v", c.errors, c.lastError)
			}
			want := c.datagrams + c.templates
			deadline := time.Now().Add(5 * time.Second)
			got, gaps := r.count()
			for got < want && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
				got, gaps = r.count()
			}
			if got != want || gaps != 0 {
				t.Errorf("received %d datagrams with %d sequence gaps, sent %d", got, gaps, want)
			}
			// Pacing may fall behind on a busy machine, never ahead: at most
			// one batch over the target.
			if limit := o.rate*elapsed.Seconds() + 8*32; float64(c.flows) > limit {
				t.Errorf("sent %d flows in %s, more than the %.0f the rate allows", c.flows, elapsed, limit)
			}
			if proto == protoNetFlow && c.templates < 4*4 {
				t.Errorf("%d template packets, want one per exporter at start and every 100ms", c.templates)
			}
		})
	}
}

func TestFlags(t *testing.T) {
	bad := [][]string{
		{"-proto", "ipfix"},
		{"-duration", "11m"},
		{"-rate", "-1"},
		{"-dst", "[::1]:6343", "-src", "127.0.0.2"},
		{"-sockets", "4", "-streams", "2"},
		{"-pool", "10"},
	}
	for _, args := range bad {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("%q: accepted", args)
		}
	}
	o, err := parseFlags([]string{"-proto", "netflow"})
	if err != nil {
		t.Fatal(err)
	}
	if o.maxSize != 1400 || o.src != netip.MustParseAddr("127.0.0.2") {
		t.Errorf("netflow defaults: max size %d, source %s", o.maxSize, o.src)
	}
}
