package roles

import (
	"fmt"
	"net"
	"strconv"

	"github.com/hostflow/hostflow/console"
	"github.com/hostflow/hostflow/inlet"
)

// StandaloneOptions are the standalone role's command-line switches.
type StandaloneOptions struct {
	DemoTraffic bool
}

// AddStandalone adds the collector and an agent that sends to it over
// loopback.
func AddStandalone(a *App, cfg *Config, opts StandaloneOptions) error {
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
	if err := a.AddAgent(cfg); err != nil {
		return err
	}
	if opts.DemoTraffic {
		return fmt.Errorf("--demo-traffic: not yet available")
	}
	return nil
}
