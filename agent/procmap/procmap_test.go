package procmap

import (
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hostflow/hostflow/internal/daemon"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCgroupParsing(t *testing.T) {
	const id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	cases := []struct {
		name, file, path, unit, container string
	}{
		{"systemd service", "0::/system.slice/nginx.service\n", "/system.slice/nginx.service", "nginx.service", ""},
		{"user session app", "0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-foo.scope\n",
			"/user.slice/user-1000.slice/user@1000.service/app.slice/app-foo.scope", "app-foo.scope", ""},
		{"docker", "0::/system.slice/docker-" + id + ".scope\n", "/system.slice/docker-" + id + ".scope", "docker-" + id + ".scope", id},
		{"docker cgroupfs driver", "0::/docker/" + id + "\n", "/docker/" + id, "", id},
		{"containerd k8s", "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1234.slice/cri-containerd-" + id + ".scope\n",
			"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1234.slice/cri-containerd-" + id + ".scope", "cri-containerd-" + id + ".scope", id},
		{"podman", "0::/machine.slice/libpod-" + id + ".scope/container\n", "/machine.slice/libpod-" + id + ".scope/container", "libpod-" + id + ".scope", id},
		{"cgroup v1", "12:pids:/x\n1:name=systemd:/system.slice/sshd.service\n", "/system.slice/sshd.service", "sshd.service", ""},
		{"65 hex is no id", "0::/x/" + id + "0\n", "/x/" + id + "0", "", ""},
		{"garbage", "nonsense", "", "", ""},
	}
	for _, c := range cases {
		p := cgroupPath(c.file)
		if p != c.path || unitOf(p) != c.unit || containerOf(p) != c.container {
			t.Errorf("%s: got %q %q %q, want %q %q %q", c.name, p, unitOf(p), containerOf(p), c.path, c.unit, c.container)
		}
	}
}

