package snmp

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hostflow/hostflow/enrich/iptrie"
	"github.com/hostflow/hostflow/enrich/metadata"
	"github.com/hostflow/hostflow/enrich/metadata/snmp/snmptest"
	"github.com/hostflow/hostflow/internal/config"
	"github.com/hostflow/hostflow/internal/daemon"
)

type changes struct {
	mu  sync.Mutex
	all []metadata.Change
}

func (c *changes) notify(ch metadata.Change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.all = append(c.all, ch)
}

func (c *changes) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.all)
}

func testConfig(creds ...Credentials) Config {
	cfg := DefaultConfig()
	cfg.Credentials = creds
	cfg.Timeout, cfg.Retries = 300*time.Millisecond, 0
	return cfg
}

func prefix(s string) iptrie.Prefix { return iptrie.Prefix{Prefix: netip.MustParsePrefix(s)} }

func newProvider(t *testing.T, cfg Config) (*Provider, *changes, *daemon.Reporter) {
	t.Helper()
	r := daemon.NewReporter(slog.New(slog.DiscardHandler), nil)
	ch := &changes{}
	p, err := New(cfg, r, ch.notify)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop() })
	return p, ch, r
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 15s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestV2cOverIPv6 polls a real snmpd reachable only over IPv6 and checks
// the names against the namespace's real interfaces.
func TestV2cOverIPv6(t *testing.T) {
	l := snmptest.New(t)
	// The wrong community is tried first: the provider must fall back to
	// the second one and remember it.
	p, ch, _ := newProvider(t, testConfig(Credentials{Prefixes: []iptrie.Prefix{{Prefix: l.Subnet}},
		Version: "2c", Communities: []string{"not-this-one", snmptest.Community}}))
	k := metadata.MakeKey(l.Agent, 0)

	// First lookups miss and queue one batched poll; they never block.
	if p.FillExporter(k, &metadata.Exporter{}) {
		t.Fatal("sysName known before any poll")
	}
	for idx := range l.Ifaces {
		if p.FillInterface(k, idx, &metadata.Interface{}) {
			t.Fatalf("ifIndex %d known before any poll", idx)
		}
	}
	// Interfaces asked while the first poll runs join the next one.
	waitFor(t, "answers", func() bool {
		for idx := range l.Ifaces {
			if !p.FillInterface(k, idx, &metadata.Interface{}) {
				return false
			}
		}
		return p.FillExporter(k, &metadata.Exporter{}) && ch.count() > 0
	})

	host, _ := os.Hostname() // the namespace shares the UTS namespace
	var e metadata.Exporter
	p.FillExporter(k, &e)
	if e.Name != host {
		t.Errorf("sysName %q, want %q", e.Name, host)
	}
	for idx, name := range l.Ifaces {
		var i metadata.Interface
		if !p.FillInterface(k, idx, &i) {
			t.Errorf("ifIndex %d (%s): unknown", idx, name)
			continue
		}
		if i.Name != name {
			t.Errorf("ifIndex %d: name %q, want %q (from /sys/class/net)", idx, i.Name, name)
		}
		if idx == l.Aliased {
			if i.Description != snmptest.Alias || i.Speed != 10000 {
				t.Errorf("ifIndex %d: description %q speed %d, want %q 10000 (veth)", idx, i.Description, i.Speed, snmptest.Alias)
			}
		}
	}
	// An ifIndex the agent does not have is cached negatively.
	if p.FillInterface(k, 999, &metadata.Interface{}) {
		t.Fatal("ifIndex 999 known")
	}
	waitFor(t, "negative entry", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		en := p.devices[l.Agent].ifaces[999]
		return en != nil && !en.ok && !en.retry.IsZero()
	})
	p.mu.Lock()
	community := p.devices[l.Agent].community
	p.mu.Unlock()
	if community != 1 {
		t.Errorf("working community index %d, want 1", community)
	}
}

// TestV3OverIPv6 polls with each security level and protocol snmpd offers.
func TestV3OverIPv6(t *testing.T) {
	l := snmptest.New(t)
	host, _ := os.Hostname()
	tests := []Credentials{
		{User: "hfsha", AuthProtocol: "SHA", AuthPassphrase: snmptest.AuthPass, PrivProtocol: "AES", PrivPassphrase: snmptest.PrivPass},
		{User: "hfsha512", AuthProtocol: "SHA512", AuthPassphrase: snmptest.AuthPass, PrivProtocol: "AES256", PrivPassphrase: snmptest.PrivPass},
		{User: "hfsha224", AuthProtocol: "SHA224", AuthPassphrase: snmptest.AuthPass, PrivProtocol: "AES192", PrivPassphrase: snmptest.PrivPass},
		{User: "hfmd5des", AuthProtocol: "MD5", AuthPassphrase: snmptest.AuthPass, PrivProtocol: "DES", PrivPassphrase: snmptest.PrivPass},
		{User: "hfauth", AuthProtocol: "SHA256", AuthPassphrase: snmptest.AuthPass},
		{User: "hfnoauth"},
	}
	for _, cred := range tests {
		t.Run(cred.User, func(t *testing.T) {
			cred.Version, cred.Prefixes = "3", []iptrie.Prefix{{Prefix: l.Subnet}}
			p, _, _ := newProvider(t, testConfig(cred))
			k := metadata.MakeKey(l.Agent, 0)
			p.FillExporter(k, &metadata.Exporter{})
			p.FillInterface(k, l.Aliased, &metadata.Interface{})
			waitFor(t, "v3 answer", func() bool {
				return p.FillInterface(k, l.Aliased, &metadata.Interface{})
			})
			var e metadata.Exporter
			var i metadata.Interface
			p.FillExporter(k, &e)
			p.FillInterface(k, l.Aliased, &i)
			if e.Name != host || i.Name != l.Ifaces[l.Aliased] || i.Description != snmptest.Alias {
				t.Errorf("got %q / %+v, want %q / %s %q", e.Name, i, host, l.Ifaces[l.Aliased], snmptest.Alias)
			}
		})
	}
}

