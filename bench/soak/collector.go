package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// collectorConfig is the collector's configuration file: one sFlow
// listener on loopback, the embedded store on the fault tmpfs with its
// spool on disk, the rate limit, SNMP polling every exporter at an address
// that never answers (SNMP timeouts all along), an allow-list, and the
// console open for reading on loopback (where the soak counts rows).
func collectorConfig(o *options, dir string, ports ports) string {
	return fmt.Sprintf(`log: {format: json, level: info}
http: {listen: "127.0.0.1:%[1]d"}
inlet:
  listeners:
    - {protocol: sflow, listen: "127.0.0.1:%[2]d", sockets: %[3]d, receive-buffer: %[4]d, max-datagram: 9216, batch: 64}
  allowed-exporters: [127.0.0.1/32, 127.0.0.2/31, 127.0.0.4/31]
collector:
  rate-limit: %[5]d
enrich:
  snmp:
    credentials:
      - {prefixes: [0.0.0.0/0, "::/0"], version: 2c, communities: [%[6]s]}
    agents:
      - {prefix: 0.0.0.0/0, address: "127.0.0.1:%[7]d"}
      - {prefix: "::/0", address: "127.0.0.1:%[7]d"}
    timeout: 1s
    retries: 0
    negative-ttl: 2s
store:
  path: %[8]s
  spool: {dir: %[9]s, max-bytes: %[10]d}
  max-memory: %[11]d
  batch-rows: %[12]d
  batch-time: 1s
  queue-blocks: %[13]d
console:
  listen: "127.0.0.1:%[14]d"
  auth: {anonymous: read}
`, ports.metrics, ports.sflow, o.sockets, o.rcvbuf, o.rateLimit, secretCommunity, ports.snmp,
		filepath.Join(dir, "store"), filepath.Join(dir, "spool"), o.spoolBytes, o.maxMemory, o.batchRows,
		o.queueBlocks, ports.console)
}

// secretCommunity must never show in the collector's log.
const secretCommunity = "soak-secret-community-7f3a"

type ports struct{ sflow, metrics, console, snmp, agentMetrics int }

// collector is one run of `hostflow collector`.
type collector struct {
	cmd   *exec.Cmd
	done  chan struct{}
	err   error
	ports ports
	mem   memPeak
}

// memPeak is the highest memory use seen, sampled every 100 ms.
type memPeak struct {
	mu              sync.Mutex
	rss, anon, file int64 // bytes
}

func startCollector(o *options, dir string, p ports, log io.Writer) (*collector, error) {
	cmd := exec.Command(o.hostflow, "collector", "-c", filepath.Join(dir, "collector.yaml"))
	cmd.Env = append(os.Environ(), "GOMEMLIMIT="+strconv.FormatInt(o.goMemLimit, 10))
	cmd.Stdout, cmd.Stderr = log, log
	// If the soak dies, the collector dies with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &collector{cmd: cmd, done: make(chan struct{}), ports: p}
	go func() { c.err = cmd.Wait(); close(c.done) }()
	go c.sampleMemory()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := c.metrics(); err == nil {
			if h, err := c.get("/api/v1/health"); err == nil && h != "" {
				return c, nil
			}
		}
		select {
		case <-c.done:
			return nil, fmt.Errorf("collector exited at start: %v", c.err)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.kill()
			return nil, fmt.Errorf("collector not ready within 2 minutes")
		}
	}
}

func (c *collector) sampleMemory() {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
		if err != nil {
			continue
		}
		c.mem.mu.Lock()
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			switch f[0] {
			case "VmRSS:":
				c.mem.rss = max(c.mem.rss, kb<<10)
			case "RssAnon:":
				c.mem.anon = max(c.mem.anon, kb<<10)
			case "RssFile:":
				c.mem.file = max(c.mem.file, kb<<10)
			}
		}
		c.mem.mu.Unlock()
	}
}

// peak returns the peaks so far and resets them.
func (c *collector) peak() (rss, anon, file int64) {
	c.mem.mu.Lock()
	defer c.mem.mu.Unlock()
	rss, anon, file = c.mem.rss, c.mem.anon, c.mem.file
	c.mem.rss, c.mem.anon, c.mem.file = 0, 0, 0
	return
}

func (c *collector) alive() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits.
func (c *collector) kill() {
	_ = c.cmd.Process.Kill()
	<-c.done
}

// stop sends SIGTERM (the collector flushes to the store or the spool) and
// waits up to a minute before killing.
func (c *collector) stop() error {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		return c.err
	case <-time.After(time.Minute):
		c.kill()
		return fmt.Errorf("still running a minute after SIGTERM")
	}
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

func (c *collector) get(path string) (string, error) {
	port := c.ports.console
	if path == "/metrics" {
		port = c.ports.metrics
	}
	return get(port, path)
}

// get fetches path on a loopback port.
func get(port int, path string) (string, error) {
	resp, err := httpClient.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s: %.300s", path, resp.Status, b)
	}
	return string(b), nil
}

// metrics is a scrape: "name{labels}" → value.
type metrics map[string]float64

func (c *collector) metrics() (metrics, error) { return scrape(c.ports.metrics) }

// scrape reads the Prometheus metrics served on a loopback port.
func scrape(port int) (metrics, error) {
	body, err := get(port, "/metrics")
	if err != nil {
		return nil, err
	}
	m := metrics{}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			m[line[:i]] = v
		}
	}
	return m, sc.Err()
}

