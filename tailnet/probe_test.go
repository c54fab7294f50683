//go:build !notailnet

package tailnet

import (
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync/atomic"
	"testing"
	"time"
)

// TestSeparateAgentProcess runs a non-test program (testdata/agentprobe)
// that joins the test tailnet and sends 50 datagrams to the collector
// node's IPv6 address; under strace when available, every network
// destination it contacts must be on this host (control, DERP and STUN run
// on loopback): no log upload, no other outside contact.
func TestSeparateAgentProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a tsnet program (slow on a cold cache)")
	}
	controlURL := startControl(t)
	col := startNode(t, controlURL, "collector", nil, nil)
	pcs, err := col.ListenPacket(6343)
	if err != nil {
		t.Fatal(err)
	}
	var got atomic.Int64
	for _, pc := range pcs {
		t.Cleanup(func() { pc.Close() })
		go func() {
			buf := make([]byte, 2048)
			for {
				n, _, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				if n == 1232 {
					got.Add(1)
				}
			}
		}()
	}
	dir := t.TempDir()
	probe := filepath.Join(dir, "agentprobe")
	start := time.Now()
	if out, err := exec.Command("go", "build", "-o", probe, "./testdata/agentprobe").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built the probe in %v", time.Since(start).Round(time.Millisecond))

	args := []string{probe, "-control", controlURL, "-collector", netip.AddrPortFrom(col.Addrs()[1], 6343).String(),
		"-state", filepath.Join(dir, "state"), "-n", "50"}
	trace := filepath.Join(dir, "trace")
	strace, err := exec.LookPath("strace")
	if err == nil {
		args = append([]string{strace, "-f", "-qq", "-e", "trace=connect,sendto,sendmsg,sendmmsg", "-o", trace}, args...)
	} else {
		t.Log("strace not installed: destinations not checked")
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "TS_DEBUG_OMIT_LOCAL_ADDRS=true", "TS_DISABLE_PORTMAPPER=true")
	done := make(chan error, 1)
	var out []byte
	go func() {
		var err error
		out, err = cmd.CombinedOutput()
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("agentprobe: %v\n%s", err, out)
		}
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("agentprobe did not finish in 2 min\n%s", out)
	}
	time.Sleep(200 * time.Millisecond)
	// The first datagrams may be lost while the first handshake completes.
	if n := got.Load(); n < 40 {
		t.Errorf("collector received %d of 50 datagrams", n)
	} else {
		t.Logf("collector received %d of 50 datagrams", n)
	}
	if strace == "" {
		return
	}
	b, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`inet_addr\("([0-9.]+)"\)|inet_pton\(AF_INET6, "([0-9a-f:.]+)"`)
	dests := map[netip.Addr]int{}
	for _, m := range re.FindAllSubmatch(b, -1) {
		s := string(m[1]) + string(m[2])
		a, err := netip.ParseAddr(s)
		if err != nil {
			t.Fatalf("strace address %q: %v", s, err)
		}
		dests[a.Unmap()]++
	}
	if len(dests) == 0 {
		t.Fatalf("no network destination in the trace:\n%.2000s", b)
	}
	// The host's own addresses count as local (a UDP connect to itself
	// was seen); anything else would have left the machine.
	local := map[netip.Addr]bool{}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				local[p.Addr().Unmap()] = true
			}
		}
	}
	for a, n := range dests {
		if !a.IsLoopback() && !local[a] {
			t.Errorf("agentprobe contacted %v (%d calls); only this host is expected", a, n)
		}
	}
	t.Logf("destinations: %v", dests)
}
