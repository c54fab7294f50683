package decoder

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// testNet is two network namespaces joined by a veth pair: "client"
// (198.18.0.1, 2001:db8::1) and "server" (198.18.0.2, 2001:db8::2).
// Exporters capture on the server side and export to its loopback.
type testNet struct {
	client, server string
}

func newTestNet(t *testing.T) *testNet {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces (CI runs as root)")
	}
	id := fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano()%100000)
	n := &testNet{client: "hfnfc-" + id, server: "hfnfs-" + id}
	for _, ns := range []string{n.client, n.server} {
		mustRun(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		mustRun(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	mustRun(t, "ip", "link", "add", "hfc0", "netns", n.client, "type", "veth", "peer", "name", "hfs0", "netns", n.server)
	for _, c := range []struct{ ns, dev, v4, v6 string }{
		{n.client, "hfc0", "198.18.0.1/24", "2001:db8::1/64"},
		{n.server, "hfs0", "198.18.0.2/24", "2001:db8::2/64"},
	} {
		mustRun(t, "ip", "-n", c.ns, "addr", "add", c.v4, "dev", c.dev)
		mustRun(t, "ip", "-n", c.ns, "addr", "add", c.v6, "dev", c.dev, "nodad")
		// Without offloads the exporters see wire-sized packets, so packet
		// counts mean what they mean on a real link.
		mustRun(t, "ip", "netns", "exec", c.ns, "ethtool", "-K", c.dev, "tso", "off", "gso", "off", "gro", "off")
		mustRun(t, "ip", "-n", c.ns, "link", "set", c.dev, "up")
	}
	return n
}

func mustRun(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// listenUDP opens a UDP socket on the loopback of namespace ns.
func listenUDP(t *testing.T, ns string) *net.UDPConn {
	t.Helper()
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	target, err := os.Open("/run/netns/" + ns)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		t.Fatalf("setns %s: %v", ns, err)
	}
	conn, lerr := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread is in the wrong namespace: leave it locked so it dies
		// with the test goroutine instead of serving others.
		t.Fatalf("setns back: %v", err)
	}
	runtime.UnlockOSThread()
	if lerr != nil {
		t.Fatal(lerr)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetReadBuffer(4 << 20)
	return conn
}

// proc is a background process killed at cleanup.
type proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// start runs name args in namespace ns; when ready is not empty, it waits
// (10 s at most) for that text in the process output.
func start(t *testing.T, ns, ready string, name string, args ...string) *proc {
	t.Helper()
	p := &proc{done: make(chan struct{})}
	p.cmd = exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = p, p
	p.cmd.SysProcAttr = &unix.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.stop() })
	if ready == "" {
		return p
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.output(), ready) {
		select {
		case <-p.done:
			t.Fatalf("%s exited before %q:\n%s", name, ready, p.output())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %q within 10s:\n%s", name, ready, p.output())
		}
	}
	return p
}

// stop sends SIGTERM to the process group, then SIGKILL after 5 s.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = unix.Kill(-p.cmd.Process.Pid, unix.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = unix.Kill(-p.cmd.Process.Pid, unix.SIGKILL)
		<-p.done
	}
}

// runIn runs a command in ns to completion (60 s at most).
func runIn(t *testing.T, ns string, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, name}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return out
}

// collect reads datagrams from conn until it has been quiet for quiet, or
// until deadline.
func collect(conn *net.UDPConn, quiet, total time.Duration) [][]byte {
	var out [][]byte
	end := time.Now().Add(total)
	buf := make([]byte, 65536)
	for time.Now().Before(end) {
		_ = conn.SetReadDeadline(time.Now().Add(quiet))
		n, err := conn.Read(buf)
		if err != nil {
			break
		}
		out = append(out, bytes.Clone(buf[:n]))
	}
	return out
}
