package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// child is one role's process, restarted when it dies.
type child struct {
	role  string
	path  string // hard link named after the role
	args  []string
	netns string // namespace to start it in (empty: the host's)

	cancel context.CancelFunc // stops the supervisor and the process
	done   chan struct{}      // closed when the supervisor has returned

	readyOnce sync.Once
	readyc    chan error // the first ready event, or why there was none

	mu    sync.Mutex
	pid   int
	fatal string // last "fatal" event of the current process
}

// markReady reports readiness (err nil) or its failure, once.
func (k *child) markReady(err error) {
	k.readyOnce.Do(func() { k.readyc <- err })
}

// waitReady waits for the role's first ready event.
func (k *child) waitReady(ctx context.Context, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-k.readyc:
		k.readyc <- err // later waits see the same answer
		return err
	case <-t.C:
		return fmt.Errorf("not ready after %v", timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// currentPID is the pid of the role's process (0 when none runs).
func (k *child) currentPID() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.pid
}

// restartBackoff bounds the wait before restarting a role that died; it
// doubles up to restartMax and resets after a minute of good running.
const (
	restartBackoff = time.Second
	restartMax     = 30 * time.Second
)

// supervise runs the role until ctx ends, restarting it when it dies, on
// a thread of its own: the kernel sends Pdeathsig when the *thread* that
// forked the child exits, and a locked, busy thread lives as long as the
// child. For a role in the namespace the thread switches into it first, so
// the child starts there whole, as with `ip netns exec`; that thread then
// ends with the supervisor rather than run other goroutines.
func (d *Demo) supervise(ctx context.Context, k *child) {
	defer close(k.done)
	offMainThread(func() bool {
		if k.netns != "" {
			if err := enterNetns(k.netns); err != nil {
				k.markReady(err)
				return false
			}
		}
		d.keepRunning(ctx, k)
		return k.netns == ""
	})
}

// keepRunning runs the role's process again and again until ctx ends,
// waiting longer after each early death.
func (d *Demo) keepRunning(ctx context.Context, k *child) {
	backoff := restartBackoff
	for {
		started := time.Now()
		err := d.run(ctx, k)
		if ctx.Err() != nil {
			return
		}
		reason := exitReason(err)
		if err == nil {
			err = errors.New("exited with status 0")
		}
		k.mu.Lock()
		if k.fatal != "" {
			err = fmt.Errorf("%w: %s", err, k.fatal)
		}
		k.mu.Unlock()
		k.markReady(fmt.Errorf("exited: %w", err))
		d.exits.WithLabelValues(k.role, reason).Inc()
		if time.Since(started) > time.Minute {
			backoff = restartBackoff
		}
		d.r.Limited("exit-"+k.role, "demo role ended; restarting it", "role", k.role, "error", err, "after", backoff.String())
		if sleep(ctx, backoff) != nil {
			return
		}
		backoff = min(2*backoff, restartMax)
	}
}

// run runs the role's process once. It dies with this process
// (Pdeathsig) and gets SIGTERM, then SIGKILL 3 s later, when ctx ends.
func (d *Demo) run(ctx context.Context, k *child) error {
	cmd := exec.CommandContext(ctx, k.path, k.args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 3 * time.Second
	// Its own process group: Ctrl-C in a terminal signals hostflow, which
	// stops the roles in order, and not the roles all at once.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	cmd.Dir = "/"
	cmd.Stdout = &lineWriter{line: func(b []byte) { d.handle(k, b) }}
	cmd.Stderr = &lineWriter{line: func(b []byte) {
		d.r.Limited("stderr-"+k.role, "demo role wrote to stderr", "role", k.role, "line", string(b))
	}}
	k.mu.Lock()
	k.fatal = ""
	k.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return err
	}
	k.mu.Lock()
	k.pid = cmd.Process.Pid
	k.mu.Unlock()
	err := cmd.Wait()
	k.mu.Lock()
	k.pid = 0
	k.mu.Unlock()
	return err
}

// exitReason labels why a role's process ended: exit (any status),
// signal, or start (it could not be started).
func exitReason(err error) string {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return "exit"
	case !errors.As(err, &ee):
		return "start"
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "signal"
	}
	return "exit"
}

// handle takes one line of a role's standard output (an event).
func (d *Demo) handle(k *child, line []byte) {
	var e event
	if err := json.Unmarshal(line, &e); err != nil {
		d.r.Limited("output-"+k.role, "demo role: unexpected output", "role", k.role, "line", string(line))
		return
	}
	switch e.Event {
	case "ready":
		k.markReady(nil)
	case "stats":
		d.requests.WithLabelValues(k.role).Add(float64(e.Requests))
		d.bytes.WithLabelValues(k.role).Add(float64(e.Bytes))
		for reason, n := range e.Errors {
			d.failures.WithLabelValues(k.role, reason).Add(float64(n))
		}
		if e.Error != "" {
			d.r.Limited("errors-"+k.role, "demo role: exchanges failing", "role", k.role, "error", e.Error)
		}
	case "fatal":
		k.mu.Lock()
		k.fatal = e.Error
		k.mu.Unlock()
	}
}

// maxLine bounds one line of a child's output; the rest of a longer line
// is dropped.
const maxLine = 16 << 10

// lineWriter calls line for each complete line written to it.
type lineWriter struct {
	line    func([]byte)
	buf     []byte
	discard bool // in a line longer than maxLine
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.add(p)
			break
		}
		w.add(p[:i])
		if !w.discard {
			w.line(w.buf)
		}
		w.buf, w.discard = w.buf[:0], false
		p = p[i+1:]
	}
	return n, nil
}

func (w *lineWriter) add(p []byte) {
	if w.discard {
		return
	}
	if len(w.buf)+len(p) > maxLine {
		w.line(append(w.buf, p[:maxLine-len(w.buf)]...))
		w.buf, w.discard = w.buf[:0], true
		return
	}
	w.buf = append(w.buf, p...)
}

// linkExecutables makes dir/<role> for each role: a hard link to exe, so
// the role's process is exe under the role's name. When exe cannot be
// linked from dir (another file system), it is copied into dir once and
// the roles are links to the copy.
func linkExecutables(dir, exe string, roles []string) (map[string]string, error) {
	src := exe
	out := map[string]string{}
	for _, role := range roles {
		dst := filepath.Join(dir, role)
		err := os.Link(src, dst)
		if err != nil && src == exe {
			src = filepath.Join(dir, ".hostflow")
			if err = copyFile(exe, src); err == nil {
				err = os.Link(src, dst)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("demo executable for %s: %w", role, err)
		}
		out[role] = dst
	}
	return out, nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o700)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
