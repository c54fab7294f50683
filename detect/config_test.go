package detect

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/hostflow/hostflow/internal/config"
)

func TestDefaultConfigValid(t *testing.T) {
	cfg := DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		name, yaml, want string
	}{
		{"ports", "rules:\n  port-scan:\n    ports: 1\n", "detect.yaml:3: key rules.port-scan.ports: must be between 2 and 65536, not 1"},
		{"exclude", "rules:\n  port-scan:\n    exclude: \"SrcPort = x\"\n",
			`detect.yaml:3: key rules.port-scan.exclude: line 1, column 11: expected an unsigned integer (0-65535) after SrcPort =, got "x"`},
		{"kind", "rules:\n  new-peer:\n    kinds: [as, city]\n", `detect.yaml:3: key rules.new-peer.kinds.1: must be address, as or country, not "city"`},
		{"kind twice", "rules:\n  new-peer:\n    kinds: [as, as]\n", `detect.yaml:3: key rules.new-peer.kinds.1: "as" listed twice`},
		{"baseline", "rules:\n  new-service:\n    window: 10m\n    baseline: 5m\n    min-history: 1m\n",
			"detect.yaml:4: key rules.new-service.baseline: must be at least the window plus 1m (11m0s), not 5m0s"},
		{"severity", "rules:\n  retransmits:\n    severity: loud\n",
			`detect.yaml:3: key rules.retransmits.severity: must be info, warning or critical, not "loud"`},
		{"factor", "rules:\n  egress-spike:\n    factor: 1\n", "detect.yaml:3: key rules.egress-spike.factor: must be more than 1, not 1"},
		{"min-days", "rules:\n  egress-spike:\n    min-days: 9\n",
			"detect.yaml:3: key rules.egress-spike.min-days: must be between 1 and baseline-days (7), not 9"},
		{"percentile", "rules:\n  interface-saturation:\n    percentile: 0\n",
			"detect.yaml:3: key rules.interface-saturation.percentile: must be in (0, 100], not 0"},
		{"min-segments", "rules:\n  retransmits:\n    min-segments: 0\n", "detect.yaml:3: key rules.retransmits.min-segments: must be at least 1"},
		{"interval", "interval: 10ms\n", "detect.yaml:1: key interval: must be at least 1s, not 10ms"},
		{"webhook url", "sinks:\n  webhook:\n    url: ftp://x\n", `detect.yaml:3: key sinks.webhook.url: must be an http:// or https:// URL, not "ftp://x"`},
		{"webhook backoff", "sinks:\n  webhook:\n    backoff: 2m\n",
			"detect.yaml:3: key sinks.webhook.backoff: must be at least 10ms and at most max-backoff (1m0s), not 2m0s"},
		{"unknown key", "rules:\n  port-scan:\n    port: 10\n", "detect.yaml:3: key rules.port-scan.port: field port not found in type detect.PortScanConfig"},
		{"bad duration", "cool-down: soon\n", `detect.yaml:1: key cool-down: bad duration "soon" (e.g. 5s, 90m, 15d)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			err := config.Parse("detect.yaml", []byte(c.yaml), &cfg)
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			if diff := cmp.Diff(err.Error(), c.want); diff != "" {
				t.Errorf("error (-got +want):\n%s", diff)
			}
		})
	}
}

// TestDocumentedDefaults parses the configuration reference of
// docs/detections.md and compares it with DefaultConfig, so the document
// cannot drift from the code.
func TestDocumentedDefaults(t *testing.T) {
	doc, err := os.ReadFile("../docs/detections.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```yaml\n(detect:\n.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("no yaml block starting with detect: in docs/detections.md")
	}
	var got struct {
		Detect Config `yaml:"detect"`
	}
	if err := config.Parse("docs/detections.md", m[1], &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got.Detect, DefaultConfig(), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("documented defaults differ from DefaultConfig (-doc +code):\n%s", diff)
	}
	// Every rule and metric the code has is named in the document.
	for _, name := range []string{RulePortScan, RuleNewPeer, RuleEgressSpike, RuleNewService, RuleInterfaceSaturation,
		RuleRetransmits, "hostflow_detect_active", "hostflow_detect_detections_total", "hostflow_detect_errors_total",
		"hostflow_detect_webhook_drops_total", SignatureHeader} {
		if !strings.Contains(string(doc), name) {
			t.Errorf("docs/detections.md does not mention %s", name)
		}
	}
}
