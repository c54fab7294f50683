package config_test

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/hostflow/hostflow/internal/config"
	"github.com/hostflow/hostflow/internal/roles"
)

// TestRedactHostflowConfig sets every secret the configuration file can
// hold and checks that the redacted printout (what --print-config should
// show) holds none of them, but still the keys and the other values.
func TestRedactHostflowConfig(t *testing.T) {
	secrets := []string{"store-pw-1", "public-community-2", "private-community-3", "auth-pass-4", "priv-pass-5", "tskey-auth-6", "hunter2", "key=abc"}
	file := `
store:
  server: {password: store-pw-1}
enrich:
  snmp:
    credentials:
      - {prefixes: [0.0.0.0/0], version: 2c, communities: [public-community-2, private-community-3]}
      - {prefixes: ["::/0"], version: "3", user: monitor, auth-protocol: SHA, auth-passphrase: auth-pass-4, priv-protocol: AES, priv-passphrase: priv-pass-5}
tailnet:
  auth-key: tskey-auth-6
  control-url: https://admin:hunter2@headscale.example.net/?key=abc
`
	cfg := roles.Defaults()
	if err := config.Parse("secrets.yaml", []byte(file), &cfg); err != nil {
		t.Fatal(err)
	}
	n, err := config.Redact(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := yaml.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("secret %q in the redacted configuration", s)
		}
	}
	for _, want := range []string{
		"password: <redacted>", "auth-passphrase: <redacted>", "priv-passphrase: <redacted>", "auth-key: <redacted>",
		"- <redacted>", "user: monitor", "auth-protocol: SHA", "https://admin:%3Credacted%3E@headscale.example.net/?<redacted>",
		"auth-key-file: \"\"", "key-file: \"\"",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("redacted configuration lacks %q", want)
		}
	}
	// The printout still loads (an operator can edit it back).
	again := roles.Defaults()
	if err := config.Parse("printed.yaml", b, &again); err != nil {
		t.Errorf("the redacted printout does not load: %v", err)
	}
}

func TestRedactKeepsEmptyAndOrdinaryValues(t *testing.T) {
	type server struct {
		Password string            `yaml:"password"`
		Headers  map[string]string `yaml:"headers"`
		URL      string            `yaml:"url"`
		Name     string            `yaml:"name"`
	}
	cases := []struct {
		in   server
		want string
	}{
		{server{}, "password: \"\"\nheaders: {}\nurl: \"\"\nname: \"\"\n"},
		{server{Password: "x", Headers: map[string]string{"Authorization": "Bearer y"}, URL: "http://h:8123/a", Name: "host"},
			"password: <redacted>\nheaders:\n    Authorization: <redacted>\nurl: http://h:8123/a\nname: host\n"},
	}
	for _, tc := range cases {
		n, err := config.Redact(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := yaml.Marshal(n)
		if string(b) != tc.want {
			t.Errorf("-got +want:\n-%s\n+%s", b, tc.want)
		}
	}
}
