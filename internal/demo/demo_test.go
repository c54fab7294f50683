package demo

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hostflow/hostflow/internal/daemon"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// TestMain lets the test binary be the demo's roles (the demo runs them
// as `<binary> demo-peer ...` through hard links) and a demo parent that a
// test kills.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "demo-peer":
			os.Exit(RunPeer(os.Args[2:], os.Stdout, os.Stderr))
		case "demo-parent":
			os.Exit(runTestParent(os.Args[2:]))
		}
	}
	os.Exit(m.Run())
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the demo creates a network namespace and a veth pair")
	}
}

// testConfig names the namespace and link after the test process and a
// suffix, so that tests and a running `make demo` never meet.
func testConfig(suffix string) Config {
	id := fmt.Sprintf("%d%s", os.Getpid()%1000000, suffix)
	return Config{Namespace: "hfdemo-test-" + id, Interface: "hfdt" + id, SamplingRate: 10}
}

func testReporter(t *testing.T) *daemon.Reporter {
	return daemon.NewReporter(slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})), nil)
}

// tWriter logs through t.
type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func newTestDemo(t *testing.T, cfg Config) *Demo {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(cfg, Dependencies{Reporter: testReporter(t), Executable: exe})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// netnsInode is the inode of a network namespace file (/proc/PID/ns/net or
// a /run/netns mount).
func netnsInode(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	return st.Ino
}

// checkGone checks that nothing of the demo named cfg is left: namespace,
// link, routes through it, role directory, processes.
func checkGone(t *testing.T, cfg Config, pids []int) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(netnsDir, cfg.Namespace)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("namespace %s still there (%v)", cfg.Namespace, err)
	}
	if _, err := net.InterfaceByName(cfg.Interface); err == nil {
		t.Errorf("link %s still there", cfg.Interface)
	}
	if _, err := os.Stat(roleDir(cfg)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("role directory still there (%v)", err)
	}
	for _, pid := range pids {
		deadline := time.Now().Add(5 * time.Second)
		for processExists(pid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if processExists(pid) {
			t.Errorf("role process %d still running", pid)
		}
	}
}

