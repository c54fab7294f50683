package geoip

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/hostflow/hostflow/enrich/geoip/geoiptest"
)

// FuzzDatabase opens arbitrary bytes as a database and looks addresses up:
// a corrupt or truncated file must give an error, never a panic or a huge
// allocation.
func FuzzDatabase(f *testing.F) {
	path := filepath.Join(f.TempDir(), "seed.mmdb")
	geoiptest.Write(f, path, "GeoLite2-City", map[string]mmdbtype.Map{
		"1.0.0.0/24":    geoiptest.City("AU", "Sydney"),
		"2001:db8::/32": {"asn": mmdbtype.String("AS64496"), "country": mmdbtype.String("FR")},
	})
	seed, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:len(seed)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		db, _, err := open(data, 16)
		if err != nil {
			return
		}
		set := &Set{dbs: []*database{db}}
		for _, a := range []string{"1.0.0.1", "2001:db8::1", "::", "255.255.255.255", "ffff::1"} {
			set.Lookup(netip.MustParseAddr(a))
		}
	})
}
