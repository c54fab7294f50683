package decoder

import (
	"encoding/binary"
	"testing"
)

// benchFields is a typical router template: IPv4 5-tuple, ToS, flags,
// interfaces, counters and times (47 bytes a record).
var benchFields = [][2]uint16{
	{8, 4}, {12, 4}, {7, 2}, {11, 2}, {4, 1}, {5, 1}, {6, 1}, {10, 4}, {14, 4}, {1, 8}, {2, 8}, {22, 4}, {21, 4},
}

// benchPacket builds a v9 or IPFIX packet of about 1400 bytes holding a
// template set and flows data records, and one holding the data only.
func benchPacket(version uint16, flows int) (withTemplate, dataOnly []byte) {
	tmpl := binary.BigEndian.AppendUint16(nil, 256)
	tmpl = binary.BigEndian.AppendUint16(tmpl, uint16(len(benchFields)))
	size := 0
	for _, f := range benchFields {
		tmpl = binary.BigEndian.AppendUint16(tmpl, f[0])
		tmpl = binary.BigEndian.AppendUint16(tmpl, f[1])
		size += int(f[1])
	}
	data := make([]byte, 0, flows*size)
	for i := range flows {
		rec := make([]byte, size)
		copy(rec, []byte{10, 0, byte(i >> 8), byte(i), 10, 1, 0, 1})
		rec[12] = 6
		binary.BigEndian.PutUint64(rec[23:], uint64(1000+i))
		binary.BigEndian.PutUint64(rec[31:], 3)
		data = append(data, rec...)
	}
	tset, dset := uint16(0), uint16(256)
	if version == 10 {
		tset = 2
	}
	set := func(id uint16, body []byte) []byte {
		b := binary.BigEndian.AppendUint16(nil, id)
		b = binary.BigEndian.AppendUint16(b, uint16(4+len(body)))
		return append(b, body...)
	}
	header := func(sets []byte) []byte {
		var h []byte
		if version == 9 {
			h = binary.BigEndian.AppendUint16(h, 9)
			h = binary.BigEndian.AppendUint16(h, uint16(flows))
			h = binary.BigEndian.AppendUint32(h, 60000)
			h = binary.BigEndian.AppendUint32(h, 1700000000)
			h = binary.BigEndian.AppendUint32(h, 0)
			h = binary.BigEndian.AppendUint32(h, 1)
		} else {
			h = binary.BigEndian.AppendUint16(h, 10)
			h = binary.BigEndian.AppendUint16(h, uint16(16+len(sets)))
			h = binary.BigEndian.AppendUint32(h, 1700000000)
			h = binary.BigEndian.AppendUint32(h, 0)
			h = binary.BigEndian.AppendUint32(h, 1)
		}
		return append(h, sets...)
	}
	return header(append(set(tset, tmpl), set(dset, data)...)), header(set(dset, data))
}

// benchmarkNetFlow decodes data packets of 30 flows into a reused batch.
// Sequence numbers are not advanced, so each packet after the first also
// exercises the resynchronisation path (counted, not logged).
func benchmarkNetFlow(b *testing.B, version uint16) {
	const flows = 30
	first, data := benchPacket(version, flows)
	d, err := NewNetFlow(DefaultNetFlowConfig(), newTestReporter())
	if err != nil {
		b.Fatal(err)
	}
	var batch Batch
	if err := d.Decode(Packet{Payload: first, Source: testExporter, Received: 1}, &batch); err != nil || len(batch.Flows) != flows {
		b.Fatalf("%v, %d flows", err, len(batch.Flows))
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		batch.Reset()
		if err := d.Decode(Packet{Payload: data, Source: testExporter, Received: 1}, &batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*flows), "ns/flow")
}

func BenchmarkNetFlowV9(b *testing.B)    { benchmarkNetFlow(b, 9) }
func BenchmarkNetFlowIPFIX(b *testing.B) { benchmarkNetFlow(b, 10) }
