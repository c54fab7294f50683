package counters

import (
	"encoding/binary"
	"net"
	"strings"
	"testing"

	"github.com/hostflow/hostflow/agent/internal/nstest"
	"github.com/hostflow/hostflow/sflow"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

func TestLinksInNamespace(t *testing.T) {
	nstest.Require(t)
	a, b := nstest.New(t, "a"), nstest.New(t, "b")
	nstest.Veth(t, a, "va", []string{"198.18.0.1/24"}, b, "vb", []string{"198.18.0.2/24"})
	a.MustRun(t, "ip", "link", "set", "va", "alias", "uplink to b")
	a.MustRun(t, "ip", "tuntap", "add", "dev", "tun9", "mode", "tun")
	if err := a.Do(func() error {
		c, err := net.Dial("udp", "198.18.0.2:9")
		if err != nil {
			return err
		}
		defer c.Close()
		for i := 0; i < 3; i++ {
			_, _ = c.Write([]byte("x")) // port 9 answers unreachable: refused writes still left
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	nsh, err := netns.GetFromName(a.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer nsh.Close()
	h, err := netlink.NewHandleAt(nsh)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ls := NewLinks(h, "")
	links, err := ls.List()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Link{}
	for _, l := range links {
		byName[l.Name] = l
	}
	cases := []struct {
		name       string
		kind       sflow.IfKind
		sampleable bool
		ifType     uint32
	}{
		{"lo", sflow.IfKindLoopback, false, ifTypeLoopback},
		{"va", sflow.IfKindVeth, true, ifTypeEthernet},
		{"tun9", sflow.IfKindTun, false, ifTypeTunnel}, // down: not sampled
	}
	for _, c := range cases {
		l, ok := byName[c.name]
		if !ok {
			t.Fatalf("%s not listed: %v", c.name, links)
		}
		if l.Kind != c.kind || l.Sampleable() != c.sampleable || ifType(&l) != c.ifType {
			t.Errorf("%s: kind %v sampleable %v ifType %d, want %v %v %d", c.name, l.Kind, l.Sampleable(), ifType(&l), c.kind, c.sampleable, c.ifType)
		}
	}
	va := byName["va"]
	if va.Alias != "uplink to b" || !va.OperUp {
		t.Errorf("va alias %q oper up %v", va.Alias, va.OperUp)
	}
	pk := va.Stats.RxPackets + va.Stats.TxPackets
	if pk < 3 {
		t.Errorf("va rx + tx packets = %d, want ≥ 3 (3 datagrams sent)", pk)
	}
	// The cheap RTM_GETSTATS reader agrees (opened in the namespace).
	var st *Stats
	if err := a.Do(func() (err error) { st, err = NewStats(); return }); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if pk2, err := st.Packets(va.Index); err != nil || pk2 < pk {
		t.Errorf("Stats.Packets(va) = %d, %v; want ≥ %d", pk2, err, pk)
	}
	if _, err := st.Packets(9999); err == nil {
		t.Error("no error for a missing interface")
	}
	var cs sflow.CounterSample
	FillInterface(&cs, &va)
	if cs.Generic.Status != 3 || cs.Generic.OutUcastPkts < 3 || string(cs.PortName) != "va" ||
		cs.Interface.Kind != sflow.IfKindVeth || string(cs.Interface.Alias) != "uplink to b" || cs.Has&sflow.HasEthernet != 0 {
		t.Errorf("interface sample %+v", cs)
	}
}

// FuzzParseStats feeds arbitrary RTM_GETSTATS answers to the parser.
func FuzzParseStats(f *testing.F) {
	ok := make([]byte, 16+12+4+16)
	binary.NativeEndian.PutUint32(ok[0:], uint32(len(ok)))
	binary.NativeEndian.PutUint16(ok[4:], 92) // RTM_NEWSTATS
	binary.NativeEndian.PutUint16(ok[28:], 4+16)
	binary.NativeEndian.PutUint16(ok[30:], iflaStatsLink64)
	binary.NativeEndian.PutUint64(ok[32:], 5)
	binary.NativeEndian.PutUint64(ok[40:], 7)
	f.Add(ok)
	f.Add(make([]byte, 20))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 16 {
			return // Packets never passes less than a netlink header
		}
		if n, err := parseStats(b, 1); err == nil && len(b) < 48 {
			t.Fatalf("%d packets from a %d-byte answer", n, len(b))
		}
	})
}

func TestParseStats(t *testing.T) {
	ok := make([]byte, 16+12+4+16)
	binary.NativeEndian.PutUint32(ok[0:], uint32(len(ok)))
	binary.NativeEndian.PutUint16(ok[4:], 92)
	binary.NativeEndian.PutUint16(ok[28:], 4+16)
	binary.NativeEndian.PutUint16(ok[30:], iflaStatsLink64)
	binary.NativeEndian.PutUint64(ok[32:], 5)
	binary.NativeEndian.PutUint64(ok[40:], 7)
	if n, err := parseStats(ok, 1); err != nil || n != 12 {
		t.Errorf("got %d, %v; want 12", n, err)
	}
	errMsg := make([]byte, 20)
	binary.NativeEndian.PutUint16(errMsg[4:], 2)                   // NLMSG_ERROR
	binary.NativeEndian.PutUint32(errMsg[16:], uint32(0xffffffed)) // -ENODEV
	if _, err := parseStats(errMsg, 1); err == nil || !strings.Contains(err.Error(), "no such device") {
		t.Errorf("error answer: %v", err)
	}
}
