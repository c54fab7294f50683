// Package procmap attributes sampled packets to the local process that
// owns their socket: sock_diag (NETLINK_SOCK_DIAG) finds the socket by its
// 5-tuple (and its tcp_info for TCP), a bounded incremental scan of
// /proc/*/fd maps the socket inode to a pid, and /proc/<pid> names the
// process, its cgroup, systemd unit and container. Everything is cached
// with bounds and negative entries, so the steady-state cost per sample is
// one map lookup.
package procmap

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/hostflow/hostflow/internal/config"
	"github.com/hostflow/hostflow/internal/daemon"
	"github.com/prometheus/client_golang/prometheus"
)

// Config tunes process attribution.
type Config struct {
	// Enabled turns attribution on.
	Enabled bool `yaml:"enabled"`
	// CacheSize bounds the number of flows (5-tuples) remembered.
	CacheSize int `yaml:"cache-size"`
	// TTL is how long an answer (process, tcp_info) is reused for a flow.
	TTL time.Duration `yaml:"ttl"`
	// NegativeTTL is how long "no local socket" is remembered.
	NegativeTTL time.Duration `yaml:"negative-ttl"`
	// ScanInterval is the least time between two passes over /proc/*/fd.
	ScanInterval time.Duration `yaml:"scan-interval"`
	// ScanBudget bounds the time one lookup may spend scanning /proc.
	ScanBudget time.Duration `yaml:"scan-budget"`
	// ScanShare bounds the time spent scanning /proc per second of wall
	// time (0.05 = at most 5 % of one core).
	ScanShare float64 `yaml:"scan-share"`
	// MaxSockets bounds the socket inode → pid map.
	MaxSockets int `yaml:"max-sockets"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{Enabled: true, CacheSize: 16384, TTL: 2 * time.Second, NegativeTTL: 2 * time.Second,
		ScanInterval: 250 * time.Millisecond, ScanBudget: 5 * time.Millisecond, ScanShare: 0.05, MaxSockets: 1 << 18}
}

// Validate checks the values.
func (c Config) Validate() error {
	var errs []error
	if c.CacheSize < 16 {
		errs = append(errs, config.Errorf("cache-size", "must be at least 16, not %d", c.CacheSize))
	}
	if c.TTL <= 0 || c.NegativeTTL <= 0 {
		errs = append(errs, config.Errorf("ttl", "ttl and negative-ttl must be positive"))
	}
	if c.ScanInterval < 100*time.Millisecond {
		errs = append(errs, config.Errorf("scan-interval", "must be at least 100ms, not %v", c.ScanInterval))
	}
	if c.ScanBudget <= 0 || c.ScanBudget > time.Second {
		errs = append(errs, config.Errorf("scan-budget", "must be in (0, 1s], not %v", c.ScanBudget))
	}
	if c.ScanShare <= 0 || c.ScanShare > 1 {
		errs = append(errs, config.Errorf("scan-share", "must be in (0, 1], not %v", c.ScanShare))
	}
	if c.MaxSockets < 1024 {
		errs = append(errs, config.Errorf("max-sockets", "must be at least 1024, not %d", c.MaxSockets))
	}
	return errors.Join(errs...)
}

// Tuple identifies a sampled packet's flow from the host's side.
type Tuple struct {
	Proto         uint8 // 6 TCP, 17 UDP
	Local, Remote netip.AddrPort
}

// Result is what is known about a flow's local socket.
type Result struct {
	// Socket is true when a local socket matched.
	Socket     bool
	UID        uint32
	User       []byte   // user name, or the uid in decimal
	Process    *Process // nil when the socket's owner was not found
	HasTCPInfo bool
	TCPInfo    TCPInfo
}

type entry struct {
	res     Result
	expires time.Time
}

type procEntry struct {
	p       *Process
	expires time.Time
}

// Map answers lookups. It is not safe for concurrent use: the agent calls
// it from one worker.
type Map struct {
	cfg   Config
	proc  string
	diag  *diag
	scan  *inodeScanner
	users users
	flows map[Tuple]entry
	procs map[uint32]procEntry
	udp   []Socket
	udpV6 bool
	udpAt time.Time
	*Metrics
	// window and spent enforce ScanShare: scan time used in the current
	// one-second window.
	window time.Time
	spent  time.Duration
}

// retryOwner is how long "socket found, owner not yet" is cached: the next
// lookup continues the /proc scan where it stopped.
const retryOwner = 100 * time.Millisecond

// Lookup outcomes (label values of hostflow_agent_procmap_lookups_total).
const (
	resultCached    = "cached"
	resultFound     = "found"
	resultNoSocket  = "no_socket"
	resultNoProcess = "no_process"
	resultError     = "error"
)

// Deps are the map's collaborators. Proc and Passwd default to /proc and
// /etc/passwd.
type Deps struct {
	Metrics      *Metrics
	Proc, Passwd string
}

// Metrics are the attribution counters. The agent registers them when it
// is built, before attribution starts (or fails to): they are scraped at
// zero rather than missing, and the metrics reference lists them.
type Metrics struct {
	results         map[string]prometheus.Counter
	scanDur, passes prometheus.Counter
}

// NewMetrics registers the counters on r (prefix procmap_).
func NewMetrics(r *daemon.Reporter) *Metrics {
	r = r.Sub("procmap")
	lookups := r.CounterVec("lookups_total", "Process attribution lookups by result.", "result")
	m := &Metrics{results: map[string]prometheus.Counter{},
		scanDur: r.Counter("scan_seconds_total", "Time spent scanning /proc/*/fd for socket owners."),
		passes:  r.Counter("scan_passes_total", "Complete passes over /proc started."),
	}
	for _, res := range []string{resultCached, resultFound, resultNoSocket, resultNoProcess, resultError} {
		m.results[res] = lookups.WithLabelValues(res)
	}
	return m
}

// New opens the sock_diag socket.
func New(cfg Config, deps Deps) (*Map, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Metrics == nil {
		return nil, errors.New("procmap: metrics are required (NewMetrics)")
	}
	if deps.Proc == "" {
		deps.Proc = "/proc"
	}
	if deps.Passwd == "" {
		deps.Passwd = "/etc/passwd"
	}
	d, err := newDiag(100 * time.Millisecond)
	if err != nil {
		return nil, fmt.Errorf("procmap: %w", err)
	}
	m := &Map{cfg: cfg, proc: deps.Proc, diag: d, scan: newInodeScanner(deps.Proc, cfg.MaxSockets, deps.Metrics.passes),
		users: users{path: deps.Passwd}, flows: map[Tuple]entry{}, procs: map[uint32]procEntry{},
		Metrics: deps.Metrics}
	return m, nil
}

// Close releases the netlink socket.
func (m *Map) Close() error { return m.diag.close() }

// Lookup fills out for t. It may spend up to a few milliseconds on a cache
// miss (netlink round trips and a bounded /proc scan step); hits cost a map
// lookup.
func (m *Map) Lookup(t Tuple, now time.Time, out *Result) {
	if e, ok := m.flows[t]; ok && now.Before(e.expires) {
		*out = e.res
		m.results[resultCached].Inc()
		return
	}
	var s Socket
	var err error
	switch t.Proto {
	case 6:
		err = m.diag.lookupTCP(t.Local, t.Remote, &s)
	case 17:
		err = m.lookupUDP(t, now, &s)
	default:
		err = errNotFound
	}
	*out = Result{}
	ttl := m.cfg.TTL
	switch {
	case errors.Is(err, errNotFound):
		m.results[resultNoSocket].Inc()
		ttl = m.cfg.NegativeTTL
	case err != nil:
		m.results[resultError].Inc()
		ttl = m.cfg.NegativeTTL
	default:
		out.Socket, out.UID, out.User = true, s.UID, m.users.name(s.UID)
		out.HasTCPInfo, out.TCPInfo = s.HasTCPInfo, s.TCPInfo
		out.Process = m.owner(s.Inode, now)
		if out.Process == nil {
			m.results[resultNoProcess].Inc()
			// Retry soon: the next scan step may find the owner.
			ttl = min(ttl, retryOwner)
		} else {
			m.results[resultFound].Inc()
		}
	}
	if len(m.flows) >= m.cfg.CacheSize {
		m.evict(now)
	}
	m.flows[t] = entry{res: *out, expires: now.Add(ttl)}
}

// evict drops expired flows, then, if still full, an arbitrary half.
func (m *Map) evict(now time.Time) {
	for k, e := range m.flows {
		if now.After(e.expires) {
			delete(m.flows, k)
		}
	}
	for k := range m.flows {
		if len(m.flows) < m.cfg.CacheSize/2 {
			break
		}
		delete(m.flows, k)
	}
}

// owner maps a socket inode to its process, scanning /proc within budget.
func (m *Map) owner(inode uint64, now time.Time) *Process {
	if inode == 0 {
		return nil
	}
	pid, ok := m.scan.lookup(inode)
	if !ok {
		start := time.Now()
		if start.Sub(m.window) >= time.Second {
			m.window, m.spent = start, 0
		}
		budget := min(m.cfg.ScanBudget, time.Duration(m.cfg.ScanShare*float64(time.Second))-m.spent)
		if budget > 0 && m.scan.step(budget, m.cfg.ScanInterval) {
			d := time.Since(start)
			m.spent += d
			m.scanDur.Add(d.Seconds())
		}
		if pid, ok = m.scan.lookup(inode); !ok {
			return nil
		}
	}
	if e, ok := m.procs[pid]; ok && now.Before(e.expires) {
		return e.p
	}
	p, ok := readProcess(m.proc, pid)
	if !ok {
		return nil
	}
	if len(m.procs) >= m.cfg.CacheSize {
		clear(m.procs)
	}
	m.procs[pid] = procEntry{p: p, expires: now.Add(30 * time.Second)}
	return p
}

// udpDumpInterval bounds how often the UDP socket table is dumped.
const udpDumpInterval = 250 * time.Millisecond

// lookupUDP matches t against a recent dump of the UDP sockets. UDP sockets
// are mostly unconnected, so the best match is the most specific: connected
// to the remote, bound to the local address, or bound to the wildcard.
func (m *Map) lookupUDP(t Tuple, now time.Time, out *Socket) error {
	v6 := t.Local.Addr().Is6()
	if s, ok := bestUDP(m.udp, t); ok && m.udpV6 == v6 {
		*out = *s
		return nil
	}
	if now.Sub(m.udpAt) < udpDumpInterval && m.udpV6 == v6 {
		return errNotFound
	}
	m.udp, m.udpV6, m.udpAt = m.udp[:0], v6, now
	collect := func(s *Socket) bool { m.udp = append(m.udp, *s); return len(m.udp) < 65536 }
	if err := m.diag.dumpUDP(v6, collect); err != nil {
		return err
	}
	if !v6 {
		// Dual-stack sockets (bound to ::) also receive IPv4.
		if err := m.diag.dumpUDP(true, collect); err != nil {
			return err
		}
	}
	if s, ok := bestUDP(m.udp, t); ok {
		*out = *s
		return nil
	}
	return errNotFound
}

func bestUDP(socks []Socket, t Tuple) (*Socket, bool) {
	best, bestScore := -1, -1
	for i := range socks {
		s := &socks[i]
		if s.Local.Port() != t.Local.Port() {
			continue
		}
		la, ra := s.Local.Addr().Unmap(), s.Remote.Addr().Unmap()
		score := 0
		switch {
		case la == t.Local.Addr().Unmap():
			score += 2
		case !la.IsUnspecified():
			continue
		}
		switch {
		case s.Remote.Port() == t.Remote.Port() && ra == t.Remote.Addr().Unmap():
			score += 4
		case s.Remote.Port() != 0:
			continue
		}
		if score > bestScore {
			best, bestScore = i, score
		}
	}
	if best < 0 {
		return nil, false
	}
	return &socks[best], true
}
