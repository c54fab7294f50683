// Package enrich is the collector component that adds names and attributes
// to flow records in place: exporter and interface metadata from a chain of
// providers (in-band counters, SNMP, static configuration), classification
// rules, AS numbers, countries and cities from GeoIP databases, and network
// attributes from configured prefixes.
//
// The collector calls ObserveCounters and Enrich from its decode workers,
// concurrently. With warm caches Enrich does not allocate or lock: exporter
// and interface metadata are read from copy-on-write snapshots, and address
// answers from a lock-free cache. Anything that has to be computed or
// fetched happens off that path, and a flow whose metadata is unknown goes
// on with empty names: no flow is ever dropped or delayed for metadata.
package enrich

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hostflow/hostflow/enrich/classify"
	"github.com/hostflow/hostflow/enrich/geoip"
	"github.com/hostflow/hostflow/enrich/metadata"
	"github.com/hostflow/hostflow/enrich/metadata/inband"
	"github.com/hostflow/hostflow/enrich/metadata/snmp"
	"github.com/hostflow/hostflow/enrich/metadata/static"
	tailmeta "github.com/hostflow/hostflow/enrich/metadata/tailnet"
	"github.com/hostflow/hostflow/enrich/networks"
	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/internal/config"
	"github.com/hostflow/hostflow/internal/daemon"
)

// Config of the enrichment component (the collector's `enrich` section).
type Config struct {
	// Providers is the metadata provider chain, in order: for each field,
	// the first provider that knows it wins.
	Providers []string      `yaml:"providers"`
	InBand    inband.Config `yaml:"inband"`
	SNMP      snmp.Config   `yaml:"snmp"`
	Static    static.Config `yaml:"static"`
	// Tailnet configures the tailnet provider (used when the collector runs
	// an embedded tailnet node): exporter names from WhoIs.
	Tailnet tailmeta.Config `yaml:"tailnet"`

	GeoIP geoip.Config `yaml:"geoip"`
	// ASProviders chooses Src/DstAS: the first of flow (the AS the exporter
	// put in the flow), flow-except-private (same, ignoring private and
	// reserved AS numbers) and geoip that gives a non-zero AS wins.
	ASProviders []string `yaml:"as-providers"`

	Networks networks.Config `yaml:"networks"`
	// BuiltinNetworks adds roles for special-purpose ranges (private,
	// cgnat, link-local, loopback, multicast, Tailscale's IPv6 range).
	BuiltinNetworks bool `yaml:"builtin-networks"`

	Classify classify.Config `yaml:"classify"`

	// ExporterIdle forgets an exporter (and its cached metadata) after this
	// long without flows or counters.
	ExporterIdle time.Duration `yaml:"exporter-idle"`
	// MaxExporters, MaxInterfaces (per exporter) and MaxTotalInterfaces
	// (all exporters) bound the metadata tables; flows beyond the bounds get
	// no metadata (and are counted).
	MaxExporters       int `yaml:"max-exporters"`
	MaxInterfaces      int `yaml:"max-interfaces"`
	MaxTotalInterfaces int `yaml:"max-total-interfaces"`
	// AddressCacheSize is the number of slots of the address cache (GeoIP
	// and networks answers), rounded up to a power of two.
	AddressCacheSize int `yaml:"address-cache-size"`
	// MetricsMaxExporters bounds the exporter label of the missing-metadata
	// counter; further exporters are counted as "other".
	MetricsMaxExporters int `yaml:"metrics-max-exporters"`
}

// Provider names. inband, snmp and static are built here; tailnet is built
// by the role (it needs the collector's tailnet node) and passed in
// Dependencies.Providers.
const (
	ProviderInBand  = "inband"
	ProviderSNMP    = "snmp"
	ProviderStatic  = "static"
	ProviderTailnet = "tailnet"
)

var providerNames = []string{ProviderInBand, ProviderSNMP, ProviderStatic, ProviderTailnet}

// AS provider names.
const (
	ASFlow              = "flow"
	ASFlowExceptPrivate = "flow-except-private"
	ASGeoIP             = "geoip"
)

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Providers:           []string{ProviderInBand, ProviderSNMP, ProviderStatic},
		InBand:              inband.DefaultConfig(),
		SNMP:                snmp.DefaultConfig(),
		Static:              static.DefaultConfig(),
		Tailnet:             tailmeta.DefaultConfig(),
		GeoIP:               geoip.DefaultConfig(),
		ASProviders:         []string{ASFlow, ASGeoIP},
		BuiltinNetworks:     true,
		Classify:            classify.DefaultConfig(),
		ExporterIdle:        time.Hour,
		MaxExporters:        100_000,
		MaxInterfaces:       16_384,
		MaxTotalInterfaces:  1_000_000,
		AddressCacheSize:    1 << 17,
		MetricsMaxExporters: 1000,
	}
}

