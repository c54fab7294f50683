package roles

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadErrors: checks that span sections name the file, line and key.
func TestLoadErrors(t *testing.T) {
	for _, c := range []struct{ name, yaml, err string }{
		{"tailnet datagram", "agent:\n  datagram-size: 1400\ntailnet:\n  enabled: true\n",
			"hostflow.yaml:2: key agent.datagram-size: must be at most 1232 with tailnet.enabled"},
		{"plain datagram", "agent:\n  datagram-size: 1400\n", ""},
		{"short listener", "inlet:\n  listeners:\n    - protocol: sflow\n      listen: \"[::]:6343\"\n", ""},
		{"detect", "detect:\n  interval: 10ms\n", "hostflow.yaml:2: key detect.interval: must be at least 1s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hostflow.yaml")
			if err := os.WriteFile(path, []byte(c.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if c.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("error %v, want %q", err, c.err)
			}
		})
	}
}