// processExists reports whether pid is a process that has not exited
// (zombies, which only wait for their parent, count as exited).
func processExists(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...: the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func rolePIDs(d *Demo) map[string]int {
	out := map[string]int{}
	for _, k := range d.kids {
		out[k.role] = k.currentPID()
	}
	return out
}

// TestDemo runs the component as standalone does: namespace, link,
// addresses, routes, role processes under their names in the right
// namespaces, traffic from every role without errors, a second demo with
// the same names refused, and nothing left after Stop.
func TestDemo(t *testing.T) {
	requireRoot(t)
	cfg := testConfig("a")
	d := newTestDemo(t, cfg)
	t.Cleanup(func() { _ = d.Stop() })
	ctx := context.Background()
	if err := d.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}

	link, err := netlink.LinkByName(cfg.Interface)
	if err != nil {
		t.Fatalf("link %s: %v", cfg.Interface, err)
	}
	if got, want := link.Attrs().Alias, "hostflow demo: namespace "+cfg.Namespace; got != want {
		t.Errorf("alias %q, want %q", got, want)
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("link %s is down", cfg.Interface)
	}
	routes, err := netlink.RouteList(link, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range d.lay.routes {
		found := false
		for _, r := range routes {
			found = found || r.Dst != nil && r.Dst.String() == want.String()
		}
		if !found {
			t.Errorf("no route %s through %s (routes: %v)", want, cfg.Interface, routes)
		}
	}

	hostNs := netnsInode(t, "/proc/self/ns/net")
	demoNs := netnsInode(t, filepath.Join(netnsDir, cfg.Namespace))
	pids := rolePIDs(d)
	for role, pid := range pids {
		if pid == 0 {
			t.Errorf("%s: no process", role)
			continue
		}
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err != nil || filepath.Base(exe) != role {
			t.Errorf("%s: process %d runs %q (%v), want an executable named %s", role, pid, exe, err, role)
		}
		// Their own process group, out of reach of a terminal's Ctrl-C.
		if pgid, err := unix.Getpgid(pid); err != nil || pgid != pid {
			t.Errorf("%s: process group %d (%v), want its own (%d)", role, pgid, err, pid)
		}
		wantNs := hostNs
		if role == RoleInternet {
			wantNs = demoNs
		}
		if got := netnsInode(t, fmt.Sprintf("/proc/%d/ns/net", pid)); got != wantNs {
			t.Errorf("%s: in network namespace %d, want %d (host %d, demo %d)", role, got, wantNs, hostNs, demoNs)
		}
	}

	// Every role exchanges traffic (backup's first upload starts 2-5 s in
	// and takes up to 40 s at its pace, so its count arrives last).
	deadline := time.Now().Add(60 * time.Second)
	for _, role := range startOrder {
		for testutil.ToFloat64(d.requests.WithLabelValues(role)) == 0 && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if n := testutil.ToFloat64(d.requests.WithLabelValues(role)); n == 0 {
			t.Errorf("%s: no exchange reported", role)
		}
	}

	// A role that dies is started again, and counted.
	old := pids[RoleResolver]
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if pid := rolePIDs(d)[RoleResolver]; pid != 0 && pid != old {
			pids[RoleResolver+" again"] = pid
			break
		}
	}
	if _, ok := pids[RoleResolver+" again"]; !ok {
		t.Errorf("resolver not restarted within 10 s after SIGKILL")
	}
	if n := testutil.ToFloat64(d.exits.WithLabelValues(RoleResolver, "signal")); n != 1 {
		t.Errorf("resolver exits by signal = %v, want 1", n)
	}

	second := newTestDemo(t, cfg)
	err = second.Start(ctx)
	if err == nil || !strings.Contains(err.Error(), "another hostflow demo is running with namespace "+cfg.Namespace) {
		t.Errorf("second demo with the same names: Start error %v", err)
	}
	if err := second.Stop(); err != nil {
		t.Errorf("second demo Stop: %v", err)
	}
	if _, err := netlink.LinkByName(cfg.Interface); err != nil {
		t.Errorf("the refused demo removed the running one's link: %v", err)
	}

	if err := d.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	// Counted until the roles' last reports, shutdown included (clients
	// stop before their servers).
	if n := testutil.CollectAndCount(d.failures); n != 0 {
		t.Errorf("%d error series, want none", n)
	}
	if n := testutil.CollectAndCount(d.exits); n != 1 {
		t.Errorf("%d role exit series, want only the resolver's", n)
	}
	var list []int
	for _, pid := range pids {
		list = append(list, pid)
	}
	checkGone(t, cfg, list)
	if err := d.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

// TestKilledDemo kills a process running a demo with SIGKILL: its roles
// die with it (Pdeathsig), and the next demo with the same names removes
// the namespace, link and directory it left.
func TestKilledDemo(t *testing.T) {
	requireRoot(t)
	cfg := testConfig("k")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	parent := exec.Command(exe, "demo-parent", cfg.Namespace, cfg.Interface)
	parent.Stderr = tWriter{t}
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = parent.Process.Kill()
		_ = parent.Wait()
		if err := Remove(cfg); err != nil {
			t.Errorf("Remove: %v", err)
		}
	})
	var started struct{ PIDs []int }
	lines := make(chan []byte, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Bytes()
		}
		close(lines)
	}()
	select {
	case line, ok := <-lines:
		if !ok || json.Unmarshal(line, &started) != nil || len(started.PIDs) != len(startOrder) {
			t.Fatalf("demo parent said %q", line)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo parent did not start in 30 s")
	}
	if err := parent.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = parent.Wait()
	for _, pid := range started.PIDs {
		deadline := time.Now().Add(5 * time.Second)
		for processExists(pid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if processExists(pid) {
			t.Errorf("role process %d outlived its parent", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if _, err := netlink.LinkByName(cfg.Interface); err != nil {
		t.Fatalf("the killed demo left no link to clean up (%v): the test proves nothing", err)
	}

	d := newTestDemo(t, cfg)
	t.Cleanup(func() { _ = d.Stop() })
	if err := d.Start(context.Background()); err != nil {
		t.Fatalf("Start after a killed demo: %v", err)
	}
	pids := rolePIDs(d)
	if err := d.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	var list []int
	for _, pid := range pids {
		list = append(list, pid)
	}
	checkGone(t, cfg, list)
}

// runTestParent starts a demo named by args (namespace, interface), prints
// its roles' PIDs as JSON and waits to be killed.
func runTestParent(args []string) int {
	cfg := DefaultConfig()
	cfg.Namespace, cfg.Interface = args[0], args[1]
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	d, err := New(cfg, Dependencies{Reporter: daemon.NewReporter(slog.New(slog.NewTextHandler(os.Stderr, nil)), nil), Executable: exe})
	if err == nil {
		err = d.Start(context.Background())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var out struct{ PIDs []int }
	for _, pid := range rolePIDs(d) {
		out.PIDs = append(out.PIDs, pid)
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
	select {}
}

// TestOffMainThread: f never runs on the main thread, whichever thread the
// goroutine starts on (the main thread is free while tests run, so some
// of these land on it first).
func TestOffMainThread(t *testing.T) {
	for range 200 {
		var tid int
		offMainThread(func() bool { tid = unix.Gettid(); return true })
		if tid == unix.Getpid() {
			t.Fatal("f ran on the main thread")
		}
	}
}

// TestLockFile: one holder at a time, a waiter gets the lock when the
// holder removes it, and nothing is left after the last one.
func TestLockFile(t *testing.T) {
	requireRoot(t)
	name := fmt.Sprintf("test-%d.lock", os.Getpid())
	path := filepath.Join(lockDir, name)
	first, err := lockFile(name, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lockFile(name, 0); !errors.Is(err, errLocked) {
		t.Fatalf("second lock: %v, want errLocked", err)
	}
	released := make(chan error, 1)
	go func() {
		time.Sleep(200 * time.Millisecond)
		released <- unlockRemove(first)
	}()
	second, err := lockFile(name, 5*time.Second)
	if err != nil {
		t.Fatalf("waiting lock: %v", err)
	}
	if err := <-released; err != nil {
		t.Fatalf("unlockRemove: %v", err)
	}
	// The waiter holds the file now at the path, not the removed one.
	var st, fst unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatalf("lock file after handover: %v", err)
	}
	if err := unix.Fstat(int(second.Fd()), &fst); err != nil || st.Ino != fst.Ino {
		t.Fatalf("waiter holds inode %d, the path is inode %d (%v)", fst.Ino, st.Ino, err)
	}
	if _, err := lockFile(name, 0); !errors.Is(err, errLocked) {
		t.Errorf("lock while the waiter holds it: %v, want errLocked", err)
	}
	if err := unlockRemove(second); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("lock file left: %v", err)
	}
}
