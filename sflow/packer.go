package sflow

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// DefaultMaxDatagramSize keeps a datagram, with its IPv6 and UDP headers,
// inside a 1280-byte MTU (a Tailscale tunnel): 1280 - 40 - 8.
const DefaultMaxDatagramSize = 1232

// Bounds of PackerConfig.MaxSize: room for a header and a useful sample, and
// the largest UDP payload over IPv4.
const (
	MinDatagramSize = 256
	MaxDatagramSize = 65507
)

// ErrSampleTooLarge is returned by Packer when a sample cannot fit in an
// empty datagram even with its sampled header cut to nothing.
var ErrSampleTooLarge = errors.New("sample larger than the maximum datagram size")

// PackerConfig configures a Packer.
type PackerConfig struct {
	// MaxSize is the largest datagram (UDP payload) in bytes.
	MaxSize int `yaml:"max-size"`
	// Enterprise is the enterprise number of hostflow's records (0:
	// DefaultEnterprise).
	Enterprise uint32 `yaml:"enterprise"`
	// SubAgentID is written in every datagram; keep it stable per agent.
	SubAgentID uint32 `yaml:"sub-agent-id"`
}

// DefaultPackerConfig returns the defaults: 1232-byte datagrams, hostflow's
// default enterprise, sub-agent 0.
func DefaultPackerConfig() PackerConfig {
	return PackerConfig{MaxSize: DefaultMaxDatagramSize, Enterprise: DefaultEnterprise}
}

// Validate checks the configuration. Errors name the YAML key.
func (c PackerConfig) Validate() error {
	var errs []error
	if c.MaxSize < MinDatagramSize || c.MaxSize > MaxDatagramSize {
		errs = append(errs, fmt.Errorf("max-size: %d outside [%d, %d]", c.MaxSize, MinDatagramSize, MaxDatagramSize))
	}
	if c.Enterprise > MaxEnterprise {
		errs = append(errs, fmt.Errorf("enterprise: %d does not fit in 20 bits (max %d)", c.Enterprise, MaxEnterprise))
	}
	return errors.Join(errs...)
}

// PackerStats are a Packer's cumulative counts, for metrics.
type PackerStats struct {
	Datagrams uint64 // datagrams handed to the emit function
	Bytes     uint64 // their total size
	Samples   uint64 // samples packed
	// Truncated counts flow samples whose sampled header was shortened to
	// fit alone in a datagram.
	Truncated uint64
	// Oversized counts samples refused with ErrSampleTooLarge.
	Oversized uint64
	// EmitErrors counts datagrams the emit function failed to send.
	EmitErrors uint64
}

// Packer packs samples into datagrams of at most MaxSize bytes. When the
// next sample would not fit, the pending datagram is numbered (the datagram
// sequence number starts at 1 and increases by one per datagram) and handed
// to emit. Flush emits the pending datagram; call it at least every second
// so samples are not held back.
//
// A Packer is not safe for concurrent use. It does not allocate per sample.
type Packer struct {
	cfg     PackerConfig
	enc     Encoder
	emit    func(datagram []byte) error
	uptime  func() uint32
	agent   netip.Addr
	hdrLen  int
	buf     []byte // the pending datagram, header space reserved
	n       uint32 // samples in buf
	seq     uint32 // last datagram sequence number used
	scratch []byte // one encoded sample
	stats   PackerStats
}

// NewPacker returns a packer writing datagrams from agent (an IPv4-mapped
// address is sent as IPv4). emit receives each
// full datagram; the slice is reused after emit returns. uptime returns the
// agent's uptime in milliseconds; nil counts from NewPacker.
func NewPacker(cfg PackerConfig, agent netip.Addr, emit func(datagram []byte) error, uptime func() uint32) (*Packer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sflow packer: %w", err)
	}
	if emit == nil {
		return nil, errors.New("sflow packer: nil emit function")
	}
	if uptime == nil {
		start := time.Now()
		uptime = func() uint32 { return uint32(time.Since(start).Milliseconds()) }
	}
	p := &Packer{
		cfg:     cfg,
		enc:     Encoder{Enterprise: cfg.Enterprise},
		emit:    emit,
		uptime:  uptime,
		buf:     make([]byte, 0, cfg.MaxSize),
		scratch: make([]byte, 0, cfg.MaxSize),
	}
	p.setAgent(agent)
	return p, nil
}

