//go:build notailnet

package tailnet

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/hostflow/hostflow/internal/daemon"
)

func TestStubRefusesEnabled(t *testing.T) {
	r := daemon.NewReporter(slog.New(slog.DiscardHandler), nil)
	cfg := DefaultConfig()
	cfg.Enabled = true
	if _, err := New(cfg, Dependencies{Reporter: r}); err == nil || !strings.Contains(err.Error(), "notailnet") {
		t.Fatalf("enabled without tsnet: err = %v", err)
	}
	n, err := New(DefaultConfig(), Dependencies{Reporter: r})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.InletConns(); !errors.Is(err, ErrNotBuilt) {
		t.Errorf("InletConns: %v", err)
	}
	if Built {
		t.Error("Built is true in a notailnet build")
	}
}
