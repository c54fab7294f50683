package sflow

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzDecode feeds arbitrary bytes to the decoder: it must never panic, and
// whatever it accepts must survive decode → encode → decode. The check
// compares encodings: the encoder writes every decoded field, so
// encode(decode(encode(d))) == encode(d) means the second decode gave back
// d (strings beyond their maximum excepted: both encodings cut them). A
// reflective comparison would make large datagrams too slow to fuzz.
// Seeds: testdata/fuzz/FuzzDecode (golden and pmacct datagrams, written by
// the tests' -update).
//
// Decoding into a Datagram that held every record before must give the
// same (reused samples clear only the records they had: see
// FlowSample.reuse).
func FuzzDecode(f *testing.F) {
	f.Add([]byte{})
	f.Add(u32s(5, 1, 0x7f000001, 0, 1, 0, 0))
	var e Encoder
	noRecords, err := e.AppendDatagram(nil, &Datagram{AgentAddress: agent4, FlowSamples: []FlowSample{{}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(noRecords) // a sample without records, decoded over one that had them all
	every := readGolden(f, "all-expanded-ipv6.hex")
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
		var reused Datagram
		if err := d.Decode(every, &reused); err != nil {
			t.Fatal(err)
		}
		if err := d.Decode(b, &reused); err != nil {
			t.Fatalf("decoding into a used Datagram: %v", err)
		}
		for i := range reused.FlowSamples {
			if name := staleRecord(&reused.FlowSamples[i]); name != "" {
				t.Fatalf("flow sample %d decoded into a used Datagram: %s left from before", i, name)
			}
		}
		if b3, err := e.AppendDatagram(nil, &reused); err != nil || !bytes.Equal(b3, b2) {
			t.Fatalf("decoding into a used Datagram gave another datagram: %v\n%x\n%x", err, b2, b3)
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

// flowRecordFields are the FlowSample fields of the records, in the order of
// their FlowRecords bits.
var flowRecordFields = [...]string{"SampledHeader", "SampledEthernet", "SampledIPv4", "SampledIPv6", "Switch",
	"Router", "Gateway", "User", "URL", "SocketIPv4", "SocketIPv6", "TCPInfo", "Process"}

// staleRecord names a record of s that is not zero although its bit is not
// set in Has, or returns "".
func staleRecord(s *FlowSample) string {
	v := reflect.ValueOf(s).Elem()
	for i, name := range flowRecordFields {
		field := v.FieldByName(name)
		if s.Has&(1<<i) == 0 && !cmp.Equal(field.Interface(), reflect.Zero(field.Type()).Interface(), cmpOpts) {
			return name
		}
	}
	return ""
}
