package enrich

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hostflow/hostflow/enrich/geoip/geoiptest"
	"github.com/hostflow/hostflow/enrich/metadata"
	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/internal/config"
	"github.com/hostflow/hostflow/internal/daemon"
)

func newEnricher(t testing.TB, cfg Config) (*Enricher, *daemon.Reporter) {
	t.Helper()
	r := daemon.NewReporter(slog.New(slog.DiscardHandler), nil)
	en, err := New(cfg, Dependencies{Reporter: r})
	if err != nil {
		t.Fatal(err)
	}
	if err := en.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := en.Stop(); err != nil {
			t.Error(err)
		}
	})
	return en, r
}

// loadConfig reads testdata/<name> over the defaults, the way the
// collector reads its enrich section.
func loadConfig(t testing.TB, name string, vars map[string]string) Config {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for k, v := range vars {
		s = strings.ReplaceAll(s, "${"+k+"}", v)
	}
	cfg := DefaultConfig()
	if err := config.Parse(name, []byte(s), &cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

var (
	agent    = netip.MustParseAddr("2001:db8:100::10")
	agentSub = uint32(3)
)

// agentCounters is what one hostflow agent sends every polling interval:
// a host data source and one counter sample per interface.
func agentCounters() ([]flow.InterfaceCounters, []flow.HostCounters) {
	hosts := []flow.HostCounters{{ExporterAddress: agent, SubAgentID: agentSub, HostName: "web-1.example.net",
		OSRelease: "6.1.0"}}
	ifaces := []flow.InterfaceCounters{
		{ExporterAddress: agent, SubAgentID: agentSub, IfIndex: 2, IfName: "ens5", IfDescription: "uplink",
			IfKind: "physical", IfSpeed: 25_000_000_000},
		{ExporterAddress: agent, SubAgentID: agentSub, IfIndex: 4, IfName: "tailscale0", IfKind: "tun"},
	}
	return ifaces, hosts
}

func TestInBand(t *testing.T) {
	en, r := newEnricher(t, DefaultConfig())
	// A flow before any counter sample: names empty, flow kept, counted.
	early := []flow.Record{{ExporterAddress: agent, SubAgentID: agentSub, InIf: flow.IfIndexInternal, OutIf: 2}}
	en.Enrich(early)
	if early[0].ExporterName != "" || early[0].OutIfName != "" {
		t.Errorf("names before counters: %+v", early[0])
	}
	if got := testutil.ToFloat64(en.missing.WithLabelValues(agent.String()+"#3", "exporter")); got != 1 {
		t.Errorf("missing exporter metadata counted %v times, want 1", got)
	}

	ifaces, hosts := agentCounters()
	en.ObserveCounters(ifaces, hosts)
	for _, c := range ifaces {
		if c.ExporterName != "web-1.example.net" {
			t.Errorf("counter record ifIndex %d: ExporterName %q", c.IfIndex, c.ExporterName)
		}
	}

	recs := []flow.Record{
		// Outgoing on the uplink, from the host itself.
		{ExporterAddress: agent, SubAgentID: agentSub, InIf: flow.IfIndexInternal, OutIf: 2,
			SrcAddr: netip.MustParseAddr("10.0.0.5"), DstAddr: netip.MustParseAddr("2001:db8:ffff::1")},
		// Incoming over the tailnet.
		{ExporterAddress: agent, SubAgentID: agentSub, InIf: 4, OutIf: flow.IfIndexInternal,
			SrcAddr: netip.MustParseAddr("fd7a:115c:a1e0::42"), DstAddr: netip.MustParseAddr("fd7a:115c:a1e0::10")},
	}
	en.Enrich(recs)
	want := []flow.Record{
		{ExporterAddress: agent, SubAgentID: agentSub, ExporterName: "web-1.example.net", ExporterRole: "host",
			HostName: "web-1.example.net", InIf: flow.IfIndexInternal, OutIf: 2,
			OutIfName: "ens5", OutIfDescription: "uplink", OutIfSpeed: 25000, OutIfKind: "physical",
			OutIfBoundary: flow.BoundaryExternal,
			SrcAddr:       netip.MustParseAddr("10.0.0.5"), DstAddr: netip.MustParseAddr("2001:db8:ffff::1"),
			SrcNetRole: "private"},
		{ExporterAddress: agent, SubAgentID: agentSub, ExporterName: "web-1.example.net", ExporterRole: "host",
			HostName: "web-1.example.net", InIf: 4, OutIf: flow.IfIndexInternal,
			InIfName: "tailscale0", InIfKind: "tun", InIfConnectivity: "vpn", InIfBoundary: flow.BoundaryInternal,
			SrcAddr: netip.MustParseAddr("fd7a:115c:a1e0::42"), DstAddr: netip.MustParseAddr("fd7a:115c:a1e0::10"),
			SrcNetName: "tailscale", SrcNetRole: "vpn", DstNetName: "tailscale", DstNetRole: "vpn"},
	}
	diffRecords(t, recs, want)

	// A renamed interface shows up on the next flows.
	ifaces[1].IfName = "wg0"
	en.ObserveCounters(ifaces[1:], nil)
	recs = []flow.Record{{ExporterAddress: agent, SubAgentID: agentSub, InIf: 4}}
	en.Enrich(recs)
	if recs[0].InIfName != "wg0" {
		t.Errorf("after rename: InIfName %q, want wg0", recs[0].InIfName)
	}
	_ = r
}

// diffRecords compares records field by field and reports -got +want.
func diffRecords(t *testing.T, got, want []flow.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			g, w := fmt.Sprintf("%+v", got[i]), fmt.Sprintf("%+v", want[i])
			t.Errorf("record %d:\n-got  %s\n+want %s", i, g, w)
		}
	}
}

