package inband

import (
	"context"
	"log/slog"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hostflow/hostflow/enrich/metadata"
	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/internal/daemon"
)

type recorder struct {
	mu      sync.Mutex
	changes []metadata.Change
}

func (r *recorder) notify(c metadata.Change) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, c)
}

func (r *recorder) take() []metadata.Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.changes
	r.changes = nil
	return out
}

func newProvider(t *testing.T, cfg Config) (*Provider, *recorder) {
	t.Helper()
	rec := &recorder{}
	p, err := New(cfg, daemon.NewReporter(slog.New(slog.DiscardHandler), nil), rec.notify)
	if err != nil {
		t.Fatal(err)
	}
	return p, rec
}

func TestObserveAndFill(t *testing.T) {
	p, rec := newProvider(t, DefaultConfig())
	agent := netip.MustParseAddr("::ffff:192.0.2.10") // mapped on purpose
	key := metadata.MakeKey(agent, 7)

	p.ObserveHost(&flow.HostCounters{ExporterAddress: agent, SubAgentID: 7, HostName: "web-1"})
	p.ObserveInterface(&flow.InterfaceCounters{ExporterAddress: agent, SubAgentID: 7, IfIndex: 2,
		IfName: "eth0", IfDescription: "uplink", IfKind: "physical", IfSpeed: 25_000_000_000})
	p.ObserveInterface(&flow.InterfaceCounters{ExporterAddress: agent, SubAgentID: 7, IfIndex: 5,
		IfName: "tailscale0", IfKind: "tun"})

	var e metadata.Exporter
	if !p.FillExporter(key, &e) {
		t.Fatal("exporter unknown")
	}
	if want := (metadata.Exporter{Name: "web-1", HostName: "web-1"}); e != want {
		t.Errorf("exporter: -got +want\n-%+v\n+%+v", e, want)
	}
	var i metadata.Interface
	if !p.FillInterface(key, 2, &i) {
		t.Fatal("interface unknown")
	}
	if want := (metadata.Interface{Name: "eth0", Description: "uplink", Speed: 25000, Kind: "physical"}); i != want {
		t.Errorf("interface: -got +want\n-%+v\n+%+v", i, want)
	}
	// Another sub-agent behind the same address is another exporter.
	if p.FillExporter(metadata.MakeKey(agent, 8), &metadata.Exporter{}) {
		t.Error("sub-agent 8 should be unknown")
	}
	want := []metadata.Change{
		{Addr: key.Addr, SubAgent: 7, Exporter: true},
		{Addr: key.Addr, SubAgent: 7, IfIndexes: []uint32{2}},
		{Addr: key.Addr, SubAgent: 7, IfIndexes: []uint32{5}},
	}
	if got := rec.take(); !reflect.DeepEqual(got, want) {
		t.Errorf("changes: -got +want\n-%+v\n+%+v", got, want)
	}

	// Same data again: refresh only, no change notified.
	p.ObserveHost(&flow.HostCounters{ExporterAddress: agent, SubAgentID: 7, HostName: "web-1"})
	if got := rec.take(); len(got) != 0 {
		t.Errorf("unchanged host notified %+v", got)
	}
	// Renamed interface: notified.
	p.ObserveInterface(&flow.InterfaceCounters{ExporterAddress: agent, SubAgentID: 7, IfIndex: 5,
		IfName: "wg0", IfKind: "tun"})
	if got := rec.take(); len(got) != 1 || got[0].IfIndexes[0] != 5 {
		t.Errorf("rename: got %+v", got)
	}
}

func TestExpiry(t *testing.T) {
	cfg := DefaultConfig()
	cfg.TTL = time.Second
	p, rec := newProvider(t, cfg)
	agent := netip.MustParseAddr("2001:db8::10")
	p.ObserveHost(&flow.HostCounters{ExporterAddress: agent, HostName: "h"})
	p.ObserveInterface(&flow.InterfaceCounters{ExporterAddress: agent, IfIndex: 3, IfName: "eth0"})
	rec.take()

	p.expire(time.Now()) // nothing is older than the TTL yet
	if got := rec.take(); len(got) != 0 {
		t.Fatalf("early expiry: %+v", got)
	}
	p.expire(time.Now().Add(2 * time.Second))
	got := rec.take()
	want := []metadata.Change{{Addr: agent, Exporter: true, IfIndexes: []uint32{3}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("expiry changes: -got +want\n-%+v\n+%+v", got, want)
	}
	if p.FillExporter(metadata.MakeKey(agent, 0), &metadata.Exporter{}) {
		t.Error("host still known after expiry")
	}

	// The loop started by Start expires on its own.
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	p.ObserveHost(&flow.HostCounters{ExporterAddress: agent, HostName: "h"})
	deadline := time.Now().Add(5 * time.Second)
	for p.FillExporter(metadata.MakeKey(agent, 0), &metadata.Exporter{}) {
		if time.Now().After(deadline) {
			t.Fatal("entry not expired by the loop")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestMaxEntries(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxEntries = 2
	p, _ := newProvider(t, cfg)
	agent := netip.MustParseAddr("192.0.2.1")
	for i := uint32(1); i <= 3; i++ {
		p.ObserveInterface(&flow.InterfaceCounters{ExporterAddress: agent, IfIndex: i, IfName: "x"})
	}
	if p.FillInterface(metadata.MakeKey(agent, 0), 3, &metadata.Interface{}) {
		t.Error("third entry accepted beyond max-entries")
	}
	// Updating an existing entry still works when full.
	p.ObserveInterface(&flow.InterfaceCounters{ExporterAddress: agent, IfIndex: 1, IfName: "y"})
	var i metadata.Interface
	p.FillInterface(metadata.MakeKey(agent, 0), 1, &i)
	if i.Name != "y" {
		t.Errorf("update when full: name %q, want y", i.Name)
	}
}

func TestValidate(t *testing.T) {
	c := Config{TTL: 0, MaxEntries: 0}
	err := c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, key := range []string{"ttl", "max-entries"} {
		if !strings.Contains(err.Error(), "key "+key) {
			t.Errorf("error %q does not name %s", err, key)
		}
	}
}
