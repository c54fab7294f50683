package roles

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strconv"

	"github.com/hostflow/hostflow/agent"
	"github.com/hostflow/hostflow/console"
	"github.com/hostflow/hostflow/inlet"
	"github.com/hostflow/hostflow/internal/demo"
)

// StandaloneOptions are the standalone role's command-line switches.
type StandaloneOptions struct {
	// DemoTraffic adds the demo: real traffic in a network namespace.
	DemoTraffic bool
	// Stdout gets the first-run notice (where the console is) once
	// everything runs; nil prints nothing.
	Stdout io.Writer
}

// AddStandalone adds the collector and an agent that sends to it over
// loopback, and with DemoTraffic the demo between them.
func AddStandalone(a *App, cfg *Config, opts StandaloneOptions) error {
	var dm *demo.Demo
	if opts.DemoTraffic {
		// First, so that a missing privilege fails before anything is built.
		var err error
		if dm, err = demo.New(cfg.Demo, demo.Dependencies{Reporter: a.Reporter}); err != nil {
			return fmt.Errorf("--demo-traffic: %w", err)
		}
		sampleDemoLink(&cfg.Agent, cfg.Demo)
	}
	// First run on one machine: the console on a loopback address is
	// readable without a token until tokens are configured.
	auth := &cfg.Console.Auth
	if auth.Anonymous == console.ScopeNone && len(auth.Tokens) == 0 && auth.TokensFile == "" && cfg.Console.IsLoopback() {
		auth.Anonymous = console.ScopeRead
	}
	if err := a.AddCollector(cfg); err != nil {
		return err
	}
	port := 6343
	for _, l := range cfg.Inlet.Listeners {
		if l.Protocol == inlet.ProtoSFlow {
			if _, p, err := net.SplitHostPort(l.Listen); err == nil {
				if n, err := strconv.Atoi(p); err == nil && n != 0 {
					port = n
				}
			}
			break
		}
	}
	// The agent sends to this process's own sFlow listener, over IPv4
	// loopback (lo is never sampled, so the export is not sampled either).
	cfg.Agent.Collectors = []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	if dm != nil {
		// Before the agent, whose first interface scan then finds the veth.
		a.add("demo", dm)
	}
	// Not restricted: standalone also runs the demo's namespaces and
	// processes, and is a one-machine setup.
	if err := a.addAgent(cfg); err != nil {
		return err
	}
	if opts.Stdout != nil && cfg.Console.Listen != "" {
		a.add("notice", &startNotice{w: opts.Stdout, app: a, listen: cfg.Console.Listen, demo: dm != nil})
	}
	return nil
}

// sampleDemoLink samples the demo veth at the demo's rate, unless the agent
// section already gives it one, and selects it when the agent is limited
// to a list of interfaces.
func sampleDemoLink(ag *agent.Config, dc demo.Config) {
	if _, set := ag.Sampling.Interfaces[dc.Interface]; !set {
		rates := maps.Clone(ag.Sampling.Interfaces)
		if rates == nil {
			rates = map[string]uint32{}
		}
		rates[dc.Interface] = dc.SamplingRate
		ag.Sampling.Interfaces = rates
	}
	if len(ag.Interfaces) > 0 && !slices.Contains(ag.Interfaces, dc.Interface) {
		ag.Interfaces = append(slices.Clip(ag.Interfaces), dc.Interface)
	}
}

// startNotice tells the user where to look once every component runs.
type startNotice struct {
	w      io.Writer
	app    *App
	listen string // console.listen, for the host name to show
	demo   bool
}

func (n *startNotice) Start(context.Context) error {
	addr := n.app.Console.Addr()
	if addr == nil {
		return nil
	}
	_, port, _ := net.SplitHostPort(addr.String())
	host, _, _ := net.SplitHostPort(n.listen)
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	url := "http://" + net.JoinHostPort(host, port) + "/"
	if n.demo {
		fmt.Fprintf(n.w, "\nhostflow demo: open %s — flows appear within a minute. Ctrl-C stops it and removes the demo namespace.\n\n", url)
	} else {
		fmt.Fprintf(n.w, "\nhostflow standalone: console at %s\n\n", url)
	}
	return nil
}

func (n *startNotice) Stop() error { return nil }
