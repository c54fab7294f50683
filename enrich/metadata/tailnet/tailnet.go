// Package tailnet is the metadata provider that names exporters reached
// over the tailnet after their tailnet node (WhoIs through the collector's
// embedded node): the name is the node's MagicDNS name, which the tailnet's
// control server vouches for, unlike a host name an exporter reports about
// itself. Lookups run in the background: a miss answers "unknown" now,
// queues the address and calls Notify when the answer arrives, so flows
// never wait.
package tailnet

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hostflow/hostflow/enrich/metadata"
	"github.com/hostflow/hostflow/internal/config"
	"github.com/hostflow/hostflow/internal/daemon"
)

// Config of the provider.
type Config struct {
	// Prefixes are the tailnet's address ranges; other exporters are not
	// looked up.
	Prefixes []netip.Prefix `yaml:"prefixes"`
	// TTL is how often known names are checked again (a node renamed, an
	// address reassigned).
	TTL time.Duration `yaml:"ttl"`
	// NegativeTTL is how long an address without an answer waits before
	// the next lookup.
	NegativeTTL time.Duration `yaml:"negative-ttl"`
	// Timeout bounds one lookup.
	Timeout time.Duration `yaml:"timeout"`
	// MaxEntries bounds the addresses remembered.
	MaxEntries int `yaml:"max-entries"`
	// QueueSize bounds the lookups waiting.
	QueueSize int `yaml:"queue-size"`
}

// DefaultConfig covers Tailscale's (and Headscale's default) ranges,
// 100.64.0.0/10 and fd7a:115c:a1e0::/48.
func DefaultConfig() Config {
	return Config{
		Prefixes:    []netip.Prefix{netip.MustParsePrefix("100.64.0.0/10"), netip.MustParsePrefix("fd7a:115c:a1e0::/48")},
		TTL:         10 * time.Minute,
		NegativeTTL: time.Minute,
		Timeout:     5 * time.Second,
		MaxEntries:  100_000,
		QueueSize:   1024,
	}
}

// Validate checks the values.
func (c *Config) Validate() error {
	var errs []error
	for i, p := range c.Prefixes {
		if !p.IsValid() {
			errs = append(errs, config.Errorf(fmt.Sprintf("prefixes.%d", i), "not a prefix"))
		}
	}
	for key, d := range map[string]time.Duration{"ttl": c.TTL, "negative-ttl": c.NegativeTTL, "timeout": c.Timeout} {
		if d < time.Millisecond {
			errs = append(errs, config.Errorf(key, "must be positive"))
		}
	}
	if c.MaxEntries < 1 {
		errs = append(errs, config.Errorf("max-entries", "must be positive"))
	}
	if c.QueueSize < 1 {
		errs = append(errs, config.Errorf("queue-size", "must be positive"))
	}
	return errors.Join(errs...)
}

// WhoIs names the tailnet node holding addr (tailnet.Node.WhoIs's Name).
type WhoIs func(ctx context.Context, addr netip.Addr) (string, error)

type entry struct {
	name    string    // last name known; kept when a later lookup fails
	checked time.Time // last lookup that answered
	retry   time.Time // no answer yet: next lookup not before
	queued  bool
}

// Provider names tailnet exporters.
type Provider struct {
	cfg    Config
	whois  WhoIs
	notify metadata.Notify
	now    func() time.Time

	mu      sync.Mutex
	entries map[netip.Addr]*entry
	queue   chan netip.Addr

	lookups *prometheus.CounterVec
	dropped *prometheus.CounterVec
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// New returns an inert provider; notify is called (without locks held)
// when a name is learned or changes.
func New(cfg Config, r *daemon.Reporter, whois WhoIs, notify metadata.Notify) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Provider{cfg: cfg, whois: whois, notify: notify, now: time.Now,
		entries: map[netip.Addr]*entry{},
		queue:   make(chan netip.Addr, cfg.QueueSize),
		lookups: r.CounterVec("tailnet_lookups_total", "Tailnet WhoIs lookups of exporter addresses, by result (ok, error).", "result"),
		dropped: r.CounterVec("tailnet_dropped_total", "Tailnet lookups not queued, by reason (queue_full, max_entries).", "reason"),
	}
	r.GaugeFunc("tailnet_entries", "Tailnet exporter addresses remembered.", func() float64 {
		p.mu.Lock()
		defer p.mu.Unlock()
		return float64(len(p.entries))
	})
	return p, nil
}

