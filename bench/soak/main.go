// Command soak runs the real `hostflow collector` (embedded store) through
// overload and faults over loopback, and prints what happened as a table:
// rate offered, rate decoded, memory peak against the configured bound,
// drops by reason, and rows stored against rows expected after a store
// outage and after a kill -9. It is `make soak`.
//
// Phases, in one data directory:
//
//  1. baseline: a moderate load; every decoded flow must be stored, and the
//     ratio of represented packets (Σ sampling rate) to flows is noted.
//  2. capacity: the load generator as fast as it goes; the decoded rate is
//     the collector's capacity on this machine, now.
//  3. overload 2× and 5× that capacity: the collector keeps decoding at
//     capacity, drops are counted by reason (kernel socket buffer, rate
//     limit), memory stays under its bound, nothing crashes; the flows kept
//     by the per-exporter rate limit still represent the offered traffic.
//  4. store outage: the store's filesystem (a tmpfs) is filled, so every
//     insert fails (ENOSPC) for -outage; blocks spool to disk and replay
//     when space is freed: zero loss of received flows.
//  5. kill -9 under load, restart: every acknowledged row (inserted, or
//     spooled on disk) is in the store after the restart. A real
//     `hostflow agent` sampling loopback sends to the collector all along:
//     it must outlive the collector and its flows must reach the new one.
//  6. allow-list: datagrams from a source outside inlet.allowed-exporters
//     are dropped and counted (not_allowed), none stored.
//
// All along, SNMP polls every exporter at an address that never answers
// (timeouts must not slow decoding), and the SNMP community given in the
// configuration must never appear in the collector's log nor in the output
// of -print-config.
//
// Needs root (tmpfs mount, the agent's AF_PACKET socket), libchdb, 2
// cores. Bounded (about 5 minutes with the defaults, 12 + outage at most);
// kills what it starts, unmounts and removes its directory on exit, even
// on failure or Ctrl-C (not if the soak itself is killed with SIGKILL: its
// children die with it, but a tmpfs stays mounted under
// /tmp/hostflow-soak-*).
//
//	go run ./bench/soak                       # builds hostflow and loadgen
//	go run ./bench/soak -outage 2m -phase 20s
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	hostflow, loadgen string
	phase, outage     time.Duration
	baselineRate      float64
	faultRate         float64
	sockets           int
	rcvbuf            int
	rateLimit         int
	maxMemory         int64
	goMemLimit        int64
	batchRows         int
	queueBlocks       int
	spoolBytes        int64
	keep              bool
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	o := &options{}
	fs.StringVar(&o.hostflow, "hostflow", "", "hostflow binary (default: go build ./cmd/hostflow)")
	fs.StringVar(&o.loadgen, "loadgen", "", "loadgen binary (default: go build ./bench/loadgen)")
	fs.DurationVar(&o.phase, "phase", 15*time.Second, "length of each load phase")
	fs.DurationVar(&o.outage, "outage", 90*time.Second, "how long the store stays full")
	fs.Float64Var(&o.baselineRate, "baseline-rate", 20000, "flows/s of the baseline phase")
	fs.Float64Var(&o.faultRate, "fault-rate", 10000, "flows/s during the outage and kill phases")
	fs.IntVar(&o.sockets, "sockets", 2, "collector sockets (SO_REUSEPORT)")
	fs.IntVar(&o.rcvbuf, "receive-buffer", 8<<20, "collector socket receive buffer")
	fs.IntVar(&o.rateLimit, "rate-limit", 10000, "collector.rate-limit, flows/s per exporter (the generator has 8)")
	fs.Int64Var(&o.maxMemory, "max-memory", 1<<30, "store.max-memory (the engine's cap)")
	fs.Int64Var(&o.goMemLimit, "gomemlimit", 512<<20, "GOMEMLIMIT of the collector")
	fs.IntVar(&o.batchRows, "batch-rows", 50000, "store.batch-rows")
	fs.IntVar(&o.queueBlocks, "queue-blocks", 4, "store.queue-blocks")
	fs.Int64Var(&o.spoolBytes, "spool-bytes", 2<<30, "store.spool.max-bytes")
	fs.BoolVar(&o.keep, "keep", false, "keep the directory (logs, store) for inspection")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("needs root: the store outage fills a tmpfs mounted for it")
	}
	if o.phase < 5*time.Second || o.phase > time.Minute || o.outage < 10*time.Second || o.outage > 5*time.Minute {
		return errors.New("-phase must be within 5s..1m and -outage within 10s..5m (the soak is bounded)")
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx, cancelTime := context.WithTimeout(ctx, 12*time.Minute+o.outage)
	defer cancelTime()

	dir, err := os.MkdirTemp("", "hostflow-soak-")
	if err != nil {
		return err
	}
	if err := buildTools(o, dir); err != nil {
		return err
	}
	store := filepath.Join(dir, "store")
	if err := os.Mkdir(store, 0o700); err != nil {
		return err
	}
	// The store lives on its own small filesystem, which the outage fills.
	tmpfsSize := o.maxMemory * 2
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0700", tmpfsSize), "hostflow-soak", store).CombinedOutput(); err != nil {
		return fmt.Errorf("mount tmpfs: %v: %s", err, out)
	}
	defer func() {
		_ = exec.Command("umount", "-l", store).Run()
		if o.keep {
			fmt.Fprintf(os.Stderr, "soak: kept %s\n", dir)
			return
		}
		os.RemoveAll(dir)
	}()

	var p ports
	for _, x := range []struct {
		port    *int
		network string
	}{{&p.sflow, "udp"}, {&p.metrics, "tcp"}, {&p.console, "tcp"}, {&p.agentMetrics, "tcp"}} {
		if *x.port, err = freePort(x.network); err != nil {
			return err
		}
	}
	// An SNMP "agent" that never answers: every poll times out.
	snmp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer snmp.Close()
	go func() {
		buf := make([]byte, 65536)
		for {
			if _, _, err := snmp.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	p.snmp = snmp.LocalAddr().(*net.UDPAddr).Port
	if err := os.WriteFile(filepath.Join(dir, "collector.yaml"), []byte(collectorConfig(o, dir, p)), 0o600); err != nil {
		return err
	}
	logPath := filepath.Join(dir, "collector.log")
	log, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer log.Close()
	s := &soak{o: o, ctx: ctx, dir: dir, ports: p, log: log, start: time.Now()}
	err = s.phases()
	if s.agent != nil && s.agent.alive() {
		s.agent.stop()
	}
	if s.col != nil && s.col.alive() {
		if serr := s.col.stop(); serr != nil && err == nil {
			err = fmt.Errorf("collector stop: %w", serr)
		}
	}
	s.checkSecrets(logPath)
	s.print(os.Stdout)
	if err == nil && s.failed {
		err = errors.New("some checks failed (table above)")
	}
	if err != nil {
		if b, rerr := os.ReadFile(logPath); rerr == nil {
			fmt.Fprintf(os.Stderr, "collector log (last 4 KB):\n%s\n", tail(b, 4096))
		}
	}
	return err
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// buildTools builds hostflow and loadgen unless given.
func buildTools(o *options, dir string) error {
	for _, t := range []struct {
		path *string
		pkg  string
	}{{&o.hostflow, "./cmd/hostflow"}, {&o.loadgen, "./bench/loadgen"}} {
		if *t.path != "" {
			continue
		}
		*t.path = filepath.Join(dir, filepath.Base(t.pkg))
		if out, err := exec.Command("go", "build", "-o", *t.path, t.pkg).CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", t.pkg, err, out)
		}
	}
	return nil
}

// soak holds the state of a run.
type soak struct {
	o     *options
	ctx   context.Context
	dir   string
	ports ports
	log   io.Writer
	start time.Time
	col   *collector
	agent *agent // during the kill phase

	capacity   float64            // decoded flows/s at full speed
	capacityUs float64            // CPU µs per decoded flow then
	snmp       map[string]float64 // SNMP requests by result before the kill
	rates      map[string]float64 // sampling rate by exporter (baseline)
	rows       []row
	notes      []string
	failed     bool
}

// row is one line of the table.
type row struct {
	phase             string
	offered, decoded  float64 // flows/s
	decodedMin        float64 // lowest decoded flows/s of a whole second
	cores, usPerFlow  float64 // the collector's CPU (seconds per second, µs per decoded flow); 0 when not measured
	rss, bound        int64
	drops             map[string]float64
	expected, stored  float64 // rows; -1 when not checked
	represented, want float64 // flows stood for by the kept rows (Σ k), decoded; -1 when not checked
}

// generate runs the load generator and returns its report.
func (s *soak) generate(rate float64, d time.Duration, extra ...string) (map[string]float64, error) {
	// No counter samples: no in-band interface names, so the enricher
	// asks SNMP (which never answers) about every exporter.
	args := append([]string{"-proto", "sflow", "-dst", fmt.Sprintf("127.0.0.1:%d", s.ports.sflow),
		"-rate", strconv.FormatFloat(rate, 'f', 0, 64), "-duration", d.String(), "-counter-every", "0"}, extra...)
	cmd := exec.CommandContext(s.ctx, s.o.loadgen, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("loadgen %v: %v: %s", args, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	rep := map[string]float64{}
	for _, kv := range strings.Fields(lines[len(lines)-1]) {
		k, v, _ := strings.Cut(kv, "=")
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			rep[k] = f
		}
	}
	return rep, nil
}

// watch samples the decoded flows every second while f runs and returns
// the lowest one-second rate after the first second.
func (s *soak) watch(f func() error) (float64, error) {
	stop := make(chan struct{})
	lowest := make(chan float64, 1)
	go func() {
		low, prev, n := -1.0, -1.0, 0
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				lowest <- low
				return
			case <-t.C:
			}
			m, err := s.col.metrics()
			if err != nil {
				continue
			}
			cur := m.sum("hostflow_collector_flows_total")
			// Skip the first seconds (ramp-up) and the last (ramp-down).
			if n++; prev >= 0 && n > 2 {
				if r := cur - prev; low < 0 || r < low {
					low = r
				}
			}
			prev = cur
		}
	}()
	err := f()
	close(stop)
	return <-lowest, err
}

