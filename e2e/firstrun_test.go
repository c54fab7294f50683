package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hostflow/hostflow/internal/demo"
	"github.com/hostflow/hostflow/store/chdb"
)

// TestFirstRun is a new user's first command, `make demo`: the binary
// built as `make build` builds it runs `hostflow standalone --demo-traffic`
// with an embedded store. Within two minutes the API shows flows of the
// demo's processes, attributed to this host and the demo link, over IPv4
// and IPv6, in both directions; SIGTERM then ends it cleanly (exit 0) and
// leaves no namespace, link or process behind. Without root, the same
// command refuses at once with a clear message.
func TestFirstRun(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the demo creates a network namespace and the agent samples packets")
	}
	if _, err := chdb.ResolvePath(""); err != nil {
		t.Skipf("libchdb not installed (run scripts/setup.sh run): %v", err)
	}
	bin := firstRunBuild(t)
	dir := t.TempDir()

	t.Run("refused without root", func(t *testing.T) {
		cmd := exec.Command(bin, "standalone", "--demo-traffic", "--data", filepath.Join(dir, "nobody"))
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("exit %v, want status 1; stderr:\n%s", err, stderr.String())
		}
		if want := "hostflow standalone: --demo-traffic: the demo traffic needs root"; !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr %q, want it to contain %q", stderr.String(), want)
		}
	})

	id := os.Getpid() % 100000
	cfg := demo.Config{Namespace: fmt.Sprintf("hostflow-e2e-%d", id), Interface: fmt.Sprintf("hffr%d", id)}
	consolePort, sflowPort := firstRunPort(t, "tcp"), firstRunPort(t, "udp")
	// The agent samples the demo link only: other tests' demos on this
	// host run processes with the same names.
	cfgPath := filepath.Join(dir, "hostflow.yaml")
	if err := os.WriteFile(cfgPath, fmt.Appendf(nil, `log:
  format: json
http:
  listen: ""
agent:
  interfaces: [%s]
console:
  listen: 127.0.0.1:%d
inlet:
  listeners:
    - protocol: sflow
      listen: 127.0.0.1:%d
      max-datagram: 9216
      batch: 64
demo:
  namespace: %s
  interface: %s
`, cfg.Interface, consolePort, sflowPort, cfg.Namespace, cfg.Interface), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "standalone", "-c", cfgPath, "--demo-traffic", "--data", filepath.Join(dir, "data"))
	var stdout, stderr firstRunBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// If this test dies, hostflow dies with it (and its roles with hostflow).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{}) // closed once waitErr is set
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		// Stopped gracefully if the test failed before SIGTERM, and what a
		// hostflow that would not stop left behind removed.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
		}
		if err := demo.Remove(cfg); err != nil {
			t.Errorf("remove the demo's leftovers: %v", err)
		}
		if t.Failed() {
			t.Logf("hostflow stdout:\n%s\nhostflow stderr:\n%s", stdout.String(), stderr.String())
		}
	})
	api := fmt.Sprintf("http://127.0.0.1:%d", consolePort)
	deadline := time.Now().Add(2 * time.Minute)

	// Flows of at least these roles: the web app (inbound, called from the
	// namespace), an HTTP client and a UDP one; the others when they come.
	// Each with this host's name and the demo link as one interface; only
	// flows of the first seconds, before the agent's first counter samples
	// name the host and the interfaces, may have them empty.
	want := []string{demo.RoleWebapp, demo.RoleAPIClient, demo.RoleResolver}
	const unnamedWindow = 20 * time.Second
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{
		"start":   {"now-15m"},
		"limit":   {"1000"},
		"columns": {"TimeReceived,ProcessName,HostName,InIfName,OutIfName,SrcAddr,DstAddr,Proto"},
		"filter":  {"ProcessName IN ('" + strings.Join(demo.HostRoles, "', '") + "')"},
	}
	var seen map[string]int
	var ipv6, unnamed int
	var last string
	for {
		select {
		case <-exited:
			t.Fatalf("hostflow exited early: %v", waitErr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no flows of %v within 2 minutes; named flows by process: %v, IPv6 %d; last answer: %.2000s", want, seen, ipv6, last)
		}
		time.Sleep(time.Second)
		var page struct {
			Columns []string
			Rows    [][]any
		}
		if last = firstRunGet(t, api+"/api/v1/flows?"+q.Encode(), &page); page.Columns == nil {
			continue
		}
		var rows []map[string]string
		var first time.Time // of the oldest flow
		for _, row := range page.Rows {
			r := map[string]string{}
			for i, c := range page.Columns {
				r[c] = fmt.Sprint(row[i])
			}
			at, err := time.Parse(time.RFC3339, r["TimeReceived"])
			if err != nil {
				t.Fatalf("flow %v: TimeReceived: %v", r, err)
			}
			if first.IsZero() || at.Before(first) {
				first = at
			}
			rows = append(rows, r)
		}
		seen, ipv6, unnamed = map[string]int{}, 0, 0
		for _, r := range rows {
			at, _ := time.Parse(time.RFC3339, r["TimeReceived"])
			hostOK := r["HostName"] == host
			linkOK := r["InIfName"] == cfg.Interface || r["OutIfName"] == cfg.Interface
			// Early flows may miss a name; what they have must be right.
			partial := (hostOK || r["HostName"] == "") && (linkOK || r["InIfName"]+r["OutIfName"] == "")
			switch {
			case hostOK && linkOK:
			case partial && at.Before(first.Add(unnamedWindow)):
				unnamed++
				continue
			default:
				t.Fatalf("flow %v: want HostName %q and the demo link %s as an interface", r, host, cfg.Interface)
			}
			seen[r["ProcessName"]]++
			if a, err := netip.ParseAddr(r["SrcAddr"]); err == nil && a.Is6() && !a.Is4In6() {
				ipv6++
			}
		}
		if ipv6 > 0 && !slices.ContainsFunc(want, func(role string) bool { return seen[role] == 0 }) {
			break
		}
	}
	t.Logf("named flows by process: %v (%d over IPv6); %d flows of the first seconds without names", seen, ipv6, unnamed)

	var status struct {
		FlowsPerSecond float64
		Exporters      int
		Hosts          int
		LastFlow       *time.Time
	}
	firstRunGet(t, api+"/api/v1/status", &status)
	if status.Hosts < 1 || status.Exporters < 1 || status.LastFlow == nil || status.FlowsPerSecond <= 0 {
		t.Errorf("status %+v: want a host, an exporter and recent flows", status)
	}
	var hosts struct {
		Hosts []struct {
			Host         string
			TopProcesses []struct{ Label string }
		}
	}
	firstRunGet(t, api+"/api/v1/hosts?start=now-15m", &hosts)
	if !slices.ContainsFunc(hosts.Hosts, func(h struct {
		Host         string
		TopProcesses []struct{ Label string }
	}) bool {
		return h.Host == host && len(h.TopProcesses) > 0
	}) {
		t.Errorf("/api/v1/hosts: %+v, want %s with its top processes", hosts, host)
	}
	// The terminal views read the same API: hostflow top ranks the demo's
	// processes seen above, hostflow query finds the flows of one of them.
	var seenRoles []string
	for role := range seen {
		seenRoles = append(seenRoles, role)
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"top", "--server", api, "--dimensions", "ProcessName", "--start", "now-15m", "--limit", "20"}, seenRoles},
		{[]string{"query", "--server", api, "--filter", "ProcessName = '" + want[0] + "'", "--limit", "5", "--columns", "ProcessName,Proto,Bytes"},
			[]string{"ProcessName", want[0] + " "}},
	} {
		out, err := exec.Command(bin, c.args...).CombinedOutput()
		if err != nil {
			t.Errorf("hostflow %s: %v\n%s", strings.Join(c.args, " "), err, out)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(string(out), w) {
				t.Errorf("hostflow %s: output lacks %q:\n%s", strings.Join(c.args, " "), w, out)
			}
		}
	}
	// The detector runs in the standalone role and serves its list (the
	// demo's traffic is normal: no finding is required here; detect's
	// scenario tests cover the rules).
	var dets struct {
		Enabled    bool
		Detections []json.RawMessage
	}
	firstRunGet(t, api+"/api/v1/detections", &dets)
	if !dets.Enabled || dets.Detections == nil {
		t.Errorf("/api/v1/detections: enabled %v, list %v: want the detector wired in", dets.Enabled, dets.Detections)
	}
	if want := fmt.Sprintf("hostflow demo: open http://127.0.0.1:%d/ — flows appear within a minute", consolePort); !strings.Contains(stdout.String(), want) {
		t.Errorf("stdout %q, want the notice %q", stdout.String(), want)
	}

	children := firstRunChildren(cmd.Process.Pid)
	var names []string
	for _, c := range children {
		names = append(names, c.name)
	}
	slices.Sort(names)
	wantNames := append([]string{demo.RoleInternet}, demo.HostRoles...)
	slices.Sort(wantNames)
	if !slices.Equal(names, wantNames) {
		t.Errorf("children %v, want %v", names, wantNames)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("after SIGTERM: %v, want exit status 0", waitErr)
		}
	case <-time.After(time.Minute):
		t.Fatal("still running a minute after SIGTERM")
	}
	if _, err := os.Stat(filepath.Join("/run/netns", cfg.Namespace)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("namespace %s left behind (%v)", cfg.Namespace, err)
	}
	if _, err := net.InterfaceByName(cfg.Interface); err == nil {
		t.Errorf("link %s left behind", cfg.Interface)
	}
	for _, c := range children {
		if firstRunAlive(c) {
			t.Errorf("%s (pid %d) still running", c.name, c.pid)
		}
	}
}