// TestAgentOverride polls another address than the exporter's.
func TestAgentOverride(t *testing.T) {
	l := snmptest.New(t)
	cfg := testConfig(Credentials{Prefixes: []iptrie.Prefix{prefix("2001:db8::/32")}, Version: "2c",
		Communities: []string{snmptest.Community}})
	cfg.Agents = []Agent{{Prefix: prefix("2001:db8::1/128"), Address: "[" + l.Agent.String() + "]:161"}}
	p, _, _ := newProvider(t, cfg)
	k := metadata.MakeKey(netip.MustParseAddr("2001:db8::1"), 0)
	p.FillInterface(k, l.Aliased, &metadata.Interface{})
	waitFor(t, "answer via the override", func() bool { return p.FillInterface(k, l.Aliased, &metadata.Interface{}) })
}

// TestWrongCredentials: clear errors and metrics, no hang.
func TestWrongCredentials(t *testing.T) {
	l := snmptest.New(t)
	tests := []struct {
		name   string
		cred   Credentials
		result string // requests_total label
		log    string
	}{
		{"community", Credentials{Version: "2c", Communities: []string{"wrong"}}, "timeout",
			"with any of 1 communities (wrong community, agent ACL, or agent unreachable)"},
		{"v3 auth passphrase", Credentials{Version: "3", User: "hfsha", AuthProtocol: "SHA", AuthPassphrase: "wrongpass123",
			PrivProtocol: "AES", PrivPassphrase: snmptest.PrivPass}, "auth", `user \"hfsha\": the agent refused authentication`},
		{"v3 user", Credentials{Version: "3", User: "nobody", AuthProtocol: "SHA", AuthPassphrase: snmptest.AuthPass},
			"auth", `user \"nobody\": the agent refused authentication`},
		{"v3 privacy passphrase", Credentials{Version: "3", User: "hfsha", AuthProtocol: "SHA", AuthPassphrase: snmptest.AuthPass,
			PrivProtocol: "AES", PrivPassphrase: "wrongpriv123"}, "timeout", "wrong privacy passphrase"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cred.Prefixes = []iptrie.Prefix{{Prefix: l.Subnet}}
			var logs syncBuffer
			r := daemon.NewReporter(slog.New(slog.NewTextHandler(&logs, nil)), nil)
			p, err := New(testConfig(tt.cred), r, func(metadata.Change) {})
			if err != nil {
				t.Fatal(err)
			}
			p.Start(context.Background())
			defer p.Stop()
			defer func() {
				if t.Failed() {
					t.Logf("provider log:\n%s", logs.String())
				}
			}()
			k := metadata.MakeKey(l.Agent, 0)
			p.FillInterface(k, l.Aliased, &metadata.Interface{})
			waitFor(t, "a failed request", func() bool {
				return testutil.ToFloat64(p.requests.WithLabelValues(tt.result)) >= 1 && strings.Contains(logs.String(), "SNMP poll failed")
			})
			if !strings.Contains(logs.String(), tt.log) {
				t.Errorf("log does not explain the failure (want %q):\n%s", tt.log, logs.String())
			}
			if p.FillInterface(k, l.Aliased, &metadata.Interface{}) {
				t.Error("interface known with wrong credentials")
			}
		})
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// silentAgent is a UDP socket on loopback that reads requests and never
// answers: a firewalled or hung agent. It needs no privileges.
func silentAgent(t *testing.T) netip.AddrPort {
	t.Helper()
	c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := c.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}

// TestBreaker: a silent agent trips the breaker; further requests are not
// even queued until the back-off ends.
func TestBreaker(t *testing.T) {
	silent := silentAgent(t)
	cfg := testConfig(Credentials{Prefixes: []iptrie.Prefix{prefix("2001:db8::/32")}, Version: "2c",
		Communities: []string{"public"}})
	cfg.Agents = []Agent{{Prefix: prefix("2001:db8::/32"), Address: silent.String()}}
	cfg.Timeout, cfg.NegativeTTL, cfg.BreakerThreshold, cfg.BreakerBackoff = 50*time.Millisecond, 20*time.Millisecond, 2, time.Hour
	cfg.BreakerMaxBackoff = 2 * time.Hour
	p, _, _ := newProvider(t, cfg)
	k := metadata.MakeKey(netip.MustParseAddr("2001:db8::7"), 0)
	p.FillInterface(k, 1, &metadata.Interface{})
	// Negative entries are retried every negative-ttl: timeouts pile up
	// until the breaker opens.
	waitFor(t, "breaker trip", func() bool { return testutil.ToFloat64(p.trips) == 1 })
	timeouts := testutil.ToFloat64(p.requests.WithLabelValues("timeout"))
	if timeouts != 2 {
		t.Errorf("%v timeouts before the trip, want breaker-threshold (2)", timeouts)
	}
	time.Sleep(200 * time.Millisecond) // several maintenance ticks
	p.FillInterface(k, 2, &metadata.Interface{})
	if got := testutil.ToFloat64(p.requests.WithLabelValues("timeout")); got != timeouts {
		t.Errorf("requests sent while the breaker is open: %v timeouts, want %v", got, timeouts)
	}
	if testutil.ToFloat64(p.dropped.WithLabelValues("breaker_open")) == 0 {
		t.Error("breaker_open drops not counted")
	}
}

func TestNoCredentialsNoPolling(t *testing.T) {
	p, _, _ := newProvider(t, DefaultConfig())
	k := metadata.MakeKey(netip.MustParseAddr("192.0.2.1"), 0)
	if p.FillInterface(k, 1, &metadata.Interface{}) || p.FillExporter(k, &metadata.Exporter{}) {
		t.Error("answer without credentials")
	}
	if len(p.devices) != 0 {
		t.Error("device state created without credentials")
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"credentials:\n  - version: 1\n    prefixes: [\"::/0\"]\n", `s.yaml:2: key credentials.0.version: want 2c or 3, not "1"`},
		{"credentials:\n  - version: 2c\n    prefixes: [\"::/0\"]\n", "s.yaml:2: key credentials.0.communities: required for version 2c"},
		{"credentials:\n  - version: \"3\"\n    prefixes: [\"::/0\"]\n    user: u\n    auth-protocol: SHA1\n    auth-passphrase: 12345678\n",
			`s.yaml:5: key credentials.0.auth-protocol: unknown "SHA1" (want MD5, SHA, SHA224, SHA256, SHA384, SHA512)`},
		{"credentials:\n  - version: \"3\"\n    prefixes: [\"::/0\"]\n    user: u\n    auth-protocol: SHA\n    auth-passphrase: short\n",
			"s.yaml:6: key credentials.0.auth-passphrase: at least 8 characters"},
		{"credentials:\n  - version: \"3\"\n    prefixes: [\"::/0\"]\n    user: u\n    priv-protocol: AES\n    priv-passphrase: 12345678\n",
			"s.yaml:5: key credentials.0.priv-protocol: privacy needs an auth-protocol"},
		{"credentials:\n  - version: 2c\n    communities: [public]\n", "s.yaml:2: key credentials.0.prefixes: required"},
		{"agents:\n  - prefix: 10.0.0.1\n    address: router\n", `s.yaml:3: key agents.0.address: "router" is not an address or address:port`},
		{"max-oids: 100\n", "s.yaml:1: key max-oids: must be within 5..60"},
		{"ttl: 1m\nrefresh: 5m\n", "s.yaml:1: key ttl: must be at least refresh (5m0s)"},
	}
	for _, tt := range tests {
		cfg := DefaultConfig()
		err := config.Parse("s.yaml", []byte(tt.in), &cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error -got +want\n-%v\n+%s", tt.in, err, tt.want)
		}
	}
}

