package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// netns is a throw-away network namespace named after the test process.
type netns string

func newNetns(t *testing.T, tag string) netns {
	t.Helper()
	name := netns(fmt.Sprintf("hfe2e-%d-%s", os.Getpid(), tag))
	run(t, "ip", "netns", "add", string(name))
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", string(name)).Run() })
	return name
}

// run runs a command and fails the test with its output on error.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// exec runs a command in the namespace.
func (ns netns) run(t *testing.T, name string, args ...string) string {
	t.Helper()
	return run(t, "ip", append([]string{"netns", "exec", string(ns), name}, args...)...)
}

func (ns netns) command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", string(ns), name}, args...)...)
}

// dial opens a TCP connection from inside the namespace: the socket is
// created by a thread switched into it (and never returned to the
// scheduler), then used from anywhere.
func (ns netns) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // no Unlock: the thread exits with the goroutine
		if unix.Gettid() == unix.Getpid() {
			// The main thread is never terminated and /proc/self/net
			// follows it: keep it out; holding it, the nested call gets
			// another thread.
			c, err := ns.dial(ctx, network, addr)
			runtime.UnlockOSThread()
			ch <- result{c, err}
			return
		}
		fd, err := unix.Open("/run/netns/"+string(ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			ch <- result{err: fmt.Errorf("setns %s: %w", ns, err)}
			return
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}
