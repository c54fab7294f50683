// Package inband is the metadata provider fed by the exporters themselves:
// the counter samples of hostflow agents (and hsflowd) carry the host name
// (host_descr) and, per interface, the name (port name record), speed,
// description and kind (hostflow interface record). No polling is needed for
// them; entries are refreshed as counter samples arrive and expire when an
// exporter stops sending them.
package inband

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hostflow/hostflow/enrich/metadata"
	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/internal/config"
	"github.com/hostflow/hostflow/internal/daemon"
)

// Config of the in-band provider.
type Config struct {
	// TTL is how long an entry lives after the last counter sample that
	// carried it (agents send one every 20 s by default).
	TTL time.Duration `yaml:"ttl"`
	// MaxEntries bounds the number of interfaces plus hosts remembered; new
	// ones beyond it are ignored (and counted).
	MaxEntries int `yaml:"max-entries"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{TTL: 30 * time.Minute, MaxEntries: 1 << 20}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.TTL < time.Second {
		errs = append(errs, config.Errorf("ttl", "must be at least 1s, not %s", c.TTL))
	}
	if c.MaxEntries <= 0 {
		errs = append(errs, config.Errorf("max-entries", "must be positive"))
	}
	return errors.Join(errs...)
}

type ifKey struct {
	metadata.Key
	ifIndex uint32
}

type hostEntry struct {
	name string
	seen atomic.Int64 // unix nanoseconds
}

type ifEntry struct {
	meta metadata.Interface
	seen atomic.Int64
}

// Provider keeps what exporters told about themselves.
type Provider struct {
	cfg    Config
	notify metadata.Notify

	mu     sync.RWMutex
	hosts  map[metadata.Key]*hostEntry
	ifaces map[ifKey]*ifEntry

	updates *prometheus.CounterVec
	ignored prometheus.Counter
	cancel  context.CancelFunc
	done    chan struct{}
}

// New returns an inert provider; notify is called (without locks held)
// whenever an entry appears, changes or expires.
func New(cfg Config, r *daemon.Reporter, notify metadata.Notify) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Provider{
		cfg:    cfg,
		notify: notify,
		hosts:  map[metadata.Key]*hostEntry{},
		ifaces: map[ifKey]*ifEntry{},
		updates: r.CounterVec("inband_updates_total",
			"In-band metadata entries added, changed or expired, by kind (host, interface) and event.", "kind", "event"),
		ignored: r.Counter("inband_ignored_total", "In-band entries ignored because max-entries was reached."),
	}
	r.GaugeFunc("inband_entries", "In-band metadata entries (hosts and interfaces).", func() float64 {
		p.mu.RLock()
		defer p.mu.RUnlock()
		return float64(len(p.hosts) + len(p.ifaces))
	})
	return p, nil
}

// Start runs the expiry loop.
func (p *Provider) Start(ctx context.Context) error {
	ctx, p.cancel = context.WithCancel(ctx)
	p.done = make(chan struct{})
	go p.expireLoop(ctx)
	return nil
}

// Stop ends the expiry loop.
func (p *Provider) Stop() error {
	if p.cancel != nil {
		p.cancel()
		<-p.done
	}
	return nil
}

func (p *Provider) expireLoop(ctx context.Context) {
	defer close(p.done)
	t := time.NewTicker(max(p.cfg.TTL/8, 100*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			p.expire(now)
		}
	}
}

// expire removes entries not refreshed within the TTL.
func (p *Provider) expire(now time.Time) {
	limit := now.Add(-p.cfg.TTL).UnixNano()
	changes := map[metadata.Key]*metadata.Change{}
	change := func(k metadata.Key) *metadata.Change {
		c, ok := changes[k]
		if !ok {
			c = &metadata.Change{Addr: k.Addr, SubAgent: k.SubAgent}
			changes[k] = c
		}
		return c
	}
	p.mu.Lock()
	for k, h := range p.hosts {
		if h.seen.Load() < limit {
			delete(p.hosts, k)
			change(k).Exporter = true
			p.updates.WithLabelValues("host", "expired").Inc()
		}
	}
	for k, e := range p.ifaces {
		if e.seen.Load() < limit {
			delete(p.ifaces, k)
			c := change(k.Key)
			c.IfIndexes = append(c.IfIndexes, k.ifIndex)
			p.updates.WithLabelValues("interface", "expired").Inc()
		}
	}
	p.mu.Unlock()
	for _, c := range changes {
		p.notify(*c)
	}
}

// ObserveHost records the host name a host data source reported.
func (p *Provider) ObserveHost(h *flow.HostCounters) {
	if h.HostName == "" || !h.ExporterAddress.IsValid() {
		return
	}
	k := metadata.MakeKey(h.ExporterAddress, h.SubAgentID)
	now := time.Now().UnixNano()
	p.mu.RLock()
	e, ok := p.hosts[k]
	p.mu.RUnlock()
	if ok && e.name == h.HostName {
		e.seen.Store(now)
		return
	}
	e = &hostEntry{name: strings.Clone(h.HostName)}
	e.seen.Store(now)
	if !p.store(func() bool {
		if _, exists := p.hosts[k]; !exists && p.full() {
			return false
		}
		p.hosts[k] = e
		return true
	}) {
		return
	}
	p.updates.WithLabelValues("host", event(ok)).Inc()
	p.notify(metadata.Change{Addr: k.Addr, SubAgent: k.SubAgent, Exporter: true})
}

// ObserveInterface records what an interface counter sample told about the
// interface.
func (p *Provider) ObserveInterface(c *flow.InterfaceCounters) {
	if !c.ExporterAddress.IsValid() || (c.IfName == "" && c.IfDescription == "" && c.IfKind == "") {
		return
	}
	k := ifKey{metadata.MakeKey(c.ExporterAddress, c.SubAgentID), c.IfIndex}
	meta := metadata.Interface{
		Name:        c.IfName,
		Description: c.IfDescription,
		Speed:       uint32(min(c.IfSpeed/1_000_000, 1<<32-1)),
		Kind:        c.IfKind,
	}
	now := time.Now().UnixNano()
	p.mu.RLock()
	e, ok := p.ifaces[k]
	p.mu.RUnlock()
	if ok && e.meta == meta {
		e.seen.Store(now)
		return
	}
	meta.Name = strings.Clone(meta.Name)
	meta.Description = strings.Clone(meta.Description)
	meta.Kind = strings.Clone(meta.Kind)
	e = &ifEntry{meta: meta}
	e.seen.Store(now)
	if !p.store(func() bool {
		if _, exists := p.ifaces[k]; !exists && p.full() {
			return false
		}
		p.ifaces[k] = e
		return true
	}) {
		return
	}
	p.updates.WithLabelValues("interface", event(ok)).Inc()
	p.notify(metadata.Change{Addr: k.Addr, SubAgent: k.SubAgent, IfIndexes: []uint32{k.ifIndex}})
}

// store runs f under the write lock; false means the entry was refused.
func (p *Provider) store(f func() bool) bool {
	p.mu.Lock()
	ok := f()
	p.mu.Unlock()
	if !ok {
		p.ignored.Inc()
	}
	return ok
}

func (p *Provider) full() bool { return len(p.hosts)+len(p.ifaces) >= p.cfg.MaxEntries }

func event(existed bool) string {
	if existed {
		return "changed"
	}
	return "added"
}

// FillExporter implements metadata.Provider: the exporter is named after
// the host it runs on.
func (p *Provider) FillExporter(k metadata.Key, e *metadata.Exporter) bool {
	p.mu.RLock()
	h, ok := p.hosts[k]
	p.mu.RUnlock()
	if !ok {
		return false
	}
	e.Merge(metadata.Exporter{Name: h.name, HostName: h.name})
	return true
}

// FillInterface implements metadata.Provider.
func (p *Provider) FillInterface(k metadata.Key, ifIndex uint32, i *metadata.Interface) bool {
	p.mu.RLock()
	e, ok := p.ifaces[ifKey{k, ifIndex}]
	p.mu.RUnlock()
	if !ok {
		return false
	}
	i.Merge(e.meta)
	return true
}
