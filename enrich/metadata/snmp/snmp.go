// Package snmp is the metadata provider that polls exporters over SNMP
// (v2c or v3, IPv6 or IPv4) for sysName and, per interface, ifName,
// ifDescr, ifAlias and ifHighSpeed.
//
// It never blocks its callers: a lookup that misses records what is wanted
// and queues the exporter for a worker; the answer arrives later through
// Notify. Per exporter, requests are batched (every wanted ifIndex in as
// few PDUs as max-oids allows) and single-flight (one poll in progress;
// ifIndexes asked meanwhile join the next one). Answers are cached and
// refreshed while in use; unknown interfaces and failures are cached
// negatively; an exporter that keeps timing out trips a circuit breaker.
package snmp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hostflow/hostflow/enrich/iptrie"
	"github.com/hostflow/hostflow/enrich/metadata"
	"github.com/hostflow/hostflow/internal/daemon"
)

// OIDs polled.
const (
	oidSysName     = ".1.3.6.1.2.1.1.5.0"
	oidIfDescr     = ".1.3.6.1.2.1.2.2.1.2."
	oidIfName      = ".1.3.6.1.2.1.31.1.1.1.1."
	oidIfHighSpeed = ".1.3.6.1.2.1.31.1.1.1.15."
	oidIfAlias     = ".1.3.6.1.2.1.31.1.1.1.18."
)

// entry is a cached answer, positive or negative.
type entry struct {
	name    string             // sysName (exporter entry)
	iface   metadata.Interface // interface entry
	ok      bool               // positive answer
	fetched time.Time          // last successful answer (positive)
	retry   time.Time          // negative: ask again after
}

// device is the polling state of one exporter address. Fields are
// protected by Provider.mu except while a worker owns it (queued).
type device struct {
	addr   netip.Addr
	target netip.AddrPort
	cred   *Credentials

	sys     entry
	wantSys bool
	ifaces  map[uint32]*entry
	want    map[uint32]struct{}
	queued  bool // in the queue or being polled
	// What the poll in progress asks for: not asked again meanwhile.
	sysInflight bool
	inflight    map[uint32]struct{}

	timeouts  int
	openUntil time.Time // breaker open until then
	backoff   time.Duration
	community int // index of the community that answered last
}

// Provider polls exporters.
type Provider struct {
	cfg    Config
	r      *daemon.Reporter
	notify metadata.Notify
	creds  *iptrie.Trie[*Credentials]
	agents *iptrie.Trie[netip.AddrPort]

	mu      sync.Mutex
	devices map[netip.Addr]*device
	queue   chan *device

	requests *prometheus.CounterVec
	dropped  *prometheus.CounterVec
	trips    prometheus.Counter
	duration prometheus.Observer

	cancel context.CancelFunc
	wg     sync.WaitGroup
	now    func() time.Time
}

// New returns an inert provider; notify is called (without locks held)
// when answers arrive or expire.
func New(cfg Config, r *daemon.Reporter, notify metadata.Notify) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Provider{
		cfg:     cfg,
		r:       r,
		notify:  notify,
		creds:   iptrie.New[*Credentials](),
		agents:  iptrie.New[netip.AddrPort](),
		devices: map[netip.Addr]*device{},
		queue:   make(chan *device, cfg.QueueSize),
		requests: r.CounterVec("snmp_requests_total",
			"SNMP requests (one per PDU), by result: ok, timeout, auth (v3 authentication/privacy refused), error.", "result"),
		dropped: r.CounterVec("snmp_dropped_total",
			"Poll requests not queued, by reason (queue_full, breaker_open, max_interfaces).", "reason"),
		trips: r.Counter("snmp_breaker_trips_total", "Times an exporter's circuit breaker opened after repeated timeouts."),
		duration: r.HistogramVec("snmp_poll_seconds", "Duration of one exporter poll (all its PDUs).",
			[]float64{.005, .01, .05, .1, .5, 1, 2, 5, 10, 30}).WithLabelValues(),
		now: time.Now,
	}
	for i := range cfg.Credentials {
		c := &cfg.Credentials[i]
		for _, pf := range c.Prefixes {
			p.creds.Insert(pf.Prefix, c)
		}
	}
	for _, a := range cfg.Agents {
		ap, _ := parseAgent(a.Address, cfg.Port) // validated
		p.agents.Insert(a.Prefix.Prefix, ap)
	}
	r.GaugeFunc("snmp_exporters", "Exporters with SNMP state.", func() float64 {
		p.mu.Lock()
		defer p.mu.Unlock()
		return float64(len(p.devices))
	})
	r.GaugeFunc("snmp_breakers_open", "Exporters whose circuit breaker is open.", func() float64 {
		p.mu.Lock()
		defer p.mu.Unlock()
		n, now := 0, p.now()
		for _, d := range p.devices {
			if now.Before(d.openUntil) {
				n++
			}
		}
		return float64(n)
	})
	return p, nil
}