func geoFixtures(t testing.TB) map[string]string {
	dir := t.TempDir()
	asn, city := filepath.Join(dir, "asn.mmdb"), filepath.Join(dir, "city.mmdb")
	geoiptest.Write(t, asn, "GeoLite2-ASN", map[string]mmdbtype.Map{
		"198.51.100.0/24": {"autonomous_system_number": mmdbtype.Uint32(64501)},
		"2001:db8:a::/48": {"autonomous_system_number": mmdbtype.Uint32(15169)},
		"81.2.69.0/24":    {"autonomous_system_number": mmdbtype.Uint32(20712)},
	})
	geoiptest.Write(t, city, "GeoLite2-City", map[string]mmdbtype.Map{
		"198.51.100.0/24": geoiptest.City("NL", "Amsterdam"),
		"81.2.69.0/26":    geoiptest.City("GB", "London"),
		"81.2.69.64/26":   geoiptest.City("GB", "Boxford"),
		"2001:db8:a::/48": geoiptest.City("US", "Mountain View"),
	})
	return map[string]string{"asn": asn, "city": city}
}

func TestRouterFlows(t *testing.T) {
	cfg := loadConfig(t, "router.yaml", geoFixtures(t))
	en, _ := newEnricher(t, cfg)
	edge := netip.MustParseAddr("192.0.2.1")
	recs := []flow.Record{
		// Inbound from transit, flow carries a private AS: flow-except-private
		// falls back to GeoIP.
		{ExporterAddress: edge, InIf: 10, OutIf: 20, SrcAS: 64512,
			SrcAddr: netip.MustParseAddr("198.51.100.7"), DstAddr: netip.MustParseAddr("10.1.2.3")},
		// Outbound, flow AS kept; the /26 split of 81.2.69.0/24 is honoured.
		{ExporterAddress: netip.MustParseAddr("::ffff:192.0.2.1"), InIf: 20, OutIf: 10, DstAS: 3356,
			SrcAddr: netip.MustParseAddr("10.1.9.9"), DstAddr: netip.MustParseAddr("81.2.69.100")},
		{ExporterAddress: edge, InIf: 10, OutIf: 99,
			SrcAddr: netip.MustParseAddr("81.2.69.1"), DstAddr: netip.MustParseAddr("2001:db8:a::5")},
	}
	en.Enrich(recs)
	base := flow.Record{ExporterAddress: edge, ExporterName: "edge1", ExporterRole: "edge", ExporterSite: "par1",
		ExporterRegion: "eu"}
	transit := func(r *flow.Record, in bool) {
		name, descr, speed, conn, prov, b := &r.OutIfName, &r.OutIfDescription, &r.OutIfSpeed, &r.OutIfConnectivity, &r.OutIfProvider, &r.OutIfBoundary
		if in {
			name, descr, speed, conn, prov, b = &r.InIfName, &r.InIfDescription, &r.InIfSpeed, &r.InIfConnectivity, &r.InIfProvider, &r.InIfBoundary
		}
		*name, *descr, *speed, *conn, *prov, *b = "xe-0/0/0", "Transit: Cogent", 10000, "transit", "Cogent", flow.BoundaryExternal
	}
	lan := func(r *flow.Record, in bool) {
		if in {
			r.InIfName, r.InIfBoundary = "ae0", flow.BoundaryInternal
		} else {
			r.OutIfName, r.OutIfBoundary = "ae0", flow.BoundaryInternal
		}
	}
	w0 := base
	w0.InIf, w0.OutIf, w0.SrcAS, w0.DstAS = 10, 20, 64501, 0
	transit(&w0, true)
	lan(&w0, false)
	w0.SrcAddr, w0.DstAddr = recs[0].SrcAddr, recs[0].DstAddr
	w0.SrcCountry, w0.SrcGeoCity = "NL", "Amsterdam"
	w0.DstNetName, w0.DstNetRole, w0.DstNetSite, w0.DstNetTenant = "par1-db", "database", "par1", "acme"

	w1 := base
	w1.ExporterAddress = recs[1].ExporterAddress
	w1.InIf, w1.OutIf, w1.DstAS = 20, 10, 3356
	lan(&w1, true)
	transit(&w1, false)
	w1.SrcAddr, w1.DstAddr = recs[1].SrcAddr, recs[1].DstAddr
	w1.SrcNetName, w1.SrcNetRole, w1.SrcNetSite, w1.SrcNetTenant = "par1", "private", "par1", "acme"
	w1.DstCountry, w1.DstGeoCity = "GB", "Boxford"

	w2 := base
	w2.InIf, w2.OutIf, w2.SrcAS, w2.DstAS = 10, 99, 20712, 15169
	transit(&w2, true)
	w2.OutIfBoundary = flow.BoundaryInternal // default-interface of the static exporter
	w2.SrcAddr, w2.DstAddr = recs[2].SrcAddr, recs[2].DstAddr
	w2.SrcCountry, w2.SrcGeoCity = "GB", "London"
	w2.DstCountry, w2.DstGeoCity = "US", "Mountain View"
	diffRecords(t, recs, []flow.Record{w0, w1, w2})

	// Second pass: the same answers from the warm caches.
	again := []flow.Record{{ExporterAddress: edge, InIf: 20, OutIf: 10, DstAS: 3356,
		SrcAddr: netip.MustParseAddr("10.1.9.9"), DstAddr: netip.MustParseAddr("81.2.69.100")}}
	en.Enrich(again)
	diffRecords(t, again, []flow.Record{func() flow.Record { w := w1; w.ExporterAddress = edge; return w }()})
	if hits := testutil.ToFloat64(en.addrHit); hits < 2 {
		t.Errorf("address cache hits %v, want >= 2", hits)
	}
}