func (s *soak) check(ok bool, format string, args ...any) bool {
	if !ok {
		s.failed = true
		s.notes = append(s.notes, "FAIL: "+fmt.Sprintf(format, args...))
	}
	return ok
}

func (s *soak) note(format string, args ...any) {
	s.notes = append(s.notes, fmt.Sprintf(format, args...))
}

// memBound is the documented bound of the collector's resident memory:
// the engine's cap (store.max-memory) + the Go heap's (GOMEMLIMIT) + the
// mapped files (libchdb's code; measured, it is not anonymous memory).
func (s *soak) memBound(file int64) int64 {
	return s.o.maxMemory + s.o.goMemLimit + file
}

func (s *soak) phases() error {
	var err error
	if s.col, err = startCollector(s.o, s.dir, s.ports, s.log); err != nil {
		return err
	}
	steps := []struct {
		name string
		f    func() error
	}{
		{"baseline", s.baseline},
		{"capacity", s.measureCapacity},
		{"overload", s.overload},
		{"outage", s.storeOutage},
		{"kill", s.killRestart},
		{"allow-list", s.allowList},
	}
	for _, st := range steps {
		if err := s.ctx.Err(); err != nil {
			return fmt.Errorf("%s: %w", st.name, err)
		}
		fmt.Fprintf(os.Stderr, "soak: %s (%s)\n", st.name, time.Since(s.start).Round(time.Second))
		if err := st.f(); err != nil {
			return fmt.Errorf("%s: %w", st.name, err)
		}
		if !s.col.alive() {
			s.check(false, "collector died during %s: %v", st.name, s.col.err)
			return errors.New("collector died")
		}
	}
	req := s.snmp
	s.check(req["ok"] == 0 && req["timeout"] > 0 && req["breaker trips"] > 0, "SNMP requests by result %v: want timeouts only, and the breaker tripped", req)
	s.note("SNMP (every exporter polled at an address that never answers, until the kill): %.0f requests timed out, "+
		"breaker tripped %.0f times", req["timeout"], req["breaker trips"])
	return nil
}

