package sampler

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"golang.org/x/net/bpf"
)

// udpPacket builds a minimal Ethernet (or bare IP) frame carrying UDP to dst.
func udpPacket(link LinkType, dst netip.AddrPort, fragOff uint16) []byte {
	var b []byte
	if link == LinkEthernet {
		b = make([]byte, 14)
		if dst.Addr().Is4() {
			binary.BigEndian.PutUint16(b[12:], 0x0800)
		} else {
			binary.BigEndian.PutUint16(b[12:], 0x86dd)
		}
	}
	if dst.Addr().Is4() {
		ip := make([]byte, 20)
		ip[0], ip[9] = 0x45, 17
		binary.BigEndian.PutUint16(ip[6:], fragOff)
		a := dst.Addr().As4()
		copy(ip[16:], a[:])
		b = append(b, ip...)
	} else {
		ip := make([]byte, 40)
		ip[0], ip[6] = 0x60, 17
		a := dst.Addr().As16()
		copy(ip[24:], a[:])
		b = append(b, ip...)
	}
	udp := make([]byte, 8)
	binary.BigEndian.PutUint16(udp[0:], 40000)
	binary.BigEndian.PutUint16(udp[2:], dst.Port())
	return append(append(b, udp...), make([]byte, 32)...)
}

func TestFilterExclusion(t *testing.T) {
	excl := []netip.AddrPort{
		netip.MustParseAddrPort("192.0.2.1:6343"),
		netip.MustParseAddrPort("192.0.2.2:9999"),
		netip.MustParseAddrPort("[2001:db8::1]:6343"),
	}
	cases := []struct {
		name string
		dst  string
		frag uint16
		keep bool
	}{
		{"collector v4", "192.0.2.1:6343", 0, false},
		{"second collector v4", "192.0.2.2:9999", 0, false},
		{"collector v6", "[2001:db8::1]:6343", 0, false},
		{"other port", "192.0.2.1:6344", 0, true},
		{"port of another collector", "192.0.2.1:9999", 0, true},
		{"other address", "192.0.2.3:6343", 0, true},
		{"other v6 address", "[2001:db8::2]:6343", 0, true},
		{"v4 non-first fragment", "192.0.2.1:6343", 100, true},
	}
	for _, link := range []LinkType{LinkEthernet, LinkIP} {
		prog, err := Filter(link, 1, 128, excl)
		if err != nil {
			t.Fatal(err)
		}
		insns := make([]bpf.Instruction, len(prog))
		for i, r := range prog {
			insns[i] = r.Disassemble()
		}
		vm, err := bpf.NewVM(insns)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			pkt := udpPacket(link, netip.MustParseAddrPort(c.dst), c.frag)
			n, err := vm.Run(pkt)
			if err != nil {
				t.Fatal(err)
			}
			if got := n > 0; got != c.keep {
				t.Errorf("link %d %s: kept=%v, want %v", link, c.name, got, c.keep)
			}
			if c.keep && n != 128 {
				t.Errorf("link %d %s: snap %d, want 128", link, c.name, n)
			}
		}
	}
}

func TestFilterRandomPrologue(t *testing.T) {
	prog, err := Filter(LinkEthernet, 400, 128, nil)
	if err != nil {
		t.Fatal(err)
	}
	// hsflowd's program: ld rand; mod #N; jeq → ret snap / ret 0.
	want := []bpf.RawInstruction{
		{Op: 0x20, K: 0xfffff038},
		{Op: 0x94, K: 400},
		{Op: 0x15, Jt: 0, Jf: 1, K: 0},
		{Op: 0x06, K: 128},
		{Op: 0x06, K: 0},
	}
	if len(prog) != len(want) {
		t.Fatalf("got %d instructions, want %d: %v", len(prog), len(want), prog)
	}
	for i := range want {
		if prog[i] != want[i] {
			t.Errorf("insn %d: got %+v, want %+v", i, prog[i], want[i])
		}
	}
	if _, err := Filter(LinkEthernet, 0, 128, nil); err == nil {
		t.Error("rate 0 accepted")
	}
}

func TestSegments(t *testing.T) {
	cases := []struct {
		name          string
		frame         uint32
		hdrs          int
		gso           uint16
		mtu, l2, want uint32
	}{
		{"plain", 1514, 54, 0, 1500, 14, 1},
		{"gso size given", 74 + 20*1448, 74, 1448, 1500, 14, 20},
		{"gso partial last", 74 + 20*1448 + 10, 74, 1448, 1500, 14, 21},
		{"no gso info, above MTU", 20 + 20 + 10*1460, 40, 0, 1500, 0, 10},
		{"unparsed headers", 64000, 0, 1448, 1500, 14, 1},
	}
	for _, c := range cases {
		if got := segments(c.frame, c.hdrs, c.gso, c.mtu, c.l2); got != c.want {
			t.Errorf("%s: got %d, want %d", c.name, got, c.want)
		}
	}
}

func FuzzHeadersLen(f *testing.F) {
	f.Add(udpPacket(LinkEthernet, netip.MustParseAddrPort("192.0.2.1:1"), 0), uint8(0))
	f.Add(udpPacket(LinkIP, netip.MustParseAddrPort("[2001:db8::1]:1"), 0), uint8(1))
	f.Fuzz(func(t *testing.T, b []byte, link uint8) {
		n := headersLen(LinkType(link%2), b)
		if n < 0 || n > len(b)+60 {
			t.Fatalf("headersLen %d for %d bytes", n, len(b))
		}
	})
}
