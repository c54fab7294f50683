package detect

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/internal/config"
	"github.com/hostflow/hostflow/query/filter"
)

// Config is the detect section of the configuration file.
type Config struct {
	// Enabled runs the rules; when false the component only serves the
	// detections already stored.
	Enabled bool `yaml:"enabled"`
	// Interval between two evaluations of every rule.
	Interval config.Duration `yaml:"interval"`
	// Delay is how far behind the clock evaluations look, so that flows
	// still in the collector's batches (store batch-time) have arrived.
	Delay config.Duration `yaml:"delay"`
	// CoolDown: a rule finding the same subject again within this time of
	// its last finding updates the existing detection (count, values,
	// evidence) instead of opening a new one. A detection is active until
	// then.
	CoolDown config.Duration `yaml:"cool-down"`
	// Retention of the detections table (TTL on the last finding).
	Retention config.Duration `yaml:"retention"`
	// MaxFindings bounds the findings one rule reports per evaluation (the
	// strongest first); the rest are counted as dropped.
	MaxFindings int `yaml:"max-findings"`
	// QueryTimeout bounds one evaluation of one rule.
	QueryTimeout config.Duration `yaml:"query-timeout"`

	Rules RulesConfig `yaml:"rules"`
	Sinks SinksConfig `yaml:"sinks"`
}

// RulesConfig holds every built-in rule.
type RulesConfig struct {
	PortScan            PortScanConfig   `yaml:"port-scan"`
	NewPeer             NewPeerConfig    `yaml:"new-peer"`
	EgressSpike         SpikeConfig      `yaml:"egress-spike"`
	NewService          NewServiceConfig `yaml:"new-service"`
	InterfaceSaturation SaturationConfig `yaml:"interface-saturation"`
	Retransmits         RetransConfig    `yaml:"retransmits"`
}

// RuleConfig are the keys every rule has.
type RuleConfig struct {
	Enabled bool `yaml:"enabled"`
	// Severity is copied into detections: info, warning or critical.
	Severity string `yaml:"severity"`
	// Window is the stretch of recent data one evaluation looks at.
	Window config.Duration `yaml:"window"`
}

// FlowRuleConfig adds an exclusion filter to rules over flows.
type FlowRuleConfig struct {
	RuleConfig `yaml:",inline"`
	// Exclude is a filter (console filter language) of flows the rule
	// ignores, e.g. "ProcessName = 'prometheus'".
	Exclude string `yaml:"exclude"`
}

// PortScanConfig: one source sending TCP connection attempts (SYN without
// ACK) to many destination ports or hosts within the window.
type PortScanConfig struct {
	FlowRuleConfig `yaml:",inline"`
	// Ports is the number of distinct destination ports (estimated, see
	// docs) that makes a scan.
	Ports int `yaml:"ports"`
	// Hosts is the number of distinct destination addresses that makes a
	// scan.
	Hosts int `yaml:"hosts"`
	// MinDistinct is the least number of distinct ports or hosts actually
	// seen in samples before an estimate counts.
	MinDistinct int `yaml:"min-distinct"`
	// MinDistinctRatio is the least share of sampled attempts that went to
	// a port (or host) no other sample went to: scans probe each target
	// once, busy clients reconnect to the same few.
	MinDistinctRatio float64 `yaml:"min-distinct-ratio"`
}

// NoveltyConfig is shared by the rules that compare what a host does now
// with what it did over a baseline.
type NoveltyConfig struct {
	FlowRuleConfig `yaml:",inline"`
	// Baseline is how long something seen stays known.
	Baseline config.Duration `yaml:"baseline"`
	// MinHistory is how long a host (or process) must have been seen
	// before it is judged: everything is new to a host that just started.
	MinHistory config.Duration `yaml:"min-history"`
}

// NewPeerConfig: a host (or one of its processes) opens connections to an
// address, AS or country it never talked to within the baseline.
type NewPeerConfig struct {
	NoveltyConfig `yaml:",inline"`
	// Kinds of peer identity compared: address, as, country.
	Kinds []string `yaml:"kinds"`
	// PerProcess also reports a process reaching a peer new to it (but
	// known to its host).
	PerProcess bool `yaml:"per-process"`
}

// NewServiceConfig: a host accepts traffic on a local port that served
// nothing within the baseline.
type NewServiceConfig struct {
	NoveltyConfig `yaml:",inline"`
	// MaxPort ignores local ports above it: the ephemeral range (Linux:
	// 32768-60999) holds client sockets, not services.
	MaxPort int `yaml:"max-port"`
}

