// Package metadata defines what metadata providers know about exporters and
// their interfaces, and chains providers in a configured order. The
// providers live in sub-packages: inband (hostflow agents' and hsflowd's
// counter samples), snmp (polling) and static (configuration).
//
// Providers answer from memory and never block: a provider that has to
// fetch something (SNMP) queues the request, answers "unknown" now and calls
// its Notify function when the answer arrives, so the enricher recomputes
// the affected entries. Flows are never held back or dropped for missing
// metadata.
package metadata

import (
	"net/netip"
	"slices"
)

// Key identifies an exporter: its address (sFlow agent address or NetFlow
// source, unmapped) and the sFlow sub-agent id (0 for NetFlow/IPFIX).
type Key struct {
	Addr     netip.Addr
	SubAgent uint32
}

// MakeKey returns the key for an exporter address, unmapping IPv4-mapped
// addresses so both spellings of an IPv4 exporter share entries.
func MakeKey(addr netip.Addr, subAgent uint32) Key {
	return Key{Addr: addr.Unmap(), SubAgent: subAgent}
}

// Exporter is what is known about an exporter.
type Exporter struct {
	Name     string
	HostName string // set by in-band host data (hostflow agents, hsflowd)
	Group    string
	Role     string
	Site     string
	Region   string
	Tenant   string
}

// Interface is what is known about one interface of an exporter.
type Interface struct {
	Name         string
	Description  string
	Speed        uint32 // Mbps
	Kind         string // physical, tun, bridge, veth, ... (hostflow agents)
	Connectivity string
	Provider     string
	Boundary     uint8 // flow.Boundary*
}

// Merge fills the empty fields of e from o.
func (e *Exporter) Merge(o Exporter) {
	fill(&e.Name, o.Name)
	fill(&e.HostName, o.HostName)
	fill(&e.Group, o.Group)
	fill(&e.Role, o.Role)
	fill(&e.Site, o.Site)
	fill(&e.Region, o.Region)
	fill(&e.Tenant, o.Tenant)
}

// Merge fills the empty fields of i from o.
func (i *Interface) Merge(o Interface) {
	fill(&i.Name, o.Name)
	fill(&i.Description, o.Description)
	if i.Speed == 0 {
		i.Speed = o.Speed
	}
	fill(&i.Kind, o.Kind)
	fill(&i.Connectivity, o.Connectivity)
	fill(&i.Provider, o.Provider)
	if i.Boundary == 0 {
		i.Boundary = o.Boundary
	}
}

func fill(dst *string, src string) {
	if *dst == "" {
		*dst = src
	}
}

// Provider is one source of metadata. Each call fills the fields still
// empty in the value it is given (earlier providers in the chain win) and
// reports whether it knew anything about the key. Calls must not block and
// must be safe for concurrent use. A provider that fetches (SNMP) looks at
// what is already known to avoid fetching it again.
type Provider interface {
	FillExporter(k Key, e *Exporter) bool
	FillInterface(k Key, ifIndex uint32, i *Interface) bool
}

// Change tells the enricher which resolved entries to recompute after a
// provider learned or forgot something.
type Change struct {
	Addr netip.Addr
	// SubAgent is the sub-agent concerned unless AllSubAgents is set
	// (providers keyed by address only, like SNMP and static).
	SubAgent     uint32
	AllSubAgents bool
	// Exporter is set when exporter-level metadata changed.
	Exporter bool
	// IfIndexes lists the interfaces whose metadata changed; AllInterfaces
	// stands for every interface of the exporter.
	IfIndexes     []uint32
	AllInterfaces bool
}

// Matches reports whether the change concerns exporter k.
func (c *Change) Matches(k Key) bool {
	return c.Addr.Unmap() == k.Addr && (c.AllSubAgents || c.SubAgent == k.SubAgent)
}

// Concerns reports whether the change concerns interface ifIndex.
func (c *Change) Concerns(ifIndex uint32) bool {
	return c.AllInterfaces || slices.Contains(c.IfIndexes, ifIndex)
}

// Notify is how providers report changes.
type Notify func(Change)

// Chain queries providers in order; each field takes the first non-empty
// value.
type Chain []Provider

// Exporter merges what the providers know about k; ok reports whether any
// of them knew anything.
func (c Chain) Exporter(k Key) (e Exporter, ok bool) {
	for _, p := range c {
		if p.FillExporter(k, &e) {
			ok = true
		}
	}
	return e, ok
}

// Interface merges what the providers know about an interface of k.
func (c Chain) Interface(k Key, ifIndex uint32) (i Interface, ok bool) {
	for _, p := range c {
		if p.FillInterface(k, ifIndex, &i) {
			ok = true
		}
	}
	return i, ok
}

// Forgetter is implemented by providers keeping per-exporter state (SNMP):
// the enricher tells them when it forgets an exporter address, after it
// sent no flow for a while.
type Forgetter interface {
	Forget(addr netip.Addr)
}