// firstRunBuild builds the binary as `make build` does (same flags).
func firstRunBuild(t *testing.T) string {
	t.Helper()
	// Readable by everyone: a subtest runs it as nobody.
	dir, err := os.MkdirTemp("", "hostflow-firstrun-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "hostflow")
	cmd := exec.Command("go", "build", "-ldflags", "-s -w -X main.version=e2e-firstrun", "-o", bin, "./cmd/hostflow")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// firstRunPort returns a free loopback port for network (tcp or udp).
func firstRunPort(t *testing.T, network string) int {
	t.Helper()
	var addr string
	if network == "tcp" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		addr = l.Addr().String()
	} else {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		addr = c.LocalAddr().String()
	}
	_, port, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(port)
	return n
}

// firstRunGet decodes the JSON answer of a GET into out and returns the
// body (or the error) for failure messages; out is left alone unless the
// answer is 200 OK.
func firstRunGet(t *testing.T, u string, out any) string {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		return err.Error()
	}
	if resp.StatusCode != http.StatusOK {
		return resp.Status + ": " + b.String()
	}
	if err := json.Unmarshal(b.Bytes(), out); err != nil {
		t.Fatalf("GET %s: %v in %.500s", u, err, b.String())
	}
	return b.String()
}

type firstRunProc struct {
	pid   int
	name  string // executable basename
	start string // start time in clock ticks, to tell a reused pid
}

// firstRunChildren lists the processes whose parent is ppid.
func firstRunChildren(ppid int) []firstRunProc {
	entries, _ := os.ReadDir("/proc")
	var out []firstRunProc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		p, parent, ok := firstRunStat(pid)
		if !ok || parent != ppid {
			continue
		}
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil {
			p.name = filepath.Base(exe)
		}
		out = append(out, p)
	}
	return out
}

// firstRunStat reads a process's parent and start time from /proc.
func firstRunStat(pid int) (p firstRunProc, ppid int, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return p, 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return p, 0, false
	}
	// After "pid (comm) ": state ppid ... starttime is field 22.
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 || f[0] == "Z" {
		return p, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	return firstRunProc{pid: pid, start: f[19]}, ppid, true
}

// firstRunAlive reports whether the process p still runs (the same
// process: a reused pid has another start time).
func firstRunAlive(p firstRunProc) bool {
	now, _, ok := firstRunStat(p.pid)
	return ok && now.start == p.start
}

// firstRunBuffer is a bytes.Buffer safe for the process's writes and the
// test's reads.
type firstRunBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *firstRunBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *firstRunBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
