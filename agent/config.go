package agent

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"time"

	"github.com/hostflow/hostflow/agent/exporter"
	"github.com/hostflow/hostflow/agent/procmap"
	"github.com/hostflow/hostflow/agent/sampler"
	"github.com/hostflow/hostflow/internal/config"
)

// Config is the agent's configuration (the agent section of the file).
// The exporter's keys (collectors, agent-interface, agent-address,
// sub-agent-id, datagram-size, ...) sit at the same level.
type Config struct {
	// Interfaces selects the sampled and polled interfaces by name or glob
	// (path.Match syntax); empty means every interface that is up, except
	// loopback.
	Interfaces []string `yaml:"interfaces"`
	// ExcludeInterfaces removes interfaces (names or globs) from the
	// selection.
	ExcludeInterfaces []string `yaml:"exclude-interfaces"`
	// Sampling chooses the 1-in-N rate of each interface.
	Sampling SamplingConfig `yaml:"sampling"`
	// HeaderBytes is the number of header bytes per sample (sFlow allows
	// up to 256).
	HeaderBytes int `yaml:"header-bytes"`
	// Polling is the interval of counter samples (0 disables them).
	Polling time.Duration `yaml:"polling"`
	// Rescan is how often interfaces are listed again to pick up new and
	// removed ones (tailscale0 appearing after boot, containers' veths).
	Rescan time.Duration `yaml:"rescan"`
	// QueueSize bounds samples waiting for attribution and packing; when
	// full, samples are dropped and counted in the drops field.
	QueueSize int `yaml:"sample-queue"`
	// Process configures the attribution of samples to processes.
	Process procmap.Config `yaml:"process"`
	// NFLOG also takes samples from a netfilter log group (off when Group
	// is 0), for hosts that sample with nftables rules.
	NFLOG NFLOGConfig `yaml:"nflog"`
	// TCPInfo adds the socket's tcp_info (0:2209: RTT, retransmits) to
	// attributed TCP samples. tshark 4.0 cannot skip this record and
	// misreads the ones after it; turn it off to inspect with tshark.
	TCPInfo bool `yaml:"tcp-info"`

	exporter.Config `yaml:",inline"`
}

// SamplingConfig chooses sampling rates, in this order: per interface name,
// by link speed, then N = speed / 1 Mbit/s (at least 100) when the speed is
// known, else Default. Only hardware (physical, bond, VLAN) speeds count:
// virtual devices (tun, veth, bridge) get Default.
type SamplingConfig struct {
	// Default is the 1-in-N rate of interfaces whose speed is unknown or
	// virtual (tun, veth, bridge) and that no other key names.
	Default uint32 `yaml:"default"`
	// BySpeed maps a link speed ("100M", "1G", "10G", "25G", ...) to a rate,
	// like hsflowd's sampling.1G=...; unlisted hardware speeds get
	// speed / 1 Mbit/s, at least 100.
	BySpeed map[string]uint32 `yaml:"by-speed"`
	// Interfaces maps an interface name to a rate; it wins over
	// everything else.
	Interfaces map[string]uint32 `yaml:"interfaces"`
}

// NFLOGConfig selects a netfilter log group as a sample source. The rules
// feeding it choose 1 packet in Rate (numgen random mod Rate == 0 or
// iptables' statistic match); Rate must say the same.
type NFLOGConfig struct {
	// Group is the netfilter log group (nftables "log group N"); 0 is off.
	Group uint16 `yaml:"group"`
	// Rate is the 1-in-N sampling the rules apply.
	Rate uint32 `yaml:"rate"`
}

// DefaultConfig returns the zero-config agent: every up interface but
// loopback, hsflowd's rates, 128-byte headers, counters every 20 s.
func DefaultConfig() Config {
	return Config{
		Sampling:    SamplingConfig{Default: 400},
		HeaderBytes: 128,
		Polling:     20 * time.Second,
		Rescan:      10 * time.Second,
		QueueSize:   4096,
		Process:     procmap.DefaultConfig(),
		TCPInfo:     true,
		Config:      exporter.DefaultConfig(),
	}
}

