package pcapfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	// Every capture the packet parser's tests use is a real one.
	link, frames, err := Read(filepath.Join("..", "..", "packet", "testdata", "eth.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	if link != LinkEthernet || len(frames) == 0 {
		t.Fatalf("link %d, %d frames: want Ethernet frames", link, len(frames))
	}
	for i, f := range frames {
		if len(f.Data) < 14 || f.Sec == 0 {
			t.Errorf("frame %d: %d bytes at %d: want an Ethernet frame with its time", i, len(f.Data), f.Sec)
		}
	}
	dir := t.TempDir()
	for _, c := range []struct{ name, data, err string }{
		{"short", "\xd4\xc3\xb2\xa1", "short pcap header"},
		{"magic", strings.Repeat("x", 24), "not a pcap file"},
		{"record", "\xd4\xc3\xb2\xa1" + strings.Repeat("\x00", 20) + "\x00\x00", "short record header"},
		{"data", "\xd4\xc3\xb2\xa1" + strings.Repeat("\x00", 20) + strings.Repeat("\x00", 8) + "\x10\x00\x00\x00\x10\x00\x00\x00", "short record"},
	} {
		path := filepath.Join(dir, c.name)
		if err := os.WriteFile(path, []byte(c.data), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, err := Read(path); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.err)
		}
	}
}
