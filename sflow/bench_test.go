package sflow

import (
	"net/netip"
	"testing"
	"time"
)

// cpuMeter reports CPU nanoseconds per item besides wall-clock ns/op
// (the process is single-goroutine and allocation-free while measured, so
// process CPU time is the benchmark's).
type cpuMeter struct {
	start time.Duration
	ok    bool
}

func startCPU(b *testing.B) cpuMeter {
	b.ResetTimer()
	start, ok := processCPU()
	return cpuMeter{start, ok}
}

func (m cpuMeter) report(b *testing.B, perOp int, unit string) {
	end, ok := processCPU()
	if m.ok && ok {
		b.ReportMetric(float64((end-m.start).Nanoseconds())/float64(b.N*perOp), unit)
	}
}

// benchFlowSample is what the agent sends per sampled packet: an expanded
// flow sample with a 128-byte Ethernet/IPv4/TCP header and the process
// record.
func benchFlowSample() FlowSample {
	hdr := tcpPacket(netip.MustParseAddrPort("192.0.2.10:43210"), netip.MustParseAddrPort("198.51.100.20:443"), 1500)
	hdr = append(hdr, make([]byte, 128-len(hdr))...) // payload bytes
	return FlowSample{Expanded: true, SequenceNumber: 1, SourceIndex: 2, SamplingRate: 1000, SamplePool: 123456,
		Input: 2, Output: IfIndexInternal, Has: HasSampledHeader | HasProcess,
		SampledHeader: SampledHeader{Protocol: HeaderEthernet, FrameLength: 1518, Stripped: 4, Header: hdr},
		Process:       processRecord(),
	}
}

// benchDatagram is the first full 1232-byte-bound datagram of such samples.
func benchDatagram(b *testing.B) []byte {
	s := benchFlowSample()
	var out []byte
	p, err := NewPacker(DefaultPackerConfig(), agent6, func(d []byte) error {
		if out == nil {
			out = append([]byte(nil), d...)
		}
		return nil
	}, nil)
	if err != nil {
		b.Fatal(err)
	}
	for out == nil {
		if err := p.AddFlowSample(&s); err != nil {
			b.Fatal(err)
		}
	}
	return out
}

// BenchmarkDecode decodes a 1232-byte datagram of flow samples; ns/sample
// is the cost per flow sample (header bytes not parsed: that is the packet
// package's job).
func BenchmarkDecode(b *testing.B) {
	data := benchDatagram(b)
	var d Decoder
	var dg Datagram
	if err := d.Decode(data, &dg); err != nil {
		b.Fatal(err)
	}
	n := len(dg.FlowSamples)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	cpu := startCPU(b)
	for b.Loop() {
		if err := d.Decode(data, &dg); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report(b, n, "cpu-ns/sample")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/sample")
	b.ReportMetric(float64(n), "samples/datagram")
}

// BenchmarkDecodeCounters decodes a datagram holding a host counter sample
// (every host and MIB-2 record) and an interface counter sample.
func BenchmarkDecodeCounters(b *testing.B) {
	host := counterSampleAll(true)
	host.Unknown = nil
	iface := CounterSample{Expanded: true, Has: HasGeneric | HasEthernet | HasPortName | HasInterface,
		Generic: host.Generic, Ethernet: host.Ethernet, PortName: host.PortName, Interface: host.Interface}
	var e Encoder
	data, err := e.AppendDatagram(nil, &Datagram{AgentAddress: agent6, CounterSamples: []CounterSample{host, iface}})
	if err != nil {
		b.Fatal(err)
	}
	var d Decoder
	var dg Datagram
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	cpu := startCPU(b)
	for b.Loop() {
		if err := d.Decode(data, &dg); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report(b, 1, "cpu-ns/op")
}

// BenchmarkEncodeFlowSample encodes one agent flow sample.
func BenchmarkEncodeFlowSample(b *testing.B) {
	s := benchFlowSample()
	var e Encoder
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	cpu := startCPU(b)
	for b.Loop() {
		var err error
		if buf, err = e.AppendFlowSample(buf[:0], &s); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report(b, 1, "cpu-ns/sample")
}

// BenchmarkPackFlowSample packs agent flow samples into 1232-byte
// datagrams, emitting each full one (to a no-op).
func BenchmarkPackFlowSample(b *testing.B) {
	s := benchFlowSample()
	p, err := NewPacker(DefaultPackerConfig(), agent6, func([]byte) error { return nil }, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu := startCPU(b)
	for b.Loop() {
		if err := p.AddFlowSample(&s); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report(b, 1, "cpu-ns/sample")
}
