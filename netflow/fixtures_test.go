package netflow_test

import (
	"encoding/binary"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/hostflow/hostflow/decoder"
	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/internal/daemon"
	"github.com/hostflow/hostflow/netflow"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.txt and the fuzz seed corpus from the captures")

// readPcap returns the UDP datagrams of a capture made by regen.sh.
func readPcap(t testing.TB, path string) []decoder.Packet {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []decoder.Packet
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		p := gopacket.NewPacket(data, r.LinkType(), gopacket.Default)
		udp, _ := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if udp == nil || p.NetworkLayer() == nil {
			t.Fatalf("%s: packet %d is not UDP", path, len(out)+1)
		}
		src, _ := netip.AddrFromSlice(p.NetworkLayer().NetworkFlow().Src().Raw())
		out = append(out, decoder.Packet{
			Payload:  udp.Payload,
			Source:   netip.AddrPortFrom(src, uint16(udp.SrcPort)),
			Received: uint32(ci.Timestamp.Unix()),
		})
	}
	if len(out) == 0 {
		t.Fatalf("%s: no packets", path)
	}
	return out
}

func captures(t testing.TB) []string {
	files, _ := filepath.Glob("testdata/*.pcap")
	if len(files) == 0 {
		t.Fatal("no captures in testdata (run testdata/regen.sh as root)")
	}
	return files
}

func describe(f *flow.Record) string {
	return fmt.Sprintf("t=%d rate=%d exp=%s %s:%d>%s:%d proto=%d etype=%#x bytes=%d pkts=%d tos=%d flags=%#x if=%d/%d dir=%d icmp=%d/%d ttl=%d",
		f.TimeReceived, f.SamplingRate, f.ExporterAddress, f.SrcAddr, f.SrcPort, f.DstAddr, f.DstPort, f.Proto, f.EType,
		f.Bytes, f.Packets, f.IPTos, f.TCPFlags, f.InIf, f.OutIf, f.FlowDirection, f.ICMPType, f.ICMPCode, f.IPTTL)
}

// TestFixtures decodes the captures of real exporters (softflowd and
// pmacctd, see regen.sh) and compares every flow with the golden files.
func TestFixtures(t *testing.T) {
	for _, path := range captures(t) {
		name := strings.TrimSuffix(filepath.Base(path), ".pcap")
		t.Run(name, func(t *testing.T) {
			d, err := decoder.NewNetFlow(decoder.DefaultNetFlowConfig(), testReporter())
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			var b decoder.Batch
			for i, p := range readPcap(t, path) {
				b.Reset()
				if err := d.Decode(p, &b); err != nil {
					t.Errorf("datagram %d: %v", i+1, err)
				}
				for j := range b.Flows {
					lines = append(lines, describe(&b.Flows[j]))
				}
			}
			got := strings.Join(lines, "\n") + "\n"
			golden := filepath.Join("testdata", "golden", name+".txt")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if diff := cmp.Diff(got, string(want)); diff != "" {
				t.Errorf("flows (-got +want):\n%s", diff)
			}
		})
	}
}

// TestFuzzSeeds writes each capture, as one length-prefixed sequence of
// datagrams, into the corpus of the fuzz target for its version.
func TestFuzzSeeds(t *testing.T) {
	if !*update {
		t.Skip("writes the fuzz seed corpus; run with -update")
	}
	for _, path := range captures(t) {
		pkts := readPcap(t, path)
		target := map[uint16]string{5: "FuzzNetFlowV5", 9: "FuzzNetFlowV9", 10: "FuzzIPFIX"}[binary.BigEndian.Uint16(pkts[0].Payload)]
		var seq []byte
		for _, p := range pkts {
			seq = binary.BigEndian.AppendUint16(seq, uint16(len(p.Payload)))
			seq = append(seq, p.Payload...)
		}
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", seq)
		name := filepath.Join(dir, strings.TrimSuffix(filepath.Base(path), ".pcap"))
		if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// fuzzSequence feeds data, a sequence of 2-byte-length-prefixed datagrams
// whose version field is forced to version, to one decoder.NetFlow (so
// template state carries across datagrams, and the mapping runs too), then
// to the library alone with a handler reading every value. Nothing may
// panic; every flow must have a sampling rate and its exporter.
func fuzzSequence(version uint16) func(*testing.T, []byte) {
	return func(t *testing.T, data []byte) {
		var pkts [][]byte
		for len(data) >= 2 && len(pkts) < 64 {
			n := min(int(binary.BigEndian.Uint16(data)), len(data)-2)
			p := data[2 : 2+n]
			if len(p) >= 2 {
				binary.BigEndian.PutUint16(p, version)
			}
			pkts, data = append(pkts, p), data[2+n:]
		}
		cfg := decoder.DefaultNetFlowConfig()
		cfg.MaxTemplates, cfg.MaxRecordSize = 16, 2048
		d, err := decoder.NewNetFlow(cfg, testReporter())
		if err != nil {
			t.Fatal(err)
		}
		lib, _ := netflow.New(cfg.Config)
		var b decoder.Batch
		src := netip.MustParseAddrPort("192.0.2.1:2055")
		for i, p := range pkts {
			b.Reset()
			// Time moves so that held data expires within a sequence.
			now := 1000 + 3*uint32(i)
			_ = d.Decode(decoder.Packet{Payload: p, Source: src, Received: now}, &b)
			for j := range b.Flows {
				if f := &b.Flows[j]; f.SamplingRate == 0 || f.ExporterAddress != src.Addr() {
					t.Fatalf("flow with rate %d exporter %s", f.SamplingRate, f.ExporterAddress)
				}
			}
			_ = lib.Decode(src.Addr(), p, now, readAll{})
		}
	}
}

type readAll struct{}

func (readAll) Flow(f *netflow.Flow) {
	f.Times()
	for i := range f.Fields {
		v := &f.Fields[i]
		_, _, _ = v.Uint(), v.Addr(), v.MAC()
	}
}
func (readAll) Lost(netip.Addr, uint16, uint64) {}

func FuzzNetFlowV5(f *testing.F) { f.Fuzz(fuzzSequence(5)) }
func FuzzNetFlowV9(f *testing.F) { f.Fuzz(fuzzSequence(9)) }
func FuzzIPFIX(f *testing.F)     { f.Fuzz(fuzzSequence(10)) }

func testReporter() *daemon.Reporter {
	return daemon.NewReporter(slog.New(slog.DiscardHandler), nil)
}
