//go:build !notailnet

package tailnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"tailscale.com/client/local"
	"tailscale.com/envknob"
	"tailscale.com/ipn"
	"tailscale.com/ipn/store/mem"
	"tailscale.com/logtail"
	"tailscale.com/tsnet"

	"github.com/hostflow/hostflow/inlet"
	"github.com/hostflow/hostflow/internal/daemon"
)

// Built reports whether this binary includes the embedded tailnet node
// (false with -tags notailnet).
const Built = true

// Node is the embedded tailnet node component.
type Node struct {
	cfg  Config
	deps Dependencies
	r    *daemon.Reporter

	srv     *tsnet.Server
	lc      *local.Client
	tempDir string
	addrs   atomic.Pointer[[]netip.Addr]
	console lateListener
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	state  atomic.Value // string: ipn backend state seen last
	up     prometheus.Gauge
	peers  prometheus.Gauge
	whois  *prometheus.CounterVec
	idents *prometheus.CounterVec
}

// New checks cfg and returns an inert node.
func New(cfg Config, deps Dependencies) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Getenv == nil {
		deps.Getenv = os.Getenv
	}
	r := deps.Reporter.Sub("tailnet")
	n := &Node{cfg: cfg, deps: deps, r: r,
		up:     r.Gauge("up", "1 while the embedded node is connected to the tailnet (backend state Running)."),
		peers:  r.Gauge("peers_online", "Peers of the embedded node seen online."),
		whois:  r.CounterVec("whois_total", "WhoIs lookups, by result (ok, not_found, error).", "result"),
		idents: r.CounterVec("console_identities_total", "Console requests identified over the tailnet, by scope granted (none = refused).", "scope"),
	}
	n.console.n = n
	n.state.Store("NoState")
	r.RegisterHealth("node", func() error {
		if s := n.state.Load().(string); s != ipn.Running.String() {
			return fmt.Errorf("tailnet node state %s", s)
		}
		return nil
	})
	return n, nil
}

// Start joins the tailnet (within up-timeout), waits until the node has a
// DERP home and endpoints, and opens the console listener when the console
// is tailnet-only.
func (n *Node) Start(ctx context.Context) error {
	// Never upload Tailscale's logs (log.tailscale.com): both switches are
	// process-wide, which is what a hostflow binary wants.
	envknob.SetNoLogsNoSupport()
	logtail.Disable()
	key, err := n.cfg.authKey(n.deps.Getenv)
	if err != nil {
		return fmt.Errorf("tailnet: %w", err)
	}
	log := n.r.Logger()
	srv := &tsnet.Server{
		Hostname:      n.cfg.hostname(),
		Ephemeral:     n.cfg.Ephemeral,
		AuthKey:       key,
		ControlURL:    n.cfg.ControlURL,
		AdvertiseTags: n.cfg.Tags,
		UserLogf:      func(format string, args ...any) { log.Info(fmt.Sprintf(format, args...)) },
	}
	if log.Enabled(ctx, slog.LevelDebug) {
		srv.Logf = func(format string, args ...any) { log.Debug(fmt.Sprintf(format, args...)) }
	}
	if n.cfg.StateDir == "" {
		// In-memory state; tsnet still wants a directory for its own files.
		if n.tempDir, err = os.MkdirTemp("", "hostflow-tailnet-"); err != nil {
			return fmt.Errorf("tailnet: %w", err)
		}
		srv.Dir, srv.Store = n.tempDir, new(mem.Store)
	} else {
		srv.Dir = filepath.Join(n.cfg.StateDir, n.deps.Role)
		if err := os.MkdirAll(srv.Dir, 0o700); err != nil {
			return fmt.Errorf("tailnet: state-dir: %w", err)
		}
	}
	n.srv = srv
	upCtx, cancel := context.WithTimeout(ctx, n.cfg.UpTimeout)
	defer cancel()
	start := time.Now()
	if _, err := srv.Up(upCtx); err != nil {
		n.close()
		return fmt.Errorf("tailnet: join as %s (control %s): %w", srv.Hostname, n.controlName(), err)
	}
	if n.lc, err = srv.LocalClient(); err != nil {
		n.close()
		return fmt.Errorf("tailnet: %w", err)
	}
	v4, v6 := srv.TailscaleIPs()
	var addrs []netip.Addr
	for _, a := range []netip.Addr{v4, v6} {
		if a.IsValid() {
			addrs = append(addrs, a)
		}
	}
	n.addrs.Store(&addrs)
	n.state.Store(ipn.Running.String())
	n.up.Set(1)
	if err := n.waitReady(upCtx); err != nil {
		// Traffic may still flow once the path is up; the first
		// datagrams can be lost meanwhile.
		log.Warn("tailnet node joined but has no DERP home or endpoints yet", "error", err)
	}
	log.Info("joined the tailnet", "hostname", srv.Hostname, "addresses", addrs, "elapsed", time.Since(start).Round(time.Millisecond).String())
	if n.cfg.ConsoleOnlyTailnet {
		ln, err := srv.Listen("tcp", ":"+strconv.Itoa(int(n.cfg.ConsolePort)))
		if err != nil {
			n.close()
			return fmt.Errorf("tailnet: console listener: %w", err)
		}
		n.console.set(ln)
	}
	mctx, mcancel := context.WithCancel(context.Background())
	n.cancel = mcancel
	n.wg.Add(1)
	go n.monitor(mctx)
	return nil
}

func (n *Node) countIdentity(scope string) { n.idents.WithLabelValues(scope).Inc() }

func (n *Node) controlName() string {
	if n.cfg.ControlURL != "" {
		return n.cfg.ControlURL
	}
	return "Tailscale"
}

