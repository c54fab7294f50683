package inlet

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// inNetns runs f on a thread switched into the named namespace; sockets
// opened there stay in it.
func inNetns(t *testing.T, name string, f func()) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		fd, err := unix.Open("/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			err = unix.Setns(fd, unix.CLONE_NEWNET)
			unix.Close(fd)
		}
		if err == nil {
			f()
		}
		done <- err
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
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
	var in *Inlet
	inNetns(t, name, func() {
		in, _ = start(t, Config{Listeners: []ListenerConfig{listener("[::]:0")}, MaxExporterLabels: 10}, h)
	})
	if got := in.Addrs()[0].Addr(); !got.Is6() {
		t.Fatalf("bound %v, want the IPv6 wildcard", in.Addrs()[0])
	}
	inNetns(t, name, func() {
		send(t, "[::1]:0", fmt.Sprintf("[::1]:%d", in.Addrs()[0].Port()), []byte("v6"), 1)
	})
	waitFor(t, "IPv6 datagram", func() bool { return h.count() == 1 })
}
