// Package demo makes a quiet machine show traffic: it creates a network
// namespace joined to the host by a veth pair, puts servers and users "on
// the internet" inside it (documentation addresses routed through the
// veth), and runs processes on the host that talk to them: an API client,
// a backup upload now and then, a DNS resolver, a metrics pusher, and a web
// app called from the namespace. Each is the hostflow binary run through a
// hard link named after its role, so the agent attributes the flows to
// distinct process names. The traffic is real (TCP, UDP, HTTP, DNS; IPv4
// and IPv6) and modest (a few hundred kbit/s at most).
//
// `hostflow standalone --demo-traffic` adds this component; the roles run
// as the hidden `hostflow demo-peer` subcommand (RunPeer).
package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/hostflow/hostflow/internal/config"
	"github.com/hostflow/hostflow/internal/daemon"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"
)

// Config is the demo section of the configuration file.
type Config struct {
	// Namespace is the name of the network namespace (under /run/netns).
	Namespace string `yaml:"namespace"`
	// Interface is the host end of the veth pair; the agent samples it.
	Interface string `yaml:"interface"`
	// SamplingRate is the 1-in-N rate the standalone role gives the agent
	// for Interface (unless agent.sampling.interfaces names it).
	SamplingRate uint32 `yaml:"sampling-rate"`
}

// DefaultConfig returns the names `make demo` uses and 1:10 sampling.
func DefaultConfig() Config {
	return Config{Namespace: "hostflow-demo", Interface: "hfdemo0", SamplingRate: 10}
}

