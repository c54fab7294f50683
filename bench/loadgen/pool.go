package main

import (
	"encoding/binary"
	"time"
)

// A pool holds pre-built datagrams, so the send loop only patches header
// fields and calls sendmmsg: building samples and records never limits the
// offered rate.
type pool struct {
	// perSocket[i] is sent, in order and cyclically, from sender socket i.
	perSocket [][]*dgram
	// templates[i] are NetFlow template datagrams for the exporters of
	// socket i, sent at start and every template interval.
	templates [][]*dgram
}

// dgram is one pre-built datagram and what it carries.
type dgram struct {
	b        []byte
	flows    int    // flow samples (sFlow) or flow records (NetFlow)
	counters int    // sFlow counter samples
	packets  uint64 // sum of the NetFlow records' packet counts
	stream   *stream
}

// stream is one exporter's datagram sequence: an sFlow (agent, sub-agent)
// or a NetFlow v9 source ID. Its sequence number, uptime and export time
// are written into each datagram as it is sent, so collectors see
// consecutive sequence numbers however many times the pool is cycled.
type stream struct {
	kind   string // "sflow" or "netflow"
	seqOff int    // offset of the sequence number in the datagram header
	seq    uint32
}

// patch writes the stream's next sequence number and the current clocks
// into d before it is sent; uptime is in milliseconds.
func (d *dgram) patch(uptime uint32, now time.Time) {
	s := d.stream
	s.seq++
	binary.BigEndian.PutUint32(d.b[s.seqOff:], s.seq)
	switch s.kind {
	case protoSFlow:
		binary.BigEndian.PutUint32(d.b[s.seqOff+4:], uptime)
	case protoNetFlow:
		binary.BigEndian.PutUint32(d.b[4:], uptime)
		binary.BigEndian.PutUint32(d.b[8:], uint32(now.Unix()))
	}
}

// totals sums what a list of datagrams carries.
func totals(ds []*dgram) (flows, counters int, packets uint64, bytes int) {
	for _, d := range ds {
		flows += d.flows
		counters += d.counters
		packets += d.packets
		bytes += len(d.b)
	}
	return
}
