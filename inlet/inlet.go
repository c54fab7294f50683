// Package inlet receives flow datagrams over UDP.
//
// Each listener opens several SO_REUSEPORT sockets; each socket has one
// goroutine that reads batches with recvmmsg and hands them to its own
// Handler in the same goroutine. There is deliberately no userspace queue
// between reading and decoding: the socket's kernel buffer is the bounded
// queue, and what it drops is counted exactly through SO_RXQ_OVFL. A handoff
// would add a copy and a cross-core wake-up per datagram and only move the
// drop point. Handlers must therefore never block (the collector's decode,
// enrich and store-append steps are all non-blocking).
package inlet

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hostflow/hostflow/decoder"
	"github.com/hostflow/hostflow/internal/daemon"
)

// Handler consumes the datagrams one socket reads. It is called from that
// socket's goroutine only; pkts and their payloads are valid during the call.
type Handler interface {
	Handle(pkts []decoder.Packet)
}

// Dependencies of the inlet.
type Dependencies struct {
	Reporter *daemon.Reporter
	// NewHandler returns the handler for one socket of a listener. It is
	// called once per socket, so handlers may keep per-goroutine state.
	NewHandler func(protocol string) Handler
	// PacketConns returns more sockets to read, opened elsewhere (an
	// embedded tailnet node's UDP listeners); optional. It is called by
	// Start, so what it opens may depend on components started before the
	// inlet. The inlet closes them on Stop.
	PacketConns func() ([]PacketConn, error)
}

// Inlet is the UDP input component.
type Inlet struct {
	cfg     Config
	deps    Dependencies
	allowed []netip.Prefix
	log     *daemon.Reporter

	mu      sync.Mutex
	sockets []*socket
	done    chan struct{} // stops the drop poller
	pollWG  sync.WaitGroup
	conns   []*packetConn
	wg      sync.WaitGroup
	bound   []netip.AddrPort

	metrics metrics
	expMu   sync.Mutex
	expSeen map[netip.Addr]string // exporter -> label
}

type metrics struct {
	packets *prometheus.CounterVec // listener, exporter
	bytes   *prometheus.CounterVec
	drops   *prometheus.CounterVec // listener, reason
	batches *prometheus.HistogramVec
	errors  *prometheus.CounterVec
}

// New builds an inert inlet.
func New(cfg Config, deps Dependencies) (*Inlet, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	allowed, _ := cfg.allowed()
	r := deps.Reporter.Sub("inlet")
	return &Inlet{
		cfg:     cfg,
		deps:    deps,
		allowed: allowed,
		log:     r,
		expSeen: map[netip.Addr]string{},
		metrics: metrics{
			packets: r.CounterVec("packets_total", "Datagrams received, by listener and exporter.", "listener", "exporter"),
			bytes:   r.CounterVec("bytes_total", "Datagram bytes received, by listener and exporter.", "listener", "exporter"),
			drops:   r.CounterVec("drops_total", "Datagrams dropped before decoding, by listener and reason (kernel = socket buffer overflow).", "listener", "reason"),
			batches: r.HistogramVec("batch_datagrams", "Datagrams returned per recvmmsg call.", []float64{1, 2, 4, 8, 16, 32, 64, 128}, "listener"),
			errors:  r.CounterVec("errors_total", "Socket read errors, by listener.", "listener"),
		},
	}, nil
}

// Start opens every socket and starts the readers.
func (in *Inlet) Start(ctx context.Context) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	for li := range in.cfg.Listeners {
		lc := &in.cfg.Listeners[li]
		addr := lc.Listen
		for i := 0; i < lc.sockets(); i++ {
			s, err := listen(addr, lc)
			if err != nil {
				in.closeLocked()
				return fmt.Errorf("inlet %s %s: %w", lc.Protocol, lc.Listen, err)
			}
			if i == 0 {
				// Port 0 picks a free port; the other sockets of the group
				// must join that one.
				addr = s.local.String()
				in.bound = append(in.bound, s.local)
			}
			s.name = lc.Protocol + "/" + lc.Listen
			s.handler = in.deps.NewHandler(lc.Protocol)
			in.sockets = append(in.sockets, s)
		}
	}
	if err := in.openConns(); err != nil {
		in.closeLocked()
		return err
	}
	for _, s := range in.sockets {
		in.wg.Add(1)
		go in.read(s)
	}
	for _, c := range in.conns {
		in.wg.Add(1)
		go in.readConn(c)
	}
	in.done = make(chan struct{})
	in.pollWG.Add(1)
	go in.pollDrops(append([]*socket(nil), in.sockets...))
	in.log.Logger().Info("listening", "addresses", in.boundStrings())
	return nil
}

// DropPollInterval is how often the sockets' kernel drop counters are read
// directly, so drops at the end of a burst (reported by SO_RXQ_OVFL only
// with the next datagram) are counted within that time.
const DropPollInterval = time.Second