var (
	nsNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)
	ifNameRe = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,15}$`)
)

// Validate checks the values; keys are relative to the demo section.
func (c *Config) Validate() error {
	var errs []error
	if !nsNameRe.MatchString(c.Namespace) {
		errs = append(errs, config.Errorf("namespace", "want 1-63 letters, digits, '.', '_' or '-', not %q", c.Namespace))
	}
	if !ifNameRe.MatchString(c.Interface) || c.Interface == "." || c.Interface == ".." {
		errs = append(errs, config.Errorf("interface", "want an interface name of 1-15 letters, digits, '.', '_' or '-', not %q", c.Interface))
	}
	if c.SamplingRate < 1 {
		errs = append(errs, config.Errorf("sampling-rate", "must be at least 1"))
	}
	return errors.Join(errs...)
}

// ErrNeedsRoot is returned by New when not running as root.
var ErrNeedsRoot = errors.New("the demo traffic needs root: it creates a network namespace and a veth pair " +
	"(and the agent needs root to sample packets anyway); run it as root, e.g. `sudo make demo`")

// Dependencies of the demo.
type Dependencies struct {
	Reporter *daemon.Reporter
	// Executable implements the `demo-peer` subcommand (empty: this
	// process's executable).
	Executable string
}

// startOrder starts the servers first, so that clients find them: the
// webapp (which the namespace's users call), the namespace, then the
// host's clients.
var startOrder = []string{RoleWebapp, RoleInternet, RoleAPIClient, RoleBackup, RoleResolver, RoleMetricsPush}

// readyTimeout bounds the wait for every role to listen or start sending.
const readyTimeout = 15 * time.Second

// Demo is the component.
type Demo struct {
	cfg  Config
	deps Dependencies
	r    *daemon.Reporter
	log  *slog.Logger
	lay  layout

	net  *network
	lock *os.File
	dir  string // hard links named after the roles
	kids []*child

	requests *prometheus.CounterVec
	bytes    *prometheus.CounterVec
	failures *prometheus.CounterVec
	exits    *prometheus.CounterVec
}

// New checks the configuration and privileges and builds an inert demo.
func New(cfg Config, deps Dependencies) (*Demo, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Reporter == nil {
		return nil, errors.New("demo: a reporter is required")
	}
	if os.Geteuid() != 0 {
		return nil, ErrNeedsRoot
	}
	if deps.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("demo: find this executable: %w", err)
		}
		deps.Executable = exe
	}
	return newDemo(cfg, deps), nil
}

// newDemo builds the demo with its metrics.
func newDemo(cfg Config, deps Dependencies) *Demo {
	r := deps.Reporter.Sub("demo")
	d := &Demo{cfg: cfg, deps: deps, r: r, log: r.Logger()}
	d.requests = r.CounterVec("exchanges_total", "Requests, queries, uploads and datagrams the demo roles completed.", "role")
	d.bytes = r.CounterVec("bytes_total", "Payload bytes the demo roles exchanged (both directions).", "role")
	d.failures = r.CounterVec("errors_total", "Demo exchanges that failed, by role and reason.", "role", "reason")
	d.exits = r.CounterVec("role_exits_total", "Demo role processes that ended unexpectedly (and were restarted).", "role", "reason")
	return d
}

// Start sets up the namespace, the veth, addresses and routes (removing
// what a killed run left behind), then starts the roles and waits until
// each one listens or sends.
func (d *Demo) Start(ctx context.Context) error {
	lock, err := lockFile(d.cfg.Namespace+".lock", 0)
	if err != nil {
		if errors.Is(err, errLocked) {
			return fmt.Errorf("another hostflow demo is running with namespace %s; stop it, or set demo.namespace and demo.interface to other names", d.cfg.Namespace)
		}
		return err
	}
	d.lock = lock
	if err := d.setupNetwork(); err != nil {
		return errors.Join(fmt.Errorf("demo network: %w", err), d.Stop())
	}
	// What a killed run left there is removed like its namespace.
	d.dir = roleDir(d.cfg)
	if err := os.RemoveAll(d.dir); err != nil {
		return errors.Join(err, d.Stop())
	}
	if err := os.Mkdir(d.dir, 0o700); err != nil {
		d.dir = ""
		return errors.Join(err, d.Stop())
	}
	links, err := linkExecutables(d.dir, d.deps.Executable, startOrder)
	if err != nil {
		return errors.Join(err, d.Stop())
	}
	planJSON, err := json.Marshal(d.lay.plan)
	if err != nil {
		return errors.Join(err, d.Stop())
	}
	for _, role := range startOrder {
		k := &child{role: role, path: links[role], args: []string{"demo-peer", "--role", role, "--plan", string(planJSON)},
			readyc: make(chan error, 1)}
		if role == RoleInternet {
			k.netns = d.net.path()
		}
		// Not under ctx: Stop ends the roles, clients before servers, so
		// that no client sees its server vanish.
		var kctx context.Context
		kctx, k.cancel = context.WithCancel(context.Background())
		k.done = make(chan struct{})
		d.kids = append(d.kids, k)
		go d.supervise(kctx, k)
		if role == RoleWebapp || role == RoleInternet { // servers: wait before starting their clients
			if err := k.waitReady(ctx, readyTimeout); err != nil {
				return errors.Join(fmt.Errorf("demo %s: %w", role, err), d.Stop())
			}
		}
	}
	for _, k := range d.kids {
		if err := k.waitReady(ctx, readyTimeout); err != nil {
			return errors.Join(fmt.Errorf("demo %s: %w", k.role, err), d.Stop())
		}
	}
	d.log.Info("demo traffic running", "namespace", d.cfg.Namespace, "interface", d.cfg.Interface, "roles", HostRoles)
	return nil
}

// Stop ends the roles in reverse order (SIGTERM, then SIGKILL after a
// grace period) and removes the namespace, the veth and the links. It
// undoes a partial Start too.
func (d *Demo) Stop() error {
	for i := len(d.kids) - 1; i >= 0; i-- {
		d.kids[i].cancel()
		<-d.kids[i].done
	}
	d.kids = nil
	var errs []error
	if d.net != nil {
		errs = append(errs, d.net.remove())
		d.net = nil
	}
	if d.dir != "" {
		errs = append(errs, os.RemoveAll(d.dir))
		d.dir = ""
	}
	if d.lock != nil {
		errs = append(errs, unlockRemove(d.lock))
		d.lock = nil
	}
	return errors.Join(errs...)
}

// Remove deletes what a demo with cfg's names left behind when it was
// killed (SIGKILL gives it no chance to clean up): the namespace, the link
// and the role directory. Starting a demo with the same names does it
// too. It refuses while such a demo runs.
func Remove(cfg Config) error {
	lock, err := lockFile(cfg.Namespace+".lock", 0)
	if err != nil {
		return err
	}
	n := &network{ns: cfg.Namespace, iface: cfg.Interface}
	return errors.Join(n.remove(), os.RemoveAll(roleDir(cfg)), unlockRemove(lock))
}

// roleDir holds the hard links named after the roles: one directory per
// namespace name, which the namespace lock makes ours.
func roleDir(cfg Config) string { return filepath.Join(os.TempDir(), "hostflow-demo-"+cfg.Namespace) }

// setupNetwork removes what a killed run left, picks free addresses and
// sets up the namespace and the veth. Demos with other namespace names
// may run at once: the choice and the setup are serialized so that two of
// them never pick the same prefixes.
func (d *Demo) setupNetwork() error {
	setup, err := lockFile("setup.lock", 10*time.Second)
	if err != nil {
		return err
	}
	defer setup.Close()
	d.net = &network{ns: d.cfg.Namespace, iface: d.cfg.Interface, lay: &d.lay}
	if d.net.exists() {
		d.log.Info("removing the namespace and link of a previous demo", "namespace", d.cfg.Namespace, "interface", d.cfg.Interface)
		if err := d.net.remove(); err != nil {
			return err
		}
	}
	inUse, err := prefixesInUse()
	if err != nil {
		return err
	}
	if d.lay, err = allocate(inUse); err != nil {
		return err
	}
	ipv6, err := d.net.setup()
	if err != nil {
		return err
	}
	if !ipv6 {
		d.log.Warn("IPv6 is disabled on this host or its documentation ranges are in use: the demo traffic is IPv4 only")
	}
	link6 := "off"
	if d.lay.host6.IsValid() {
		link6 = d.lay.host6.String()
	}
	d.log.Info("demo network", "namespace", d.cfg.Namespace, "interface", d.cfg.Interface,
		"ipv4", d.lay.host4, "ipv6", link6, "routes", d.lay.routes)
	return nil
}

// lockDir holds the demo's lock files (on tmpfs: gone at reboot).
const lockDir = "/run/hostflow-demo"

var errLocked = errors.New("locked")

// lockFile takes an exclusive lock on lockDir/name, retrying for up to
// wait. The kernel releases it when the process dies, however it dies.
func lockFile(name string, wait time.Duration) (*os.File, error) {
	if err := os.MkdirAll(lockDir, 0o700); err != nil {
		return nil, fmt.Errorf("demo lock: %w", err)
	}
	path := filepath.Join(lockDir, name)
	deadline := time.Now().Add(wait)
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return nil, fmt.Errorf("demo lock: %w", err)
		}
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			// The holder before us may have removed the file between our
			// open and our lock (unlockRemove): then we hold a lock nobody
			// else will see, so try again on the file now at path.
			var st, fst unix.Stat_t
			if unix.Stat(path, &st) == nil && unix.Fstat(int(f.Fd()), &fst) == nil && st.Ino == fst.Ino {
				return f, nil
			}
		}
		f.Close()
		if err != nil && (!errors.Is(err, unix.EWOULDBLOCK) || time.Now().After(deadline)) {
			if errors.Is(err, unix.EWOULDBLOCK) {
				err = errLocked
			}
			return nil, fmt.Errorf("demo lock %s: %w", path, err)
		}
		if err != nil {
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// unlockRemove removes a lock file taken by lockFile, then releases it:
// names used once (tests') leave nothing behind.
func unlockRemove(f *os.File) error {
	return errors.Join(os.Remove(f.Name()), f.Close())
}