// loadPhase offers rate flows/s for d and returns the row with rates,
// drops and memory.
func (s *soak) loadPhase(name string, rate float64, d time.Duration) (row, error) {
	m0, err := s.col.metrics()
	if err != nil {
		return row{}, err
	}
	s.col.peak()
	var rep map[string]float64
	low, err := s.watch(func() (err error) {
		rep, err = s.generate(rate, d)
		return err
	})
	if err != nil {
		return row{}, err
	}
	time.Sleep(2 * time.Second) // the socket buffers drain
	m1, err := s.col.metrics()
	if err != nil {
		return row{}, err
	}
	rss, _, file := s.col.peak()
	if rate > 0 && rep["rate"] < 0.9*rate {
		s.note("%s: the generator reached %.0f flows/s of the %.0f asked (it shares the 2 cores with the collector)", name, rep["rate"], rate)
	}
	secs := rep["elapsed"]
	decoded := m1.sum("hostflow_collector_flows_total") - m0.sum("hostflow_collector_flows_total")
	// CPU over the phase and the drain after it, engine threads included.
	cpu := m1.sum("process_cpu_seconds_total") - m0.sum("process_cpu_seconds_total")
	r := row{phase: name, offered: rep["rate"], decoded: decoded / secs, decodedMin: low, cores: cpu / (secs + 2),
		rss: rss, bound: s.memBound(file), drops: drops(m0, m1), expected: -1, stored: -1, represented: -1, want: -1}
	if decoded > 0 {
		r.usPerFlow = cpu / decoded * 1e6
	}
	s.check(rss <= r.bound, "%s: memory peak %s over the bound %s", name, mib(rss), mib(r.bound))
	return r, nil
}