// SpikeConfig: a host's (or process's) egress rate over the window is
// more than Factor times its usual rate at that hour of the day.
type SpikeConfig struct {
	FlowRuleConfig `yaml:",inline"`
	Factor         float64 `yaml:"factor"`
	// MinRate (bits/s) ignores spikes below it, whatever the factor.
	MinRate float64 `yaml:"min-rate"`
	// BaselineDays of the same hour of the day are averaged.
	BaselineDays int `yaml:"baseline-days"`
	// MinDays of same-hour history are needed for the hour-of-day
	// baseline; with fewer, the average over FallbackWindow before the
	// window is used.
	MinDays        int             `yaml:"min-days"`
	FallbackWindow config.Duration `yaml:"fallback-window"`
	// MinHistory of traffic the fallback needs before judging.
	MinHistory config.Duration `yaml:"min-history"`
	// PerProcess reports a process whose own rate spikes when its host's
	// total does not.
	PerProcess bool `yaml:"per-process"`
}

// SaturationConfig: the Percentile of an interface's per-sample rate (from
// interface counters) over the window is above Threshold % of its speed.
type SaturationConfig struct {
	RuleConfig `yaml:",inline"`
	Percentile float64 `yaml:"percentile"`
	Threshold  float64 `yaml:"threshold"`
	// MinSamples is the least number of counter intervals in the window.
	MinSamples int `yaml:"min-samples"`
	// ExcludeKinds skips interfaces whose kind reports a fictitious speed.
	ExcludeKinds []string `yaml:"exclude-kinds"`
}

// RetransConfig: a host retransmits more than Threshold % of the TCP
// segments it sends (host counters, TCPRetransSegs / TCPOutSegs).
type RetransConfig struct {
	RuleConfig `yaml:",inline"`
	Threshold  float64 `yaml:"threshold"`
	// MinSegments sent in the window before the ratio means anything.
	MinSegments uint64 `yaml:"min-segments"`
}

// SinksConfig: where detections go besides the store and the API.
type SinksConfig struct {
	Log     LogSinkConfig     `yaml:"log"`
	Webhook WebhookSinkConfig `yaml:"webhook"`
}

// LogSinkConfig logs detections through the collector's logger.
type LogSinkConfig struct {
	Enabled bool `yaml:"enabled"`
	// Updates also logs (at info level) findings that update an active
	// detection.
	Updates bool `yaml:"updates"`
}

// WebhookSinkConfig POSTs detections as JSON.
type WebhookSinkConfig struct {
	// URL of the receiver; empty disables the webhook.
	URL string `yaml:"url"`
	// Headers added to every request (e.g. Authorization).
	Headers map[string]string `yaml:"headers"`
	// Secret signs each body: X-Hostflow-Signature: sha256=<hex HMAC>.
	Secret string `yaml:"secret"`
	// Updates also sends findings that update an active detection.
	Updates bool            `yaml:"updates"`
	Timeout config.Duration `yaml:"timeout"`
	// Retries after the first attempt, with exponential backoff from
	// Backoff up to MaxBackoff.
	Retries    int             `yaml:"retries"`
	Backoff    config.Duration `yaml:"backoff"`
	MaxBackoff config.Duration `yaml:"max-backoff"`
	// Queue bounds the events waiting to be sent; when full, new events
	// are dropped and counted.
	Queue int `yaml:"queue"`
}

// Rule names, as in configuration keys, metrics and stored detections.
const (
	RulePortScan            = "port-scan"
	RuleNewPeer             = "new-peer"
	RuleEgressSpike         = "egress-spike"
	RuleNewService          = "new-service"
	RuleInterfaceSaturation = "interface-saturation"
	RuleRetransmits         = "retransmits"
)

// Peer kinds of the new-peer rule.
const (
	KindAddress = "address"
	KindAS      = "as"
	KindCountry = "country"
)

const day = 24 * time.Hour

func dur(d time.Duration) config.Duration { return config.Duration(d) }

