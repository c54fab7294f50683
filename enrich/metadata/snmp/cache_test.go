package snmp

import (
	"log/slog"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/hostflow/hostflow/enrich/iptrie"
	"github.com/hostflow/hostflow/enrich/metadata"
	"github.com/hostflow/hostflow/internal/daemon"
)

// TestSweep walks the cache lifecycle with a fake clock: answers are
// refreshed after refresh, dropped after ttl, and negative entries retried
// after negative-ttl.
func TestSweep(t *testing.T) {
	cfg := testConfig(Credentials{Prefixes: []iptrie.Prefix{prefix("192.0.2.0/24")}, Version: "2c",
		Communities: []string{"public"}})
	cfg.Refresh, cfg.TTL, cfg.NegativeTTL = 10*time.Minute, 30*time.Minute, time.Minute
	p, err := New(cfg, daemon.NewReporter(slog.New(slog.DiscardHandler), nil), func(metadata.Change) {})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	p.now = func() time.Time { return now }
	addr := netip.MustParseAddr("192.0.2.1")

	p.mu.Lock()
	d := p.device(addr)
	d.sys = entry{name: "r1", ok: true, fetched: now}
	d.ifaces[1] = &entry{ok: true, fetched: now, iface: metadata.Interface{Name: "ge-0/0/1"}}
	d.ifaces[2] = &entry{retry: now.Add(cfg.NegativeTTL)}
	p.mu.Unlock()
	wants := func() (bool, []uint32) {
		p.mu.Lock()
		defer p.mu.Unlock()
		var idx []uint32
		for i := range d.want {
			idx = append(idx, i)
		}
		return d.wantSys, idx
	}
	drain := func() {
		for len(p.queue) > 0 {
			<-p.queue
		}
		p.mu.Lock()
		d.queued, d.wantSys, d.want = false, false, map[uint32]struct{}{}
		p.mu.Unlock()
	}

	now = now.Add(30 * time.Second)
	if ch := p.sweep(); len(ch) != 0 {
		t.Errorf("changes before anything is due: %+v", ch)
	}
	if sys, idx := wants(); sys || len(idx) != 0 {
		t.Errorf("wants before anything is due: %v %v", sys, idx)
	}

	now = now.Add(time.Minute) // negative entry due for a retry
	p.sweep()
	if sys, idx := wants(); sys || !reflect.DeepEqual(idx, []uint32{2}) {
		t.Errorf("after negative-ttl: wants %v %v, want only ifIndex 2", sys, idx)
	}
	if len(p.queue) != 1 {
		t.Errorf("device not queued for the retry")
	}
	drain()

	now = now.Add(10 * time.Minute) // positive answers due for a refresh
	p.sweep()
	if sys, idx := wants(); !sys || len(idx) != 2 {
		t.Errorf("after refresh: wants %v %v, want sysName and both ifIndexes", sys, idx)
	}
	drain()
	// Still served while the refresh is pending.
	var i metadata.Interface
	if !p.FillInterface(metadata.MakeKey(addr, 0), 1, &i) || i.Name != "ge-0/0/1" {
		t.Errorf("stale answer not served during refresh: %+v", i)
	}
	drain()

	now = now.Add(30 * time.Minute) // refreshes failed all along: past the TTL
	ch := p.sweep()
	want := []metadata.Change{{Addr: addr, AllSubAgents: true, Exporter: true, IfIndexes: []uint32{1}}}
	if !reflect.DeepEqual(ch, want) {
		t.Errorf("expiry changes: -got +want\n-%+v\n+%+v", ch, want)
	}
	if p.FillExporter(metadata.MakeKey(addr, 0), &metadata.Exporter{}) {
		t.Error("sysName served past its TTL")
	}

	p.Forget(addr)
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.devices) != 0 {
		t.Error("device kept after Forget")
	}
}
