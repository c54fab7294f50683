package demo

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/hostflow/hostflow/internal/daemon"
)

// The roles. Each child runs the hostflow binary through a hard link named
// after its role, so the agent (which names processes after their
// executable) shows these names. The host-side ones are attributed; the
// internet role runs in the namespace, out of the agent's sight.
const (
	RoleAPIClient   = "api-client"   // HTTP requests to API servers "on the internet"
	RoleBackup      = "backup"       // a bulk TCP upload now and then
	RoleResolver    = "resolver"     // DNS queries over UDP
	RoleMetricsPush = "metrics-push" // statsd lines over UDP
	RoleWebapp      = "webapp"       // HTTP server on the host, called from the namespace
	RoleInternet    = "internet"     // the namespace: servers and web users
)

// HostRoles are the roles whose traffic the agent attributes.
var HostRoles = []string{RoleWebapp, RoleAPIClient, RoleBackup, RoleResolver, RoleMetricsPush}

// roleFunc runs a role until ctx ends; it calls p.ready once it listens or
// is about to send.
type roleFunc func(ctx context.Context, p *peer) error

var roleFuncs = map[string]roleFunc{
	RoleAPIClient:   runAPIClient,
	RoleBackup:      runBackup,
	RoleResolver:    runResolver,
	RoleMetricsPush: runMetricsPush,
	RoleWebapp:      runWebapp,
	RoleInternet:    runInternet,
}

// statsInterval is how often a child reports its counters.
const statsInterval = 2 * time.Second

// event is one line a child writes on its standard output: "ready" once,
// "stats" every statsInterval (counts since the previous one), "fatal"
// before exiting with an error.
type event struct {
	Event    string            `json:"event"`
	Requests uint64            `json:"requests,omitempty"`
	Bytes    uint64            `json:"bytes,omitempty"`
	Errors   map[string]uint64 `json:"errors,omitempty"`
	Error    string            `json:"error,omitempty"`
}

// peer is a running child: its plan, its counters and its output.
type peer struct {
	plan  Plan
	tempo tempo
	rng   *rand.Rand

	mu   sync.Mutex
	out  *json.Encoder
	cur  event // counts since the last report
	last string
}

// RunPeer is the hidden `hostflow demo-peer --role ROLE --plan JSON`
// subcommand: one demo role, until SIGINT/SIGTERM or its parent's death.
func RunPeer(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hostflow demo-peer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	role := fs.String("role", "", "role: "+fmt.Sprint(slices.Sorted(maps.Keys(roleFuncs))))
	planJSON := fs.String("plan", "", "the demo's plan (JSON), as the standalone role writes it")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	run, ok := roleFuncs[*role]
	if !ok {
		fmt.Fprintf(stderr, "hostflow demo-peer: unknown role %q\n", *role)
		return 2
	}
	var plan Plan
	if err := json.Unmarshal([]byte(*planJSON), &plan); err != nil {
		fmt.Fprintf(stderr, "hostflow demo-peer: --plan: %v\n", err)
		return 2
	}
	ctx, cancel := daemon.SignalContext(context.Background())
	defer cancel()
	p := newPeer(plan, stdout)
	done := make(chan struct{})
	go p.report(ctx, done)
	err := run(ctx, p)
	cancel()
	<-done
	if err != nil && !errors.Is(err, context.Canceled) {
		p.emit(event{Event: "fatal", Error: err.Error()})
		return 1
	}
	return 0
}

func newPeer(plan Plan, out io.Writer) *peer {
	return &peer{plan: plan, tempo: defaultTempo(), rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		out: json.NewEncoder(out)}
}

// tempo holds the slow parts of the roles' schedule (tests shorten them).
type tempo struct {
	backupFirst, backupEvery [2]time.Duration // wait before the first upload, between uploads
	backupSize               [2]int           // bytes of an upload
}

func defaultTempo() tempo {
	return tempo{backupFirst: [2]time.Duration{2 * time.Second, 5 * time.Second},
		backupEvery: [2]time.Duration{30 * time.Second, 60 * time.Second}, backupSize: [2]int{256 << 10, 768 << 10}}
}

func (p *peer) emit(e event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = p.out.Encode(e)
}

// ready tells the parent the role is listening (or about to send).
func (p *peer) ready() { p.emit(event{Event: "ready"}) }

// done counts one exchange and its payload bytes (both directions).
func (p *peer) done(bytes int) {
	p.mu.Lock()
	p.cur.Requests++
	p.cur.Bytes += uint64(bytes)
	p.mu.Unlock()
}

// fail counts a failed exchange under a short reason (dial, timeout, io,
// status, answer) and keeps the error for the next report.
func (p *peer) fail(reason string, err error) {
	p.mu.Lock()
	if p.cur.Errors == nil {
		p.cur.Errors = map[string]uint64{}
	}
	p.cur.Errors[reason]++
	p.last = err.Error()
	p.mu.Unlock()
}

// report writes the counters every statsInterval and once more at the end.
func (p *peer) report(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(statsInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			p.flush()
			return
		case <-t.C:
			p.flush()
		}
	}
}

func (p *peer) flush() {
	p.mu.Lock()
	e := p.cur
	e.Event, e.Error = "stats", p.last
	p.cur, p.last = event{}, ""
	p.mu.Unlock()
	if e.Requests > 0 || e.Bytes > 0 || len(e.Errors) > 0 {
		p.emit(e)
	}
}

// between returns a random duration in [lo, hi).
func (p *peer) between(lo, hi time.Duration) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return lo + time.Duration(p.rng.Int64N(int64(hi-lo)))
}

// intn returns a random int in [0, n).
func (p *peer) intn(n int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rng.IntN(n)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
