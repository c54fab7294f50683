package classify

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/hostflow/hostflow/enrich/metadata"
	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/internal/config"
)

func load(t *testing.T) *Classifier {
	t.Helper()
	cfg := DefaultConfig()
	if err := config.Load("testdata/rules.yaml", &cfg); err != nil {
		t.Fatal(err)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestExporter(t *testing.T) {
	c := load(t)
	tests := []struct {
		addr string
		in   metadata.Exporter
		want metadata.Exporter
	}{
		{"198.51.100.1", metadata.Exporter{Name: "par1-edge-1"},
			metadata.Exporter{Name: "par1-edge-1", Role: "edge", Site: "par1"}},
		// First match per field: role "edge" beats the prefix rule's "lab",
		// which still sets region.
		{"192.0.2.1", metadata.Exporter{Name: "ams2-edge-1"},
			metadata.Exporter{Name: "ams2-edge-1", Role: "edge", Site: "ams2", Region: "eu"}},
		{"::ffff:192.0.2.9", metadata.Exporter{Name: "x"},
			metadata.Exporter{Name: "x", Role: "lab", Region: "eu"}},
		// Provider values are kept.
		{"192.0.2.1", metadata.Exporter{Name: "x", Role: "core", Group: "dc"},
			metadata.Exporter{Name: "x", Role: "core", Group: "dc", Region: "eu", Tenant: "ops"}},
		// Builtin: hosts with in-band data.
		{"2001:db9::1", metadata.Exporter{Name: "web-1", HostName: "web-1"},
			metadata.Exporter{Name: "web-1", HostName: "web-1", Role: "host"}},
		{"2001:db9::1", metadata.Exporter{Name: "rtr"}, metadata.Exporter{Name: "rtr"}},
	}
	for _, tt := range tests {
		got := tt.in
		c.Exporter(netip.MustParseAddr(tt.addr), &got)
		if got != tt.want {
			t.Errorf("%s %+v: -got +want\n-%+v\n+%+v", tt.addr, tt.in, got, tt.want)
		}
	}
}

func TestInterface(t *testing.T) {
	c := load(t)
	edge := metadata.Exporter{Name: "par1-edge-1"}
	host := metadata.Exporter{Name: "web-1", HostName: "web-1"}
	tests := []struct {
		name string
		ex   metadata.Exporter
		in   metadata.Interface
		want metadata.Interface
	}{
		{"transit from description", edge,
			metadata.Interface{Name: "xe-0/0/0", Description: "Transit: Cogent", Speed: 100000},
			metadata.Interface{Name: "xe-0/0/0", Description: "Transit: Cogent", Speed: 100000,
				Connectivity: "transit", Provider: "Cogent", Boundary: flow.BoundaryExternal}},
		{"backbone by speed on edge exporters", edge,
			metadata.Interface{Name: "et-0/0/1", Speed: 400000},
			metadata.Interface{Name: "et-0/0/1", Speed: 400000, Connectivity: "backbone"}},
		{"slow interface on edge", edge,
			metadata.Interface{Name: "ge-0/0/1", Speed: 1000},
			metadata.Interface{Name: "ge-0/0/1", Speed: 1000}},
		{"host tunnel: own rule then builtin", host,
			metadata.Interface{Name: "tailscale0", Kind: "tun"},
			metadata.Interface{Name: "tailscale0", Kind: "tun", Provider: "tailscale", Connectivity: "vpn",
				Boundary: flow.BoundaryInternal}},
		{"host uplink", host,
			metadata.Interface{Name: "ens5", Kind: "physical", Speed: 25000},
			metadata.Interface{Name: "ens5", Kind: "physical", Speed: 25000, Boundary: flow.BoundaryExternal}},
		{"container", host,
			metadata.Interface{Name: "docker0", Kind: "bridge"},
			metadata.Interface{Name: "docker0", Kind: "bridge", Connectivity: "container", Boundary: flow.BoundaryInternal}},
		{"static boundary kept", host,
			metadata.Interface{Name: "wg0", Kind: "wireguard", Boundary: flow.BoundaryExternal},
			metadata.Interface{Name: "wg0", Kind: "wireguard", Connectivity: "vpn", Boundary: flow.BoundaryExternal}},
		{"wireguard", host,
			metadata.Interface{Name: "wg1", Kind: "wireguard"},
			metadata.Interface{Name: "wg1", Kind: "wireguard", Connectivity: "vpn", Boundary: flow.BoundaryInternal}},
		{"unknown kind untouched", host,
			metadata.Interface{Name: "x0", Kind: "unknown"},
			metadata.Interface{Name: "x0", Kind: "unknown"}},
	}
	for _, tt := range tests {
		got := tt.in
		c.Interface(netip.MustParseAddr("2001:db8::1"), &tt.ex, &got)
		if got != tt.want {
			t.Errorf("%s: -got +want\n-%+v\n+%+v", tt.name, got, tt.want)
		}
	}
}

func TestNoBuiltin(t *testing.T) {
	c, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	i := metadata.Interface{Name: "wg0", Kind: "tun"}
	c.Interface(netip.MustParseAddr("2001:db8::1"), &metadata.Exporter{HostName: "h"}, &i)
	if i.Connectivity != "" || i.Boundary != 0 {
		t.Errorf("builtin rules applied: %+v", i)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"exporters:\n  - match:\n      name: '(['\n    set:\n      role: x\n",
			"r.yaml:3: key exporters.0.match.name: error parsing regexp: missing closing ]: `[`"},
		{"exporters:\n  - match: {}\n    set: {}\n", "r.yaml:3: key exporters.0.set: sets nothing"},
		{"interfaces:\n  - match:\n      speed-min: 10\n      speed-max: 5\n    set:\n      provider: x\n",
			"r.yaml:4: key interfaces.0.match.speed-max: is below speed-min"},
		{"interfaces:\n  - set:\n      boundary: edge\n",
			`r.yaml:3: key interfaces.0.set.boundary: want external, internal or undefined, not "edge"`},
	}
	for _, tt := range tests {
		cfg := DefaultConfig()
		err := config.Parse("r.yaml", []byte(tt.in), &cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error -got +want\n-%v\n+%s", tt.in, err, tt.want)
		}
	}
}
