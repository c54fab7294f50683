package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hostflow/hostflow/internal/daemon"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// events collects a peer's output lines as events.
type events struct {
	mu   sync.Mutex
	list []event
	bad  []string
}

func (e *events) writer() io.Writer {
	return &lineWriter{line: func(b []byte) {
		var ev event
		e.mu.Lock()
		defer e.mu.Unlock()
		if err := json.Unmarshal(b, &ev); err != nil {
			e.bad = append(e.bad, string(b))
			return
		}
		e.list = append(e.list, ev)
	}}
}

// sum adds up the stats events; ready reports whether the first event was
// "ready".
func (e *events) sum() (ready bool, total event, bad []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	total.Errors = map[string]uint64{}
	for i, ev := range e.list {
		switch {
		case ev.Event == "ready":
			ready = ready || i == 0
		case ev.Event == "stats":
			total.Requests += ev.Requests
			total.Bytes += ev.Bytes
			for k, v := range ev.Errors {
				total.Errors[k] += v
			}
			if ev.Error != "" {
				total.Error = ev.Error
			}
		default:
			total.Error = ev.Event + ": " + ev.Error
		}
	}
	return ready, total, e.bad
}

func (e *events) waitReady(t *testing.T, role string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if ready, _, _ := e.sum(); ready {
			return
		}
	}
	t.Fatalf("%s not ready after 5 s", role)
}

// freePort returns a port free on 127.0.0.1 and ::1 for network ("tcp" or
// "udp") at the time of the call.
func freePort(t *testing.T, network string) uint16 {
	t.Helper()
	for range 20 {
		var port uint16
		var closers []io.Closer
		ok := true
		for _, host := range []string{"127.0.0.1", "[::1]"} {
			addr := fmt.Sprintf("%s:%d", host, port)
			var c io.Closer
			var local net.Addr
			if network == "tcp" {
				l, err := net.Listen("tcp", addr)
				if err != nil {
					ok = false
					break
				}
				c, local = l, l.Addr()
			} else {
				pc, err := net.ListenPacket("udp", addr)
				if err != nil {
					ok = false
					break
				}
				c, local = pc, pc.LocalAddr()
			}
			closers = append(closers, c)
			port = uint16(netip.MustParseAddrPort(local.String()).Port())
		}
		closeAll(closers)
		if ok {
			return port
		}
	}
	t.Fatal("no free port on both loopbacks")
	return 0
}

// loopbackPlan puts every role on the loopback interfaces (no namespace).
func loopbackPlan(t *testing.T) Plan {
	both := func(network string) []netip.AddrPort {
		p := freePort(t, network)
		return []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), p), netip.AddrPortFrom(netip.IPv6Loopback(), p)}
	}
	return Plan{API: both("tcp"), DNS: both("udp"), Backup: both("tcp"), Metrics: both("udp"), Webapp: both("tcp"),
		Users: []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3"), netip.IPv6Loopback()}}
}

