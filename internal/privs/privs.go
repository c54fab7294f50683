// Package privs restricts the Linux capabilities of the running process to
// a set it names, in every thread.
//
// Capabilities belong to threads, and a Go program has many; a capset(2)
// changes only the calling thread's. The Go runtime can run a system call
// on every thread (syscall.AllThreadsSyscall), but not in binaries that
// link cgo, and hostflow does (the embedded store's loader). So Restrict
// changes the calling thread's sets and re-executes the program from it:
// execve(2) leaves one thread, with that thread's credentials, and every
// thread created afterwards inherits them. The program therefore calls
// Restrict early, before it opens anything; the second run finds the sets
// restricted and carries on. no_new_privs is set too, so no later execve
// (of a setuid or file-capability program) can regain anything.
package privs

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Cap is a capability number (capabilities(7)).
type Cap uint

// The capabilities hostflow uses.
const (
	DacReadSearch Cap = unix.CAP_DAC_READ_SEARCH
	SetPCap       Cap = unix.CAP_SETPCAP
	NetAdmin      Cap = unix.CAP_NET_ADMIN
	NetRaw        Cap = unix.CAP_NET_RAW
	SysPtrace     Cap = unix.CAP_SYS_PTRACE
)

var names = map[Cap]string{
	0: "chown", 1: "dac_override", 2: "dac_read_search", 3: "fowner", 4: "fsetid", 5: "kill", 6: "setgid",
	7: "setuid", 8: "setpcap", 9: "linux_immutable", 10: "net_bind_service", 11: "net_broadcast",
	12: "net_admin", 13: "net_raw", 14: "ipc_lock", 15: "ipc_owner", 16: "sys_module", 17: "sys_rawio",
	18: "sys_chroot", 19: "sys_ptrace", 20: "sys_pacct", 21: "sys_admin", 22: "sys_boot", 23: "sys_nice",
	24: "sys_resource", 25: "sys_time", 26: "sys_tty_config", 27: "mknod", 28: "lease", 29: "audit_write",
	30: "audit_control", 31: "setfcap", 32: "mac_override", 33: "mac_admin", 34: "syslog", 35: "wake_alarm",
	36: "block_suspend", 37: "audit_read", 38: "perfmon", 39: "bpf", 40: "checkpoint_restore",
}

func (c Cap) String() string {
	if n, ok := names[c]; ok {
		return "cap_" + n
	}
	return "cap_" + strconv.Itoa(int(c))
}

// Set is a set of capabilities (bit c for Cap c).
type Set uint64

// Of returns the set of caps.
func Of(caps ...Cap) Set {
	var s Set
	for _, c := range caps {
		s |= 1 << c
	}
	return s
}

// Has tells whether c is in s.
func (s Set) Has(c Cap) bool { return s&(1<<c) != 0 }

// String lists the names, "cap_net_raw,cap_sys_ptrace", or "none".
func (s Set) String() string {
	var out []string
	for c := Cap(0); c < 64; c++ {
		if s.Has(c) {
			out = append(out, c.String())
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ",")
}

// State is a thread's capability sets, as /proc/<pid>/task/<tid>/status
// shows them.
type State struct {
	Inheritable, Permitted, Effective, Bounding, Ambient Set
	NoNewPrivs                                           bool
}

// ReadStatus parses the capability lines of a status file.
func ReadStatus(path string) (State, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return State{}, err
	}
	var st State
	found := 0
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		var dst *Set
		switch k {
		case "CapInh":
			dst = &st.Inheritable
		case "CapPrm":
			dst = &st.Permitted
		case "CapEff":
			dst = &st.Effective
		case "CapBnd":
			dst = &st.Bounding
		case "CapAmb":
			dst = &st.Ambient
		case "NoNewPrivs":
			st.NoNewPrivs = v == "1"
			continue
		default:
			continue
		}
		n, err := strconv.ParseUint(v, 16, 64)
		if err != nil {
			return State{}, fmt.Errorf("%s: %s: %w", path, k, err)
		}
		*dst = Set(n)
		found++
	}
	if found < 5 {
		return State{}, fmt.Errorf("%s: no capability sets", path)
	}
	return st, nil
}

// Restricted tells whether a thread in state st holds nothing beyond keep
// and cannot regain more: no_new_privs is set, and the bounding set is
// within keep unless it could not be lowered (without CAP_SETPCAP).
func (st State) Restricted(keep Set) bool {
	extra := (st.Permitted | st.Effective | st.Inheritable | st.Ambient) &^ keep
	return extra == 0 && st.NoNewPrivs
}

// reexecEnv marks the run that follows a restriction, so that a second
// failure to restrict is an error and not a loop.
const reexecEnv = "HOSTFLOW_PRIVS_REEXEC"

// Restrict leaves the process with at most keep (of what it has) in its
// permitted, effective, inheritable and ambient sets, its bounding set
// lowered to keep when it holds CAP_SETPCAP, and no_new_privs set. When the
// process is already restricted it returns the kept set; otherwise it
// re-executes the program (same arguments and environment) and does not
// return, unless that fails.
func Restrict(keep Set) (Set, error) {
	again := os.Getenv(reexecEnv) != ""
	os.Unsetenv(reexecEnv)
	st, err := ReadStatus("/proc/thread-self/status")
	if err != nil {
		return 0, err
	}
	want := keep & st.Permitted
	if st.Restricted(want) {
		return want, nil
	}
	if again {
		return 0, fmt.Errorf("capabilities still %s after restricting to %s", st.Permitted, want)
	}
	last, err := lastCap()
	if err != nil {
		return 0, err
	}
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	env := append(os.Environ(), reexecEnv+"=1")
	errc := make(chan error, 1)
	go func() {
		// This thread's credentials change; it never returns to the
		// scheduler (it ends with the goroutine, or with the execve).
		runtime.LockOSThread()
		errc <- restrictThread(st, want, last, exe, env)
	}()
	return 0, <-errc
}

func restrictThread(st State, want Set, last Cap, exe string, env []string) error {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	if st.Effective.Has(SetPCap) {
		for c := Cap(0); c <= last; c++ {
			if st.Bounding.Has(c) && !want.Has(c) {
				if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
					return fmt.Errorf("drop %s from the bounding set: %w", c, err)
				}
			}
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	for i := range data {
		w := uint32(want >> (32 * i))
		data[i] = unix.CapUserData{Effective: w, Permitted: w, Inheritable: w}
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset %s: %w", want, err)
	}
	// Ambient capabilities carry the set across execve for a process that
	// is not root (for root, no_new_privs caps what execve grants to the
	// permitted set it had).
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	for c := Cap(0); c <= last; c++ {
		if want.Has(c) {
			if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0); err != nil {
				return fmt.Errorf("raise ambient %s: %w", c, err)
			}
		}
	}
	err := unix.Exec(exe, os.Args, env)
	return fmt.Errorf("re-execute %s: %w", exe, err)
}

func lastCap() (Cap, error) {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n < 0 || n > 63 {
		return 0, errors.New("bad /proc/sys/kernel/cap_last_cap")
	}
	return Cap(n), nil
}

// Threads returns the capability state of every thread of process pid.
func Threads(pid int) (map[int]State, error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[int]State{}
	for _, e := range entries {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := ReadStatus(dir + "/" + e.Name() + "/status")
		if err != nil {
			continue // the thread ended
		}
		out[tid] = st
	}
	return out, nil
}
