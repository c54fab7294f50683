package tailnet

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hostflow/hostflow/console"
	"github.com/hostflow/hostflow/internal/config"
)

func TestConfigValidation(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want string // substring of the error; empty: valid
	}{
		{"defaults", "", ""},
		{"agent", "enabled: true\nauth-key: tskey-auth-x\nhostname: web-1\ntags: [tag:hostflow-agent]\n", ""},
		{"headscale ephemeral in memory", "enabled: true\ncontrol-url: https://hs.example.net\nstate-dir: \"\"\nephemeral: true\n", ""},
		{"collector", "enabled: true\nconsole-only-tailnet: true\nallow-users: [alice@example.com, \"*@ops.example.com\"]\nadmin-users: [\"*\"]\nallow-tags: [tag:monitor]\n", ""},
		{"key twice", "auth-key: a\nauth-key-file: /k\n", "t.yaml:2: key auth-key-file: set auth-key or auth-key-file, not both"},
		{"bad hostname", "hostname: web_1\n", "t.yaml:1: key hostname"},
		{"bad control", "control-url: hs.example.net\n", "t.yaml:1: key control-url"},
		{"memory state not ephemeral", "state-dir: \"\"\n", "t.yaml:1: key state-dir: required unless ephemeral"},
		{"bad tag", "tags: [monitor]\n", "t.yaml:1: key tags.0"},
		{"short up timeout", "up-timeout: 10ms\n", "key up-timeout"},
		{"bad protocol", "listeners: [{protocol: syslog, port: 514}]\n", "key listeners.0.protocol"},
		{"port twice", "listeners: [{protocol: sflow, port: 6343}, {protocol: netflow, port: 6343}]\n", "key listeners.1.port: port 6343 already used by listeners.0"},
		{"no port", "listeners: [{protocol: sflow}]\n", "key listeners.0.port: required"},
		{"console without port", "console-only-tailnet: true\nconsole-port: 0\n", "key console-port"},
		{"bad user pattern", "allow-users: [\"alice*\"]\n", "key allow-users.0"},
		{"bad allowed tag", "allow-tags: [monitor]\n", "key allow-tags.0"},
		{"unknown key", "authkey: x\n", "field authkey not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			err := config.Parse("t.yaml", []byte(tc.yaml), &cfg)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestAuthKeyPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		env  map[string]string
		cfg  Config
		want string
	}{
		{"config", nil, Config{AuthKey: "from-config"}, "from-config"},
		{"file", nil, Config{AuthKeyFile: file}, "from-file"},
		{"TS_AUTHKEY over file", map[string]string{EnvTailscaleAuthKey: "from-ts"}, Config{AuthKeyFile: file}, "from-ts"},
		{"hostflow env first", map[string]string{EnvTailscaleAuthKey: "from-ts", EnvAuthKey: "from-hf"}, Config{AuthKey: "c"}, "from-hf"},
		{"none", nil, Config{}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.cfg.authKey(func(k string) string { return tc.env[k] })
			if err != nil || got != tc.want {
				t.Errorf("got %q (%v), want %q", got, err, tc.want)
			}
		})
	}
	if _, err := (&Config{AuthKeyFile: filepath.Join(t.TempDir(), "missing")}).authKey(func(string) string { return "" }); err == nil {
		t.Error("missing auth-key-file gave no error")
	}
}

func TestScopeOf(t *testing.T) {
	cfg := Config{AllowUsers: []string{"bob@example.com", "*@ops.example.com"}, AdminUsers: []string{"Alice@Example.com"},
		AllowTags: []string{"tag:monitor"}}
	cases := []struct {
		peer Peer
		want string
	}{
		{Peer{Name: "laptop", User: "alice@example.com"}, console.ScopeAdmin},
		{Peer{Name: "laptop", User: "bob@example.com"}, console.ScopeRead},
		{Peer{Name: "laptop", User: "carol@ops.example.com"}, console.ScopeRead},
		{Peer{Name: "laptop", User: "mallory@example.com"}, console.ScopeNone},
		{Peer{Name: "laptop", User: "eve@notops.example.com"}, console.ScopeNone},
		{Peer{Name: "grafana", Tags: []string{"tag:web", "tag:monitor"}}, console.ScopeRead},
		{Peer{Name: "ci", Tags: []string{"tag:ci"}}, console.ScopeNone},
		{Peer{Name: "nobody"}, console.ScopeNone},
	}
	for _, tc := range cases {
		if got := cfg.scopeOf(tc.peer); got != tc.want {
			t.Errorf("%s: scope %q, want %q", tc.peer.identity(), got, tc.want)
		}
	}
	if got := (&Config{AllowUsers: []string{"*"}}).scopeOf(Peer{User: "anyone@x"}); got != console.ScopeRead {
		t.Errorf("* gave %q", got)
	}
}