// sum adds every series of name whose labels contain all of match
// (`reason="kernel"`).
func (m metrics) sum(name string, match ...string) float64 {
	var t float64
	for k, v := range m {
		base, labels, _ := strings.Cut(k, "{")
		if base != name {
			continue
		}
		ok := true
		for _, s := range match {
			ok = ok && strings.Contains(labels, s)
		}
		if ok {
			t += v
		}
	}
	return t
}

// byLabel sums name by the value of label.
func (m metrics) byLabel(name, label string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		base, labels, _ := strings.Cut(k, "{")
		if base != name {
			continue
		}
		_, after, ok := strings.Cut(labels, label+`="`)
		if !ok {
			continue
		}
		val, _, _ := strings.Cut(after, `"`)
		out[val] += v
	}
	return out
}

// stored is what the store holds, by exporter: flow records and the
// packets they stand for (Σ packets × sampling rate), read through the API
// from the store itself (time series totals over everything since the soak
// started).
func (c *collector) stored(since time.Time) (map[string]exporterTotals, error) {
	out := map[string]exporterTotals{}
	for _, unit := range []string{"fps", "pps"} {
		q := url.Values{"start": {since.Add(-2 * time.Minute).UTC().Format(time.RFC3339)},
			"end": {time.Now().Add(2 * time.Minute).UTC().Format(time.RFC3339)}, "unit": {unit}, "points": {"30"},
			"dimensions": {"ExporterAddress"}, "limit": {"50"}}
		body, err := c.get("/api/v1/timeseries?" + q.Encode())
		if err != nil {
			return nil, err
		}
		var ts struct {
			Series []struct {
				Labels []string
				Other  bool
				Stats  struct{ Total float64 }
			}
		}
		if err := json.Unmarshal([]byte(body), &ts); err != nil {
			return nil, fmt.Errorf("timeseries: %w", err)
		}
		for _, s := range ts.Series {
			key := strings.Join(s.Labels, ",")
			if s.Other {
				key = "(other)"
			}
			t := out[key]
			if unit == "fps" {
				t.flows += s.Stats.Total
			} else {
				t.packets += s.Stats.Total
			}
			out[key] = t
		}
	}
	return out, nil
}

// exporterTotals is what the store holds from one exporter.
type exporterTotals struct{ flows, packets float64 }

// totals adds up every exporter.
func totals(m map[string]exporterTotals) (flows, packets float64) {
	for _, t := range m {
		flows += t.flows
		packets += t.packets
	}
	return flows, packets
}

// waitDrained waits until the store is up with an empty spool and no
// queued block, and the rows it acknowledged are stored (bounded).
func (c *collector) waitDrained(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		m, err := c.metrics()
		if err == nil && m.sum("hostflow_store_up") == 1 && m.sum("hostflow_store_spool_blocks") == 0 &&
			m.sum("hostflow_store_queue_blocks") == 0 {
			// Blocks still in appenders are handed over after batch-time.
			time.Sleep(3 * time.Second)
			if m2, err := c.metrics(); err == nil && m2.sum("hostflow_store_spool_blocks") == 0 &&
				m2.sum("hostflow_store_rows_total", `table="hostflow.flows"`) == m.sum("hostflow_store_rows_total", `table="hostflow.flows"`) {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("store not drained within %s", limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// agentAddress is the sFlow agent address of the soak's real agent: its
// exporter in the store.
const agentAddress = "127.0.0.7"

// agentConfig samples loopback (the soak's own traffic: the generator's
// datagrams, its API and metrics requests) 1 in 4, so that the API polls
// alone are sampled once the generator has stopped, and sends to the
// collector from 127.0.0.1 (allowed), without process attribution (the
// soak tests the transport, not attribution).
func agentConfig(p ports) string {
	return fmt.Sprintf(`log: {format: json, level: info}
http: {listen: "127.0.0.1:%d"}
agent:
  collectors: ["127.0.0.1:%d"]
  agent-address: %s
  interfaces: [lo]
  sampling: {default: 4}
  polling: 5s
  process: {enabled: false}
`, p.agentMetrics, p.sflow, agentAddress)
}

// agent is one run of `hostflow agent`.
type agent struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	port int
}

func startAgent(o *options, dir string, p ports, log io.Writer) (*agent, error) {
	path := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(path, []byte(agentConfig(p)), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(o.hostflow, "agent", "-c", path)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	a := &agent{cmd: cmd, done: make(chan struct{}), port: p.agentMetrics}
	go func() { a.err = cmd.Wait(); close(a.done) }()
	for deadline := time.Now().Add(time.Minute); ; {
		if _, err := a.metrics(); err == nil {
			return a, nil
		}
		select {
		case <-a.done:
			return nil, fmt.Errorf("agent exited at start: %v", a.err)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			a.stop()
			return nil, fmt.Errorf("agent not ready within a minute")
		}
	}
}

func (a *agent) metrics() (metrics, error) { return scrape(a.port) }

func (a *agent) alive() bool {
	select {
	case <-a.done:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM, and SIGKILL after 10 s.
func (a *agent) stop() {
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(10 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.done
	}
}

// waitSpoolEmpty waits until the store is up with nothing left in the
// spool (bounded).
func (c *collector) waitSpoolEmpty(ctx context.Context, limit time.Duration) error {
	for deadline := time.Now().Add(limit); ; {
		if m, err := c.metrics(); err == nil && m.sum("hostflow_store_up") == 1 && m.sum("hostflow_store_spool_blocks") == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("spool not replayed within %s", limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// freePort returns a free loopback port of network (tcp or udp).
func freePort(network string) (int, error) {
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
