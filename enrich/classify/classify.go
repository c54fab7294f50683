// Package classify applies simple match rules to exporters (→ group, role,
// site, region, tenant) and interfaces (→ connectivity, provider,
// boundary). Rules are evaluated in order and, for each field, the first
// rule that matches and sets it wins; fields already set by a metadata
// provider (static configuration) are kept. Results are cached by the
// enricher per exporter and interface, so regular expressions never run per
// flow.
package classify

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/hostflow/hostflow/enrich/iptrie"
	"github.com/hostflow/hostflow/enrich/metadata"
	"github.com/hostflow/hostflow/internal/config"
)

// Config holds the rules.
type Config struct {
	Exporters  []ExporterRule  `yaml:"exporters"`
	Interfaces []InterfaceRule `yaml:"interfaces"`
	// Builtin appends the builtin host rules (see Builtin) after the
	// configured ones, so configured rules take precedence.
	Builtin bool `yaml:"builtin"`
}

// DefaultConfig returns the defaults: no rules of one's own, builtin rules on.
func DefaultConfig() Config { return Config{Builtin: true} }

// ExporterRule sets exporter attributes when Match matches.
type ExporterRule struct {
	Match ExporterMatch `yaml:"match"`
	Set   ExporterSet   `yaml:"set"`
}

// ExporterMatch: every condition given must hold; an empty match matches
// every exporter.
type ExporterMatch struct {
	// Name is a regular expression on the exporter name (unanchored: use
	// ^…$ for a full match). Its groups can be used in Set values ($1,
	// ${name}).
	Name *Regexp `yaml:"name"`
	// Prefixes: the exporter address is within one of them.
	Prefixes []iptrie.Prefix `yaml:"prefixes"`
	// Groups: the exporter group (from static metadata or an earlier rule)
	// is one of them.
	Groups []string `yaml:"groups"`
	// InBand: the exporter sends in-band host data (hostflow agent, hsflowd)
	// when true, or does not when false.
	InBand *bool `yaml:"in-band"`
}

// ExporterSet lists the values to set; empty ones are left alone.
type ExporterSet struct {
	Group  string `yaml:"group"`
	Role   string `yaml:"role"`
	Site   string `yaml:"site"`
	Region string `yaml:"region"`
	Tenant string `yaml:"tenant"`
}

// InterfaceRule sets interface attributes when Match matches.
type InterfaceRule struct {
	Match InterfaceMatch `yaml:"match"`
	Set   InterfaceSet   `yaml:"set"`
}

// InterfaceMatch: every condition given must hold.
type InterfaceMatch struct {
	// Exporter restricts the rule to some exporters.
	Exporter ExporterMatch `yaml:"exporter"`
	// Name and Description are regular expressions (unanchored). Set values
	// can use the groups of Description, or of Name when Description is not
	// given.
	Name        *Regexp `yaml:"name"`
	Description *Regexp `yaml:"description"`
	// Kinds: the interface kind is one of them. hostflow agents send
	// physical, loopback, tun, bridge, veth, vlan, bond, wireguard, other
	// (or the driver name), unknown.
	Kinds []string `yaml:"kinds"`
	// SpeedMin and SpeedMax bound the speed in Mbps (0: no bound).
	SpeedMin uint32 `yaml:"speed-min"`
	SpeedMax uint32 `yaml:"speed-max"`
}

// InterfaceSet lists the values to set; empty ones are left alone.
type InterfaceSet struct {
	Connectivity string            `yaml:"connectivity"`
	Provider     string            `yaml:"provider"`
	Boundary     metadata.Boundary `yaml:"boundary"`
}

// Regexp is a regular expression compiled when the configuration is read.
type Regexp struct{ *regexp.Regexp }