// TestSingleFlight: an interface asked again while its poll is in progress
// is not asked twice; other interfaces wait for the next poll, together.
func TestSingleFlight(t *testing.T) {
	silent := silentAgent(t)
	cfg := testConfig(Credentials{Prefixes: []iptrie.Prefix{prefix("2001:db8::/32")}, Version: "2c",
		Communities: []string{"public"}})
	cfg.Agents = []Agent{{Prefix: prefix("2001:db8::/32"), Address: silent.String()}}
	cfg.Timeout = 2 * time.Second // the poll stays in progress during the test
	p, _, _ := newProvider(t, cfg)
	addr := netip.MustParseAddr("2001:db8::9")
	k := metadata.MakeKey(addr, 0)
	p.FillInterface(k, 1, &metadata.Interface{})
	waitFor(t, "poll in progress", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		_, ok := p.devices[addr].inflight[1]
		return ok
	})
	for range 10 {
		p.FillInterface(k, 1, &metadata.Interface{})
		p.FillInterface(k, 2, &metadata.Interface{})
		p.FillInterface(k, 3, &metadata.Interface{})
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.devices[addr]
	if _, again := d.want[1]; again || len(d.want) != 2 {
		t.Errorf("wants during the poll: %v, want only 2 and 3", d.want)
	}
	if len(p.queue) != 0 {
		t.Errorf("device queued twice")
	}
}
