package tailnet

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hostflow/hostflow/enrich/metadata"
	"github.com/hostflow/hostflow/internal/config"
	"github.com/hostflow/hostflow/internal/daemon"
)

// names answers WhoIs from a table; the real WhoIs through an embedded
// node is exercised in package tailnet's end-to-end test. Lookups can be
// held to fill the queue.
type names struct {
	mu    sync.Mutex
	names map[netip.Addr]string
	asked []netip.Addr
	hold  chan struct{}
}

func (n *names) whois(ctx context.Context, a netip.Addr) (string, error) {
	if n.hold != nil {
		select {
		case <-n.hold:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.asked = append(n.asked, a)
	if name, ok := n.names[a]; ok {
		return name, nil
	}
	return "", errors.New("no tailnet peer has this address")
}

func (n *names) set(a netip.Addr, name string) {
	n.mu.Lock()
	n.names[a] = name
	n.mu.Unlock()
}

func (n *names) count() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.asked)
}

type harness struct {
	p       *Provider
	r       *daemon.Reporter
	n       *names
	changes chan metadata.Change
}

func newHarness(t *testing.T, cfg Config, n *names) *harness {
	t.Helper()
	h := &harness{n: n, r: daemon.NewReporter(slog.New(slog.DiscardHandler), nil), changes: make(chan metadata.Change, 16)}
	var err error
	h.p, err = New(cfg, h.r, n.whois, func(c metadata.Change) { h.changes <- c })
	if err != nil {
		t.Fatal(err)
	}
	if err := h.p.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.p.Stop() })
	return h
}

func (h *harness) fill(a netip.Addr) (string, bool) {
	var e metadata.Exporter
	ok := h.p.FillExporter(metadata.MakeKey(a, 0), &e)
	return e.Name, ok
}

