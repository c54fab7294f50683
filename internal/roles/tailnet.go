package roles

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	"github.com/hostflow/hostflow/enrich"
	"github.com/hostflow/hostflow/enrich/metadata"
	tailmeta "github.com/hostflow/hostflow/enrich/metadata/tailnet"
	"github.com/hostflow/hostflow/internal/daemon"
	"github.com/hostflow/hostflow/tailnet"
)

// tailnetNode returns the app's embedded tailnet node, building it on first
// use; nil when the tailnet is not enabled. The node starts before every
// other component and stops after them.
func (a *App) tailnetNode(cfg *Config, role string) (*tailnet.Node, error) {
	if !cfg.Tailnet.Enabled {
		return nil, nil
	}
	if a.Tailnet == nil {
		n, err := tailnet.New(cfg.Tailnet, tailnet.Dependencies{Reporter: a.Reporter, Role: role})
		if err != nil {
			return nil, fmt.Errorf("tailnet: %w", err)
		}
		a.Tailnet = n
		a.comps = append([]daemon.Named{{Name: "tailnet", Component: n}}, a.comps...)
	}
	return a.Tailnet, nil
}

// enrichDeps adds the tailnet provider (exporter names from WhoIs, first in
// the chain: control vouches for them) when the collector has a node.
func (a *App) enrichDeps(cfg *Config, node *tailnet.Node) enrich.Dependencies {
	deps := enrich.Dependencies{Reporter: a.Reporter}
	if node == nil {
		return deps
	}
	if !slices.Contains(cfg.Enrich.Providers, enrich.ProviderTailnet) {
		cfg.Enrich.Providers = append([]string{enrich.ProviderTailnet}, cfg.Enrich.Providers...)
	}
	deps.Providers = map[string]enrich.ProviderFactory{
		enrich.ProviderTailnet: func(notify metadata.Notify) (metadata.Provider, error) {
			whois := func(ctx context.Context, addr netip.Addr) (string, error) {
				p, err := node.WhoIs(ctx, addr)
				return p.Name, err
			}
			return tailmeta.New(cfg.Enrich.Tailnet, a.Reporter.Sub("enrich"), whois, notify)
		},
	}
	return deps
}
