package cpuprofile

import (
	"os"
	"path/filepath"
	"testing"
)

// A profile is written where asked, and an empty path writes nothing.
func TestStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.prof")
	stop, err := Start(path)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Fatalf("profile %s: %v, %v", path, fi, err)
	}
	stop, err = Start("")
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if _, err := Start(filepath.Join(t.TempDir(), "missing", "cpu.prof")); err == nil {
		t.Error("Start into a missing directory: no error")
	}
}