// DefaultConfig returns the defaults: every rule on, evaluated each minute.
func DefaultConfig() Config {
	rule := func(sev string, window time.Duration) RuleConfig {
		return RuleConfig{Enabled: true, Severity: sev, Window: dur(window)}
	}
	flows := func(sev string, window time.Duration) FlowRuleConfig {
		return FlowRuleConfig{RuleConfig: rule(sev, window)}
	}
	return Config{
		Enabled:      true,
		Interval:     dur(time.Minute),
		Delay:        dur(15 * time.Second),
		CoolDown:     dur(time.Hour),
		Retention:    dur(90 * day),
		MaxFindings:  100,
		QueryTimeout: dur(30 * time.Second),
		Rules: RulesConfig{
			PortScan: PortScanConfig{FlowRuleConfig: flows("warning", 5*time.Minute),
				Ports: 100, Hosts: 100, MinDistinct: 10, MinDistinctRatio: 0.5},
			NewPeer: NewPeerConfig{
				NoveltyConfig: NoveltyConfig{FlowRuleConfig: flows("info", 5*time.Minute),
					Baseline: dur(7 * day), MinHistory: dur(day)},
				Kinds: []string{KindAS, KindCountry}, PerProcess: false},
			EgressSpike: SpikeConfig{FlowRuleConfig: flows("warning", 5*time.Minute),
				Factor: 5, MinRate: 10e6, BaselineDays: 7, MinDays: 3,
				FallbackWindow: dur(day), MinHistory: dur(time.Hour), PerProcess: true},
			NewService: NewServiceConfig{
				NoveltyConfig: NoveltyConfig{FlowRuleConfig: flows("warning", 5*time.Minute),
					Baseline: dur(7 * day), MinHistory: dur(day)},
				MaxPort: 32767},
			InterfaceSaturation: SaturationConfig{RuleConfig: rule("warning", 15*time.Minute),
				Percentile: 95, Threshold: 90, MinSamples: 5,
				ExcludeKinds: []string{"veth", "tun", "bridge", "loopback"}},
			Retransmits: RetransConfig{RuleConfig: rule("warning", 5*time.Minute),
				Threshold: 5, MinSegments: 10000},
		},
		Sinks: SinksConfig{
			Log: LogSinkConfig{Enabled: true},
			Webhook: WebhookSinkConfig{Timeout: dur(5 * time.Second), Retries: 5,
				Backoff: dur(time.Second), MaxBackoff: dur(time.Minute), Queue: 1000},
		},
	}
}

// Validate checks values YAML typing cannot; keys are relative to the
// detect section.
func (c *Config) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) { errs = append(errs, config.Errorf(key, format, args...)) }
	if c.Interval < dur(time.Second) {
		add("interval", "must be at least 1s, not %v", c.Interval)
	}
	if c.Delay < 0 || c.Delay > dur(time.Hour) {
		add("delay", "must be between 0 and 1h, not %v", c.Delay)
	}
	if c.CoolDown < 0 {
		add("cool-down", "must not be negative")
	}
	if c.Retention < dur(time.Hour) {
		add("retention", "must be at least 1h, not %v", c.Retention)
	}
	if c.MaxFindings < 1 || c.MaxFindings > 10000 {
		add("max-findings", "must be between 1 and 10000, not %d", c.MaxFindings)
	}
	if c.QueryTimeout < dur(time.Second) {
		add("query-timeout", "must be at least 1s, not %v", c.QueryTimeout)
	}
	errs = append(errs, config.Prefix("rules", c.Rules.validate()), config.Prefix("sinks", c.Sinks.validate()))
	return errors.Join(errs...)
}