// drops are the drops by reason between two scrapes.
func drops(m0, m1 metrics) map[string]float64 {
	out := map[string]float64{}
	for reason, v := range m1.byLabel("hostflow_inlet_drops_total", "reason") {
		out["inlet "+reason] += v - m0.byLabel("hostflow_inlet_drops_total", "reason")[reason]
	}
	for reason, v := range m1.byLabel("hostflow_collector_dropped_flows_total", "reason") {
		out["collector "+reason] += v - m0.byLabel("hostflow_collector_dropped_flows_total", "reason")[reason]
	}
	for reason, v := range m1.byLabel("hostflow_store_dropped_rows_total", "reason") {
		out["store "+reason] += v - m0.byLabel("hostflow_store_dropped_rows_total", "reason")[reason]
	}
	out["decode errors"] = m1.sum("hostflow_collector_decode_errors_total") - m0.sum("hostflow_collector_decode_errors_total")
	// Not a loss: the block went to the spool from the appender (on the
	// receive path), instead of the writer's queue.
	out["store queue full (block spooled)"] = m1.sum("hostflow_store_queue_full_total") - m0.sum("hostflow_store_queue_full_total")
	for k, v := range out {
		if v == 0 {
			delete(out, k)
		}
	}
	return out
}

// storedFlows is the number of flow rows the store holds since the start.
func (s *soak) storedFlows() (float64, error) {
	by, err := s.col.stored(s.start)
	if err != nil {
		return 0, err
	}
	f, _ := totals(by)
	return f, nil
}

