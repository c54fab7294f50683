package agent

import (
	"encoding/binary"
	"testing"

	"github.com/hostflow/hostflow/agent/sampler"
	"github.com/hostflow/hostflow/packet"
	"github.com/hostflow/hostflow/sflow"
)

// tcpSample is an outgoing Ethernet/IPv4/TCP sample of a 10-segment GSO
// aggregate.
func tcpSample() sampler.Sample {
	s := sampler.Sample{IfIndex: 2, Direction: sampler.Out, Link: sampler.LinkEthernet, Rate: 100,
		FrameLen: 14 + 20 + 32 + 10*1448, Segments: 10, HeadersLen: 66, HeaderLen: 128}
	h := s.Header[:]
	binary.BigEndian.PutUint16(h[12:], 0x0800)
	h[14], h[14+9] = 0x45, 6
	binary.BigEndian.PutUint16(h[14+2:], 20+32+10*1448)
	copy(h[14+12:], []byte{198, 18, 0, 1, 198, 18, 0, 2})
	binary.BigEndian.PutUint16(h[34:], 40000)
	binary.BigEndian.PutUint16(h[36:], 5201)
	h[34+12] = 8 << 4
	return s
}

func TestBuildFlowGSO(t *testing.T) {
	a := &Agent{}
	smp := tcpSample()
	var fs sflow.FlowSample
	var hdr packet.Header
	if !a.buildFlow(&smp, &fs, &hdr) {
		t.Fatal("not built")
	}
	// 10 segments: rate ×10, frame = average segment (66 + 1448) + FCS.
	if fs.SamplingRate != 1000 || fs.SampledHeader.FrameLength != 66+1448+4 || fs.SampledHeader.Stripped != 4 ||
		fs.Input != sflow.IfIndexInternal || fs.Output != 2 || hdr.DstPort != 5201 {
		t.Errorf("rate %d frame %d stripped %d in %#x out %d dport %d", fs.SamplingRate, fs.SampledHeader.FrameLength,
			fs.SampledHeader.Stripped, fs.Input, fs.Output, hdr.DstPort)
	}
	// A tun (IP) sample: header protocol from the first nibble, no FCS.
	ip := sampler.Sample{IfIndex: 5, Direction: sampler.In, Link: sampler.LinkIP, Rate: 10, FrameLen: 1280, Segments: 1, HeaderLen: 40}
	ip.Header[0] = 0x60
	if !a.buildFlow(&ip, &fs, &hdr) || fs.SampledHeader.Protocol != sflow.HeaderIPv6 || fs.SampledHeader.FrameLength != 1280 ||
		fs.SampledHeader.Stripped != 0 || fs.Input != 5 || fs.Output != sflow.IfIndexInternal || fs.SamplingRate != 10 {
		t.Errorf("tun sample: %+v", fs)
	}
	ip.Header[0] = 0x00
	if a.buildFlow(&ip, &fs, &hdr) {
		t.Error("non-IP sample on a tun device built")
	}
}

func BenchmarkBuildFlow(b *testing.B) {
	a := &Agent{}
	smp := tcpSample()
	var fs sflow.FlowSample
	var hdr packet.Header
	b.ReportAllocs()
	for b.Loop() {
		a.buildFlow(&smp, &fs, &hdr)
	}
}