// Start starts the workers and the maintenance loop.
func (p *Provider) Start(ctx context.Context) error {
	ctx, p.cancel = context.WithCancel(ctx)
	for range p.cfg.Workers {
		p.wg.Add(1)
		go p.worker(ctx)
	}
	p.wg.Add(1)
	go p.maintain(ctx)
	return nil
}

// Stop stops the workers; a poll in progress is abandoned at its next
// request.
func (p *Provider) Stop() error {
	if p.cancel != nil {
		p.cancel()
		p.wg.Wait()
	}
	return nil
}

// device returns the state for addr, creating it when credentials cover
// it; nil when SNMP is not configured for addr. Called with p.mu held.
func (p *Provider) device(addr netip.Addr) *device {
	if d := p.devices[addr]; d != nil {
		return d
	}
	cred, ok, _ := p.creds.Lookup(addr)
	if !ok {
		return nil
	}
	target, ok, _ := p.agents.Lookup(addr)
	if !ok {
		target = netip.AddrPortFrom(addr, p.cfg.Port)
	}
	d := &device{addr: addr, target: target, cred: cred, ifaces: map[uint32]*entry{}, want: map[uint32]struct{}{},
		backoff: p.cfg.BreakerBackoff}
	p.devices[addr] = d
	return d
}

// FillExporter implements metadata.Provider: the exporter is named after
// its sysName unless an earlier provider named it.
func (p *Provider) FillExporter(k metadata.Key, e *metadata.Exporter) bool {
	if e.Name != "" {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.device(k.Addr)
	if d == nil {
		return false
	}
	if d.sys.ok {
		e.Merge(metadata.Exporter{Name: d.sys.name})
		return true
	}
	if p.now().After(d.sys.retry) && !d.sysInflight {
		d.wantSys = true
		p.schedule(d)
	}
	return false
}

// FillInterface implements metadata.Provider.
func (p *Provider) FillInterface(k metadata.Key, ifIndex uint32, i *metadata.Interface) bool {
	if i.Name != "" {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.device(k.Addr)
	if d == nil {
		return false
	}
	if en := d.ifaces[ifIndex]; en != nil {
		if en.ok {
			i.Merge(en.iface)
			return true
		}
		if p.now().Before(en.retry) {
			return false
		}
	}
	if _, ok := d.inflight[ifIndex]; ok {
		return false
	}
	if len(d.ifaces)+len(d.want) >= p.cfg.MaxInterfaces {
		p.dropped.WithLabelValues("max_interfaces").Inc()
		return false
	}
	d.want[ifIndex] = struct{}{}
	p.schedule(d)
	return false
}

// Forget implements metadata.Forgetter.
func (p *Provider) Forget(addr netip.Addr) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.devices, addr)
}

// schedule queues d for a worker unless it is queued already or its
// breaker is open; when the queue is full d keeps its wants and the
// maintenance loop tries again. Called with p.mu held; never blocks.
func (p *Provider) schedule(d *device) {
	if d.queued {
		return
	}
	if p.now().Before(d.openUntil) {
		p.dropped.WithLabelValues("breaker_open").Inc()
		return
	}
	select {
	case p.queue <- d:
		d.queued = true
	default:
		p.dropped.WithLabelValues("queue_full").Inc()
	}
}