// measured offers rate flows/s (0: as fast as the generator goes) for a
// phase, waits until the store has everything, and accounts for every
// decoded flow: stored, or dropped by the rate limit, or dropped by the
// store with a reason. When the rate limit dropped flows, the kept ones
// must still stand for every decoded flow: each exporter's kept rows carry
// its sampling rate × k, so Σ over exporters of (packets represented ÷
// the exporter's own sampling rate, from the baseline) is Σ k, which must
// match the flows decoded. (A single packets-per-flow ratio would not do:
// the agents have different sampling rates, and kernel drops under
// overload change their mix.)
func (s *soak) measured(name string, rate float64) (row, error) {
	b0, err := s.col.stored(s.start)
	if err != nil {
		return row{}, err
	}
	m0, err := s.col.metrics()
	if err != nil {
		return row{}, err
	}
	r, err := s.loadPhase(name, rate, s.o.phase)
	if err != nil {
		return row{}, err
	}
	if err := s.col.waitDrained(s.ctx, 3*time.Minute); err != nil {
		return row{}, err
	}
	m1, err := s.col.metrics()
	if err != nil {
		return row{}, err
	}
	b1, err := s.col.stored(s.start)
	if err != nil {
		return row{}, err
	}
	delta := func(name string, match ...string) float64 { return m1.sum(name, match...) - m0.sum(name, match...) }
	decoded := delta("hostflow_collector_flows_total")
	limited := delta("hostflow_collector_dropped_flows_total")
	lost := delta("hostflow_store_dropped_rows_total", `table="hostflow.flows"`)
	f0, _ := totals(b0)
	f1, _ := totals(b1)
	r.expected, r.stored = decoded-limited-lost, f1-f0
	s.check(r.stored == r.expected, "%s: %.0f rows stored, %.0f expected (decoded − rate-limited − counted store drops)", name, r.stored, r.expected)
	if s.rates == nil {
		// The baseline is below the rate limit: every row has its agent's
		// own sampling rate.
		s.rates = map[string]float64{}
		for e, t := range b1 {
			if df := t.flows - b0[e].flows; df > 0 {
				s.rates[e] = (t.packets - b0[e].packets) / df
			}
		}
		s.note("%s: %d exporters, sampling rates %s (packets represented per stored flow)", name, len(s.rates), rateList(s.rates))
	} else if limited > 0 {
		r.represented, r.want = 0, decoded-lost
		for e, t := range b1 {
			dp := t.packets - b0[e].packets
			if dp == 0 {
				continue
			}
			sr, ok := s.rates[e]
			if !s.check(ok, "%s: rows from exporter %s, not seen in the baseline", name, e) {
				continue
			}
			r.represented += dp / sr
		}
		s.check(abs(r.represented-r.want) <= 0.03*r.want, "%s: kept rows stand for %.0f flows (Σ k), %.0f decoded (±3%%)", name, r.represented, r.want)
	}
	return r, nil
}