func TestDecoderFieldsKept(t *testing.T) {
	en, _ := newEnricher(t, DefaultConfig())
	ifaces, hosts := agentCounters()
	en.ObserveCounters(ifaces, hosts)
	recs := []flow.Record{{ExporterAddress: agent, SubAgentID: agentSub, OutIf: 2, OutIfName: "from-ipfix",
		ExporterName: "named-by-decoder"}}
	en.Enrich(recs)
	if recs[0].OutIfName != "from-ipfix" || recs[0].ExporterName != "named-by-decoder" {
		t.Errorf("decoder values overwritten: %q %q", recs[0].OutIfName, recs[0].ExporterName)
	}
	if recs[0].OutIfSpeed != 25000 {
		t.Errorf("empty fields not filled: speed %d", recs[0].OutIfSpeed)
	}
}

func TestASProviders(t *testing.T) {
	tests := []struct {
		providers []string
		flow, geo uint32
		want      uint32
	}{
		{[]string{ASFlow, ASGeoIP}, 3356, 174, 3356},
		{[]string{ASFlow, ASGeoIP}, 0, 174, 174},
		{[]string{ASFlowExceptPrivate, ASGeoIP}, 64512, 174, 174},
		{[]string{ASFlowExceptPrivate, ASGeoIP}, 4200000001, 0, 0},
		{[]string{ASFlowExceptPrivate}, 23456, 174, 0},
		{[]string{ASGeoIP, ASFlow}, 3356, 174, 174},
		{[]string{ASGeoIP, ASFlow}, 3356, 0, 3356},
		{nil, 3356, 174, 0},
	}
	for _, tt := range tests {
		en := &Enricher{asProv: compileASProviders(tt.providers)}
		if got := en.pickAS(tt.flow, tt.geo); got != tt.want {
			t.Errorf("%v flow=%d geo=%d: got %d, want %d", tt.providers, tt.flow, tt.geo, got, tt.want)
		}
	}
}

