package sflow

import (
	"os/exec"
	"regexp"
	"testing"
)

// TestHotPathInlined: decoding speed rests on the cursor's reads being
// inlined (see cursor); a change that pushes one over the compiler's
// inlining budget would silently cost a call per field. The compiler says
// what it inlines with -gcflags=-m.
func TestHotPathInlined(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the package")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build with")
	}
	out, err := exec.Command(goTool, "build", "-gcflags=-m", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build -gcflags=-m: %v\n%s", err, out)
	}
	for _, fn := range []string{`\(\*cursor\)\.tlv`, `\(\*cursor\)\.sub`, `\(\*cursor\)\.take`, `\(\*cursor\)\.u32`,
		`\(\*cursor\)\.fixed`, `xdrOpaque`} {
		if !regexp.MustCompile(`(?m)can inline ` + fn + `$`).Match(out) {
			t.Errorf("%s is no longer inlined", fn)
		}
	}
}