func rateList(m map[string]float64) string {
	var out []string
	for e, r := range m {
		out = append(out, fmt.Sprintf("%s %.0f", e, r))
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

func (s *soak) baseline() error {
	r, err := s.measured("baseline", s.o.baselineRate)
	if err != nil {
		return err
	}
	s.check(r.drops["collector rate-limit"] == 0 && r.drops["inlet kernel"] == 0, "baseline: drops %v below the limits", r.drops)
	s.rows = append(s.rows, r)
	return nil
}

func (s *soak) measureCapacity() error {
	r, err := s.measured("capacity (generator at full speed)", 0)
	if err != nil {
		return err
	}
	s.capacity, s.capacityUs = r.decoded, r.usPerFlow
	if r.drops["inlet kernel"] == 0 {
		s.note("capacity: no kernel drop at full speed: the generator was the limit, the collector's capacity is higher")
	}
	s.rows = append(s.rows, r)
	return nil
}

// overload offers 2× and 5× the capacity: decoding must hold at capacity
// (80 %: the machine is shared; or 80 % of what the generator reached, if
// less), every decoded flow is accounted for.
func (s *soak) overload() error {
	for _, x := range []float64{2, 5} {
		r, err := s.measured(fmt.Sprintf("overload %.0f× capacity", x), x*s.capacity)
		if err != nil {
			return err
		}
		// When the generator, on the same cores, offers less than the
		// capacity, the collector cannot decode more than it gets. And on
		// a shared machine it may get less CPU than during the capacity
		// phase: then what must hold is the cost per decoded flow (no
		// collapse: the CPU it gets still goes to decoding).
		held := r.decoded >= 0.8*min(s.capacity, r.offered)
		cheap := r.usPerFlow <= 1.5*s.capacityUs
		s.check(held || cheap, "%s: decoded %.0f flows/s (capacity %.0f, offered %.0f) at %.2f µs CPU per flow (%.2f at capacity)",
			r.phase, r.decoded, s.capacity, r.offered, r.usPerFlow, s.capacityUs)
		if !held && cheap {
			s.note("%s: decoded %.0f flows/s, below the capacity measured (%.0f): the collector got %.2f cores (the machine is shared); "+
				"its cost per decoded flow held (%.2f µs, %.2f at capacity)", r.phase, r.decoded, s.capacity, r.cores, r.usPerFlow, s.capacityUs)
		}
		s.rows = append(s.rows, r)
	}
	return nil
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// fill writes zeros to a file on the store's filesystem until it is full.
func fill(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for {
		if _, err := f.Write(buf); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return nil
			}
			return err
		}
	}
}

// storeOutage fills the store's filesystem for the outage under a
// moderate load: inserts fail, blocks spool; then space is freed, the
// spool replays, and every decoded flow must be stored.
func (s *soak) storeOutage() error {
	f0, err := s.storedFlows()
	if err != nil {
		return err
	}
	m0, _ := s.col.metrics()
	filler := filepath.Join(s.dir, "store", "filler")
	total := s.o.outage + 20*time.Second
	errc := make(chan error, 1)
	var rep map[string]float64
	s.col.peak()
	go func() {
		var err error
		rep, err = s.generate(s.o.faultRate, total)
		errc <- err
	}()
	time.Sleep(5 * time.Second)
	if err := fill(filler); err != nil {
		return fmt.Errorf("fill the store: %w", err)
	}
	filled := time.Now()
	var down time.Time
	var spoolPeak float64
	for time.Since(filled) < s.o.outage {
		select {
		case <-s.ctx.Done():
			os.Remove(filler)
			return s.ctx.Err()
		case <-time.After(time.Second):
		}
		if m, err := s.col.metrics(); err == nil {
			if down.IsZero() && m.sum("hostflow_store_up") == 0 {
				down = time.Now()
			}
			spoolPeak = max(spoolPeak, m.sum("hostflow_store_spool_bytes"))
		}
	}
	if err := os.Remove(filler); err != nil {
		return err
	}
	if err := <-errc; err != nil {
		return err
	}
	if err := s.col.waitDrained(s.ctx, 3*time.Minute); err != nil {
		return err
	}
	m1, _ := s.col.metrics()
	f1, err := s.storedFlows()
	if err != nil {
		return err
	}
	rss, _, file := s.col.peak()
	r := row{phase: fmt.Sprintf("store full for %s (ENOSPC), then freed", s.o.outage), offered: rep["rate"],
		decoded:    (m1.sum("hostflow_collector_flows_total") - m0.sum("hostflow_collector_flows_total")) / rep["elapsed"],
		decodedMin: -1, rss: rss, bound: s.memBound(file), drops: drops(m0, m1), represented: -1, want: -1}
	r.expected = m1.sum("hostflow_collector_flows_total") - m0.sum("hostflow_collector_flows_total") -
		(m1.sum("hostflow_collector_dropped_flows_total") - m0.sum("hostflow_collector_dropped_flows_total"))
	r.stored = f1 - f0
	s.check(!down.IsZero(), "outage: the store never reported down")
	s.check(r.stored == r.expected, "outage: %.0f rows stored, %.0f received (loss %.0f)", r.stored, r.expected, r.expected-r.stored)
	s.check(rss <= r.bound, "outage: memory peak %s over the bound %s", mib(rss), mib(r.bound))
	replayed := m1.sum("hostflow_store_replayed_rows_total", `table="hostflow.flows"`) - m0.sum("hostflow_store_replayed_rows_total", `table="hostflow.flows"`)
	s.note("outage: store down %s after the fill; spool peaked at %s; %.0f flow rows replayed from it",
		down.Sub(filled).Round(100*time.Millisecond), mib(int64(spoolPeak)), replayed)
	s.rows = append(s.rows, r)
	return nil
}

// killRestart kills the collector with SIGKILL under load, restarts it,
// and checks every row acknowledged before the kill (inserted, or spooled
// on disk) is in the store once the spool is replayed.
func (s *soak) killRestart() error {
	var err error
	// A real agent sampling loopback sends to the collector all along: it
	// must outlive the collector's death and resume sending to the new one.
	if s.agent, err = startAgent(s.o, s.dir, s.ports, s.log); err != nil {
		return err
	}
	f0, err := s.storedFlows()
	if err != nil {
		return err
	}
	m0, _ := s.col.metrics()
	errc := make(chan error, 1)
	var rep map[string]float64
	go func() {
		var err error
		rep, err = s.generate(s.o.faultRate, 2*s.o.phase)
		errc <- err
	}()
	time.Sleep(s.o.phase)
	// A short outage right before the kill, so that the spool holds blocks
	// when the process dies.
	filler := filepath.Join(s.dir, "store", "filler")
	if err := fill(filler); err != nil {
		return err
	}
	time.Sleep(3 * time.Second)
	mk, err := s.col.metrics()
	if err != nil {
		return err
	}
	s.col.kill()
	os.Remove(filler)
	s.snmp = mk.byLabel("hostflow_enrich_snmp_requests_total", "result")
	s.snmp["breaker trips"] = mk.sum("hostflow_enrich_snmp_breaker_trips_total")
	ack := func(m metrics) float64 {
		return m.sum("hostflow_store_rows_total", `table="hostflow.flows"`)
	}
	acked := ack(mk) - ack(m0)
	decoded := mk.sum("hostflow_collector_flows_total") - m0.sum("hostflow_collector_flows_total") -
		(mk.sum("hostflow_collector_dropped_flows_total") - m0.sum("hostflow_collector_dropped_flows_total"))
	spooled := mk.sum("hostflow_store_spool_blocks")
	if err := <-errc; err != nil {
		return err
	}
	restart := time.Now()
	if s.col, err = startCollector(s.o, s.dir, s.ports, s.log); err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	up := time.Since(restart)
	// The spool is replayed in the background after the start: once it
	// is empty, the agent's rows from then on arrived after the restart
	// (a few of its live ones may be counted as from before: the check is
	// stored ≥ acknowledged). The agent is stopped before waiting for the
	// store to drain (it never stops sending).
	if err := s.col.waitSpoolEmpty(s.ctx, 2*time.Minute); err != nil {
		return err
	}
	aR, err := s.agentRows()
	if err != nil {
		return err
	}
	if err := s.agentResumed(aR); err != nil {
		return err
	}
	if err := s.col.waitDrained(s.ctx, 2*time.Minute); err != nil {
		return err
	}
	f1, err := s.storedFlows()
	if err != nil {
		return err
	}
	aE, err := s.agentRows()
	if err != nil {
		return err
	}
	r := row{phase: "kill -9 under load (spool holding blocks), restart", offered: rep["rate"], decoded: -1, decodedMin: -1,
		drops: drops(m0, mk), expected: acked, stored: f1 - f0 - (aE - aR), represented: -1, want: -1}
	s.check(r.stored >= r.expected, "kill -9: %.0f rows stored, %.0f acknowledged before the kill", r.stored, r.expected)
	s.note("kill -9: %.0f flows decoded before the kill, %.0f acknowledged (inserted or spooled; %.0f blocks in the spool), "+
		"%.0f stored after the restart; the %.0f neither acknowledged nor stored were in memory (appender blocks, writer queue); restart ready in %s",
		decoded, acked, spooled, r.stored, max(decoded-r.stored, 0), up.Round(100*time.Millisecond))
	s.rows = append(s.rows, r)
	return nil
}

// agentRows is the number of rows stored from the soak's agent.
func (s *soak) agentRows() (float64, error) {
	by, err := s.col.stored(s.start)
	var n float64
	for e, t := range by {
		if strings.HasSuffix(e, agentAddress) {
			n += t.flows
		}
	}
	return n, err
}

// agentResumed checks the agent outlived the collector's kill and that its
// flows reach the restarted collector (bounded wait; a0 rows from it were
// stored before), then stops it.
func (s *soak) agentResumed(a0 float64) error {
	defer s.agent.stop()
	if !s.check(s.agent.alive(), "agent died while the collector was down: %v", s.agent.err) {
		return nil
	}
	a1, start := a0, time.Now()
	for a1 == a0 && time.Since(start) < 30*time.Second {
		time.Sleep(2 * time.Second)
		var err error
		if a1, err = s.agentRows(); err != nil {
			return err
		}
	}
	m, err := s.agent.metrics()
	if err != nil {
		return err
	}
	s.check(a1 > a0, "agent: no flow stored from it after the collector's restart (%.0f rows before and after)", a0)
	s.note("agent (real, sampling lo 1:4, exporter %s): alive through the kill; send errors by reason %v, datagrams dropped by reason %v; "+
		"its flows stored again within %s of the collector being ready",
		agentAddress, m.byLabel("hostflow_agent_exporter_send_errors_total", "reason"),
		m.byLabel("hostflow_agent_exporter_dropped_datagrams_total", "reason"), time.Since(start).Round(time.Second))
	return nil
}

// allowList sends from a source outside inlet.allowed-exporters.
func (s *soak) allowList() error {
	f0, err := s.storedFlows()
	if err != nil {
		return err
	}
	m0, _ := s.col.metrics()
	rep, err := s.generate(1000, 3*time.Second, "-src", "127.0.0.9", "-sockets", "1", "-streams", "1")
	if err != nil {
		return err
	}
	time.Sleep(3 * time.Second)
	m1, _ := s.col.metrics()
	f1, err := s.storedFlows()
	if err != nil {
		return err
	}
	r := row{phase: "exporter outside the allow-list", offered: rep["rate"], decoded: -1, decodedMin: -1, drops: drops(m0, m1),
		expected: 0, stored: f1 - f0, represented: -1, want: -1}
	s.check(r.drops["inlet not_allowed"] == rep["datagrams"], "allow-list: %.0f datagrams counted not_allowed, %.0f sent", r.drops["inlet not_allowed"], rep["datagrams"])
	s.check(r.stored == 0, "allow-list: %.0f rows stored from a refused exporter", r.stored)
	s.rows = append(s.rows, r)
	return nil
}

// checkSecrets: the SNMP community of the configuration never appears in
// the collector's log, nor in what -print-config prints (which operators
// paste into tickets).
func (s *soak) checkSecrets(logPath string) {
	b, err := os.ReadFile(logPath)
	if err != nil {
		s.check(false, "read the collector log: %v", err)
		return
	}
	s.check(!bytes.Contains(b, []byte(secretCommunity)), "the SNMP community appears in the collector log")
	out, err := exec.Command(s.o.hostflow, "collector", "-c", filepath.Join(s.dir, "collector.yaml"), "-print-config").Output()
	if !s.check(err == nil, "hostflow collector -print-config: %v", err) {
		return
	}
	s.check(bytes.Contains(out, []byte("communities")), "-print-config printed no SNMP communities key")
	s.check(!bytes.Contains(out, []byte(secretCommunity)), "the SNMP community appears in the output of -print-config")
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func num(v float64) string {
	if v < 0 {
		return "–"
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

func (s *soak) print(w io.Writer) {
	fmt.Fprintf(w, "\n| phase | offered flows/s | decoded flows/s (slowest second) | collector CPU cores, µs/flow | memory peak / bound | drops by reason | rows expected | rows stored | flows represented by kept rows (Σ k) / decoded |\n")
	fmt.Fprintf(w, "|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range s.rows {
		var ds []string
		for k, v := range r.drops {
			ds = append(ds, fmt.Sprintf("%s %.0f", k, v))
		}
		slices.Sort(ds)
		dec := num(r.decoded)
		if r.decodedMin >= 0 {
			dec += " (" + num(r.decodedMin) + ")"
		}
		cpu := "–"
		if r.cores > 0 {
			cpu = fmt.Sprintf("%.2f, %.2f", r.cores, r.usPerFlow)
		}
		mem := "–"
		if r.rss > 0 {
			mem = mib(r.rss) + " / " + mib(r.bound)
		}
		rep := "–"
		if r.represented >= 0 {
			rep = fmt.Sprintf("%s / %s", num(r.represented), num(r.want))
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.phase, num(r.offered), dec, cpu, mem,
			strings.Join(ds, ", "), num(r.expected), num(r.stored), rep)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Collector: %d sockets, rate-limit %d flows/s per exporter, store.max-memory %s, GOMEMLIMIT %s, batch-rows %d, queue-blocks %d; "+
		"memory bound = max-memory + GOMEMLIMIT + mapped files (libchdb's code) at the peak.\n",
		s.o.sockets, s.o.rateLimit, mib(s.o.maxMemory), mib(s.o.goMemLimit), s.o.batchRows, s.o.queueBlocks)
	for _, n := range s.notes {
		fmt.Fprintln(w, "- "+n)
	}
	if s.failed {
		fmt.Fprintln(w, "RESULT: FAIL")
	} else {
		fmt.Fprintln(w, "RESULT: PASS")
	}
}
