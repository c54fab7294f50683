package privs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// helperEnv makes the test binary act as a program that restricts itself
// to the listed capabilities and reports what it then holds.
const helperEnv = "HOSTFLOW_PRIVS_HELPER"

func TestMain(m *testing.M) {
	if keep, ok := os.LookupEnv(helperEnv); ok {
		helper(keep)
		return
	}
	os.Exit(m.Run())
}

// report is what the helper prints.
type report struct {
	Kept    string
	Threads map[int]State
	// Outcomes of operations needing each capability: "ok" or the error.
	PacketSocket, RcvBufForce, Unshare string
}

func helper(keep string) {
	var caps []Cap
	for _, c := range strings.Split(keep, ",") {
		for n, name := range names {
			if "cap_"+name == c {
				caps = append(caps, n)
			}
		}
	}
	kept, err := Restrict(Of(caps...))
	if err != nil {
		fmt.Fprintln(os.Stderr, "restrict:", err)
		os.Exit(3)
	}
	// Many threads, created after the restriction and while it runs.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					_, _ = os.ReadFile("/proc/self/stat") // a system call: a thread each
				}
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	r := report{Kept: kept.String()}
	r.Threads, err = Threads(os.Getpid())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	close(stop)
	wg.Wait()
	outcome := func(err error) string {
		if err != nil {
			return err.Error()
		}
		return "ok"
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
	r.PacketSocket = outcome(err)
	if err == nil {
		unix.Close(fd)
	}
	fd, _ = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	r.RcvBufForce = outcome(unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 1<<20))
	unix.Close(fd)
	// CAP_SYS_ADMIN: a new network namespace, in a thread thrown away.
	done := make(chan error)
	go func() { done <- unshareThread() }()
	r.Unshare = outcome(<-done)
	_ = json.NewEncoder(os.Stdout).Encode(r)
}

func unshareThread() error {
	runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
	return unix.Unshare(unix.CLONE_NEWNET)
}

func TestReadStatus(t *testing.T) {
	cases := []struct {
		name, status string
		want         State
		err          bool
	}{
		{"root", "Name:\tx\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t000001ffffffffff\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\nNoNewPrivs:\t0\n",
			State{Permitted: 1<<41 - 1, Effective: 1<<41 - 1, Bounding: 1<<41 - 1}, false},
		{"agent unit", "CapInh:\t0000000000082000\nCapPrm:\t0000000000082000\nCapEff:\t0000000000082000\nCapBnd:\t0000000000082004\nCapAmb:\t0000000000082000\nNoNewPrivs:\t1\n",
			State{Inheritable: Of(NetRaw, SysPtrace), Permitted: Of(NetRaw, SysPtrace), Effective: Of(NetRaw, SysPtrace),
				Bounding: Of(NetRaw, SysPtrace, DacReadSearch), Ambient: Of(NetRaw, SysPtrace), NoNewPrivs: true}, false},
		{"no capability lines", "Name:\tx\n", State{}, true},
		{"bad hex", "CapInh:\tzz\nCapPrm:\t0\nCapEff:\t0\nCapBnd:\t0\nCapAmb:\t0\n", State{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "status")
			if err := os.WriteFile(p, []byte(tc.status), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := ReadStatus(p)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if got != tc.want {
				t.Errorf("-got %+v\n+want %+v", got, tc.want)
			}
		})
	}
	if s := Of(NetRaw, SysPtrace).String(); s != "cap_net_raw,cap_sys_ptrace" {
		t.Errorf("String() = %q", s)
	}
}

// TestRestrict runs the helper as root (every capability) and as an
// unprivileged user holding ambient capabilities (what systemd's
// AmbientCapabilities gives the agent unit), and checks that every thread
// of the restricted program holds exactly the kept capabilities, that
// no_new_privs is set, and that what needs a dropped capability fails
// while what needs a kept one works.
func TestRestrict(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the test starts programs with capabilities to drop")
	}
	bin := copyTestBinary(t)
	cases := []struct {
		name    string
		keep    string
		user    bool // run as nobody with ambient capabilities
		want    Set
		bounded bool // bounding set lowered too (needs CAP_SETPCAP)
		packet  bool // AF_PACKET socket works
	}{
		{name: "root keeps net_raw and sys_ptrace", keep: "cap_net_raw,cap_sys_ptrace", want: Of(NetRaw, SysPtrace), bounded: true, packet: true},
		{name: "root keeps nothing", keep: "", want: 0, bounded: true},
		{name: "nobody with ambient net_raw, net_admin, sys_ptrace keeps net_raw", keep: "cap_net_raw", user: true, want: Of(NetRaw), packet: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin)
			cmd.Env = append(os.Environ(), helperEnv+"="+tc.keep)
			if tc.user {
				cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534},
					AmbientCaps: []uintptr{uintptr(NetRaw), uintptr(NetAdmin), uintptr(SysPtrace)}}
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("helper: %v\n%s", err, stderr.String())
			}
			var r report
			if err := json.Unmarshal(out, &r); err != nil {
				t.Fatalf("helper output %q: %v", out, err)
			}
			if r.Kept != tc.want.String() {
				t.Errorf("kept %s, want %s", r.Kept, tc.want)
			}
			if len(r.Threads) < 4 {
				t.Errorf("only %d threads: the test is meant to see several", len(r.Threads))
			}
			for tid, st := range r.Threads {
				if st.Permitted != tc.want || st.Effective != tc.want || st.Inheritable != tc.want || st.Ambient != tc.want || !st.NoNewPrivs {
					t.Errorf("thread %d: %+v, want exactly %s and no_new_privs", tid, st, tc.want)
				}
				if tc.bounded && st.Bounding != tc.want {
					t.Errorf("thread %d: bounding set %s, want %s", tid, st.Bounding, tc.want)
				}
			}
			if got := r.PacketSocket == "ok"; got != tc.packet {
				t.Errorf("AF_PACKET socket: %s, want it to work: %v", r.PacketSocket, tc.packet)
			}
			for what, res := range map[string]string{"SO_RCVBUFFORCE (cap_net_admin)": r.RcvBufForce, "unshare (cap_sys_admin)": r.Unshare} {
				if !strings.Contains(res, unix.EPERM.Error()) {
					t.Errorf("%s: %s, want %v", what, res, unix.EPERM)
				}
			}
		})
	}
}

// TestRestrictRefusesLoop: a run that was re-executed and is still not
// restricted reports an error instead of executing again.
func TestRestrictRefusesLoop(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (capabilities to drop)")
	}
	t.Setenv(reexecEnv, "1")
	_, err := Restrict(Of(NetRaw))
	if err == nil || !strings.Contains(err.Error(), "still") {
		t.Fatalf("err = %v, want a refusal", err)
	}
	if os.Getenv(reexecEnv) != "" {
		t.Error("the marker is left in the environment")
	}
}

// copyTestBinary copies the test binary where nobody can run it.
func copyTestBinary(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "privs-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	bin := filepath.Join(dir, "privs.test")
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(errors.Join(err, dst.Close()))
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return bin
}
