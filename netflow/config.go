package netflow

import (
	"errors"
	"fmt"
	"time"
)

// Config bounds the state one Decoder keeps, so that a hostile or broken
// exporter cannot exhaust memory. Every limit hit is counted in Stats.
type Config struct {
	// MaxExporters is the number of exporter addresses tracked at once;
	// packets from further exporters are dropped until idle ones expire.
	MaxExporters int `yaml:"max-exporters"`
	// MaxDomains is the number of (version, source id / observation domain)
	// pairs tracked per exporter.
	MaxDomains int `yaml:"max-domains-per-exporter"`
	// MaxTemplates is the number of templates (data and options) per domain.
	MaxTemplates int `yaml:"max-templates-per-domain"`
	// MaxTemplatesTotal is the number of templates across all exporters.
	MaxTemplatesTotal int `yaml:"max-templates"`
	// MaxFields is the number of fields one template may define.
	MaxFields int `yaml:"max-fields-per-template"`
	// MaxRecordSize is the largest (minimum) data record size a template may
	// define, in bytes.
	MaxRecordSize int `yaml:"max-record-size"`
	// MaxSamplers is the number of sampler / selector ids remembered per
	// domain from options data.
	MaxSamplers int `yaml:"max-samplers-per-domain"`
	// HoldTime is how long data sets that arrive before their template are
	// kept, waiting for it.
	HoldTime time.Duration `yaml:"hold-time"`
	// HoldBytesPerExporter and HoldBytes bound the data held per exporter and
	// in total. 0 disables holding: data without a template is dropped.
	HoldBytesPerExporter int `yaml:"hold-bytes-per-exporter"`
	HoldBytes            int `yaml:"hold-bytes"`
	// ExporterTimeout forgets an exporter (templates, samplers, sequence
	// state) after this long without a packet from it.
	ExporterTimeout time.Duration `yaml:"exporter-timeout"`
}

// DefaultConfig returns limits that fit a large fleet of routers and hosts
// (a worst case of a few hundred MB of templates) while stopping runaway
// exporters.
func DefaultConfig() Config {
	return Config{
		MaxExporters:         10000,
		MaxDomains:           64,
		MaxTemplates:         512,
		MaxTemplatesTotal:    100000,
		MaxFields:            256,
		MaxRecordSize:        8192,
		MaxSamplers:          256,
		HoldTime:             5 * time.Second,
		HoldBytesPerExporter: 64 << 10,
		HoldBytes:            512 << 10,
		ExporterTimeout:      time.Hour,
	}
}

// ConfigError is a bad Config value; Key is the YAML key.
type ConfigError struct {
	Key string
	Msg string
}

func (e *ConfigError) Error() string { return "netflow: " + e.Key + ": " + e.Msg }

// Validate returns every bad value as a joined list of *ConfigError.
func (c Config) Validate() error {
	var errs []error
	positive := func(key string, v int) {
		if v <= 0 {
			errs = append(errs, &ConfigError{key, fmt.Sprintf("must be positive, not %d", v)})
		}
	}
	positive("max-exporters", c.MaxExporters)
	positive("max-domains-per-exporter", c.MaxDomains)
	positive("max-templates-per-domain", c.MaxTemplates)
	positive("max-templates", c.MaxTemplatesTotal)
	positive("max-fields-per-template", c.MaxFields)
	positive("max-samplers-per-domain", c.MaxSamplers)
	if c.MaxRecordSize <= 0 || c.MaxRecordSize > 65535 {
		errs = append(errs, &ConfigError{"max-record-size", fmt.Sprintf("must be in 1..65535, not %d", c.MaxRecordSize)})
	}
	if c.HoldBytesPerExporter < 0 {
		errs = append(errs, &ConfigError{"hold-bytes-per-exporter", "must not be negative"})
	}
	if c.HoldBytes < 0 {
		errs = append(errs, &ConfigError{"hold-bytes", "must not be negative"})
	}
	if c.HoldBytes < c.HoldBytesPerExporter {
		errs = append(errs, &ConfigError{"hold-bytes", "must be at least hold-bytes-per-exporter"})
	}
	if c.HoldTime < 0 || c.HoldTime > time.Minute {
		errs = append(errs, &ConfigError{"hold-time", fmt.Sprintf("must be in 0..1m, not %s", c.HoldTime)})
	}
	if c.ExporterTimeout < time.Minute {
		errs = append(errs, &ConfigError{"exporter-timeout", fmt.Sprintf("must be at least 1m, not %s", c.ExporterTimeout)})
	}
	return errors.Join(errs...)
}
