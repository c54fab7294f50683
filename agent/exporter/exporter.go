// Package exporter packs the agent's flow and counter samples into sFlow v5
// datagrams (≤ 1232 bytes by default, so they fit a 1280-byte tunnel MTU
// over IPv6) and sends them to one or more collectors through a pluggable
// transport. Sampling never waits on the network: datagrams go through a
// bounded queue to a sender that paces writes and gives each a deadline.
package exporter

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/hostflow/hostflow/internal/config"
	"github.com/hostflow/hostflow/internal/daemon"
	"github.com/hostflow/hostflow/sflow"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultPort is sFlow's registered collector port.
const DefaultPort = 6343

// Config is the exporter's configuration.
type Config struct {
	// Collectors are "host:port" (port optional, default 6343); IPv6
	// literals in brackets.
	Collectors []string `yaml:"collectors"`
	// AgentInterface takes the agent address from this interface (IPv6
	// preferred, IPv4 otherwise), e.g. tailscale0.
	AgentInterface string `yaml:"agent-interface"`
	// AgentAddress sets the agent address explicitly; it wins over
	// AgentInterface.
	AgentAddress string `yaml:"agent-address"`
	// SubAgentID is written in every datagram; keep it stable.
	SubAgentID uint32 `yaml:"sub-agent-id"`
	// DatagramSize is the largest datagram (UDP payload) in bytes.
	DatagramSize int `yaml:"datagram-size"`
	// Enterprise is the enterprise number of hostflow's own records.
	Enterprise uint32 `yaml:"enterprise"`
	// FlushInterval bounds how long a sample waits in a partial datagram.
	FlushInterval time.Duration `yaml:"flush-interval"`
	// QueueSize is how many datagrams wait for the sender at most.
	QueueSize int `yaml:"send-queue"`
	// SendTimeout is the deadline of one datagram write.
	SendTimeout time.Duration `yaml:"send-timeout"`
	// MaxRate paces the sender (datagrams per second, all collectors).
	MaxRate int `yaml:"max-rate"`
	// RefreshInterval is how often host names and the agent address are
	// re-resolved.
	RefreshInterval time.Duration `yaml:"refresh-interval"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Collectors:      []string{"localhost:6343"},
		DatagramSize:    sflow.DefaultMaxDatagramSize,
		Enterprise:      sflow.DefaultEnterprise,
		FlushInterval:   time.Second,
		QueueSize:       512,
		SendTimeout:     100 * time.Millisecond,
		MaxRate:         5000,
		RefreshInterval: time.Minute,
	}
}

// Validate checks the values; keys are relative to the exporter section.
func (c Config) Validate() error {
	var errs []error
	if len(c.Collectors) == 0 {
		errs = append(errs, config.Errorf("collectors", "at least one collector is needed"))
	}
	for i, col := range c.Collectors {
		if _, err := collectorAddr(col); err != nil {
			errs = append(errs, config.Errorf("collectors."+strconv.Itoa(i), "%v", err))
		}
	}
	if c.AgentAddress != "" {
		if _, err := netip.ParseAddr(c.AgentAddress); err != nil {
			errs = append(errs, config.Errorf("agent-address", "%v", err))
		}
	}
	if err := (sflow.PackerConfig{MaxSize: c.DatagramSize, Enterprise: c.Enterprise}).Validate(); err != nil {
		errs = append(errs, config.Errorf("datagram-size", "%v", err))
	}
	if c.FlushInterval <= 0 || c.FlushInterval > time.Second {
		errs = append(errs, config.Errorf("flush-interval", "must be in (0, 1s], not %v", c.FlushInterval))
	}
	if c.QueueSize < 1 {
		errs = append(errs, config.Errorf("send-queue", "must be positive"))
	}
	if c.SendTimeout <= 0 {
		errs = append(errs, config.Errorf("send-timeout", "must be positive"))
	}
	if c.MaxRate < 1 {
		errs = append(errs, config.Errorf("max-rate", "must be positive"))
	}
	if c.RefreshInterval < time.Second {
		errs = append(errs, config.Errorf("refresh-interval", "must be at least 1s"))
	}
	return errors.Join(errs...)
}

// collectorAddr normalises "host[:port]" to "host:port".
func collectorAddr(s string) (string, error) {
	if s == "" {
		return "", errors.New("empty collector")
	}
	if host, port, err := net.SplitHostPort(s); err == nil {
		if host == "" {
			return "", fmt.Errorf("collector %q has no host", s)
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return "", fmt.Errorf("collector %q: bad port", s)
		}
		return s, nil
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Is6() {
		return net.JoinHostPort(s, strconv.Itoa(DefaultPort)), nil
	}
	if net.ParseIP(s) == nil && (len(s) > 253 || s[0] == '[' || containsColon(s)) {
		return "", fmt.Errorf("collector %q: want host:port", s)
	}
	return net.JoinHostPort(s, strconv.Itoa(DefaultPort)), nil
}

func containsColon(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			return true
		}
	}
	return false
}

// Deps are the exporter's collaborators.
type Deps struct {
	Reporter *daemon.Reporter
	// Transport defaults to plain UDP.
	Transport Transport
	// Addrs lists local addresses for agent address selection (default
	// LocalAddrs).
	Addrs func() ([]IfAddr, error)
}

// Exporter packs and sends samples. AddFlow and AddCounters are safe for
// concurrent use.
type Exporter struct {
	cfg  Config
	deps Deps
	r    *daemon.Reporter
	cols []string

	mu     sync.Mutex
	packer *sflow.Packer
	seqs   map[uint64]uint32
	agent  netip.Addr
	conns  []Conn // per collector, nil until dialed
	start  time.Time

	// pending datagrams wait here (under mu) for the sender, which is woken
	// through kick once a batch is ready or at each flush: one wake-up per
	// batch rather than per datagram.
	pending [][]byte
	free    [][]byte
	kick    chan struct{}
	closed  bool // sender stopping: samples are ignored
	flushWG sync.WaitGroup
	sendWG  sync.WaitGroup
	stop    context.CancelFunc

	flows     prometheus.Counter
	counters  prometheus.Counter
	dropped   *prometheus.CounterVec
	sendErrs  *prometheus.CounterVec
	sent      prometheus.Counter
	sentBytes prometheus.Counter
	packErrs  prometheus.Counter
}

// New checks cfg and returns an inert exporter.
func New(cfg Config, deps Deps) (*Exporter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Transport == nil {
		deps.Transport = UDP{}
	}
	if deps.Addrs == nil {
		deps.Addrs = LocalAddrs
	}
	e := &Exporter{cfg: cfg, deps: deps, r: deps.Reporter.Sub("exporter"), seqs: map[uint64]uint32{}}
	for _, c := range cfg.Collectors {
		a, _ := collectorAddr(c)
		e.cols = append(e.cols, a)
	}
	e.conns = make([]Conn, len(e.cols))
	samples := e.r.CounterVec("samples_total", "Samples packed, by kind.", "kind")
	e.flows, e.counters = samples.WithLabelValues("flow"), samples.WithLabelValues("counter")
	e.dropped = e.r.CounterVec("dropped_datagrams_total", "Datagrams not sent, by reason.", "reason")
	e.sendErrs = e.r.CounterVec("send_errors_total", "Datagram writes that failed, by reason.", "reason")
	e.sent = e.r.Counter("datagrams_total", "Datagrams written to a collector.")
	e.sentBytes = e.r.Counter("bytes_total", "Bytes written to collectors (UDP payload).")
	e.packErrs = e.r.Counter("pack_errors_total", "Samples that could not be encoded.")
	return e, nil
}

// Start picks the agent address, dials the collectors and starts the
// flusher and the sender. Collectors that cannot be dialed yet are retried.
func (e *Exporter) Start(ctx context.Context) error {
	ctx, e.stop = context.WithCancel(ctx)
	e.start = time.Now()
	addrs, _ := e.deps.Addrs()
	agent, err := SelectAgent(e.cfg.AgentAddress, e.cfg.AgentInterface, addrs, netip.Addr{})
	if err != nil {
		// The agent interface may appear later (tailscale0 after boot):
		// start with the automatic choice and switch when it does.
		e.r.Logger().Warn("agent address", "error", err)
		if agent, err = SelectAgent("", "", addrs, netip.Addr{}); err != nil {
			agent = netip.IPv4Unspecified()
		}
	}
	e.agent = agent
	e.packer, err = sflow.NewPacker(sflow.PackerConfig{MaxSize: e.cfg.DatagramSize, Enterprise: e.cfg.Enterprise,
		SubAgentID: e.cfg.SubAgentID}, agent, e.enqueue, e.uptime)
	if err != nil {
		return err
	}
	e.kick = make(chan struct{}, 1)
	e.dialAll(ctx)
	e.r.Logger().Info("exporting", "agent", agent, "collectors", e.cols)
	e.flushWG.Add(1)
	go e.flusher(ctx)
	e.sendWG.Add(1)
	go e.sender()
	return nil
}

func (e *Exporter) uptime() uint32 { return uint32(time.Since(e.start).Milliseconds()) }

// Agent returns the agent address in use.
func (e *Exporter) Agent() netip.Addr {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.agent
}

// Destinations returns the collectors' addresses as seen on the host's
// network stack (for the sampler to exclude).
func (e *Exporter) Destinations() []netip.AddrPort {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []netip.AddrPort
	for _, c := range e.conns {
		if c != nil && c.RemoteAddr().IsValid() {
			out = append(out, c.RemoteAddr())
		}
	}
	return out
}

func (e *Exporter) dialAll(ctx context.Context) {
	for i, col := range e.cols {
		e.mu.Lock()
		have := e.conns[i] != nil
		e.mu.Unlock()
		if have {
			continue
		}
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		c, err := e.deps.Transport.Dial(dctx, col)
		cancel()
		if err != nil {
			e.r.Limited("dial", "collector unavailable, will retry", "collector", col, "error", err)
			continue
		}
		e.mu.Lock()
		e.conns[i] = c
		e.mu.Unlock()
	}
}

// sourceKey identifies a data source's sequence: flow and counter samples
// are numbered separately.
func sourceKey(counter bool, typ, index uint32) uint64 {
	k := uint64(typ)<<32 | uint64(index)
	if counter {
		k |= 1 << 63
	}
	return k
}

// AddFlow numbers s in its data source's flow sequence and packs it.
func (e *Exporter) AddFlow(s *sflow.FlowSample) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.number(&s.Expanded, &s.SequenceNumber, false, s.SourceType, s.SourceIndex) {
		e.packed(e.packer.AddFlowSample(s), e.flows)
	}
}

// AddCounters numbers s in its data source's counter sequence and packs it.
func (e *Exporter) AddCounters(s *sflow.CounterSample) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.number(&s.Expanded, &s.SequenceNumber, true, s.SourceType, s.SourceIndex) {
		e.packed(e.packer.AddCounterSample(s), e.counters)
	}
}

// number marks a sample expanded and gives it the next sequence number of
// its data source; false when the exporter is not running.
func (e *Exporter) number(expanded *bool, seq *uint32, counter bool, typ, index uint32) bool {
	if e.packer == nil || e.closed {
		return false
	}
	*expanded = true
	k := sourceKey(counter, typ, index)
	e.seqs[k]++
	*seq = e.seqs[k]
	return true
}

// packed accounts for the packer's answer. An error from emitting the
// previous datagram (queue full, already counted) leaves the sample packed.
func (e *Exporter) packed(err error, ok prometheus.Counter) {
	if err != nil && !errors.Is(err, errQueueFull) {
		e.packErrs.Inc()
		e.r.Limited("pack", "sample not packed", "error", err)
		return
	}
	ok.Inc()
}

// ResetSource restarts a data source's sequence numbers (its sample pool or
// counters restarted, e.g. the interface was re-created).
func (e *Exporter) ResetSource(typ, index uint32) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.seqs, sourceKey(false, typ, index))
	delete(e.seqs, sourceKey(true, typ, index))
}

// errQueueFull is enqueue's answer when the send queue is full.
var errQueueFull = errors.New("send queue full")

// sendBatch is how many datagrams wake the sender before the next flush.
const sendBatch = 16

// enqueue is the packer's emit function (called with e.mu held): it copies
// the datagram into a free buffer and queues it without blocking.
func (e *Exporter) enqueue(d []byte) error {
	if len(e.pending) >= e.cfg.QueueSize {
		e.dropped.WithLabelValues("queue_full").Inc()
		return errQueueFull
	}
	var b []byte
	if n := len(e.free); n > 0 {
		b, e.free = e.free[n-1], e.free[:n-1]
	}
	e.pending = append(e.pending, append(b[:0], d...))
	if len(e.pending) >= sendBatch {
		e.wake()
	}
	return nil
}

// wake signals the sender without blocking.
func (e *Exporter) wake() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

func (e *Exporter) flusher(ctx context.Context) {
	defer e.flushWG.Done()
	flush := time.NewTicker(e.cfg.FlushInterval)
	defer flush.Stop()
	refresh := time.NewTicker(e.cfg.RefreshInterval)
	defer refresh.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-flush.C:
			e.mu.Lock()
			_ = e.packer.Flush()
			e.mu.Unlock()
			e.wake()
		case <-refresh.C:
			e.refresh(ctx)
		}
	}
}

// refresh re-dials collectors that failed and re-selects the agent address.
func (e *Exporter) refresh(ctx context.Context) {
	e.dialAll(ctx)
	addrs, err := e.deps.Addrs()
	if err != nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	agent, err := SelectAgent(e.cfg.AgentAddress, e.cfg.AgentInterface, addrs, e.agent)
	if err != nil || agent == e.agent {
		return
	}
	e.r.Logger().Info("agent address changed", "from", e.agent, "to", agent)
	e.agent = agent
	_ = e.packer.SetAgent(agent)
}

// sender writes queued datagrams to every collector, paced by a token
// bucket so a burst (counter polls of many interfaces) does not overflow
// socket or tunnel buffers. It returns once the exporter is closed and the
// queue is empty.
func (e *Exporter) sender() {
	defer e.sendWG.Done()
	const burst = 64
	tokens := float64(burst)
	last := time.Now()
	var batch [][]byte
	var conns []Conn
	for range e.kick {
		e.mu.Lock()
		batch, e.pending = e.pending, batch[:0]
		conns = append(conns[:0], e.conns...)
		closed := e.closed
		e.mu.Unlock()
		for _, d := range batch {
			for i, c := range conns {
				now := time.Now()
				tokens = min(burst, tokens+now.Sub(last).Seconds()*float64(e.cfg.MaxRate))
				last = now
				if tokens < 1 {
					time.Sleep(time.Duration((1 - tokens) / float64(e.cfg.MaxRate) * float64(time.Second)))
					tokens = 1
					last = time.Now()
				}
				tokens--
				if c == nil {
					e.dropped.WithLabelValues("not_connected").Inc()
					continue
				}
				if err := c.Write(d, time.Now().Add(e.cfg.SendTimeout)); err != nil {
					e.sendErrs.WithLabelValues(errReason(err)).Inc()
					e.r.Limited("send", "send failed", "collector", e.cols[i], "error", err)
					continue
				}
				e.sent.Inc()
				e.sentBytes.Add(float64(len(d)))
			}
		}
		e.mu.Lock()
		e.free = append(e.free, batch...)
		e.mu.Unlock()
		clear(batch)
		if closed {
			return
		}
	}
}

// Stop flushes what is pending, lets the sender drain the queue and closes
// the connections.
func (e *Exporter) Stop() error {
	if e.stop == nil {
		return nil
	}
	e.stop()
	e.flushWG.Wait()
	e.mu.Lock()
	if !e.closed {
		_ = e.packer.Flush()
		e.closed = true
	}
	e.mu.Unlock()
	e.wake()
	e.sendWG.Wait()
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for i, c := range e.conns {
		if c != nil {
			errs = append(errs, c.Close())
			e.conns[i] = nil
		}
	}
	return errors.Join(errs...)
}