// Start runs the lookup worker and the refresh loop.
func (p *Provider) Start(ctx context.Context) error {
	ctx, p.cancel = context.WithCancel(ctx)
	p.wg.Add(2)
	go p.worker(ctx)
	go p.refreshLoop(ctx)
	return nil
}

// Stop ends them; a lookup in progress is cancelled.
func (p *Provider) Stop() error {
	if p.cancel != nil {
		p.cancel()
		p.wg.Wait()
	}
	return nil
}

func (p *Provider) covers(a netip.Addr) bool {
	for _, pf := range p.cfg.Prefixes {
		if pf.Contains(a) {
			return true
		}
	}
	return false
}

// FillExporter implements metadata.Provider: a tailnet exporter is named
// after its node once the lookup answered.
func (p *Provider) FillExporter(k metadata.Key, e *metadata.Exporter) bool {
	if e.Name != "" || !p.covers(k.Addr) {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	en, ok := p.entries[k.Addr]
	if !ok {
		if len(p.entries) >= p.cfg.MaxEntries {
			p.dropped.WithLabelValues("max_entries").Inc()
			return false
		}
		en = &entry{}
		p.entries[k.Addr] = en
	}
	if en.name != "" {
		e.Merge(metadata.Exporter{Name: en.name})
		return true
	}
	if !en.queued && !p.now().Before(en.retry) {
		p.enqueue(k.Addr, en)
	}
	return false
}

// FillInterface implements metadata.Provider: WhoIs knows nodes, not their
// interfaces.
func (p *Provider) FillInterface(metadata.Key, uint32, *metadata.Interface) bool { return false }

// Forget implements metadata.Forgetter.
func (p *Provider) Forget(addr netip.Addr) {
	p.mu.Lock()
	delete(p.entries, addr)
	p.mu.Unlock()
}

// enqueue queues a lookup without blocking. Called with p.mu held.
func (p *Provider) enqueue(a netip.Addr, en *entry) {
	select {
	case p.queue <- a:
		en.queued = true
	default:
		p.dropped.WithLabelValues("queue_full").Inc()
		en.retry = p.now().Add(p.cfg.NegativeTTL)
	}
}

func (p *Provider) worker(ctx context.Context) {
	defer p.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case a := <-p.queue:
			p.lookup(ctx, a)
		}
	}
}

// lookup asks WhoIs and records the answer; a new or changed name is
// notified.
func (p *Provider) lookup(ctx context.Context, a netip.Addr) {
	lctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	name, err := p.whois(lctx, a)
	cancel()
	if ctx.Err() != nil {
		return
	}
	p.mu.Lock()
	now := p.now()
	en, ok := p.entries[a]
	if !ok { // forgotten meanwhile
		p.mu.Unlock()
		return
	}
	en.queued = false
	changed := false
	if err != nil || name == "" {
		p.lookups.WithLabelValues("error").Inc()
		en.retry = now.Add(p.cfg.NegativeTTL)
	} else {
		p.lookups.WithLabelValues("ok").Inc()
		changed = name != en.name
		en.name, en.checked = name, now
	}
	p.mu.Unlock()
	if changed {
		p.notify(metadata.Change{Addr: a, AllSubAgents: true, Exporter: true})
	}
}

// refreshLoop looks known names up again once they are older than the TTL.
func (p *Provider) refreshLoop(ctx context.Context) {
	defer p.wg.Done()
	t := time.NewTicker(max(p.cfg.TTL/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.mu.Lock()
		now := p.now()
		for a, en := range p.entries {
			if en.name != "" && !en.queued && now.Sub(en.checked) >= p.cfg.TTL && !now.Before(en.retry) {
				p.enqueue(a, en)
			}
		}
		p.mu.Unlock()
	}
}
