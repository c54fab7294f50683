package static

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/hostflow/hostflow/enrich/metadata"
	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/internal/config"
)

func load(t *testing.T) *Provider {
	t.Helper()
	cfg := DefaultConfig()
	if err := config.Load("testdata/static.yaml", &cfg); err != nil {
		t.Fatal(err)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExporters(t *testing.T) {
	p := load(t)
	tests := []struct {
		addr string
		want metadata.Exporter
		ok   bool
	}{
		// Longest prefix wins; fields it leaves empty come from the chain,
		// not from shorter prefixes (static entries are whole descriptions).
		{"192.0.2.1", metadata.Exporter{Name: "edge1", Role: "edge"}, true},
		{"::ffff:192.0.2.1", metadata.Exporter{Name: "edge1", Role: "edge"}, true},
		{"192.0.2.2", metadata.Exporter{Site: "par1", Region: "eu"}, true},
		{"2001:db8:0:1::1", metadata.Exporter{Name: "core-v6", Tenant: "acme"}, true},
		{"198.51.100.1", metadata.Exporter{}, false},
	}
	for _, tt := range tests {
		var got metadata.Exporter
		ok := p.FillExporter(metadata.MakeKey(netip.MustParseAddr(tt.addr), 0), &got)
		if ok != tt.ok || got != tt.want {
			t.Errorf("%s: -got +want\n-%+v %v\n+%+v %v", tt.addr, got, ok, tt.want, tt.ok)
		}
	}
	// Earlier providers win: a name already known is kept.
	got := metadata.Exporter{Name: "from-snmp"}
	p.FillExporter(metadata.MakeKey(netip.MustParseAddr("192.0.2.1"), 0), &got)
	if got.Name != "from-snmp" || got.Role != "edge" {
		t.Errorf("merge: got %+v", got)
	}
}

func TestInterfaces(t *testing.T) {
	p := load(t)
	k := func(a string) metadata.Key { return metadata.MakeKey(netip.MustParseAddr(a), 0) }
	var i metadata.Interface
	if !p.FillInterface(k("192.0.2.1"), 10, &i) {
		t.Fatal("ifIndex 10 unknown")
	}
	want := metadata.Interface{Name: "xe-0/0/0", Description: "Transit: Cogent", Speed: 10000,
		Connectivity: "transit", Provider: "cogent", Boundary: flow.BoundaryExternal}
	if i != want {
		t.Errorf("-got +want\n-%+v\n+%+v", i, want)
	}
	if p.FillInterface(k("192.0.2.1"), 11, &metadata.Interface{}) {
		t.Error("ifIndex 11 of edge1 should be unknown (no default)")
	}
	i = metadata.Interface{}
	if !p.FillInterface(k("192.0.2.7"), 3, &i) || i.Boundary != flow.BoundaryInternal {
		t.Errorf("default interface: got %+v", i)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"exporters:\n  - name: x\n", "f.yaml:2: key exporters.0.prefix: required"},
		{"exporters:\n  - prefix: 10.0.0.0/8\n", "f.yaml:2: key exporters.0: describes nothing"},
		{"exporters:\n  - prefix: 10.0.0.0/8\n    name: a\n  - prefix: 10.0.0.0/8\n    name: b\n",
			"f.yaml:4: key exporters.1.prefix: 10.0.0.0/8 already described by exporters.0"},
		{"exporters:\n  - prefix: 10.0.0.1\n    interfaces:\n      1:\n        boundary: outside\n",
			`f.yaml:5: key exporters.0.interfaces.1.boundary: want external, internal or undefined, not "outside"`},
		{"exporters:\n  - prefix: 10.0.0.1\n    nmae: x\n", "f.yaml:3: key exporters.0.nmae: field nmae not found"},
	}
	for _, tt := range tests {
		cfg := DefaultConfig()
		err := config.Parse("f.yaml", []byte(tt.in), &cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error -got +want\n-%v\n+%s", tt.in, err, tt.want)
		}
	}
}
