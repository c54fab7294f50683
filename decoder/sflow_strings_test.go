package decoder

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
	"unsafe"

	"github.com/hostflow/hostflow/sflow"
)

func TestInterner(t *testing.T) {
	in := newInterner(3)
	a := in.bytes([]byte("nginx"))
	b := in.bytes([]byte("nginx"))
	if unsafe.StringData(a) != unsafe.StringData(b) {
		t.Error("the same bytes gave two strings")
	}
	if in.bytes(nil) != "" || in.len() != 1 {
		t.Errorf("empty input: %d strings held, want 1", in.len())
	}
	for i := range 10 {
		if got, want := in.bytes(fmt.Appendf(nil, "s%d", i)), fmt.Sprintf("s%d", i); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	if in.len() != 3 || in.evictions != 8 {
		t.Errorf("%d held, %d evictions; want 3 and 8", in.len(), in.evictions)
	}
	long := make([]byte, 2*maxInternLen)
	if got := in.bytes(long); len(got) != maxInternLen {
		t.Errorf("long string interned with %d bytes, want %d", len(got), maxInternLen)
	}
}

// TestSFlowProcessCache checks that cached process strings never outlive
// what the record says: a reused PID, a changed unit, a colliding slot.
func TestSFlowProcessCache(t *testing.T) {
	d, _ := sfNew(t)
	steps := []struct {
		proc sflow.ProcessInfo
		name string
		user string
		unit string
	}{
		{sfProcess(5, "nginx", "nginx.service"), "nginx", "www-data", "nginx.service"},
		{sfProcess(5, "nginx", "nginx.service"), "nginx", "www-data", "nginx.service"},
		{sfProcess(5, "curl", "nginx.service"), "curl", "www-data", "nginx.service"},
		{sfProcess(5, "curl", "cron.service"), "curl", "www-data", "cron.service"},
		{sfProcess(261, "sshd", "ssh.service"), "sshd", "www-data", "ssh.service"}, // same slot as 5
		{sflow.ProcessInfo{PID: 5, UID: 1000, Comm: []byte("curl")}, "curl", "1000", ""},
		{sflow.ProcessInfo{PID: 5, UID: 1001, Comm: []byte("curl")}, "curl", "1001", ""},
		{sflow.ProcessInfo{PID: 0, UID: 0}, "", "0", ""},
		{sflow.ProcessInfo{PID: 0, UID: sflow.UIDUnknown}, "", "", ""},
	}
	for i, s := range steps {
		fs := sfSample(sflow.HasProcess)
		fs.Process = s.proc
		var b Batch
		if err := d.Decode(Packet{Payload: sfEncode(t, sfFlowDatagram(fs)), Source: sfSource, Received: sfNow}, &b); err != nil {
			t.Fatal(err)
		}
		r := &b.Flows[0]
		if r.ProcessName != s.name || r.ProcessUser != s.user || r.Unit != s.unit || r.ProcessID != s.proc.PID {
			t.Errorf("step %d: pid %d name %q user %q unit %q, want %d %q %q %q", i,
				r.ProcessID, r.ProcessName, r.ProcessUser, r.Unit, s.proc.PID, s.name, s.user, s.unit)
		}
	}
}

// TestSFlowProcessCacheBounded: a process record longer than any hostflow
// agent sends (here from another encoder: a 2000-byte cgroup) is mapped
// each time but not kept by the cache.
func TestSFlowProcessCacheBounded(t *testing.T) {
	d, _ := sfNew(t)
	cgroup := bytes.Repeat([]byte("c"), 2000)
	var body []byte
	for _, w := range []uint32{7, 0, 1} { // pid, uid, comm length
		body = binary.BigEndian.AppendUint32(body, w)
	}
	body = append(body, 'x', 0, 0, 0)
	body = binary.BigEndian.AppendUint32(body, 0) // exe
	body = binary.BigEndian.AppendUint32(body, uint32(len(cgroup)))
	body = append(body, cgroup...)
	body = append(body, make([]byte, 4*4)...) // unit, container, user: empty
	fs := sfSample(0)
	fs.Unknown = []sflow.Unknown{{Format: sflow.MakeFormat(sflow.DefaultEnterprise, sflow.HostflowFormatProcess), Data: body}}
	payload := sfEncode(t, sfFlowDatagram(fs))
	for i := range 2 {
		var b Batch
		if err := d.Decode(Packet{Payload: payload, Source: sfSource, Received: sfNow}, &b); err != nil {
			t.Fatal(err)
		}
		if r := &b.Flows[0]; r.ProcessID != 7 || r.ProcessName != "x" || r.ProcessUser != "0" || len(r.Cgroup) != maxInternLen {
			t.Errorf("decode %d: pid %d name %q user %q cgroup of %d bytes, want 7 \"x\" \"0\" and %d bytes",
				i, r.ProcessID, r.ProcessName, r.ProcessUser, len(r.Cgroup), maxInternLen)
		}
		if e := &d.procs[7]; e.filled || len(e.raw) != 0 {
			t.Errorf("decode %d: a %d-byte record was cached", i, len(body))
		}
	}
}