func (h *harness) waitChange(t *testing.T, a netip.Addr) {
	t.Helper()
	select {
	case c := <-h.changes:
		if !c.Matches(metadata.MakeKey(a, 7)) || !c.Exporter {
			t.Fatalf("change %+v does not concern every sub-agent of %v", c, a)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no change notified for %v", a)
	}
}

var (
	agentV4 = netip.MustParseAddr("100.101.102.103")
	agentV6 = netip.MustParseAddr("fd7a:115c:a1e0::1234")
	router  = netip.MustParseAddr("192.0.2.1")
)

func TestNamesArriveAsynchronously(t *testing.T) {
	n := &names{names: map[netip.Addr]string{agentV4: "web-1", agentV6: "db-2"}}
	h := newHarness(t, DefaultConfig(), n)
	for _, tc := range []struct {
		addr netip.Addr
		want string
	}{{agentV4, "web-1"}, {agentV6, "db-2"}} {
		if name, ok := h.fill(tc.addr); ok || name != "" {
			t.Errorf("%v: first call answered %q, want unknown (lookups never block)", tc.addr, name)
		}
		h.waitChange(t, tc.addr)
		if name, ok := h.fill(tc.addr); !ok || name != tc.want {
			t.Errorf("%v: got %q %v, want %q", tc.addr, name, ok, tc.want)
		}
	}
	// Outside the tailnet ranges nothing is asked, and a name set by an
	// earlier provider is kept without asking.
	if _, ok := h.fill(router); ok {
		t.Error("named a non-tailnet exporter")
	}
	e := metadata.Exporter{Name: "from-earlier-provider"}
	other := netip.MustParseAddr("100.64.0.99")
	if h.p.FillExporter(metadata.MakeKey(other, 0), &e) || e.Name != "from-earlier-provider" {
		t.Errorf("overrode an earlier provider: %+v", e)
	}
	time.Sleep(20 * time.Millisecond)
	if got := n.count(); got != 2 {
		t.Errorf("%d lookups, want 2 (one per tailnet exporter)", got)
	}
	lookups := h.r.CounterVec("tailnet_lookups_total", "", "result")
	if got := testutil.ToFloat64(lookups.WithLabelValues("ok")); got != 2 {
		t.Errorf("lookups ok = %v, want 2", got)
	}
}

func TestFailuresRetryAfterNegativeTTL(t *testing.T) {
	n := &names{names: map[netip.Addr]string{}}
	cfg := DefaultConfig()
	cfg.NegativeTTL = time.Hour
	h := newHarness(t, cfg, n)
	clock := time.Now()
	h.p.mu.Lock()
	h.p.now = func() time.Time { return clock }
	h.p.mu.Unlock()
	h.fill(agentV4)
	waitFor(t, func() bool { return n.count() == 1 })
	waitFor(t, func() bool { h.p.mu.Lock(); defer h.p.mu.Unlock(); return !h.p.entries[agentV4].queued })
	n.set(agentV4, "late-joiner")
	for range 10 {
		h.fill(agentV4)
	}
	time.Sleep(20 * time.Millisecond)
	if got := n.count(); got != 1 {
		t.Fatalf("%d lookups within the negative TTL, want 1", got)
	}
	h.p.mu.Lock()
	clock = clock.Add(time.Hour)
	h.p.mu.Unlock()
	h.fill(agentV4)
	h.waitChange(t, agentV4)
	if name, _ := h.fill(agentV4); name != "late-joiner" {
		t.Errorf("after retry: %q", name)
	}
}

func TestRenamedNodeIsNotified(t *testing.T) {
	n := &names{names: map[netip.Addr]string{agentV6: "old-name"}}
	cfg := DefaultConfig()
	cfg.TTL = 40 * time.Millisecond
	h := newHarness(t, cfg, n)
	h.fill(agentV6)
	h.waitChange(t, agentV6)
	n.set(agentV6, "new-name")
	h.waitChange(t, agentV6)
	if name, _ := h.fill(agentV6); name != "new-name" {
		t.Errorf("after rename: %q", name)
	}
	h.p.Forget(agentV6)
	if name, ok := h.fill(agentV6); ok || name != "" {
		t.Errorf("forgotten exporter still named %q", name)
	}
}

func TestQueueFullNeverBlocks(t *testing.T) {
	n := &names{names: map[netip.Addr]string{}, hold: make(chan struct{})}
	cfg := DefaultConfig()
	cfg.QueueSize = 1
	cfg.MaxEntries = 3
	h := newHarness(t, cfg, n)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 10 {
			h.fill(netip.AddrFrom4([4]byte{100, 64, 0, byte(i)}))
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("FillExporter blocked on a full queue")
	}
	close(n.hold)
	dropped := h.r.CounterVec("tailnet_dropped_total", "", "reason")
	// One lookup in the worker, one in the queue, one refused by the full
	// queue; the other 7 addresses exceed max-entries.
	if q, m := testutil.ToFloat64(dropped.WithLabelValues("queue_full")), testutil.ToFloat64(dropped.WithLabelValues("max_entries")); q < 1 || m != 7 {
		t.Errorf("dropped queue_full=%v max_entries=%v, want ≥1 and 7", q, m)
	}
}

func TestConfigValidation(t *testing.T) {
	cfg := DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	var got Config
	err := config.Parse("t.yaml", []byte("prefixes: [100.64.0.0/10, nonsense]\n"), &got)
	if err == nil {
		t.Fatal("a bad prefix was accepted")
	}
	bad := Config{Prefixes: DefaultConfig().Prefixes}
	err = bad.Validate()
	for _, key := range []string{"ttl", "negative-ttl", "timeout", "max-entries", "queue-size"} {
		var fe *config.FieldError
		found := false
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			if errors.As(e, &fe) && fe.Key == key {
				found = true
			}
		}
		if !found {
			t.Errorf("zero %s accepted", key)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timeout")
		}
		time.Sleep(2 * time.Millisecond)
	}
}