func TestUsers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(path, []byte("root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/a:/bin/sh\nbad line\nalias:x:1000:1000::/:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	u := users{path: path}
	for uid, want := range map[uint32]string{0: "root", 1000: "alice", 4242: "4242"} {
		if got := string(u.name(uid)); got != want {
			t.Errorf("uid %d: got %q, want %q", uid, got, want)
		}
	}
}

func newMap(t testing.TB) (*Map, *daemon.Reporter) {
	r := daemon.NewReporter(slog.New(slog.DiscardHandler), nil)
	cfg := DefaultConfig()
	cfg.ScanInterval = 100 * time.Millisecond
	m, err := New(cfg, Deps{Metrics: NewMetrics(r)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, r
}

func selfComm(t testing.TB) string {
	b, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestLookupOwnSockets(t *testing.T) {
	m, _ := newMap(t)
	for _, network := range []string{"tcp4", "tcp6"} {
		addr := "127.0.0.1:0"
		if network == "tcp6" {
			addr = "[::1]:0"
		}
		ln, err := net.Listen(network, addr)
		if err != nil {
			t.Skipf("%s: %v", network, err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err == nil {
				_, _ = io.Copy(io.Discard, c)
				c.Close()
			}
		}()
		c, err := net.Dial(network, ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write(make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
		local := netip.MustParseAddrPort(c.LocalAddr().String())
		remote := netip.MustParseAddrPort(c.RemoteAddr().String())
		var res Result
		lookup(m, Tuple{Proto: 6, Local: local, Remote: remote}, &res)
		checkSelf(t, network+" client", &res)
		if !res.HasTCPInfo || res.TCPInfo.SndMSS == 0 || res.TCPInfo.RTT == 0 {
			t.Errorf("%s: tcp_info %+v (has %v)", network, res.TCPInfo, res.HasTCPInfo)
		}
		// The accepted side, found from the listener's perspective.
		lookup(m, Tuple{Proto: 6, Local: remote, Remote: local}, &res)
		checkSelf(t, network+" server", &res)
	}
	// UDP: an unconnected server and a connected client, IPv4 and IPv6.
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		srv, err := net.ListenPacket("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		cl, err := net.Dial("udp", srv.LocalAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		sa := netip.MustParseAddrPort(srv.LocalAddr().String())
		ca := netip.MustParseAddrPort(cl.LocalAddr().String())
		var res Result
		lookup(m, Tuple{Proto: 17, Local: sa, Remote: ca}, &res)
		checkSelf(t, "udp server "+addr, &res)
		lookup(m, Tuple{Proto: 17, Local: ca, Remote: sa}, &res)
		checkSelf(t, "udp client "+addr, &res)
	}
}

// lookup retries until the owner is found (a new socket's owner appears
// after the next /proc scan pass, at most scan-interval later) or 3 s pass.
func lookup(m *Map, tu Tuple, res *Result) {
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		m.Lookup(tu, time.Now(), res)
		if res.Process != nil || time.Now().After(deadline) {
			return
		}
	}
}

func checkSelf(t *testing.T, what string, res *Result) {
	t.Helper()
	if !res.Socket || res.Process == nil {
		t.Fatalf("%s: socket %v process %v", what, res.Socket, res.Process)
	}
	if res.Process.PID != uint32(os.Getpid()) || string(res.Process.Comm) != selfComm(t) || res.UID != uint32(os.Getuid()) {
		t.Errorf("%s: got pid %d comm %q uid %d, want %d %q %d", what, res.Process.PID, res.Process.Comm, res.UID,
			os.Getpid(), selfComm(t), os.Getuid())
	}
}

func TestLookupNoSocketIsCached(t *testing.T) {
	m, r := newMap(t)
	tu := Tuple{Proto: 6, Local: netip.MustParseAddrPort("127.0.0.1:1"), Remote: netip.MustParseAddrPort("127.0.0.1:2")}
	var res Result
	now := time.Now()
	m.Lookup(tu, now, &res)
	m.Lookup(tu, now.Add(time.Second), &res)
	if res.Socket {
		t.Errorf("found a socket for %v", tu)
	}
	lookups := r.Sub("procmap").CounterVec("lookups_total", "", "result")
	if n, c := testutil.ToFloat64(lookups.WithLabelValues(resultNoSocket)), testutil.ToFloat64(lookups.WithLabelValues(resultCached)); n != 1 || c != 1 {
		t.Errorf("no_socket %v cached %v, want 1 1", n, c)
	}
	// After the negative TTL, the kernel is asked again.
	m.Lookup(tu, now.Add(3*time.Second), &res)
	if n := testutil.ToFloat64(lookups.WithLabelValues(resultNoSocket)); n != 2 {
		t.Errorf("no_socket %v after expiry, want 2", n)
	}
}

func TestCacheBounded(t *testing.T) {
	m, _ := newMap(t)
	m.cfg.CacheSize = 64
	now := time.Now()
	var res Result
	for i := 0; i < 1000; i++ {
		tu := Tuple{Proto: 99, Local: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(i)), Remote: netip.MustParseAddrPort("127.0.0.1:2")}
		m.Lookup(tu, now, &res)
		if len(m.flows) > m.cfg.CacheSize {
			t.Fatalf("cache grew to %d > %d", len(m.flows), m.cfg.CacheSize)
		}
	}
}

// loopbackTCP opens a connected TCP pair on loopback and returns the
// client's tuple.
func loopbackTCP(b *testing.B) Tuple {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return Tuple{Proto: 6, Local: netip.MustParseAddrPort(c.LocalAddr().String()), Remote: netip.MustParseAddrPort(c.RemoteAddr().String())}
}

func BenchmarkLookupCached(b *testing.B) {
	m, _ := newMap(b)
	tu := loopbackTCP(b)
	var res Result
	now := time.Now()
	m.Lookup(tu, now, &res)
	b.ReportAllocs()
	for b.Loop() {
		m.Lookup(tu, now, &res)
	}
}

// BenchmarkLookupMiss measures a sock_diag round trip plus the cached
// /proc answer: what a new flow costs.
func BenchmarkLookupMiss(b *testing.B) {
	m, _ := newMap(b)
	tu := loopbackTCP(b)
	var res Result
	b.ReportAllocs()
	for b.Loop() {
		clear(m.flows)
		m.Lookup(tu, time.Now(), &res)
	}
}

// FuzzParseMsg feeds arbitrary sock_diag answers to the parser: it must
// never panic or read past the message.
func FuzzParseMsg(f *testing.F) {
	f.Add(make([]byte, msgLen))
	info := make([]byte, msgLen+4+tiMinRTT+4)
	info[0] = 2 // AF_INET
	info[msgLen] = byte(4 + tiMinRTT + 4)
	info[msgLen+2] = inetDiagInfo
	f.Add(info)
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Socket
		if parseMsg(b, &s) && len(b) < msgLen {
			t.Fatalf("parsed a %d-byte message", len(b))
		}
	})
}
