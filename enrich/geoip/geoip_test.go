package geoip

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hostflow/hostflow/enrich/geoip/geoiptest"
	"github.com/hostflow/hostflow/internal/daemon"
)

// fixtures writes a GeoLite2-ASN-like, a GeoLite2-City-like and two
// IPinfo-like databases and returns their paths.
func fixtures(t testing.TB) (asn, city, ipinfo, lite string) {
	dir := t.TempDir()
	asn, city = filepath.Join(dir, "GeoLite2-ASN.mmdb"), filepath.Join(dir, "GeoLite2-City.mmdb")
	ipinfo, lite = filepath.Join(dir, "country_asn.mmdb"), filepath.Join(dir, "ipinfo_lite.mmdb")
	geoiptest.Write(t, asn, "GeoLite2-ASN", map[string]mmdbtype.Map{
		"1.0.0.0/24":     geoiptest.ASN(13335, "Cloudflare"),
		"2001:db8::/32":  geoiptest.ASN(64496, "Doc"),
		"81.2.69.0/24":   geoiptest.ASN(20712, "Andrews & Arnold"),
		"203.0.113.0/24": geoiptest.ASN(64500, "Test"),
	})
	geoiptest.Write(t, city, "GeoLite2-City", map[string]mmdbtype.Map{
		"1.0.0.0/24":      geoiptest.City("AU", "Sydney"),
		"81.2.69.0/26":    geoiptest.City("GB", "London"),
		"81.2.69.64/26":   geoiptest.City("GB", "Boxford"),
		"2001:db8:1::/48": geoiptest.City("FR", "Paris"),
	})
	geoiptest.Write(t, ipinfo, "ipinfo country_asn.mmdb", map[string]mmdbtype.Map{
		"8.8.8.0/24": {"country": mmdbtype.String("US"), "country_name": mmdbtype.String("United States"),
			"asn": mmdbtype.String("AS15169"), "as_name": mmdbtype.String("Google LLC")},
	})
	geoiptest.Write(t, lite, "ipinfo ipinfo_lite.mmdb", map[string]mmdbtype.Map{
		"9.9.9.0/24": {"country": mmdbtype.String("Switzerland"), "country_code": mmdbtype.String("CH"),
			"asn": mmdbtype.String("AS19281"), "as_name": mmdbtype.String("Quad9")},
	})
	return asn, city, ipinfo, lite
}

func newDB(t testing.TB, cfg Config) (*DB, *daemon.Reporter) {
	t.Helper()
	r := daemon.NewReporter(slog.New(slog.DiscardHandler), nil)
	d, err := New(cfg, r)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Stop() })
	return d, r
}

func TestLookup(t *testing.T) {
	asn, city, ipinfo, lite := fixtures(t)
	cfg := DefaultConfig()
	cfg.ASNDatabases = []string{asn}
	cfg.GeoDatabases = []string{city, ipinfo, lite}
	d, _ := newDB(t, cfg)
	tests := []struct {
		addr    string
		want    Info
		uniform int // the answer holds for the whole /uniform around addr
	}{
		{"1.0.0.1", Info{ASN: 13335, Country: "AU", City: "Sydney"}, 24},
		{"::ffff:1.0.0.1", Info{ASN: 13335, Country: "AU", City: "Sydney"}, 24},
		{"81.2.69.1", Info{ASN: 20712, Country: "GB", City: "London"}, 26},
		{"81.2.69.100", Info{ASN: 20712, Country: "GB", City: "Boxford"}, 26},
		{"8.8.8.8", Info{ASN: 15169, Country: "US"}, 24}, // IPinfo country_asn layout
		{"9.9.9.9", Info{ASN: 19281, Country: "CH"}, 24}, // IPinfo lite layout
		{"2001:db8:1::1", Info{ASN: 64496, Country: "FR", City: "Paris"}, 48},
		{"2001:db8:2::1", Info{ASN: 64496}, 47},
		{"192.0.2.1", Info{}, 0},
	}
	set := d.Current()
	for _, tt := range tests {
		got, uniform := set.Lookup(netip.MustParseAddr(tt.addr))
		if got != tt.want {
			t.Errorf("%s: -got +want\n-%+v\n+%+v", tt.addr, got, tt.want)
		}
		if uniform < tt.uniform {
			t.Errorf("%s: uniform /%d, want at least /%d", tt.addr, uniform, tt.uniform)
		}
		// Soundness: the last address of the uniform prefix agrees.
		if tt.want != (Info{}) {
			p := netip.PrefixFrom(netip.MustParseAddr(tt.addr).Unmap(), uniform).Masked()
			if other, _ := set.Lookup(lastAddr(p)); other != tt.want {
				t.Errorf("%s: uniform /%d but %s gives %+v", tt.addr, uniform, lastAddr(p), other)
			}
		}
	}
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - uint(i%8))
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func TestLookupDoesNotAllocate(t *testing.T) {
	asn, city, _, _ := fixtures(t)
	cfg := DefaultConfig()
	cfg.ASNDatabases, cfg.GeoDatabases = []string{asn}, []string{city}
	d, _ := newDB(t, cfg)
	set := d.Current()
	a := netip.MustParseAddr("81.2.69.1")
	set.Lookup(a) // decode and cache the records
	if n := testing.AllocsPerRun(100, func() { set.Lookup(a) }); n != 0 {
		t.Errorf("warm lookup allocates %v times", n)
	}
}