// TestRolesOnLoopback runs every role in this process, over loopback, in
// the order the demo starts them, and checks that each one exchanges
// traffic without a single error.
func TestRolesOnLoopback(t *testing.T) {
	plan := loopbackPlan(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := map[string]*events{}
	var wg sync.WaitGroup
	errs := make(chan error, len(startOrder))
	for _, role := range startOrder {
		logs[role] = &events{}
		p := newPeer(plan, logs[role].writer())
		p.tempo = tempo{backupFirst: [2]time.Duration{0, 100 * time.Millisecond},
			backupEvery: [2]time.Duration{100 * time.Millisecond, 200 * time.Millisecond}, backupSize: [2]int{2 << 10, 6 << 10}}
		done := make(chan struct{})
		go p.report(ctx, done)
		wg.Go(func() {
			if err := roleFuncs[role](ctx, p); err != nil {
				errs <- fmt.Errorf("%s: %w", role, err)
			}
			<-done
		})
		logs[role].waitReady(t, role)
	}
	// Long enough for a few requests of the slowest role (metrics-push,
	// about one a second) and two stats reports.
	time.Sleep(2*statsInterval + 500*time.Millisecond)
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, role := range startOrder {
		ready, total, bad := logs[role].sum()
		if !ready {
			t.Errorf("%s: first event is not ready", role)
		}
		if total.Requests == 0 || total.Bytes == 0 {
			t.Errorf("%s: %d exchanges, %d bytes; want some", role, total.Requests, total.Bytes)
		}
		if len(total.Errors) > 0 || total.Error != "" {
			t.Errorf("%s: errors %v (last: %s)", role, total.Errors, total.Error)
		}
		if len(bad) > 0 {
			t.Errorf("%s: lines that are not events: %q", role, bad)
		}
		t.Logf("%s: %d exchanges, %d bytes", role, total.Requests, total.Bytes)
	}
}

func TestRunPeerArguments(t *testing.T) {
	goodPlan, _ := json.Marshal(Plan{Webapp: []netip.AddrPort{netip.MustParseAddrPort("192.0.2.123:8008")}})
	for _, c := range []struct {
		name       string
		args       []string
		code       int
		stdout     string // prefix
		stderrPart string
	}{
		{"unknown role", []string{"--role", "miner", "--plan", "{}"}, 2, "", `unknown role "miner"`},
		{"no role", []string{"--plan", "{}"}, 2, "", `unknown role ""`},
		{"bad plan", []string{"--role", "webapp", "--plan", "{"}, 2, "", "--plan: unexpected end of JSON input"},
		{"bad address in plan", []string{"--role", "webapp", "--plan", `{"webapp":["nowhere"]}`}, 2, "", "--plan:"},
		{"unknown flag", []string{"--rate", "9"}, 2, "", "flag provided but not defined: -rate"},
		// An address of no interface: the role cannot listen and says why.
		{"listen fails", []string{"--role", "webapp", "--plan", string(goodPlan)}, 1,
			`{"event":"fatal","error":"listen tcp 192.0.2.123:8008: bind: cannot assign requested address"}`, ""},
		{"nothing to call", []string{"--role", "api-client", "--plan", "{}"}, 1,
			`{"event":"fatal","error":"no API server in the plan"}`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := RunPeer(c.args, &stdout, &stderr)
			if code != c.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, c.code, stderr.String())
			}
			if diff := cmp.Diff(strings.TrimSpace(stdout.String()), c.stdout); diff != "" {
				t.Errorf("stdout (-got +want):\n%s", diff)
			}
			if !strings.Contains(stderr.String(), c.stderrPart) {
				t.Errorf("stderr %q, want it to contain %q", stderr.String(), c.stderrPart)
			}
		})
	}
}

func TestLineWriter(t *testing.T) {
	long := strings.Repeat("x", maxLine+100)
	for _, c := range []struct {
		name   string
		writes []string
		want   []string
	}{
		{"one line", []string{"a\n"}, []string{"a"}},
		{"split across writes", []string{"ab", "c\nd", "e\n"}, []string{"abc", "de"}},
		{"several in one write", []string{"a\nb\n\nc\n"}, []string{"a", "b", "", "c"}},
		{"unfinished line kept back", []string{"a\nb"}, []string{"a"}},
		{"long line cut, rest dropped", []string{long[:maxLine-1], long[maxLine-1:] + "\nnext\n"}, []string{long[:maxLine], "next"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			w := &lineWriter{line: func(b []byte) { got = append(got, string(b)) }}
			for _, s := range c.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if diff := cmp.Diff(got, c.want); diff != "" {
				t.Errorf("lines (-got +want):\n%s", diff)
			}
		})
	}
}

// TestHandle feeds a role's output to the parent and checks the metrics
// and the readiness it derives.
func TestHandle(t *testing.T) {
	r := daemon.NewReporter(slog.New(slog.DiscardHandler), nil)
	d := newDemo(DefaultConfig(), Dependencies{Reporter: r})
	k := &child{role: RoleResolver, readyc: make(chan error, 1)}
	for _, line := range []string{
		`{"event":"ready"}`,
		`{"event":"stats","requests":3,"bytes":300}`,
		`{"event":"stats","requests":2,"bytes":150,"errors":{"timeout":2,"refused":1},"error":"read: i/o timeout"}`,
		`not json`,
		`{"event":"fatal","error":"listen udp: bind"}`,
	} {
		d.handle(k, []byte(line))
	}
	if err := k.waitReady(context.Background(), time.Second); err != nil {
		t.Errorf("ready: %v", err)
	}
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"exchanges", testutil.ToFloat64(d.requests.WithLabelValues(RoleResolver)), 5},
		{"bytes", testutil.ToFloat64(d.bytes.WithLabelValues(RoleResolver)), 450},
		{"timeouts", testutil.ToFloat64(d.failures.WithLabelValues(RoleResolver, "timeout")), 2},
		{"refused", testutil.ToFloat64(d.failures.WithLabelValues(RoleResolver, "refused")), 1},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if k.fatal != "listen udp: bind" {
		t.Errorf("fatal = %q", k.fatal)
	}
}