func TestLimits(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxExporters, cfg.MaxInterfaces, cfg.MaxTotalInterfaces, cfg.MetricsMaxExporters = 2, 3, 5, 1
	en, _ := newEnricher(t, cfg)
	var recs []flow.Record
	for i := 0; i < 4; i++ {
		for idx := uint32(1); idx <= 5; idx++ {
			recs = append(recs, flow.Record{ExporterAddress: netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), InIf: idx})
		}
	}
	en.Enrich(recs) // must not panic or block; flows all kept
	if n := en.nExporters.Load(); n != 2 {
		t.Errorf("%d exporters tracked, want 2", n)
	}
	if got := testutil.ToFloat64(en.refused.WithLabelValues("exporter")); got < 1 {
		t.Errorf("refused exporters not counted")
	}
	ex := en.exporter(netip.AddrFrom4([4]byte{192, 0, 2, 0}), 0, en.clock.Load())
	if n := ex.nIfaces; n != 3 {
		t.Errorf("%d interfaces tracked, want 3", n)
	}
	if n := en.nIfaces.Load(); n != 5 {
		t.Errorf("%d interfaces tracked in all, want max-total-interfaces (5)", n)
	}
	if got := testutil.ToFloat64(en.refused.WithLabelValues("total_interfaces")); got < 1 {
		t.Errorf("refused total interfaces not counted")
	}
	// Label cardinality: one exporter labelled, the other counted as other.
	if got := testutil.ToFloat64(en.missing.WithLabelValues("other", "interface")); got != 5 {
		t.Errorf("other exporters' missing interfaces = %v, want 5", got)
	}
	if got := testutil.ToFloat64(en.missing.WithLabelValues("192.0.2.0", "interface")); got != 5 {
		t.Errorf("192.0.2.0 missing interfaces = %v, want 5", got)
	}
	en.expire(en.clock.Load() + 1)
	if n, ni := en.nExporters.Load(), en.nIfaces.Load(); n != 0 || ni != 0 {
		t.Errorf("after expiry: %d exporters, %d interfaces", n, ni)
	}
}

func TestExpiry(t *testing.T) {
	en, _ := newEnricher(t, DefaultConfig())
	en.Enrich([]flow.Record{{ExporterAddress: agent, InIf: 1}})
	now := en.clock.Load()
	en.expire(now) // lastUsed == now is not idle
	if en.nExporters.Load() != 1 {
		t.Fatal("exporter expired too early")
	}
	en.expire(now + 1)
	if en.nExporters.Load() != 0 {
		t.Fatal("exporter not expired")
	}
	if got := testutil.ToFloat64(en.expired); got != 1 {
		t.Errorf("expired counter %v", got)
	}
}