// Validate checks the configuration, including every sub-section.
func (c *Config) Validate() error {
	var errs []error
	for i, p := range c.Providers {
		if !slices.Contains(providerNames, p) {
			errs = append(errs, config.Errorf(fmt.Sprintf("providers.%d", i), "unknown provider %q (want %s)", p, strings.Join(providerNames, ", ")))
		} else if slices.Index(c.Providers, p) != i {
			errs = append(errs, config.Errorf(fmt.Sprintf("providers.%d", i), "%q listed twice", p))
		}
	}
	for i, p := range c.ASProviders {
		switch p {
		case ASFlow, ASFlowExceptPrivate, ASGeoIP:
		default:
			errs = append(errs, config.Errorf(fmt.Sprintf("as-providers.%d", i), "unknown AS provider %q (want flow, flow-except-private or geoip)", p))
		}
	}
	if c.ExporterIdle < time.Second {
		errs = append(errs, config.Errorf("exporter-idle", "must be at least 1s"))
	}
	for k, v := range map[string]int{"max-exporters": c.MaxExporters, "max-interfaces": c.MaxInterfaces,
		"max-total-interfaces": c.MaxTotalInterfaces,
		"address-cache-size":   c.AddressCacheSize, "metrics-max-exporters": c.MetricsMaxExporters} {
		if v < 1 {
			errs = append(errs, config.Errorf(k, "must be positive"))
		}
	}
	if c.AddressCacheSize > 1<<26 {
		errs = append(errs, config.Errorf("address-cache-size", "at most %d", 1<<26))
	}
	errs = append(errs,
		config.Prefix("inband", c.InBand.Validate()),
		config.Prefix("snmp", c.SNMP.Validate()),
		config.Prefix("static", c.Static.Validate()),
		config.Prefix("tailnet", c.Tailnet.Validate()),
		config.Prefix("geoip", c.GeoIP.Validate()),
		config.Prefix("networks", c.Networks.Validate()),
		config.Prefix("classify", c.Classify.Validate()))
	return errors.Join(errs...)
}

// Dependencies of the enricher.
type Dependencies struct {
	Reporter *daemon.Reporter
	// Providers builds, by name, the metadata providers that live outside
	// this package because they need what only the role has (the tailnet
	// provider needs the collector's tailnet node). A name in
	// Config.Providers that is not built here must be in this map. The
	// enricher passes its change callback, and starts and stops the
	// provider with itself when it is a daemon.Component.
	Providers map[string]ProviderFactory
}

// ProviderFactory builds a provider that reports changes through notify.
type ProviderFactory func(notify metadata.Notify) (metadata.Provider, error)

// Enricher is the component.
type Enricher struct {
	cfg        Config
	r          *daemon.Reporter
	inband     *inband.Provider
	chain      metadata.Chain
	classifier *classify.Classifier
	geo        *geoip.DB
	nets       *networks.Table
	asProv     []asProvider

	shards     [shardCount]shard
	nExporters atomic.Int64
	nIfaces    atomic.Int64
	labelled   atomic.Int64
	addr       atomic.Pointer[addrCache]
	clock      atomic.Int64 // unix seconds, updated every second

	components []daemon.Named
	group      *daemon.Group
	cancel     context.CancelFunc
	wg         sync.WaitGroup

	missing         *prometheus.CounterVec
	refused         *prometheus.CounterVec
	refusedExporter prometheus.Counter
	resolves        *prometheus.CounterVec
	addrHit         prometheus.Counter
	addrMiss        prometheus.Counter
	expired         prometheus.Counter
}

