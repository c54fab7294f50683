// Package nstest builds throw-away network namespaces for the agent's
// integration tests: named per test process, always deleted in t.Cleanup,
// skipped with a message when not root.
package nstest

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// Require skips the test unless it runs as root with iproute2 available.
func Require(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2 (ip)")
	}
}

// NS is a named network namespace.
type NS struct{ Name string }

var seq atomic.Int32

// New creates a namespace named hf-<pid>-<n>-<tag> with loopback up.
func New(t testing.TB, tag string) *NS {
	t.Helper()
	name := fmt.Sprintf("hf%d-%d-%s", os.Getpid(), seq.Add(1), tag)
	if len(name) > 30 {
		name = name[:30]
	}
	MustRun(t, "ip", "netns", "add", name)
	ns := &NS{Name: name}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	ns.MustRun(t, "ip", "link", "set", "lo", "up")
	return ns
}

// MustRun runs a command and fails the test with its output on error.
func MustRun(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// MustRun runs a command inside the namespace.
func (ns *NS) MustRun(t testing.TB, name string, args ...string) string {
	t.Helper()
	return MustRun(t, "ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// Command returns a command that runs inside the namespace.
func (ns *NS) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// Do runs f on an OS thread switched into the namespace; sockets f opens
// stay in the namespace after it returns.
func (ns *NS) Do(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		// The thread is never returned to the pool: it exits with the
		// goroutine (LockOSThread without Unlock), so no other goroutine
		// ever runs in the namespace by accident.
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// The main thread is never terminated, and /proc/self/net shows
			// its namespace: keep it out. Holding it here, the nested call's
			// goroutine gets another thread.
			errc <- ns.Do(f)
			runtime.UnlockOSThread()
			return
		}
		fd, err := unix.Open("/run/netns/"+ns.Name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns.Name, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// Veth joins namespaces a and b with a veth pair aName–bName, brings both
// ends up and assigns the given addresses (CIDR notation) to each end.
func Veth(t testing.TB, a *NS, aName string, aAddrs []string, b *NS, bName string, bAddrs []string) {
	t.Helper()
	MustRun(t, "ip", "link", "add", aName, "netns", a.Name, "type", "veth", "peer", "name", bName, "netns", b.Name)
	for _, e := range []struct {
		ns    *NS
		dev   string
		addrs []string
	}{{a, aName, aAddrs}, {b, bName, bAddrs}} {
		for _, addr := range e.addrs {
			args := []string{"addr", "add", addr, "dev", e.dev}
			if strings.Contains(addr, ":") {
				args = append(args, "nodad") // usable at once, no duplicate detection wait
			}
			e.ns.MustRun(t, "ip", args...)
		}
		e.ns.MustRun(t, "ip", "link", "set", e.dev, "up")
	}
}
