package decoder

import (
	"syscall"
	"testing"
	"time"

	"github.com/hostflow/hostflow/sflow"
)

// sfBenchDatagram is what a hostflow agent sends under load: a datagram of
// at most 1232 bytes (sflow.DefaultMaxDatagramSize, IPv6 in a 1280-MTU
// tunnel) full of expanded flow samples, each a 128-byte Ethernet/IPv4/TCP
// header plus the process record, from four different processes.
func sfBenchDatagram(t testing.TB) []byte {
	t.Helper()
	var out []byte
	p, err := sflow.NewPacker(sflow.PackerConfig{MaxSize: 1232, Enterprise: sflow.DefaultEnterprise}, sfAgent,
		func(d []byte) error {
			if out == nil {
				out = append([]byte{}, d...)
			}
			return nil
		}, func() uint32 { return 60000 })
	if err != nil {
		t.Fatal(err)
	}
	procs := []sflow.ProcessInfo{
		sfProcess(812, "nginx", "nginx.service"),
		sfProcess(1201, "postgres", "postgresql@15-main.service"),
		sfProcess(977, "sshd", "ssh.service"),
		sfProcess(4410, "node", "app-frontend.service"),
	}
	header := sfTCP4Frame()
	for i := 0; out == nil; i++ {
		s := sfHeaderSample(sflow.HeaderEthernet, 1518, 4, header)
		s.SequenceNumber = uint32(i)
		s.Has |= sflow.HasProcess
		s.Process = procs[i%len(procs)]
		if err := p.AddFlowSample(&s); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// BenchmarkSFlowDecode decodes a full datagram of flow samples into
// records; ns/flow is the cost per flow sample (sFlow decoding, header
// parsing and mapping). The wire sub-benchmark is the sflow package's
// decoding alone and mapping the rest, to tell the costs apart.
func BenchmarkSFlowDecode(b *testing.B) {
	payload := sfBenchDatagram(b)
	var dg sflow.Datagram
	var wire sflow.Decoder
	if err := wire.Decode(payload, &dg); err != nil {
		b.Fatal(err)
	}
	flows := float64(len(dg.FlowSamples))
	// On a shared machine wall-clock time includes waiting for a core;
	// cpu-ns/flow (process CPU time, getrusage) does not.
	var cpu0 time.Duration
	start := func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(payload)))
		cpu0 = sfProcessCPU()
	}
	report := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/flows, "ns/flow")
		b.ReportMetric(float64((sfProcessCPU()-cpu0).Nanoseconds())/float64(b.N)/flows, "cpu-ns/flow")
		b.ReportMetric(flows, "flows/datagram")
	}
	b.Run("records", func(b *testing.B) {
		d, _ := sfNew(b)
		var batch Batch
		p := Packet{Payload: payload, Source: sfSource, Received: sfNow}
		start(b)
		for b.Loop() {
			batch.Reset()
			if err := d.Decode(p, &batch); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
	b.Run("mapping", func(b *testing.B) {
		// The records path without the wire decoding: mapping the samples
		// of an already decoded datagram.
		d, _ := sfNew(b)
		var batch Batch
		if err := d.Decode(Packet{Payload: payload, Source: sfSource, Received: sfNow}, &batch); err != nil {
			b.Fatal(err)
		}
		start(b)
		for b.Loop() {
			batch.Reset()
			for i := range d.dg.FlowSamples {
				d.flowSample(&d.dg.FlowSamples[i], sfAgent, sfNow, &batch)
			}
			d.publish()
		}
		report(b)
	})
	b.Run("wire", func(b *testing.B) {
		start(b)
		for b.Loop() {
			if err := wire.Decode(payload, &dg); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
}

// sfProcessCPU is the CPU time (user + system) the test process has used.
func sfProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestSFlowDecodeDoesNotAllocate decodes the same datagram repeatedly: once
// the batch and the string table have grown, no allocation.
func TestSFlowDecodeDoesNotAllocate(t *testing.T) {
	d, _ := sfNew(t)
	payload := sfBenchDatagram(t)
	counters := sfEncode(t, sfCounterDatagram(
		sflow.CounterSample{Expanded: true, SourceIndex: 3, Has: sflow.HasGeneric | sflow.HasPortName | sflow.HasInterface,
			Generic: sfGeneric(3), PortName: []byte("eth0"),
			Interface: sflow.InterfaceInfo{IfIndex: 3, Kind: sflow.IfKindPhysical, Name: []byte("eth0"), Alias: []byte("uplink")}},
		sflow.CounterSample{Expanded: true, SourceType: sflow.SourcePhysical, SourceIndex: 1, Has: sflow.HasHostDescr,
			HostDescr: sflow.HostDescr{Hostname: []byte("web-1"), UUID: [16]byte{1}, OSRelease: []byte("6.1")}}))
	var b Batch
	run := func(p []byte) {
		b.Reset()
		if err := d.Decode(Packet{Payload: p, Source: sfSource, Received: sfNow}, &b); err != nil {
			t.Fatal(err)
		}
	}
	run(payload)
	run(counters)
	if n := testing.AllocsPerRun(100, func() { run(payload); run(counters) }); n != 0 {
		t.Errorf("%v allocations per decode, want 0", n)
	}
	if n := len(b.Interfaces) + len(b.Hosts); n != 2 {
		t.Errorf("%d counter records, want 2", n)
	}
}