// New builds an inert enricher.
func New(cfg Config, deps Dependencies) (*Enricher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := deps.Reporter.Sub("enrich")
	en := &Enricher{
		cfg:    cfg,
		r:      r,
		asProv: compileASProviders(cfg.ASProviders),
		missing: r.CounterVec("flows_without_metadata_total",
			"Flows lacking metadata, by exporter address and what is missing (exporter: no name; interface: an ifIndex without name).",
			"exporter", "missing"),
		refused: r.CounterVec("refused_total",
			"Exporters or interfaces not tracked because max-exporters or max-interfaces was reached.", "reason"),
		resolves: r.CounterVec("resolves_total",
			"Exporter and interface metadata (re)computations (provider chain + rules).", "kind"),
		expired: r.Counter("exporters_expired_total", "Exporters forgotten after exporter-idle without flows."),
	}
	en.refusedExporter = en.refused.WithLabelValues("exporter")
	addrStats := r.CounterVec("address_cache_total", "Address cache lookups (GeoIP and networks), by result (hit, miss).", "result")
	en.addrHit, en.addrMiss = addrStats.WithLabelValues("hit"), addrStats.WithLabelValues("miss")
	for i := range en.shards {
		en.shards[i].exporters = map[metadata.Key]*exporterState{}
	}
	en.clock.Store(time.Now().Unix())
	r.GaugeFunc("exporters", "Exporters with metadata entries.", func() float64 { return float64(en.nExporters.Load()) })
	r.GaugeFunc("interfaces", "Interfaces with metadata entries (all exporters).", func() float64 { return float64(en.nIfaces.Load()) })

	var err error
	if en.classifier, err = classify.New(cfg.Classify); err != nil {
		return nil, err
	}
	if en.nets, err = networks.New(cfg.Networks, cfg.BuiltinNetworks); err != nil {
		return nil, err
	}
	if en.geo, err = geoip.New(cfg.GeoIP, r); err != nil {
		return nil, err
	}
	en.components = append(en.components, daemon.Named{Name: "geoip", Component: en.geo})
	for _, name := range cfg.Providers {
		switch name {
		case ProviderInBand:
			if en.inband, err = inband.New(cfg.InBand, r, en.onChange); err != nil {
				return nil, err
			}
			en.chain = append(en.chain, en.inband)
			en.components = append(en.components, daemon.Named{Name: "inband", Component: en.inband})
		case ProviderSNMP:
			p, err := snmp.New(cfg.SNMP, r, en.onChange)
			if err != nil {
				return nil, err
			}
			en.chain = append(en.chain, p)
			en.components = append(en.components, daemon.Named{Name: "snmp", Component: p})
		case ProviderStatic:
			p, err := static.New(cfg.Static)
			if err != nil {
				return nil, err
			}
			en.chain = append(en.chain, p)
		default:
			factory, ok := deps.Providers[name]
			if !ok {
				return nil, fmt.Errorf("metadata provider %q is not available in this role (the tailnet provider needs the collector's embedded tailnet node)", name)
			}
			p, err := factory(en.onChange)
			if err != nil {
				return nil, fmt.Errorf("metadata provider %s: %w", name, err)
			}
			en.chain = append(en.chain, p)
			if c, ok := p.(daemon.Component); ok {
				en.components = append(en.components, daemon.Named{Name: name, Component: c})
			}
		}
	}
	en.addr.Store(newAddrCache(en.geo.Current(), en.nets, cfg.AddressCacheSize))
	return en, nil
}

// Start loads the GeoIP databases and starts the providers and the
// maintenance loop.
func (en *Enricher) Start(ctx context.Context) error {
	en.group = daemon.NewGroup(en.r.Logger())
	if err := en.group.Start(ctx, en.components...); err != nil {
		return err
	}
	ctx, en.cancel = context.WithCancel(ctx)
	en.wg.Add(1)
	go en.maintain(ctx)
	return nil
}

// Stop stops everything Start started.
func (en *Enricher) Stop() error {
	if en.cancel != nil {
		en.cancel()
		en.wg.Wait()
	}
	if en.group != nil {
		return en.group.Stop()
	}
	return nil
}

// maintain ticks the coarse clock and expires idle exporters.
func (en *Enricher) maintain(ctx context.Context) {
	defer en.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	lastExpiry := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			en.clock.Store(now.Unix())
			if now.Sub(lastExpiry) >= min(en.cfg.ExporterIdle/4, time.Minute) {
				lastExpiry = now
				en.expire(now.Add(-en.cfg.ExporterIdle).Unix())
			}
		}
	}
}

// cache returns the address cache for the current GeoIP databases,
// replacing it after a reload.
func (en *Enricher) cache() *addrCache {
	c := en.addr.Load()
	if set := en.geo.Current(); c.geo != set {
		n := newAddrCache(set, en.nets, en.cfg.AddressCacheSize)
		if en.addr.CompareAndSwap(c, n) {
			return n
		}
		return en.addr.Load()
	}
	return c
}

// ObserveCounters feeds the in-band provider from counter samples and sets
// the exporter name on interface counter records.
func (en *Enricher) ObserveCounters(ifaces []flow.InterfaceCounters, hosts []flow.HostCounters) {
	if en.inband != nil {
		for i := range hosts {
			en.inband.ObserveHost(&hosts[i])
		}
		for i := range ifaces {
			en.inband.ObserveInterface(&ifaces[i])
		}
	}
	now := en.clock.Load()
	for i := range hosts {
		en.exporter(hosts[i].ExporterAddress, hosts[i].SubAgentID, now)
	}
	for i := range ifaces {
		c := &ifaces[i]
		if ex := en.exporter(c.ExporterAddress, c.SubAgentID, now); ex != nil && c.ExporterName == "" {
			c.ExporterName = ex.info.Load().Name
		}
	}
}