func TestGeoIPReloadFlushesCache(t *testing.T) {
	fx := geoFixtures(t)
	cfg := loadConfig(t, "router.yaml", fx)
	cfg.GeoIP.CheckInterval = 100 * time.Millisecond
	en, _ := newEnricher(t, cfg)
	get := func() uint32 {
		recs := []flow.Record{{SrcAddr: netip.MustParseAddr("198.51.100.9")}}
		en.Enrich(recs)
		return recs[0].SrcAS
	}
	if as := get(); as != 64501 {
		t.Fatalf("AS %d before reload", as)
	}
	geoiptest.Write(t, fx["asn"], "GeoLite2-ASN", map[string]mmdbtype.Map{
		"198.51.100.0/24": {"autonomous_system_number": mmdbtype.Uint32(64777)}})
	deadline := time.Now().Add(10 * time.Second)
	for get() != 64777 {
		if time.Now().After(deadline) {
			t.Fatal("reloaded database not used within 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestConcurrent runs flows and counters from several goroutines (run
// with -race).
func TestConcurrent(t *testing.T) {
	en, _ := newEnricher(t, loadConfig(t, "router.yaml", geoFixtures(t)))
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs := make([]flow.Record, 16)
			for n := 0; n < 300; n++ {
				for i := range recs {
					recs[i] = flow.Record{ExporterAddress: agent, SubAgentID: uint32(n % 3), InIf: uint32(i%4 + 1),
						OutIf: 2, SrcAddr: netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}),
						DstAddr: netip.AddrFrom4([4]byte{81, 2, 69, byte(n)})}
				}
				en.Enrich(recs)
				if n%10 == 0 {
					ifaces, hosts := agentCounters()
					ifaces[0].IfName = fmt.Sprintf("eth%d", n%2)
					en.ObserveCounters(ifaces, hosts)
				}
			}
		}()
	}
	wg.Wait()
}

func TestConfigErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"providers: [inband, ldap]\n", `e.yaml:1: key providers.1: unknown provider "ldap"`},
		{"providers: [inband, inband]\n", `e.yaml:1: key providers.1: "inband" listed twice`},
		{"as-providers: [bgp]\n", `e.yaml:1: key as-providers.0: unknown AS provider "bgp"`},
		{"max-exporters: 0\n", "e.yaml:1: key max-exporters: must be positive"},
		{"networks:\n  - prefix: 10.0.0.0/8\n", "e.yaml:2: key networks.0: sets no attribute"},
		{"inband:\n  ttl: 0s\n", "e.yaml:2: key inband.ttl: must be at least 1s"},
		{"geoip:\n  check-interval: 1ms\n", "e.yaml:2: key geoip.check-interval: must be at least 100ms"},
	}
	for _, tt := range tests {
		cfg := DefaultConfig()
		err := config.Parse("e.yaml", []byte(tt.in), &cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error -got +want\n-%v\n+%s", tt.in, err, tt.want)
		}
	}
}

// named is a provider built outside the package, as the role builds the
// tailnet provider: it names every exporter and reports through notify.
type named struct {
	notify  func(metadata.Change)
	started bool
}

func (n *named) FillExporter(_ metadata.Key, e *metadata.Exporter) bool {
	e.Merge(metadata.Exporter{Name: "node.tailnet.ts.net"})
	return true
}
func (n *named) FillInterface(metadata.Key, uint32, *metadata.Interface) bool { return false }
func (n *named) Start(context.Context) error                                  { n.started = true; return nil }
func (n *named) Stop() error                                                  { n.started = false; return nil }

func TestExternalProvider(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Providers = []string{ProviderInBand, ProviderTailnet, ProviderStatic}
	r := daemon.NewReporter(slog.New(slog.DiscardHandler), nil)
	if _, err := New(cfg, Dependencies{Reporter: r}); err == nil || !strings.Contains(err.Error(), `"tailnet" is not available`) {
		t.Errorf("tailnet without its factory: error %v", err)
	}
	p := &named{}
	en, err := New(cfg, Dependencies{Reporter: r, Providers: map[string]ProviderFactory{
		ProviderTailnet: func(notify metadata.Notify) (metadata.Provider, error) { p.notify = notify; return p, nil },
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := en.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !p.started || p.notify == nil {
		t.Error("external provider not started or not given the change callback")
	}
	recs := []flow.Record{{ExporterAddress: netip.MustParseAddr("fd7a:115c:a1e0::7")}}
	en.Enrich(recs)
	if recs[0].ExporterName != "node.tailnet.ts.net" {
		t.Errorf("ExporterName %q", recs[0].ExporterName)
	}
	if err := en.Stop(); err != nil || p.started {
		t.Errorf("external provider not stopped: %v", err)
	}
}
