// Package decoder turns datagrams received from exporters (sFlow v5,
// NetFlow v5/v9, IPFIX) into flow records and counter records. The wire
// codecs live in their own packages (sflow, netflow), usable as libraries;
// this package maps their output onto the flow schema and keeps the
// per-exporter state a collector needs (sequence tracking, templates).
package decoder

import (
	"net/netip"

	"github.com/hostflow/hostflow/flow"
)

// Packet is one received datagram. Payload is only valid during Decode.
type Packet struct {
	Payload []byte
	// Source is the UDP source of the datagram (the exporter for NetFlow and
	// IPFIX; sFlow uses the agent address inside the datagram instead).
	Source netip.AddrPort
	// Received is the Unix time in seconds at which it was read.
	Received uint32
}

// Batch accumulates what datagrams decode to. It is reused: Reset keeps the
// capacity so steady-state decoding does not allocate.
type Batch struct {
	Flows      []flow.Record
	Interfaces []flow.InterfaceCounters
	Hosts      []flow.HostCounters
}

// Reset empties the batch, keeping its capacity.
func (b *Batch) Reset() {
	b.Flows = b.Flows[:0]
	b.Interfaces = b.Interfaces[:0]
	b.Hosts = b.Hosts[:0]
}

// NewFlow appends a zeroed record and returns it.
func (b *Batch) NewFlow() *flow.Record {
	if len(b.Flows) < cap(b.Flows) {
		b.Flows = b.Flows[:len(b.Flows)+1]
		r := &b.Flows[len(b.Flows)-1]
		r.Reset()
		return r
	}
	b.Flows = append(b.Flows, flow.Record{})
	return &b.Flows[len(b.Flows)-1]
}

// DropLastFlow removes the record NewFlow just returned (a sample that
// turned out to be undecodable).
func (b *Batch) DropLastFlow() { b.Flows = b.Flows[:len(b.Flows)-1] }

// NewInterface appends a zeroed interface counter record and returns it.
func (b *Batch) NewInterface() *flow.InterfaceCounters {
	b.Interfaces = append(b.Interfaces, flow.InterfaceCounters{})
	return &b.Interfaces[len(b.Interfaces)-1]
}

// NewHost appends a zeroed host counter record and returns it.
func (b *Batch) NewHost() *flow.HostCounters {
	b.Hosts = append(b.Hosts, flow.HostCounters{})
	return &b.Hosts[len(b.Hosts)-1]
}

// Decoder decodes one protocol. Implementations keep per-exporter state and
// are safe for use by one goroutine at a time unless documented otherwise.
// An error means the datagram (or the rest of it) was undecodable; records
// decoded before the error stay in the batch.
type Decoder interface {
	Decode(p Packet, out *Batch) error
}
