package config_test

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/hostflow/hostflow/internal/config"
	"github.com/hostflow/hostflow/internal/roles"
)

// fuzzed exercises every kind of value the loader handles: scalars, the
// custom Duration and ByteSize types, nested structs, lists and maps, with a
// Validate that reports errors at nested and list keys.
type fuzzed struct {
	Name   string                     `yaml:"name"`
	Period config.Duration            `yaml:"period"`
	Size   config.ByteSize            `yaml:"size"`
	Rate   float64                    `yaml:"rate"`
	Count  int                        `yaml:"count"`
	On     bool                       `yaml:"on"`
	Inner  fuzzedInner                `yaml:"inner"`
	List   []fuzzedInner              `yaml:"list"`
	TTL    map[string]config.Duration `yaml:"ttl"`
}

type fuzzedInner struct {
	Names []string `yaml:"names"`
	Limit uint16   `yaml:"limit"`
}

func (f *fuzzed) Validate() error {
	var errs []error
	if f.Count < 0 {
		errs = append(errs, config.Errorf("count", "must not be negative"))
	}
	for i, in := range f.List {
		if in.Limit == 0 {
			errs = append(errs, config.Errorf("list."+strings.Repeat("9", i%3)+"0.limit", "must be set"))
		}
	}
	return errors.Join(errs...)
}

// checkError asserts what every failed load returns: a *config.Error whose
// messages all name the file.
func checkError(t *testing.T, err error) {
	t.Helper()
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %T %q is not a *config.Error", err, err)
	}
	if len(ce.Messages) == 0 {
		t.Fatalf("config.Error without messages")
	}
	for _, m := range ce.Messages {
		if !strings.HasPrefix(m, "f.yaml") {
			t.Fatalf("message %q does not name the file", m)
		}
	}
}

// FuzzParse: arbitrary bytes never panic the loader, never hang it (alias
// bombs are refused by yaml.v3), and failures are located errors.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"name: x\nperiod: 15d\nsize: 512MiB\ninner:\n  names: [a, b]\n",
		"list:\n  - limit: 0\n  - {names: [\"\"], limit: 3}\nttl: {flows: 1h, rollup: 2d}\n",
		"size: 1e30GiB\nperiod: -5s\ncount: -1\n",
		"a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n",
		"name: [x\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v fuzzed
		if err := config.Parse("f.yaml", data, &v); err != nil {
			checkError(t, err)
		}
	})
}

// FuzzRolesConfig loads arbitrary bytes as the whole hostflow configuration
// file, as roles.Load does (defaults, then the file over them, strict keys,
// every component's Validate). A file that loads is written back and must
// load again.
func FuzzRolesConfig(f *testing.F) {
	// The shipped example files, without their comments (small inputs
	// keep minimization quick).
	for _, p := range []string{"../../packaging/agent.yaml", "../../packaging/collector.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		var keep []string
		for _, line := range strings.Split(string(b), "\n") {
			if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
				keep = append(keep, line)
			}
		}
		f.Add([]byte(strings.Join(keep, "\n")))
	}
	f.Add([]byte("inlet:\n  listeners:\n    - {protocol: sflow, listen: \"[::]:6343\", sockets: 2, max-datagram: 9216, batch: 64}\n  allowed-exporters: [10.0.0.0/8, \"2001:db8::1\"]\n"))
	f.Add([]byte("store:\n  type: server\n  server: {addresses: [\"db:9000\"], password: s3cret}\n  ttl: {flows: 30d}\n  batch-rows: 0\n"))
	f.Add([]byte("log: {level: loud}\nagent: {sampling: {default: 0}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Files named in the configuration are opened by Validate (token
		// files, databases): keep the fuzzer away from device files.
		if bytes.Contains(data, []byte("/dev")) || bytes.Contains(data, []byte("/proc")) || bytes.Contains(data, []byte("/sys")) {
			t.Skip()
		}
		cfg := roles.Defaults()
		if err := config.Parse("f.yaml", data, &cfg); err != nil {
			checkError(t, err)
			return
		}
		out, err := yaml.Marshal(&cfg)
		if err != nil {
			t.Fatalf("marshal a loaded configuration: %v", err)
		}
		again := roles.Defaults()
		if err := config.Parse("f.yaml", out, &again); err != nil {
			t.Fatalf("a loaded configuration does not load again: %v\ninput:\n%s\nwritten:\n%s", err, data, out)
		}
	})
}