func (p *Provider) worker(ctx context.Context) {
	defer p.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case d := <-p.queue:
			p.poll(ctx, d)
		}
	}
}

// maintain refreshes, expires and retries cached answers.
func (p *Provider) maintain(ctx context.Context) {
	defer p.wg.Done()
	tick := min(p.cfg.NegativeTTL, p.cfg.Refresh, p.cfg.BreakerBackoff) / 4
	t := time.NewTicker(max(tick, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, c := range p.sweep() {
				p.notify(c)
			}
		}
	}
}

// sweep marks answers due for refresh or retry as wanted, drops those
// past their TTL, and reschedules exporters with wants.
func (p *Provider) sweep() []metadata.Change {
	now := p.now()
	var changes []metadata.Change
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range p.devices {
		c := metadata.Change{Addr: d.addr, AllSubAgents: true}
		if d.sys.ok && now.Sub(d.sys.fetched) > p.cfg.TTL {
			d.sys = entry{}
			c.Exporter = true
		}
		if (d.sys.ok && now.Sub(d.sys.fetched) > p.cfg.Refresh) || (!d.sys.ok && !d.sys.retry.IsZero() && now.After(d.sys.retry)) {
			d.wantSys = true
		}
		for idx, en := range d.ifaces {
			switch {
			case en.ok && now.Sub(en.fetched) > p.cfg.TTL:
				delete(d.ifaces, idx)
				c.IfIndexes = append(c.IfIndexes, idx)
			case en.ok && now.Sub(en.fetched) > p.cfg.Refresh, !en.ok && now.After(en.retry):
				d.want[idx] = struct{}{}
			}
		}
		if d.wantSys || len(d.want) > 0 {
			p.schedule(d)
		}
		if c.Exporter || len(c.IfIndexes) > 0 {
			changes = append(changes, c)
		}
	}
	return changes
}

// poll fetches what d wants. The device is owned by this worker until
// queued is cleared.
func (p *Provider) poll(ctx context.Context, d *device) {
	p.mu.Lock()
	wantSys := d.wantSys
	idxs := make([]uint32, 0, len(d.want))
	for idx := range d.want {
		idxs = append(idxs, idx)
	}
	d.sysInflight, d.inflight = wantSys, d.want
	d.wantSys, d.want = false, map[uint32]struct{}{}
	p.mu.Unlock()
	slices.Sort(idxs)

	start := p.now()
	res, err := p.fetch(ctx, d, wantSys, idxs)
	p.duration.Observe(p.now().Sub(start).Seconds())

	now := p.now()
	change := metadata.Change{Addr: d.addr, AllSubAgents: true}
	p.mu.Lock()
	switch {
	case err != nil:
		p.failed(d, err, now, wantSys, idxs)
	default:
		d.timeouts, d.backoff = 0, p.cfg.BreakerBackoff
		if wantSys {
			old := d.sys
			if name := res.str(oidSysName); name != "" {
				d.sys = entry{name: name, ok: true, fetched: now}
			} else if !old.ok {
				d.sys = entry{retry: now.Add(p.cfg.NegativeTTL)}
			}
			change.Exporter = d.sys.name != old.name
		}
		for _, idx := range idxs {
			old := d.ifaces[idx]
			n := res.iface(idx, now)
			if !n.ok {
				if old != nil && old.ok {
					// Keep serving the previous answer until the TTL.
					continue
				}
				n.retry = now.Add(p.cfg.NegativeTTL)
			}
			d.ifaces[idx] = n
			if old == nil || old.iface != n.iface {
				change.IfIndexes = append(change.IfIndexes, idx)
			}
		}
	}
	d.queued, d.sysInflight, d.inflight = false, false, nil
	if (d.wantSys || len(d.want) > 0) && p.devices[d.addr] == d {
		p.schedule(d)
	}
	p.mu.Unlock()
	if change.Exporter || len(change.IfIndexes) > 0 {
		p.notify(change)
	}
}

