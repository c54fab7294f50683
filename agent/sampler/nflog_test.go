package sampler

import (
	"context"
	"net/netip"
	"os/exec"
	"testing"
	"time"
)

func TestNFLOG(t *testing.T) {
	p := newPair(t)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nft (nftables)")
	}
	for _, rule := range [][]string{
		{"add", "table", "inet", "hf"},
		{"add", "chain", "inet", "hf", "out", "{ type filter hook output priority 0; }"},
		{"add", "rule", "inet", "hf", "out", "udp", "dport", "6000", "log", "group", "7", "snaplen", "128"},
		{"add", "chain", "inet", "hf", "in", "{ type filter hook input priority 0; }"},
		{"add", "rule", "inet", "hf", "in", "udp", "sport", "6000", "log", "group", "7", "snaplen", "128"},
	} {
		p.a.MustRun(t, "nft", rule...)
	}
	c := &collector{}
	src, err := NewNFLOG(NFLOGConfig{Group: 7, Rate: 400, SnapLen: 128}, c.handle)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.a.Do(func() error { return src.Start(context.Background()) }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = src.Stop() })
	send, recv := p.udp(t, netip.MustParseAddrPort("198.18.0.2:6000"))
	buf := make([]byte, 2000)
	for i := 0; i < 20; i++ {
		if _, err := send.Write(make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
		_ = recv.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, from, err := recv.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := recv.WriteToUDPAddrPort(buf[:n], from); err != nil {
			t.Fatal(err)
		}
	}
	samples := waitSamples(c, 40, 3*time.Second)
	var in, out int
	for i, s := range samples {
		if s.IfIndex != uint32(p.vaIdx) || s.Link != LinkIP || s.Rate != 400 || s.FrameLen != 20+8+100 {
			t.Errorf("sample %d: ifindex %d link %d rate %d frame %d", i, s.IfIndex, s.Link, s.Rate, s.FrameLen)
		}
		if s.Pool != uint32(400*(i+1)) {
			t.Errorf("sample %d: pool %d, want %d (rate per sample)", i, s.Pool, 400*(i+1))
		}
		if s.Direction == Out {
			out++
		} else {
			in++
		}
	}
	if in != 20 || out != 20 {
		t.Errorf("%d in and %d out samples, want 20 and 20", in, out)
	}
}
