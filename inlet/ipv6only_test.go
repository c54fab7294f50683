package inlet

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hostflow/hostflow/internal/daemon"
)

// inNetns runs f on a thread switched into the named namespace; sockets
// opened there stay in it.
func inNetns(name string, f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if unix.Gettid() == unix.Getpid() {
			// Keep the main thread (never terminated; /proc/self/net
			// follows it) out: holding it, the nested call gets another.
			done <- inNetns(name, f)
			runtime.UnlockOSThread()
			return
		}
		fd, err := unix.Open("/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			err = unix.Setns(fd, unix.CLONE_NEWNET)
			unix.Close(fd)
		}
		if err == nil {
			err = f()
		}
		done <- err
	}()
	return <-done
}

// On a host without any IPv4 address (not even 127.0.0.1), Go opens
// "[::]" as an IPv4 socket; the inlet must still receive IPv6.
func TestWildcardListenerWithoutIPv4(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace")
	}
	name := fmt.Sprintf("hfinlet%d", os.Getpid())
	for _, args := range [][]string{{"netns", "add", name}, {"-n", name, "link", "set", "lo", "up"},
		{"-n", name, "addr", "del", "127.0.0.1/8", "dev", "lo"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
		if args[0] == "netns" {
			t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
		}
	}
	h := &collect{}
	in, err := New(Config{Listeners: []ListenerConfig{listener("[::]:0")}, MaxExporterLabels: 10},
		Dependencies{Reporter: daemon.NewReporter(slog.New(slog.DiscardHandler), nil), NewHandler: func(string) Handler { return h }})
	if err != nil {
		t.Fatal(err)
	}
	if err := inNetns(name, func() error { return in.Start(t.Context()) }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Stop() })
	bound := in.Addrs()[0]
	if !bound.Addr().Is6() {
		t.Fatalf("bound %v, want the IPv6 wildcard", bound)
	}
	if err := inNetns(name, func() error {
		c, err := net.Dial("udp", fmt.Sprintf("[::1]:%d", bound.Port()))
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("v6"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "IPv6 datagram", func() bool { return h.count() == 1 })
}