// failed records a failed poll: negative entries, breaker accounting and
// a rate-limited log. Called with p.mu held.
func (p *Provider) failed(d *device, err error, now time.Time, wantSys bool, idxs []uint32) {
	retry := now.Add(p.cfg.NegativeTTL)
	if wantSys && !d.sys.ok {
		d.sys.retry = retry
	}
	for _, idx := range idxs {
		if en := d.ifaces[idx]; en == nil || !en.ok {
			d.ifaces[idx] = &entry{retry: retry}
		}
	}
	attrs := []any{"exporter", d.addr, "agent", d.target, "version", d.cred.Version, "error", err}
	if errors.Is(err, errTimeout) {
		d.timeouts++
		if d.timeouts >= p.cfg.BreakerThreshold {
			d.openUntil = now.Add(d.backoff)
			attrs = append(attrs, "breaker_open_for", d.backoff)
			d.backoff = min(2*d.backoff, p.cfg.BreakerMaxBackoff)
			d.timeouts = 0
			p.trips.Inc()
		}
	}
	p.r.Limited("snmp_"+d.addr.String(), "SNMP poll failed; names stay empty", attrs...)
}

// errTimeout marks an exporter that did not answer.
var errTimeout = errors.New("no answer")

// result holds the variables of one poll by OID.
type result map[string]gosnmp.SnmpPDU

func (r result) str(oid string) string {
	v, ok := r[oid]
	if !ok {
		return ""
	}
	if b, ok := v.Value.([]byte); ok && v.Type == gosnmp.OctetString {
		return strings.Clone(strings.TrimRight(string(b), "\x00"))
	}
	return ""
}

func (r result) iface(idx uint32, now time.Time) *entry {
	s := strconv.FormatUint(uint64(idx), 10)
	name, descr, alias := r.str(oidIfName+s), r.str(oidIfDescr+s), r.str(oidIfAlias+s)
	if name == "" {
		name = descr
	}
	if name == "" {
		return &entry{}
	}
	var speed uint32
	if v, ok := r[oidIfHighSpeed+s]; ok && v.Type == gosnmp.Gauge32 {
		speed = uint32(gosnmp.ToBigInt(v.Value).Uint64())
	}
	return &entry{ok: true, fetched: now, iface: metadata.Interface{Name: name, Description: alias, Speed: speed}}
}

// fetch runs the requests of one poll.
func (p *Provider) fetch(ctx context.Context, d *device, sys bool, idxs []uint32) (result, error) {
	var oids []string
	if sys {
		oids = append(oids, oidSysName)
	}
	for _, idx := range idxs {
		s := strconv.FormatUint(uint64(idx), 10)
		oids = append(oids, oidIfName+s, oidIfDescr+s, oidIfAlias+s, oidIfHighSpeed+s)
	}
	if len(oids) == 0 {
		return result{}, nil
	}
	out := result{}
	if d.cred.Version == "3" {
		return out, p.session(ctx, d, "", oids, out)
	}
	// v2c: try the communities, the one that answered last first. A wrong
	// community is indistinguishable from silence in v2c (agents drop the
	// request), so the error says both.
	n := len(d.cred.Communities)
	for i := range n {
		ci := (d.community + i) % n
		err := p.session(ctx, d, d.cred.Communities[ci], oids, out)
		if err == nil {
			d.community = ci
			return out, nil
		}
		if !errors.Is(err, errTimeout) {
			return out, err
		}
	}
	return out, fmt.Errorf("snmp %s: %w with any of %d communities (wrong community, agent ACL, or agent unreachable)",
		d.target, errTimeout, n)
}

