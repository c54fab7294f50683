// Package roles wires components into the roles of the hostflow binary
// (agent, collector, standalone) and owns the top-level configuration file
// that composes each component's configuration.
package roles

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/hostflow/hostflow/agent"
	"github.com/hostflow/hostflow/collector"
	"github.com/hostflow/hostflow/console"
	"github.com/hostflow/hostflow/decoder"
	"github.com/hostflow/hostflow/detect"
	"github.com/hostflow/hostflow/enrich"
	"github.com/hostflow/hostflow/inlet"
	"github.com/hostflow/hostflow/internal/config"
	"github.com/hostflow/hostflow/internal/demo"
	"github.com/hostflow/hostflow/query"
	"github.com/hostflow/hostflow/sflow"
	"github.com/hostflow/hostflow/store"
	"github.com/hostflow/hostflow/tailnet"
)

// Config is the whole configuration file. Every role reads the sections it
// uses and ignores the others, so one file can serve standalone and split
// deployments alike.
type Config struct {
	Log  LogConfig  `yaml:"log"`
	HTTP HTTPConfig `yaml:"http"`
	// Agent: sampling, counters, process attribution, sFlow export.
	Agent agent.Config `yaml:"agent"`
	// Inlet: the collector's UDP listeners.
	Inlet inlet.Config `yaml:"inlet"`
	// Collector: what the collector does between decoding and storing
	// (per-exporter rate limit).
	Collector collector.Config `yaml:"collector"`
	// SFlow and NetFlow: decoder settings.
	SFlow   decoder.SFlowConfig   `yaml:"sflow"`
	NetFlow decoder.NetFlowConfig `yaml:"netflow"`
	// Enrich: metadata providers, classification, GeoIP, networks.
	Enrich enrich.Config `yaml:"enrich"`
	// Store: embedded chDB or ClickHouse server.
	Store store.Config `yaml:"store"`
	// Query: limits of what one request may ask for.
	Query query.Config `yaml:"query"`
	// Console: the web console and HTTP API v1.
	Console console.Config `yaml:"console"`
	// Detect: rules that tell when a host behaves unusually (port scans,
	// new peers, egress spikes, new services, saturation, retransmits).
	Detect detect.Config `yaml:"detect"`
	// Tailnet: an embedded Tailscale node for the agent (sends through it)
	// or the collector (listens and serves the console on it).
	Tailnet tailnet.Config `yaml:"tailnet"`
	// Demo: the namespace and link of standalone --demo-traffic.
	Demo demo.Config `yaml:"demo"`
}

// LogConfig selects the log level and format.
type LogConfig struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is auto (text on a terminal, JSON otherwise), text or json.
	Format string `yaml:"format"`
}

// HTTPConfig is the operational HTTP endpoint (/metrics, /healthz, pprof).
type HTTPConfig struct {
	// Listen is the address of the metrics/health endpoint; empty disables it.
	Listen string `yaml:"listen"`
	// Pprof exposes /debug/pprof on the same endpoint.
	Pprof bool `yaml:"pprof"`
}

// Defaults returns the configuration used when no file is given.
func Defaults() Config {
	return Config{
		Log:       LogConfig{Level: "info", Format: "auto"},
		HTTP:      HTTPConfig{Listen: "127.0.0.1:9465"},
		Agent:     agent.DefaultConfig(),
		Inlet:     inlet.DefaultConfig(),
		Collector: collector.DefaultConfig(),
		SFlow:     decoder.DefaultSFlowConfig(),
		NetFlow:   decoder.DefaultNetFlowConfig(),
		Enrich:    enrich.DefaultConfig(),
		Store:     store.DefaultConfig(),
		Query:     query.DefaultConfig(),
		Console:   console.DefaultConfig(),
		Detect:    detect.DefaultConfig(),
		Tailnet:   tailnet.DefaultConfig(),
		Demo:      demo.DefaultConfig(),
	}
}

// Load reads a configuration file over the defaults.
func Load(path string) (Config, error) {
	cfg := Defaults()
	if path == "" {
		return cfg, nil
	}
	err := config.Load(path, &cfg)
	return cfg, err
}

// Validate checks values that YAML typing alone cannot.
func (c *Config) Validate() error {
	var errs []error
	if _, err := c.Log.SlogLevel(); err != nil {
		errs = append(errs, config.Errorf("log.level", "%v", err))
	}
	switch c.Log.Format {
	case "auto", "text", "json":
	default:
		errs = append(errs, config.Errorf("log.format", "must be auto, text or json, not %q", c.Log.Format))
	}
	// Through the embedded node, a datagram larger than IPv6's minimum MTU
	// less its headers cannot cross the tunnel: every send would fail.
	if c.Tailnet.Enabled && c.Agent.DatagramSize > sflow.DefaultMaxDatagramSize {
		errs = append(errs, config.Errorf("agent.datagram-size",
			"must be at most %d with tailnet.enabled (the tunnel's 1280-byte MTU), not %d", sflow.DefaultMaxDatagramSize, c.Agent.DatagramSize))
	}
	errs = append(errs,
		config.Prefix("agent", c.Agent.Validate()),
		config.Prefix("inlet", c.Inlet.Validate()),
		config.Prefix("collector", c.Collector.Validate()),
		config.Prefix("sflow", c.SFlow.Validate()),
		config.Prefix("netflow", c.NetFlow.Validate()),
		config.Prefix("enrich", c.Enrich.Validate()),
		config.Prefix("store", c.Store.Validate()),
		config.Prefix("query", c.Query.Validate()),
		config.Prefix("console", c.Console.Validate()),
		config.Prefix("detect", c.Detect.Validate()),
		config.Prefix("demo", c.Demo.Validate()),
	)
	return errors.Join(errs...)
}

// SlogLevel parses Level.
func (l LogConfig) SlogLevel() (slog.Level, error) {
	switch strings.ToLower(l.Level) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown level %q (debug, info, warn, error)", l.Level)
}