// UnmarshalYAML compiles the expression, reporting errors with their line.
func (r *Regexp) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a regular expression", n.Line)
	}
	re, err := regexp.Compile(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	r.Regexp = re
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (r Regexp) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// Builtin returns the builtin rules, meant for hosts running hostflow
// agents (interfaces with a kind) and harmless for routers (no kind):
// exporters with in-band host data get role "host"; tunnels (tun:
// tailscale0; wireguard: wg0) are connectivity "vpn" and internal; bridges and veths are
// connectivity "container" and internal; loopback is internal; physical
// interfaces, bonds and VLANs are the host's edge: external.
func Builtin() Config {
	yes := true
	internal := metadata.Boundary(2)
	external := metadata.Boundary(1)
	return Config{
		Exporters: []ExporterRule{{Match: ExporterMatch{InBand: &yes}, Set: ExporterSet{Role: "host"}}},
		Interfaces: []InterfaceRule{
			{Match: InterfaceMatch{Kinds: []string{"tun", "wireguard"}}, Set: InterfaceSet{Connectivity: "vpn", Boundary: internal}},
			{Match: InterfaceMatch{Kinds: []string{"bridge", "veth"}}, Set: InterfaceSet{Connectivity: "container", Boundary: internal}},
			{Match: InterfaceMatch{Kinds: []string{"loopback"}}, Set: InterfaceSet{Connectivity: "loopback", Boundary: internal}},
			{Match: InterfaceMatch{Kinds: []string{"physical", "bond", "vlan"}}, Set: InterfaceSet{Boundary: external}},
		},
	}
}

// Validate checks the rules.
func (c *Config) Validate() error {
	var errs []error
	for i, r := range c.Exporters {
		if r.Set == (ExporterSet{}) {
			errs = append(errs, config.Errorf("exporters."+strconv.Itoa(i)+".set", "sets nothing"))
		}
	}
	for i, r := range c.Interfaces {
		key := "interfaces." + strconv.Itoa(i)
		if r.Set == (InterfaceSet{}) {
			errs = append(errs, config.Errorf(key+".set", "sets nothing"))
		}
		if r.Match.SpeedMax != 0 && r.Match.SpeedMax < r.Match.SpeedMin {
			errs = append(errs, config.Errorf(key+".match.speed-max", "is below speed-min"))
		}
	}
	return errors.Join(errs...)
}

// Classifier applies the rules. It is immutable and safe for concurrent use.
type Classifier struct {
	exporters  []ExporterRule
	interfaces []InterfaceRule
}

// New builds a classifier.
func New(cfg Config) (*Classifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Classifier{exporters: cfg.Exporters, interfaces: cfg.Interfaces}
	if cfg.Builtin {
		b := Builtin()
		c.exporters = append(slices.Clip(c.exporters), b.Exporters...)
		c.interfaces = append(slices.Clip(c.interfaces), b.Interfaces...)
	}
	return c, nil
}

// match reports whether m matches and returns the submatch indexes of the
// name expression for expansion.
func (m *ExporterMatch) match(addr netip.Addr, e *metadata.Exporter) (bool, []int) {
	if m.InBand != nil && *m.InBand != (e.HostName != "") {
		return false, nil
	}
	if len(m.Groups) > 0 && !slices.Contains(m.Groups, e.Group) {
		return false, nil
	}
	if len(m.Prefixes) > 0 && !slices.ContainsFunc(m.Prefixes, func(p iptrie.Prefix) bool {
		return p.Contains(addr) || p.Contains(addr.Unmap())
	}) {
		return false, nil
	}
	if m.Name == nil {
		return true, nil
	}
	sub := m.Name.FindStringSubmatchIndex(e.Name)
	return sub != nil, sub
}

// Exporter fills the empty attributes of e from the rules.
func (c *Classifier) Exporter(addr netip.Addr, e *metadata.Exporter) {
	for i := range c.exporters {
		r := &c.exporters[i]
		ok, sub := r.Match.match(addr, e)
		if !ok {
			continue
		}
		x := expander{re: r.Match.Name, src: e.Name, sub: sub}
		x.set(&e.Group, r.Set.Group)
		x.set(&e.Role, r.Set.Role)
		x.set(&e.Site, r.Set.Site)
		x.set(&e.Region, r.Set.Region)
		x.set(&e.Tenant, r.Set.Tenant)
		if e.Group != "" && e.Role != "" && e.Site != "" && e.Region != "" && e.Tenant != "" {
			return
		}
	}
}

// Interface fills the empty attributes of i from the rules; e is the
// exporter's (already classified) metadata.
func (c *Classifier) Interface(addr netip.Addr, e *metadata.Exporter, i *metadata.Interface) {
	for n := range c.interfaces {
		r := &c.interfaces[n]
		m := &r.Match
		if ok, _ := m.Exporter.match(addr, e); !ok {
			continue
		}
		if len(m.Kinds) > 0 && !slices.Contains(m.Kinds, i.Kind) {
			continue
		}
		if (m.SpeedMin != 0 && i.Speed < m.SpeedMin) || (m.SpeedMax != 0 && i.Speed > m.SpeedMax) {
			continue
		}
		x := expander{}
		if m.Name != nil {
			sub := m.Name.FindStringSubmatchIndex(i.Name)
			if sub == nil {
				continue
			}
			x = expander{re: m.Name, src: i.Name, sub: sub}
		}
		if m.Description != nil {
			sub := m.Description.FindStringSubmatchIndex(i.Description)
			if sub == nil {
				continue
			}
			x = expander{re: m.Description, src: i.Description, sub: sub}
		}
		x.set(&i.Connectivity, r.Set.Connectivity)
		x.set(&i.Provider, r.Set.Provider)
		if i.Boundary == 0 {
			i.Boundary = uint8(r.Set.Boundary)
		}
		if i.Connectivity != "" && i.Provider != "" && i.Boundary != 0 {
			return
		}
	}
}

// expander sets a field from a template that may refer to the groups of a
// regular expression match.
type expander struct {
	re  *Regexp
	src string
	sub []int
}

func (x expander) set(dst *string, tmpl string) {
	if *dst != "" || tmpl == "" {
		return
	}
	if x.re == nil {
		*dst = tmpl
		return
	}
	*dst = string(x.re.ExpandString(nil, tmpl, x.src, x.sub))
}