// waitReady polls the node's status until it has a DERP home region and
// at least one endpoint: before that the first WireGuard handshake is
// likely to be retried only 5 s later.
func (n *Node) waitReady(ctx context.Context) error {
	for {
		st, err := n.lc.Status(ctx)
		if err == nil && st.Self != nil && st.Self.Relay != "" && len(st.Self.Addrs) > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
			return err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// monitor refreshes the state gauges and the health check.
func (n *Node) monitor(ctx context.Context) {
	defer n.wg.Done()
	t := time.NewTicker(15 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		st, err := n.lc.Status(sctx)
		if err == nil {
			online := 0
			for _, p := range st.Peer {
				if p.Online {
					online++
				}
			}
			n.peers.Set(float64(online))
			n.state.Store(st.BackendState)
			if st.BackendState == ipn.Running.String() {
				n.up.Set(1)
			} else {
				n.up.Set(0)
			}
		} else if ctx.Err() == nil {
			n.r.Limited("status", "tailnet status failed", "error", err)
		}
		cancel()
	}
}

// Stop leaves the tailnet (an ephemeral node is then removed by control).
func (n *Node) Stop() error {
	if n.cancel != nil {
		n.cancel()
		n.wg.Wait()
	}
	n.close()
	return nil
}

func (n *Node) close() {
	n.console.close()
	if n.srv != nil {
		_ = n.srv.Close()
		n.srv = nil
	}
	if n.tempDir != "" {
		_ = os.RemoveAll(n.tempDir)
		n.tempDir = ""
	}
	n.up.Set(0)
	n.state.Store("Stopped")
}

// Addrs returns the node's tailnet addresses, IPv4 (100.x) first, then
// IPv6 (fd7a:115c:a1e0::/48); none before Start.
func (n *Node) Addrs() []netip.Addr {
	if p := n.addrs.Load(); p != nil {
		return *p
	}
	return nil
}

// ListenPacket opens a UDP socket on port on each tailnet address (tsnet
// has no wildcard UDP listener).
func (n *Node) ListenPacket(port uint16) ([]net.PacketConn, error) {
	addrs := n.Addrs()
	if n.srv == nil || len(addrs) == 0 {
		return nil, errNotStarted
	}
	var out []net.PacketConn
	for _, a := range addrs {
		pc, err := n.srv.ListenPacket("udp", netip.AddrPortFrom(a, port).String())
		if err != nil {
			for _, c := range out {
				c.Close()
			}
			return nil, fmt.Errorf("tailnet: listen udp %s: %w", netip.AddrPortFrom(a, port), err)
		}
		out = append(out, pc)
	}
	return out, nil
}

// InletConns opens the configured listeners on every tailnet address, for
// inlet.Dependencies.PacketConns (called when the inlet starts, after the
// node).
func (n *Node) InletConns() ([]inlet.PacketConn, error) {
	var out []inlet.PacketConn
	for _, l := range n.cfg.Listeners {
		pcs, err := n.ListenPacket(l.Port)
		if err != nil {
			for _, c := range out {
				c.Conn.Close()
			}
			return nil, err
		}
		for _, pc := range pcs {
			out = append(out, inlet.PacketConn{Protocol: l.Protocol, Conn: pc})
		}
	}
	return out, nil
}

// Listen listens on the tailnet only ("tcp", ":port" listens on every
// tailnet address).
func (n *Node) Listen(network, addr string) (net.Listener, error) {
	if n.srv == nil {
		return nil, errNotStarted
	}
	return n.srv.Listen(network, addr)
}

// Dial connects through the tailnet; addr may be a tailnet address or a
// MagicDNS name.
func (n *Node) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if n.srv == nil {
		return nil, errNotStarted
	}
	return n.srv.Dial(ctx, network, addr)
}

// WhoIs tells which node (and user) owns a tailnet address.
func (n *Node) WhoIs(ctx context.Context, addr netip.Addr) (Peer, error) {
	if n.lc == nil {
		return Peer{}, errNotStarted
	}
	res, err := n.lc.WhoIs(ctx, addr.String())
	switch {
	case errors.Is(err, local.ErrPeerNotFound):
		n.whois.WithLabelValues("not_found").Inc()
		return Peer{}, fmt.Errorf("whois %s: %w", addr, ErrUnknownPeer)
	case err != nil:
		n.whois.WithLabelValues("error").Inc()
		return Peer{}, fmt.Errorf("whois %s: %w", addr, err)
	case res.Node == nil:
		n.whois.WithLabelValues("not_found").Inc()
		return Peer{}, fmt.Errorf("whois %s: %w", addr, ErrUnknownPeer)
	}
	n.whois.WithLabelValues("ok").Inc()
	p := Peer{Name: res.Node.ComputedName, FQDN: res.Node.Name, Tags: res.Node.Tags}
	if p.Name == "" {
		p.Name = res.Node.Hostinfo.Hostname()
	}
	if !res.Node.IsTagged() && res.UserProfile != nil {
		p.User = res.UserProfile.LoginName
	}
	return p, nil
}

// hostname is the name to register: the configured one or the host's.
func (c *Config) hostname() string {
	if c.Hostname != "" {
		return c.Hostname
	}
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "hostflow"
	}
	// A fully qualified host name registers under its first label.
	h, _, _ = strings.Cut(h, ".")
	return h
}

// set installs the real listener (Start).
func (l *lateListener) set(ln net.Listener) {
	l.mu.Lock()
	l.ln = ln
	l.mu.Unlock()
}

func (l *lateListener) close() { _ = l.Close() }
