package sflow

import (
	"fmt"
)

// Decoder decodes sFlow v5 datagrams. The zero value is ready to use. A
// Decoder holds no state between datagrams and is safe for concurrent use.
type Decoder struct {
	// Enterprise is the enterprise number of hostflow's records; 0 means
	// DefaultEnterprise.
	Enterprise uint32
}

func (d *Decoder) enterprise() uint32 {
	if d.Enterprise == 0 {
		return DefaultEnterprise
	}
	return d.Enterprise
}

// Decode decodes datagram b into dg, reusing dg's storage. Byte-slice fields
// of dg point into b.
//
// On error (see ErrVersion, ErrTruncated, ErrAddressType) the datagram
// header and the samples decoded before the bad one stay in dg; the bad
// sample and everything after it are dropped. Unknown sample and record
// formats are not errors: they are listed in the Unknown slices.
func (d *Decoder) Decode(b []byte, dg *Datagram) error {
	dg.reset()
	c := newCursor(b, &dg.fail)
	if v := c.u32("version"); v != Version {
		if err := c.err(); err != nil {
			return fmt.Errorf("sflow: datagram header: %w", err)
		}
		return fmt.Errorf("sflow: version %d: %w", v, ErrVersion)
	}
	dg.AgentAddress = c.addr("agent address")
	dg.SubAgentID = c.u32("sub-agent id")
	dg.SequenceNumber = c.u32("sequence number")
	dg.Uptime = c.u32("uptime")
	n := c.count(8, "sample count")
	if err := c.err(); err != nil {
		return fmt.Errorf("sflow: datagram header: %w", err)
	}
	ent := d.enterprise()
	for i := 0; i < n; i++ {
		format, length := c.tlv("sample format and length")
		body := c.sub(length, "sample data")
		if err := c.err(); err != nil {
			return fmt.Errorf("sflow: sample %d: %w", i, err)
		}
		var err error
		switch format {
		case FormatFlowSample, FormatFlowSampleExpanded:
			s := dg.newFlowSample()
			if err = decodeFlowSample(body, s, format == FormatFlowSampleExpanded, ent); err != nil {
				dg.FlowSamples = dg.FlowSamples[:len(dg.FlowSamples)-1]
			}
		case FormatCounterSample, FormatCounterSampleExpanded:
			s := dg.newCounterSample()
			if err = decodeCounterSample(body, s, format == FormatCounterSampleExpanded, ent); err != nil {
				dg.CounterSamples = dg.CounterSamples[:len(dg.CounterSamples)-1]
			}
		default:
			dg.UnknownSamples = append(dg.UnknownSamples, Unknown{Format: format, Data: body.rest()})
		}
		if err != nil {
			return fmt.Errorf("sflow: sample %d (%s): %w", i, format, err)
		}
	}
	return nil
}

func (dg *Datagram) reset() {
	*dg = Datagram{
		FlowSamples:    dg.FlowSamples[:0],
		CounterSamples: dg.CounterSamples[:0],
		UnknownSamples: dg.UnknownSamples[:0],
	}
}

// newFlowSample appends a sample to decode into, reusing a previous one's
// storage.
func (dg *Datagram) newFlowSample() *FlowSample {
	if n := len(dg.FlowSamples); n < cap(dg.FlowSamples) {
		dg.FlowSamples = dg.FlowSamples[:n+1]
		s := &dg.FlowSamples[n]
		s.reuse()
		return s
	}
	dg.FlowSamples = append(dg.FlowSamples, FlowSample{})
	return &dg.FlowSamples[len(dg.FlowSamples)-1]
}

func (dg *Datagram) newCounterSample() *CounterSample {
	if n := len(dg.CounterSamples); n < cap(dg.CounterSamples) {
		dg.CounterSamples = dg.CounterSamples[:n+1]
		s := &dg.CounterSamples[n]
		s.reset()
		return s
	}
	dg.CounterSamples = append(dg.CounterSamples, CounterSample{})
	return &dg.CounterSamples[len(dg.CounterSamples)-1]
}

// reuse readies a sample decoded before for decoding into, keeping the
// capacity of its slices. Clearing the whole struct (about 900 bytes) would
// cost more than decoding a typical sample, so only the records Has marks
// are cleared: the decoder sets a record's bit before writing any of its
// fields, so the records without their bit are still zero. The sample's own
// fields are left: decodeFlowSample writes all of them first.
func (s *FlowSample) reuse() {
	if s.Has != 0 {
		s.clearRecords(s.Has)
		s.Has = 0
	}
	s.Unknown = s.Unknown[:0]
}