func (r *RulesConfig) validate() error {
	fs := flow.NewSchema()
	p := &r.PortScan
	errs := []error{
		config.Prefix(RulePortScan, p.FlowRuleConfig.validate(fs)),
		config.Prefix(RuleNewPeer, r.NewPeer.NoveltyConfig.validate(fs)),
		config.Prefix(RuleEgressSpike, r.EgressSpike.FlowRuleConfig.validate(fs)),
		config.Prefix(RuleNewService, r.NewService.NoveltyConfig.validate(fs)),
		config.Prefix(RuleInterfaceSaturation, r.InterfaceSaturation.RuleConfig.validate()),
		config.Prefix(RuleRetransmits, r.Retransmits.RuleConfig.validate()),
	}
	add := func(key, format string, args ...any) { errs = append(errs, config.Errorf(key, format, args...)) }
	if p.Ports < 2 || p.Ports > 65536 {
		add(RulePortScan+".ports", "must be between 2 and 65536, not %d", p.Ports)
	}
	if p.Hosts < 2 {
		add(RulePortScan+".hosts", "must be at least 2, not %d", p.Hosts)
	}
	if p.MinDistinct < 1 {
		add(RulePortScan+".min-distinct", "must be at least 1, not %d", p.MinDistinct)
	}
	if p.MinDistinctRatio < 0 || p.MinDistinctRatio > 1 {
		add(RulePortScan+".min-distinct-ratio", "must be between 0 and 1, not %g", p.MinDistinctRatio)
	}
	if len(r.NewPeer.Kinds) == 0 && r.NewPeer.Enabled {
		add(RuleNewPeer+".kinds", "at least one of address, as, country")
	}
	for i, k := range r.NewPeer.Kinds {
		if !slices.Contains([]string{KindAddress, KindAS, KindCountry}, k) {
			add(fmt.Sprintf("%s.kinds.%d", RuleNewPeer, i), "must be address, as or country, not %q", k)
		} else if slices.Index(r.NewPeer.Kinds, k) != i {
			add(fmt.Sprintf("%s.kinds.%d", RuleNewPeer, i), "%q listed twice", k)
		}
	}
	if n := r.NewService.MaxPort; n < 1 || n > 65535 {
		add(RuleNewService+".max-port", "must be between 1 and 65535, not %d", n)
	}
	s := &r.EgressSpike
	if s.Factor <= 1 {
		add(RuleEgressSpike+".factor", "must be more than 1, not %g", s.Factor)
	}
	if s.MinRate < 0 {
		add(RuleEgressSpike+".min-rate", "must not be negative")
	}
	if s.BaselineDays < 1 || s.BaselineDays > 365 {
		add(RuleEgressSpike+".baseline-days", "must be between 1 and 365, not %d", s.BaselineDays)
	}
	if s.MinDays < 1 || s.MinDays > s.BaselineDays {
		add(RuleEgressSpike+".min-days", "must be between 1 and baseline-days (%d), not %d", s.BaselineDays, s.MinDays)
	}
	if s.FallbackWindow < s.Window {
		add(RuleEgressSpike+".fallback-window", "must be at least the window (%v), not %v", s.Window, s.FallbackWindow)
	}
	if s.MinHistory < 0 || s.MinHistory > s.FallbackWindow {
		add(RuleEgressSpike+".min-history", "must be between 0 and fallback-window (%v), not %v", s.FallbackWindow, s.MinHistory)
	}
	sat := &r.InterfaceSaturation
	if sat.Percentile <= 0 || sat.Percentile > 100 {
		add(RuleInterfaceSaturation+".percentile", "must be in (0, 100], not %g", sat.Percentile)
	}
	if sat.Threshold <= 0 || sat.Threshold > 100 {
		add(RuleInterfaceSaturation+".threshold", "must be in (0, 100] (%% of speed), not %g", sat.Threshold)
	}
	if sat.MinSamples < 1 {
		add(RuleInterfaceSaturation+".min-samples", "must be at least 1, not %d", sat.MinSamples)
	}
	if t := r.Retransmits.Threshold; t <= 0 || t > 100 {
		add(RuleRetransmits+".threshold", "must be in (0, 100] (%% of segments sent), not %g", t)
	}
	if r.Retransmits.MinSegments < 1 {
		add(RuleRetransmits+".min-segments", "must be at least 1")
	}
	return errors.Join(errs...)
}

func (r *RuleConfig) validate() error {
	var errs []error
	switch r.Severity {
	case "info", "warning", "critical":
	default:
		errs = append(errs, config.Errorf("severity", "must be info, warning or critical, not %q", r.Severity))
	}
	if r.Window < dur(time.Second) || r.Window > dur(day) {
		errs = append(errs, config.Errorf("window", "must be between 1s and 1d, not %v", r.Window))
	}
	return errors.Join(errs...)
}

func (r *FlowRuleConfig) validate(fs *flow.Schema) error {
	errs := []error{r.RuleConfig.validate()}
	if _, err := filter.Parse(fs, r.Exclude); err != nil {
		errs = append(errs, config.Errorf("exclude", "%v", err))
	}
	return errors.Join(errs...)
}

func (n *NoveltyConfig) validate(fs *flow.Schema) error {
	errs := []error{n.FlowRuleConfig.validate(fs)}
	if n.Baseline < n.Window+dur(time.Minute) {
		errs = append(errs, config.Errorf("baseline", "must be at least the window plus 1m (%v), not %v", n.Window+dur(time.Minute), n.Baseline))
	}
	if n.MinHistory < 0 || n.MinHistory > n.Baseline {
		errs = append(errs, config.Errorf("min-history", "must be between 0 and the baseline (%v), not %v", n.Baseline, n.MinHistory))
	}
	return errors.Join(errs...)
}

func (s *SinksConfig) validate() error {
	var errs []error
	add := func(key, format string, args ...any) { errs = append(errs, config.Errorf(key, format, args...)) }
	w := &s.Webhook
	if w.URL != "" {
		u, err := url.Parse(w.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("webhook.url", "must be an http:// or https:// URL, not %q", w.URL)
		}
	}
	if w.Timeout < dur(100*time.Millisecond) || w.Timeout > dur(5*time.Minute) {
		add("webhook.timeout", "must be between 100ms and 5m, not %v", w.Timeout)
	}
	if w.Retries < 0 || w.Retries > 100 {
		add("webhook.retries", "must be between 0 and 100, not %d", w.Retries)
	}
	if w.Backoff < dur(10*time.Millisecond) || w.MaxBackoff < w.Backoff {
		add("webhook.backoff", "must be at least 10ms and at most max-backoff (%v), not %v", w.MaxBackoff, w.Backoff)
	}
	if w.Queue < 1 || w.Queue > 1_000_000 {
		add("webhook.queue", "must be between 1 and 1000000, not %d", w.Queue)
	}
	return errors.Join(errs...)
}
