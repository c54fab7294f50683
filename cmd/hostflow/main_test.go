package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPrintConfigRedacts: --print-config shows the effective
// configuration with every secret replaced, so it can be pasted in a
// ticket; what is not secret prints as given.
func TestPrintConfigRedacts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "collector.yaml")
	if err := os.WriteFile(path, []byte(`enrich:
  snmp:
    credentials:
      - prefixes: ["2001:db8::/32"]
        version: "2c"
        communities: [s3cret-community]
      - prefixes: ["10.0.0.0/8"]
        version: "3"
        user: monitor
        auth-protocol: SHA
        auth-passphrase: s3cret-auth
        priv-protocol: AES
        priv-passphrase: s3cret-priv
`), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"collector", "-c", path, "--print-config"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	if strings.Contains(out, "s3cret") {
		t.Errorf("a secret is printed:\n%s", out)
	}
	for _, want := range []string{"user: monitor", "auth-passphrase: <redacted>", "priv-passphrase: <redacted>", "- <redacted>"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
