package enrich

import (
	"net/netip"
	"os"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/hostflow/hostflow/internal/config"
)

// TestDocumentedDefaults parses the configuration reference of
// docs/enrichment.md and compares it with DefaultConfig, so the document
// cannot drift from the code.
func TestDocumentedDefaults(t *testing.T) {
	doc, err := os.ReadFile("../docs/enrichment.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```yaml\n(enrich:\n.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("no yaml block starting with enrich: in docs/enrichment.md")
	}
	var got struct {
		Enrich Config `yaml:"enrich"`
	}
	got.Enrich = Config{} // every default must be written out in the document
	if err := config.Parse("docs/enrichment.md", m[1], &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got.Enrich, DefaultConfig(), cmpopts.EquateEmpty(), cmpopts.EquateComparable(netip.Prefix{})); diff != "" {
		t.Errorf("documented defaults differ from DefaultConfig (-doc +code):\n%s", diff)
	}
}
