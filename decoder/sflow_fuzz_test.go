package decoder

import (
	"testing"

	"github.com/hostflow/hostflow/flow"
)

// FuzzSFlowDecode runs arbitrary datagrams through the whole path (sFlow
// decoding, header parsing, mapping, sequence tracking). Records must stay
// consistent whatever the input; errors are fine, panics are not. A second
// decoder, its process cache emptied before each datagram, must give the
// same records: what the cache remembers never changes a record.
func FuzzSFlowDecode(f *testing.F) {
	for _, dg := range sfGoldenDatagrams() {
		f.Add(sfEncode(f, dg))
	}
	f.Add(sfBenchDatagram(f))
	for i, p := range sfReadCapture(f, sfPmacctCapture) {
		if i%8 == 0 {
			f.Add(p.Payload)
		}
	}
	d, _ := sfNew(f)
	cold, _ := sfNew(f)
	var b, coldBatch Batch
	f.Fuzz(func(t *testing.T, payload []byte) {
		b.Reset()
		_ = d.Decode(Packet{Payload: payload, Source: sfSource, Received: sfNow}, &b)
		coldBatch.Reset()
		cold.procs = procCache{}
		_ = cold.Decode(Packet{Payload: payload, Source: sfSource, Received: sfNow}, &coldBatch)
		if len(coldBatch.Flows) != len(b.Flows) {
			t.Fatalf("%d flows, %d without the process cache", len(b.Flows), len(coldBatch.Flows))
		}
		for i := range b.Flows {
			if b.Flows[i] != coldBatch.Flows[i] {
				t.Fatalf("flow %d differs without the process cache:\n%+v\n%+v", i, b.Flows[i], coldBatch.Flows[i])
			}
		}
		for i := range b.Flows {
			r := &b.Flows[i]
			if r.Packets != 1 || r.SamplingRate == 0 || !r.ExporterAddress.IsValid() || r.ExporterAddress.Is4In6() ||
				r.SrcAddr.Is4In6() || r.DstAddr.Is4In6() || r.NextHop.Is4In6() || r.FlowDirection > flow.DirectionEgress ||
				r.InIf == flow.IfIndexInternal || r.OutIf == flow.IfIndexInternal {
				t.Fatalf("flow %d inconsistent: %+v", i, r)
			}
		}
		for i := range b.Interfaces {
			if c := &b.Interfaces[i]; !c.ExporterAddress.IsValid() || c.IfIndex == flow.IfIndexInternal {
				t.Fatalf("interface %d inconsistent: %+v", i, c)
			}
		}
		for i := range b.Hosts {
			if h := &b.Hosts[i]; !h.ExporterAddress.IsValid() {
				t.Fatalf("host %d inconsistent: %+v", i, h)
			}
		}
	})
}
