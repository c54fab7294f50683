package config

import (
	"errors"
	"strings"
	"testing"
)

type inner struct {
	Rate  int      `yaml:"rate"`
	Names []string `yaml:"names"`
}

type sample struct {
	Name  string `yaml:"name"`
	Inner inner  `yaml:"inner"`
}

func (s *sample) Validate() error {
	var errs []error
	if s.Inner.Rate < 0 {
		errs = append(errs, Errorf("inner.rate", "must be >= 0, not %d", s.Inner.Rate))
	}
	for i, n := range s.Inner.Names {
		if n == "" {
			errs = append(errs, Errorf("inner.names."+itoa(i), "empty name"))
		}
	}
	return errors.Join(errs...)
}

func itoa(i int) string { return string(rune('0' + i)) }

func TestParseErrorsNameFileLineAndKey(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []string
	}{
		{"ok", "name: x\ninner:\n  rate: 3\n", nil},
		{"empty file keeps defaults", "", nil},
		{"unknown key", "name: x\ninner:\n  rat: 3\n", []string{"f.yaml:3: key inner.rat: field rat not found"}},
		{"bad type", "name: x\ninner:\n  rate: fast\n", []string{"f.yaml:3: key inner.rate: cannot unmarshal !!str `fast` into int"}},
		{"validation", "name: x\ninner:\n  rate: -1\n", []string{"f.yaml:3: key inner.rate: must be >= 0, not -1"}},
		{"validation in list", "inner:\n  names:\n    - a\n    - \"\"\n", []string{"f.yaml:4: key inner.names.1: empty name"}},
		{"syntax", "name: [x\n", []string{"f.yaml:"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var s sample
			err := Parse("f.yaml", []byte(tc.yaml), &s)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestParseKeepsDefaults(t *testing.T) {
	s := sample{Name: "default", Inner: inner{Rate: 7}}
	if err := Parse("f.yaml", []byte("name: other\n"), &s); err != nil {
		t.Fatal(err)
	}
	if s.Name != "other" || s.Inner.Rate != 7 {
		t.Errorf("got %+v", s)
	}
}

func TestDurationAndByteSize(t *testing.T) {
	type c struct {
		D Duration `yaml:"d"`
		B ByteSize `yaml:"b"`
	}
	var v c
	if err := Parse("f.yaml", []byte("d: 15d\nb: 512MiB\n"), &v); err != nil {
		t.Fatal(err)
	}
	if v.D.String() != "15d" || v.B != 512<<20 {
		t.Errorf("got %v %v", v.D, v.B)
	}
	err := Parse("f.yaml", []byte("d: soon\n"), &v)
	if err == nil || !strings.Contains(err.Error(), "f.yaml:1: key d: bad duration") {
		t.Errorf("err = %v", err)
	}
	err = Parse("f.yaml", []byte("d: 1s\nb: lots\n"), &v)
	if err == nil || !strings.Contains(err.Error(), "f.yaml:2: key b: bad size") {
		t.Errorf("err = %v", err)
	}
	out, _ := ByteSize(3 << 30).MarshalYAML()
	if out != "3GiB" {
		t.Errorf("marshal = %v", out)
	}
}
