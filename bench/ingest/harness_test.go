package main

import (
	"encoding/binary"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hostflow/hostflow/sflow"
)

// sflowDatagrams packs flows flow samples and one counter sample.
func sflowDatagrams(t *testing.T, flows int) [][]byte {
	t.Helper()
	var out [][]byte
	p, err := sflow.NewPacker(sflow.DefaultPackerConfig(), netip.MustParseAddr("192.0.2.1"),
		func(d []byte) error { out = append(out, append([]byte(nil), d...)); return nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]byte, 64)
	copy(frame[12:], []byte{0x08, 0x00, 0x45, 0, 0, 50, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 10, 198, 51, 100, 1, 0x30, 0x39, 0, 53})
	for i := range flows {
		s := sflow.FlowSample{Expanded: true, SequenceNumber: uint32(i + 1), SourceIndex: 2, SamplingRate: 1000,
			Input: 2, Output: sflow.IfIndexInternal, Has: sflow.HasSampledHeader,
			SampledHeader: sflow.SampledHeader{Protocol: sflow.HeaderEthernet, FrameLength: 68, Stripped: 4, Header: frame}}
		if err := p.AddFlowSample(&s); err != nil {
			t.Fatal(err)
		}
	}
	c := sflow.CounterSample{Expanded: true, SequenceNumber: 1, SourceIndex: 2, Has: sflow.HasGeneric,
		Generic: sflow.GenericInterface{Index: 2, Type: 6}}
	if err := p.AddCounterSample(&c); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	return out
}

// netflowPackets is a NetFlow v9 template packet and a data packet of
// records flows (IPv4 source and destination, 8 bytes each).
func netflowPackets(records int) [][]byte {
	header := func(count, seq uint32) []byte {
		b := binary.BigEndian.AppendUint16(nil, 9)
		b = binary.BigEndian.AppendUint16(b, uint16(count))
		for _, v := range []uint32{1000, 1_700_000_000, seq, 1} {
			b = binary.BigEndian.AppendUint32(b, v)
		}
		return b
	}
	tmpl := append(header(1, 1), 0, 0, 0, 16, 1, 0, 0, 2, 0, 8, 0, 4, 0, 12, 0, 4)
	data := append(header(uint32(records), 2), 1, 0)
	data = binary.BigEndian.AppendUint16(data, uint16(4+8*records))
	for i := range records {
		data = append(data, 10, 0, 0, byte(i), 10, 0, 1, byte(i))
	}
	return [][]byte{tmpl, data}
}

func send(t *testing.T, to netip.AddrPort, datagrams [][]byte) {
	t.Helper()
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(to))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, d := range datagrams {
		if _, err := c.Write(d); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHarness sends known datagrams through the real inlet, decoders and
// pipeline: the harness must count every record, and a bad datagram as a
// decode error.
func TestHarness(t *testing.T) {
	for _, enrich := range []bool{false, true} {
		name := "decode-only"
		if enrich {
			name = "with enricher"
		}
		t.Run(name, func(t *testing.T) {
			h, err := newHarness(harnessConfig{SFlow: "127.0.0.1:0", NetFlow: "127.0.0.1:0", Sockets: 1, Enrich: enrich},
				slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			if err := h.start(t.Context()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = h.stop() })
			if got := h.protos; !cmp.Equal(got, []string{"sflow", "netflow"}) {
				t.Fatalf("listeners %v", got)
			}
			addrs := h.addrs()
			send(t, addrs[0], sflowDatagrams(t, 3))
			send(t, addrs[0], [][]byte{{0, 0, 0, 4, 0, 0, 0, 1}}) // sFlow version 4
			send(t, addrs[1], netflowPackets(5))
			want := stats{flows: 8, interfaces: 1, decodeErrors: 1}
			var got stats
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				if got, err = h.stats(); err != nil {
					t.Fatal(err)
				}
				if got == want {
					break
				}
			}
			if diff := cmp.Diff(got, want, cmp.AllowUnexported(stats{})); diff != "" {
				t.Errorf("stats (-got +want):\n%s", diff)
			}
		})
	}
}

func TestHarnessNeedsAListener(t *testing.T) {
	if _, err := newHarness(harnessConfig{Sockets: 1}, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("a harness without listeners was built")
	}
}