func (s *FlowSample) clearRecords(which FlowRecords) {
	clearRecord(which&HasSampledHeader, &s.SampledHeader)
	clearRecord(which&HasSampledEthernet, &s.SampledEthernet)
	clearRecord(which&HasSampledIPv4, &s.SampledIPv4)
	clearRecord(which&HasSampledIPv6, &s.SampledIPv6)
	clearRecord(which&HasSwitch, &s.Switch)
	clearRecord(which&HasRouter, &s.Router)
	if which&HasGateway != 0 { // keeping the capacity of its slices
		g := &s.Gateway
		*g = ExtendedGateway{ASPath: g.ASPath[:0], Communities: g.Communities[:0], asns: g.asns[:0]}
	}
	clearRecord(which&HasUser, &s.User)
	clearRecord(which&HasURL, &s.URL)
	clearRecord(which&HasSocketIPv4, &s.SocketIPv4)
	clearRecord(which&HasSocketIPv6, &s.SocketIPv6)
	clearRecord(which&HasTCPInfo, &s.TCPInfo)
	clearRecord(which&HasProcess, &s.Process)
}

// clearRecord zeroes *r if its bit is set.
func clearRecord[R any](bit FlowRecords, r *R) {
	if bit != 0 {
		var zero R
		*r = zero
	}
}

// reset clears s, keeping the capacity of its slices.
func (s *CounterSample) reset() {
	unknown := s.Unknown[:0]
	a := s.Adapters
	*s = CounterSample{Unknown: unknown}
	s.Adapters.Adapters, s.Adapters.macs = a.Adapters[:0], a.macs[:0]
}

// decodeSourceCompact and decodeIfCompact split a sample's data source and interfaces: compact
// samples pack class and index into one word (8/24 bits), and an interface's
// format and value into another (2/30 bits).
func decodeSourceCompact(v uint32) (typ, index uint32) { return v >> 24, v & 0xFFFFFF }

func decodeIfCompact(v uint32) (format, value uint32) { return v >> 30, v & IfIndexInternal }

func decodeFlowSample(c cursor, s *FlowSample, expanded bool, ent uint32) error {
	s.Expanded = expanded
	if expanded {
		p := c.take(40, "expanded flow sample fields")
		if p == nil {
			return c.err()
		}
		s.SequenceNumber = be32(p[0:])
		s.SourceType, s.SourceIndex = be32(p[4:]), be32(p[8:])
		s.SamplingRate, s.SamplePool, s.Drops = be32(p[12:]), be32(p[16:]), be32(p[20:])
		s.InputFormat, s.Input = be32(p[24:]), be32(p[28:])
		s.OutputFormat, s.Output = be32(p[32:]), be32(p[36:])
	} else {
		p := c.take(28, "flow sample fields")
		if p == nil {
			return c.err()
		}
		s.SequenceNumber = be32(p[0:])
		s.SourceType, s.SourceIndex = decodeSourceCompact(be32(p[4:]))
		s.SamplingRate, s.SamplePool, s.Drops = be32(p[8:]), be32(p[12:]), be32(p[16:])
		s.InputFormat, s.Input = decodeIfCompact(be32(p[20:]))
		s.OutputFormat, s.Output = decodeIfCompact(be32(p[24:]))
	}
	n := c.count(8, "record count")
	if err := c.err(); err != nil {
		return err
	}
	process := MakeFormat(ent, HostflowFormatProcess)
	for i := 0; i < n; i++ {
		format, length := c.tlv("record format and length")
		r := c.sub(length, "record data")
		if err := c.err(); err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
		if err := decodeFlowRecord(r, s, format, process); err != nil {
			return fmt.Errorf("record %d (%s): %w", i, format, err)
		}
	}
	return nil
}

func decodeCounterSample(c cursor, s *CounterSample, expanded bool, ent uint32) error {
	s.Expanded = expanded
	s.SequenceNumber = c.u32("sequence number")
	if expanded {
		s.SourceType = c.u32("source id type")
		s.SourceIndex = c.u32("source id index")
	} else {
		s.SourceType, s.SourceIndex = decodeSourceCompact(c.u32("source id"))
	}
	n := c.count(8, "record count")
	if err := c.err(); err != nil {
		return err
	}
	iface := MakeFormat(ent, HostflowFormatInterface)
	for i := 0; i < n; i++ {
		format, length := c.tlv("record format and length")
		r := c.sub(length, "record data")
		if err := c.err(); err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
		if err := decodeCounterRecord(r, s, format, iface); err != nil {
			return fmt.Errorf("record %d (%s): %w", i, format, err)
		}
	}
	return nil
}
