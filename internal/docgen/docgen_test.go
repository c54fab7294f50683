package docgen

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/hostflow/hostflow/internal/roles"
)

var update = flag.Bool("update", false, "rewrite docs/configuration.md and docs/metrics.md")

func check(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != got {
		t.Errorf("%s is out of date: run go test ./internal/docgen -update", path)
	}
}

func TestConfigurationReferenceIsUpToDate(t *testing.T) {
	got, err := ConfigReference("../..", "github.com/hostflow/hostflow", roles.Defaults())
	if err != nil {
		t.Fatal(err)
	}
	check(t, filepath.Join("..", "..", "docs", "configuration.md"), got)
}

// Components register their metrics when built, so building the standalone
// role (without starting it) lists them all.
func TestMetricsReferenceIsUpToDate(t *testing.T) {
	cfg := roles.Defaults()
	cfg.Store.Path = t.TempDir()
	// The embedded tailnet node registers its metrics when built, which
	// it is only when enabled (it does not join anything unless started).
	cfg.Tailnet.Enabled, cfg.Tailnet.Ephemeral = true, true
	app, err := roles.NewApp(&cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := roles.AddStandalone(app, &cfg, roles.StandaloneOptions{}); err != nil {
		t.Fatal(err)
	}
	check(t, filepath.Join("..", "..", "docs", "metrics.md"), MetricsReference(app.Reporter.Metrics()))
}