func (in *Inlet) pollDrops(sockets []*socket) {
	defer in.pollWG.Done()
	t := time.NewTicker(DropPollInterval)
	defer t.Stop()
	for {
		select {
		case <-in.done:
			return
		case <-t.C:
			for _, s := range sockets {
				if d := s.pollDrops(); d > 0 {
					in.metrics.drops.WithLabelValues(s.name, "kernel").Add(float64(d))
				}
			}
		}
	}
}

// Stop closes the sockets and waits for the readers.
func (in *Inlet) Stop() error {
	if in.done != nil {
		close(in.done)
		in.pollWG.Wait()
		in.done = nil
	}
	in.mu.Lock()
	in.closeLocked()
	in.mu.Unlock()
	in.wg.Wait()
	return nil
}

func (in *Inlet) closeLocked() {
	for _, s := range in.sockets {
		s.close()
	}
	in.sockets = nil
	for _, c := range in.conns {
		c.close()
	}
	in.conns = nil
}

// Addrs returns the bound address of each listener, in configuration order
// (useful with port 0).
func (in *Inlet) Addrs() []netip.AddrPort {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]netip.AddrPort(nil), in.bound...)
}

func (in *Inlet) boundStrings() string {
	var parts []string
	for i, a := range in.bound {
		parts = append(parts, in.cfg.Listeners[i].Protocol+"="+a.String())
	}
	for _, c := range in.conns {
		parts = append(parts, c.name)
	}
	return strings.Join(parts, " ")
}

// read is one socket's loop: recvmmsg, filter, count, hand over.
func (in *Inlet) read(s *socket) {
	defer in.wg.Done()
	acc := in.newAccount(s.name)
	kernel := in.metrics.drops.WithLabelValues(s.name, "kernel")
	batchSize := in.metrics.batches.WithLabelValues(s.name)
	pkts := make([]decoder.Packet, 0, len(s.bufs))
	for {
		n, err := s.recv()
		if err != nil {
			if s.closed.Load() {
				return
			}
			acc.readError(err)
			continue
		}
		if d := s.takeKernelDrops(); d > 0 {
			kernel.Add(float64(d))
		}
		batchSize.Observe(float64(n))
		pkts = pkts[:0]
		now := uint32(nowUnix())
		for i := 0; i < n; i++ {
			payload, src, trunc := s.message(i)
			if acc.admit(payload, src, trunc) {
				pkts = append(pkts, decoder.Packet{Payload: payload, Source: src, Received: now})
			}
		}
		if len(pkts) > 0 {
			s.handler.Handle(pkts)
		}
	}
}

// account counts one reader's datagrams and drops.
type account struct {
	in                    *Inlet
	name                  string
	truncated, notAllowed prometheus.Counter
	readErrors            prometheus.Counter
	// Per-exporter counters are looked up once per exporter and cached
	// locally, so the steady state does no label hashing.
	local map[netip.Addr]expCounters
}

type expCounters struct{ packets, bytes prometheus.Counter }

func (in *Inlet) newAccount(name string) *account {
	return &account{in: in, name: name,
		truncated:  in.metrics.drops.WithLabelValues(name, "truncated"),
		notAllowed: in.metrics.drops.WithLabelValues(name, "not_allowed"),
		readErrors: in.metrics.errors.WithLabelValues(name),
		local:      map[netip.Addr]expCounters{},
	}
}

// admit counts a datagram and reports whether it goes to the handler.
func (a *account) admit(payload []byte, src netip.AddrPort, truncated bool) bool {
	if truncated {
		a.truncated.Inc()
		return false
	}
	if !a.in.isAllowed(src.Addr()) {
		a.notAllowed.Inc()
		return false
	}
	c, ok := a.local[src.Addr()]
	if !ok {
		label := a.in.exporterLabel(src.Addr())
		c = expCounters{a.in.metrics.packets.WithLabelValues(a.name, label), a.in.metrics.bytes.WithLabelValues(a.name, label)}
		if len(a.local) < 4096 {
			a.local[src.Addr()] = c
		}
	}
	c.packets.Inc()
	c.bytes.Add(float64(len(payload)))
	return true
}

func (a *account) readError(err error) {
	a.readErrors.Inc()
	a.in.log.Limited("read", "socket read failed", "listener", a.name, "error", err)
}

func (in *Inlet) isAllowed(a netip.Addr) bool {
	if len(in.allowed) == 0 {
		return true
	}
	for _, p := range in.allowed {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// exporterLabel bounds the cardinality of per-exporter metrics.
func (in *Inlet) exporterLabel(a netip.Addr) string {
	in.expMu.Lock()
	defer in.expMu.Unlock()
	if l, ok := in.expSeen[a]; ok {
		return l
	}
	l := "other"
	if len(in.expSeen) < in.cfg.MaxExporterLabels {
		l = a.String()
	}
	in.expSeen[a] = l
	return l
}

// socket is one UDP socket with its recvmmsg buffers.
type socket struct {
	name    string
	local   netip.AddrPort
	handler Handler
	closed  atomic.Bool
	sysSocket
}
