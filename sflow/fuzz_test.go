package sflow

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the decoder: it must never panic, and
// whatever it accepts must survive decode → encode → decode. The check
// compares encodings: the encoder writes every decoded field, so
// encode(decode(encode(d))) == encode(d) means the second decode gave back
// d (strings beyond their maximum excepted: both encodings cut them). A
// reflective comparison would make large datagrams too slow to fuzz.
// Seeds: testdata/fuzz/FuzzDecode (golden and pmacct datagrams, written by
// the tests' -update).
func FuzzDecode(f *testing.F) {
	f.Add([]byte{})
	f.Add(u32s(5, 1, 0x7f000001, 0, 1, 0, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		var d Decoder
		var dg Datagram
		if err := d.Decode(b, &dg); err != nil {
			return
		}
		var e Encoder
		b2, err := e.AppendDatagram(nil, &dg)
		if err != nil {
			t.Fatalf("re-encoding a decoded datagram: %v", err)
		}
		var dg2 Datagram
		if err := d.Decode(b2, &dg2); err != nil {
			t.Fatalf("decoding the re-encoded datagram: %v", err)
		}
		b3, err := e.AppendDatagram(nil, &dg2)
		if err != nil || !bytes.Equal(b3, b2) {
			t.Fatalf("decode → encode → decode changed the datagram: %v\n%x\n%x", err, b2, b3)
		}
	})
}

// writeFuzzSeed stores b as a FuzzDecode seed (with -update).
func writeFuzzSeed(t *testing.T, name string, b []byte) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