func (p *Packer) setAgent(agent netip.Addr) {
	p.agent = agent.Unmap()
	p.hdrLen = DatagramHeaderLen(p.agent)
	p.buf = p.buf[:p.hdrLen]
}

// SetAgent flushes what is pending and switches to a new agent address,
// restarting the datagram sequence (a new agent is a new stream).
func (p *Packer) SetAgent(agent netip.Addr) error {
	if agent.Unmap() == p.agent {
		return nil
	}
	err := p.Flush()
	p.setAgent(agent)
	p.seq = 0
	return err
}

// Stats returns the cumulative counts.
func (p *Packer) Stats() PackerStats { return p.stats }

// Pending is the number of samples waiting in the current datagram.
func (p *Packer) Pending() int { return int(p.n) }

// AddFlowSample packs a flow sample. If the sample alone is larger than a
// datagram, its sampled header is cut (to a multiple of 4 bytes; the frame
// length still tells the original size) so that it fits. The error is from
// encoding s, ErrSampleTooLarge, or from emitting the previous datagram (s
// is packed all the same).
func (p *Packer) AddFlowSample(s *FlowSample) error {
	var err error
	if p.scratch, err = p.enc.AppendFlowSample(p.scratch[:0], s); err != nil {
		return err
	}
	if over := len(p.scratch) - (p.cfg.MaxSize - p.hdrLen); over > 0 {
		if err := p.truncate(s, over); err != nil {
			return err
		}
	}
	return p.add()
}

// truncate re-encodes s into scratch with its sampled header shortened by
// at least over bytes.
func (p *Packer) truncate(s *FlowSample, over int) error {
	h := s.SampledHeader.Header
	keep := (len(h) - over) &^ 3
	if s.Has&HasSampledHeader == 0 || keep < 0 {
		p.stats.Oversized++
		return fmt.Errorf("sflow packer: flow sample of %d bytes, %d available: %w",
			len(p.scratch), p.cfg.MaxSize-p.hdrLen, ErrSampleTooLarge)
	}
	s.SampledHeader.Header = h[:keep]
	var err error
	p.scratch, err = p.enc.AppendFlowSample(p.scratch[:0], s)
	s.SampledHeader.Header = h
	if err != nil {
		return err
	}
	p.stats.Truncated++
	return nil
}

// AddCounterSample packs a counter sample; a sample that cannot fit in an
// empty datagram is refused with ErrSampleTooLarge.
func (p *Packer) AddCounterSample(s *CounterSample) error {
	var err error
	if p.scratch, err = p.enc.AppendCounterSample(p.scratch[:0], s); err != nil {
		return err
	}
	if len(p.scratch) > p.cfg.MaxSize-p.hdrLen {
		p.stats.Oversized++
		return fmt.Errorf("sflow packer: counter sample of %d bytes, %d available: %w",
			len(p.scratch), p.cfg.MaxSize-p.hdrLen, ErrSampleTooLarge)
	}
	return p.add()
}

// add appends the sample in scratch, emitting the pending datagram first if
// the sample does not fit.
func (p *Packer) add() error {
	var err error
	if len(p.buf)+len(p.scratch) > p.cfg.MaxSize {
		err = p.Flush()
	}
	p.buf = append(p.buf, p.scratch...)
	p.n++
	p.stats.Samples++
	return err
}

// Flush numbers and emits the pending datagram, if it holds any sample.
func (p *Packer) Flush() error {
	if p.n == 0 {
		return nil
	}
	p.seq++
	AppendDatagramHeader(p.buf[:0], p.agent, p.cfg.SubAgentID, p.seq, p.uptime(), p.n)
	err := p.emit(p.buf)
	p.stats.Datagrams++
	p.stats.Bytes += uint64(len(p.buf))
	if err != nil {
		p.stats.EmitErrors++
		err = fmt.Errorf("sflow packer: datagram %d: %w", p.seq, err)
	}
	p.buf = p.buf[:p.hdrLen]
	p.n = 0
	return err
}
