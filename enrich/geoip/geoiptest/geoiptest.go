// Package geoiptest writes small MaxMind-format databases for tests, with
// MaxMind's own writer, in the layouts of the real files.
package geoiptest

import (
	"net"
	"os"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Write writes a database mapping prefixes ("198.51.100.0/24") to records
// at path, replacing any previous file atomically (write + rename, as
// geoipupdate does).
func Write(t testing.TB, path, dbType string, records map[string]mmdbtype.Map) {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, RecordSize: 28, IPVersion: 6,
		IncludeReservedNetworks: true, Description: map[string]string{"en": "hostflow test database"}})
	if err != nil {
		t.Fatal(err)
	}
	for p, rec := range records {
		_, n, err := net.ParseCIDR(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// ASN is a GeoLite2-ASN record.
func ASN(n uint32, org string) mmdbtype.Map {
	return mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(n),
		"autonomous_system_organization": mmdbtype.String(org)}
}

// City is a GeoLite2-City record (names in two languages, as the real
// files have several).
func City(country, city string) mmdbtype.Map {
	return mmdbtype.Map{
		"country": mmdbtype.Map{"iso_code": mmdbtype.String(country), "names": mmdbtype.Map{"en": mmdbtype.String(country)}},
		"city":    mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(city), "fr": mmdbtype.String(city + "-fr")}},
	}
}
