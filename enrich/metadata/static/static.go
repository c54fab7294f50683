// Package static is the metadata provider from configuration: exporters
// matched by address or prefix (longest prefix wins) with their name,
// group, role, site, region and tenant, and their interfaces by ifIndex
// with name, description, speed, connectivity, provider and boundary.
package static

import (
	"errors"
	"strconv"

	"github.com/hostflow/hostflow/enrich/iptrie"
	"github.com/hostflow/hostflow/enrich/metadata"
	"github.com/hostflow/hostflow/internal/config"
)

// Config lists the exporters described statically.
type Config struct {
	Exporters []Exporter `yaml:"exporters"`
}

// Exporter describes the exporters whose address is within Prefix.
type Exporter struct {
	Prefix iptrie.Prefix `yaml:"prefix"`
	Name   string        `yaml:"name"`
	Group  string        `yaml:"group"`
	Role   string        `yaml:"role"`
	Site   string        `yaml:"site"`
	Region string        `yaml:"region"`
	Tenant string        `yaml:"tenant"`
	// Interfaces by ifIndex.
	Interfaces map[uint32]Interface `yaml:"interfaces"`
	// DefaultInterface applies to interfaces not listed (unset: nothing).
	DefaultInterface *Interface `yaml:"default-interface"`
}

// Interface describes one interface.
type Interface struct {
	Name         string            `yaml:"name"`
	Description  string            `yaml:"description"`
	Speed        uint32            `yaml:"speed"` // Mbps
	Connectivity string            `yaml:"connectivity"`
	Provider     string            `yaml:"provider"`
	Boundary     metadata.Boundary `yaml:"boundary"`
}

func (i *Interface) meta() metadata.Interface {
	return metadata.Interface{Name: i.Name, Description: i.Description, Speed: i.Speed,
		Connectivity: i.Connectivity, Provider: i.Provider, Boundary: uint8(i.Boundary)}
}

// DefaultConfig returns the defaults (no static metadata).
func DefaultConfig() Config { return Config{} }

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	seen := map[iptrie.Prefix]int{}
	for i, e := range c.Exporters {
		key := "exporters." + strconv.Itoa(i)
		if !e.Prefix.IsValid() {
			errs = append(errs, config.Errorf(key+".prefix", "required"))
			continue
		}
		if j, dup := seen[e.Prefix]; dup {
			errs = append(errs, config.Errorf(key+".prefix", "%s already described by exporters.%d", e.Prefix, j))
		}
		seen[e.Prefix] = i
		if e.Name == "" && e.Group == "" && e.Role == "" && e.Site == "" && e.Region == "" &&
			e.Tenant == "" && len(e.Interfaces) == 0 && e.DefaultInterface == nil {
			errs = append(errs, config.Errorf(key, "describes nothing"))
		}
	}
	return errors.Join(errs...)
}

type entry struct {
	exporter metadata.Exporter
	ifaces   map[uint32]metadata.Interface
	dflt     *metadata.Interface
}

// Provider answers from the configuration.
type Provider struct {
	trie *iptrie.Trie[*entry]
}

// New builds the provider.
func New(cfg Config) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Provider{trie: iptrie.New[*entry]()}
	for _, e := range cfg.Exporters {
		en := &entry{
			exporter: metadata.Exporter{Name: e.Name, Group: e.Group, Role: e.Role, Site: e.Site,
				Region: e.Region, Tenant: e.Tenant},
			ifaces: make(map[uint32]metadata.Interface, len(e.Interfaces)),
		}
		for idx, i := range e.Interfaces {
			en.ifaces[idx] = i.meta()
		}
		if e.DefaultInterface != nil {
			d := e.DefaultInterface.meta()
			en.dflt = &d
		}
		p.trie.Insert(e.Prefix.Prefix, en)
	}
	return p, nil
}

// FillExporter implements metadata.Provider.
func (p *Provider) FillExporter(k metadata.Key, e *metadata.Exporter) bool {
	en, ok, _ := p.trie.Lookup(k.Addr)
	if !ok {
		return false
	}
	e.Merge(en.exporter)
	return true
}

// FillInterface implements metadata.Provider.
func (p *Provider) FillInterface(k metadata.Key, ifIndex uint32, i *metadata.Interface) bool {
	en, ok, _ := p.trie.Lookup(k.Addr)
	if !ok {
		return false
	}
	if m, ok := en.ifaces[ifIndex]; ok {
		i.Merge(m)
		return true
	}
	if en.dflt != nil {
		i.Merge(*en.dflt)
		return true
	}
	return false
}