func TestHotReload(t *testing.T) {
	asn, _, _, _ := fixtures(t)
	cfg := DefaultConfig()
	cfg.ASNDatabases = []string{asn}
	cfg.CheckInterval = 100 * time.Millisecond
	d, _ := newDB(t, cfg)
	a := netip.MustParseAddr("203.0.113.9")
	first := d.Current()
	if got, _ := first.Lookup(a); got.ASN != 64500 {
		t.Fatalf("before reload: ASN %d", got.ASN)
	}

	geoiptest.Write(t, asn, "GeoLite2-ASN", map[string]mmdbtype.Map{"203.0.113.0/24": geoiptest.ASN(64501, "New")})
	waitFor(t, func() bool { got, _ := d.Current().Lookup(a); return got.ASN == 64501 })
	if got, _ := first.Lookup(a); got.ASN != 64500 {
		t.Errorf("the old snapshot changed under its readers: %d", got.ASN)
	}

	// A broken file keeps the previous version and counts an error.
	if err := os.WriteFile(asn, []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		return testutil.ToFloat64(d.reloads.WithLabelValues(asn, "error")) >= 1
	})
	if got, _ := d.Current().Lookup(a); got.ASN != 64501 {
		t.Errorf("after a broken file: ASN %d, want the previous 64501", got.ASN)
	}
}

func TestStartErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.mmdb")
	cfg := DefaultConfig()
	cfg.GeoDatabases = []string{missing}
	d, err := New(cfg, daemon.NewReporter(slog.New(slog.DiscardHandler), nil))
	if err != nil {
		t.Fatal(err)
	}
	err = d.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "nope.mmdb") {
		t.Errorf("missing database: error %v", err)
	}
	// Optional: starts empty and picks the file up when it appears.
	cfg.Optional = true
	cfg.CheckInterval = 100 * time.Millisecond
	d2, r2 := newDB(t, cfg)
	if !d2.Current().Empty() {
		t.Error("set not empty")
	}
	if err := r2.Health()["geoip"]; err == nil || !strings.Contains(err.Error(), "nope.mmdb") {
		t.Errorf("health while missing: %v", err)
	}
	geoiptest.Write(t, missing, "GeoLite2-City", map[string]mmdbtype.Map{"1.0.0.0/24": geoiptest.City("AU", "Sydney")})
	waitFor(t, func() bool { got, _ := d2.Current().Lookup(netip.MustParseAddr("1.0.0.1")); return got.Country == "AU" })
	if err := r2.Health()["geoip"]; err != nil {
		t.Errorf("health once loaded: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func BenchmarkLookupWarm(b *testing.B) {
	asn, city, _, _ := fixtures(b)
	cfg := DefaultConfig()
	cfg.ASNDatabases, cfg.GeoDatabases = []string{asn}, []string{city}
	d, _ := newDB(b, cfg)
	set := d.Current()
	a4, a6 := netip.MustParseAddr("81.2.69.1"), netip.MustParseAddr("2001:db8:1::1")
	b.ReportAllocs()
	for b.Loop() {
		set.Lookup(a4)
		set.Lookup(a6)
	}
}
