package agent

import (
	"strings"
	"testing"
	"time"

	"github.com/hostflow/hostflow/internal/config"
)

func TestDefaultsValid(t *testing.T) {
	cfg := DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	// Zero config: empty file keeps every default.
	if err := config.Parse("empty.yaml", nil, &cfg); err != nil {
		t.Fatal(err)
	}
}

func TestExampleFile(t *testing.T) {
	cfg := DefaultConfig()
	if err := config.Load("testdata/agent.yaml", &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Sampling.Rate("tailscale0", 0) != 100 || cfg.Sampling.Rate("eth0", 10e9) != 10000 ||
		cfg.AgentInterface != "tailscale0" || cfg.Process.ScanInterval != 250*time.Millisecond || len(cfg.Collectors) != 2 {
		t.Errorf("parsed %+v", cfg)
	}
	for name, want := range map[string]bool{"eth0": true, "tailscale0": true, "veth12": false, "lo": false, "wg0": false} {
		if got := cfg.selected(name, true); got != want {
			t.Errorf("selected(%s) = %v, want %v", name, got, want)
		}
	}
}

func TestBadValues(t *testing.T) {
	in := `sampling:
  default: 0
  by-speed: {fast: 10}
header-bytes: 1000
polling: 10ms
interfaces: ["[bad"]
collectors: ["host:port:x"]
process:
  scan-share: 2
`
	cfg := DefaultConfig()
	err := config.Parse("agent.yaml", []byte(in), &cfg)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		"agent.yaml:2: key sampling.default:",
		"agent.yaml:3: key sampling.by-speed.fast:",
		"agent.yaml:4: key header-bytes:",
		"agent.yaml:5: key polling:",
		"agent.yaml:6: key interfaces.0:",
		"agent.yaml:7: key collectors.0:",
		"agent.yaml:9: key process.scan-share:",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

func TestRate(t *testing.T) {
	s := SamplingConfig{Default: 400, BySpeed: map[string]uint32{"10G": 2000}, Interfaces: map[string]uint32{"wg0": 50}}
	cases := []struct {
		name  string
		speed uint64
		want  uint32
	}{
		{"wg0", 0, 50},         // per interface wins
		{"tailscale0", 0, 400}, // speed unknown: default
		{"eth0", 10e9, 2000},   // by speed
		{"eth1", 1e9, 1000},    // speed / 1 Mbit/s
		{"eth2", 10e6, 100},    // at least 100
		{"eth3", 25e9, 25000},  // 25G not configured
		{"wg0", 10e9, 50},      // per interface beats speed
	}
	for _, c := range cases {
		if got := s.Rate(c.name, c.speed); got != c.want {
			t.Errorf("Rate(%s, %d) = %d, want %d", c.name, c.speed, got, c.want)
		}
	}
	for in, want := range map[string]uint64{"100M": 100e6, "2.5G": 2.5e9, "1T": 1e12} {
		if got, err := parseSpeed(in); err != nil || got != want {
			t.Errorf("parseSpeed(%s) = %d, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "G", "10", "-1G", "10X"} {
		if _, err := parseSpeed(bad); err == nil {
			t.Errorf("parseSpeed(%q) accepted", bad)
		}
	}
}