// Validate checks the configuration; keys are relative to the agent section.
func (c *Config) Validate() error {
	var errs []error
	for i, p := range append(append([]string(nil), c.Interfaces...), c.ExcludeInterfaces...) {
		if _, err := path.Match(p, ""); err != nil {
			key := "interfaces." + strconv.Itoa(i)
			if i >= len(c.Interfaces) {
				key = "exclude-interfaces." + strconv.Itoa(i-len(c.Interfaces))
			}
			errs = append(errs, config.Errorf(key, "bad pattern %q: %v", p, err))
		}
	}
	errs = append(errs, config.Prefix("sampling", c.Sampling.validate()))
	if c.HeaderBytes < 14 || c.HeaderBytes > sampler.MaxHeader {
		errs = append(errs, config.Errorf("header-bytes", "must be in [14, %d], not %d", sampler.MaxHeader, c.HeaderBytes))
	}
	if c.Polling != 0 && c.Polling < time.Second {
		errs = append(errs, config.Errorf("polling", "must be 0 (off) or at least 1s, not %v", c.Polling))
	}
	if c.Rescan < time.Second {
		errs = append(errs, config.Errorf("rescan", "must be at least 1s, not %v", c.Rescan))
	}
	if c.QueueSize < 1 {
		errs = append(errs, config.Errorf("sample-queue", "must be positive"))
	}
	if c.NFLOG.Group != 0 && c.NFLOG.Rate < 1 {
		errs = append(errs, config.Errorf("nflog.rate", "must be the 1-in-N rate of the nftables rules (≥ 1)"))
	}
	if c.Process.Enabled {
		errs = append(errs, config.Prefix("process", c.Process.Validate()))
	}
	errs = append(errs, c.Config.Validate())
	return errors.Join(errs...)
}

func (s SamplingConfig) validate() error {
	var errs []error
	if s.Default < 1 {
		errs = append(errs, config.Errorf("default", "must be at least 1"))
	}
	for k, v := range s.BySpeed {
		if _, err := parseSpeed(k); err != nil {
			errs = append(errs, config.Errorf("by-speed."+k, "%v", err))
		}
		if v < 1 {
			errs = append(errs, config.Errorf("by-speed."+k, "rate must be at least 1"))
		}
	}
	for k, v := range s.Interfaces {
		if v < 1 {
			errs = append(errs, config.Errorf("interfaces."+k, "rate must be at least 1"))
		}
	}
	return errors.Join(errs...)
}

// parseSpeed reads "100M", "1G", "2.5G", "10G", "100G" as bits per second.
func parseSpeed(s string) (uint64, error) {
	if len(s) < 2 {
		return 0, fmt.Errorf("speed %q: want a number and K, M, G or T (e.g. 10G)", s)
	}
	mult := map[byte]float64{'K': 1e3, 'M': 1e6, 'G': 1e9, 'T': 1e12}[s[len(s)-1]]
	if mult == 0 {
		return 0, fmt.Errorf("speed %q: want a number and K, M, G or T (e.g. 10G)", s)
	}
	v, err := strconv.ParseFloat(s[:len(s)-1], 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("speed %q: bad number", s)
	}
	return uint64(v * mult), nil
}

// Rate returns the sampling rate of an interface of the given speed (bits
// per second, 0 unknown).
func (s SamplingConfig) Rate(name string, speed uint64) uint32 {
	if r, ok := s.Interfaces[name]; ok {
		return r
	}
	if speed == 0 {
		return s.Default
	}
	for k, r := range s.BySpeed {
		if v, err := parseSpeed(k); err == nil && v == speed {
			return r
		}
	}
	return uint32(max(speed/1e6, 100))
}

// selected reports whether the interface named name is sampled: it matches
// Interfaces (or Interfaces is empty and sampleable says so) and matches no
// ExcludeInterfaces pattern.
func (c *Config) selected(name string, sampleable bool) bool {
	for _, p := range c.ExcludeInterfaces {
		if ok, _ := path.Match(p, name); ok {
			return false
		}
	}
	if len(c.Interfaces) == 0 {
		return sampleable
	}
	for _, p := range c.Interfaces {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}