// session opens a client and sends the requests, max-oids at a time.
func (p *Provider) session(ctx context.Context, d *device, community string, oids []string, out result) error {
	g := &gosnmp.GoSNMP{
		Target:    d.target.Addr().String(),
		Port:      d.target.Port(),
		Transport: "udp",
		Community: community,
		Version:   gosnmp.Version2c,
		Timeout:   p.cfg.Timeout,
		Retries:   p.cfg.Retries,
		MaxOids:   p.cfg.MaxOIDs,
		Context:   ctx,
	}
	if d.cred.Version == "3" {
		configureV3(g, d.cred)
	}
	if err := g.Connect(); err != nil {
		p.requests.WithLabelValues("error").Inc()
		return fmt.Errorf("snmp %s: connect: %w", d.target, err)
	}
	defer g.Conn.Close()
	for chunk := range slices.Chunk(oids, p.cfg.MaxOIDs) {
		pkt, err := g.Get(chunk)
		if err != nil {
			return p.classify(d, err)
		}
		if pkt.Error != gosnmp.NoError {
			p.requests.WithLabelValues("error").Inc()
			return fmt.Errorf("snmp %s: agent answered %s", d.target, pkt.Error)
		}
		p.requests.WithLabelValues("ok").Inc()
		for _, v := range pkt.Variables {
			out[v.Name] = v
		}
	}
	return nil
}

// classify counts a request error and wraps it with what it most likely
// means.
func (p *Provider) classify(d *device, err error) error {
	switch {
	case errors.Is(err, gosnmp.ErrMaxRetriesExceeded), errors.Is(err, context.DeadlineExceeded):
		p.requests.WithLabelValues("timeout").Inc()
		if d.cred.Version == "3" {
			return fmt.Errorf("snmp %s: %w (agent unreachable, or a wrong privacy passphrase or protocol, which agents do not report)",
				d.target, errTimeout)
		}
		return errTimeout
	case errors.Is(err, gosnmp.ErrWrongDigest), isUnauthenticatedReport(err):
		p.requests.WithLabelValues("auth").Inc()
		return fmt.Errorf("snmp %s: user %q: the agent refused authentication (unknown user, or wrong authentication passphrase or protocol): %w",
			d.target, d.cred.User, err)
	case errors.Is(err, gosnmp.ErrUnknownUsername):
		p.requests.WithLabelValues("auth").Inc()
		return fmt.Errorf("snmp %s: user %q unknown to the agent: %w", d.target, d.cred.User, err)
	case errors.Is(err, gosnmp.ErrDecryption), errors.Is(err, gosnmp.ErrUnknownSecurityLevel),
		errors.Is(err, gosnmp.ErrUnknownSecurityModels):
		p.requests.WithLabelValues("auth").Inc()
		return fmt.Errorf("snmp %s: user %q: privacy or security level refused (wrong privacy passphrase or protocol?): %w",
			d.target, d.cred.User, err)
	}
	p.requests.WithLabelValues("error").Inc()
	return fmt.Errorf("snmp %s: %w", d.target, err)
}

// isUnauthenticatedReport recognizes the agent's unauthenticated report
// (usmStatsWrongDigests, usmStatsUnknownUserNames) that gosnmp refuses to
// parse when authentication is configured. gosnmp has no sentinel error for
// it, hence the text match.
func isUnauthenticatedReport(err error) bool {
	s := err.Error()
	return strings.Contains(s, "not authentic") || strings.Contains(s, "requires authentication")
}

func configureV3(g *gosnmp.GoSNMP, c *Credentials) {
	g.Version = gosnmp.Version3
	g.SecurityModel = gosnmp.UserSecurityModel
	g.ContextName = c.ContextName
	sp := &gosnmp.UsmSecurityParameters{UserName: c.User, AuthenticationProtocol: gosnmp.NoAuth,
		PrivacyProtocol: gosnmp.NoPriv}
	g.MsgFlags = gosnmp.NoAuthNoPriv
	if c.AuthProtocol != "" {
		sp.AuthenticationProtocol = authProtocols[strings.ToUpper(c.AuthProtocol)]
		sp.AuthenticationPassphrase = c.AuthPassphrase
		g.MsgFlags = gosnmp.AuthNoPriv
		if c.PrivProtocol != "" {
			sp.PrivacyProtocol = privProtocols[strings.ToUpper(c.PrivProtocol)]
			sp.PrivacyPassphrase = c.PrivPassphrase
			g.MsgFlags = gosnmp.AuthPriv
		}
	}
	g.SecurityParameters = sp
}
