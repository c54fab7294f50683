//go:build notailnet

package tailnet

import (
	"context"
	"errors"
	"net"
	"net/netip"

	"github.com/hostflow/hostflow/inlet"
	"github.com/hostflow/hostflow/internal/config"
)

// Built reports whether this binary includes the embedded tailnet node
// (false with -tags notailnet).
const Built = false

// ErrNotBuilt is returned by every operation of a binary built without the
// embedded tailnet node.
var ErrNotBuilt = errors.New("this hostflow was built without the embedded tailnet node (-tags notailnet): use the host's tailscaled (agent-interface: tailscale0) or a build with it")

// Node stands in for the embedded node in builds without it.
type Node struct {
	cfg     Config
	console lateListener
}

// New fails when the tailnet section is enabled.
func New(cfg Config, _ Dependencies) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Enabled {
		return nil, config.Errorf("enabled", "%v", ErrNotBuilt)
	}
	n := &Node{cfg: cfg}
	n.console.n = n
	return n, nil
}

// Start does nothing (the node is disabled).
func (n *Node) Start(context.Context) error { return nil }

// Stop does nothing.
func (n *Node) Stop() error { return nil }

// Addrs returns nothing.
func (n *Node) Addrs() []netip.Addr { return nil }

// ListenPacket fails.
func (n *Node) ListenPacket(uint16) ([]net.PacketConn, error) { return nil, ErrNotBuilt }

// InletConns fails.
func (n *Node) InletConns() ([]inlet.PacketConn, error) { return nil, ErrNotBuilt }

// Listen fails.
func (n *Node) Listen(string, string) (net.Listener, error) { return nil, ErrNotBuilt }

// Dial fails.
func (n *Node) Dial(context.Context, string, string) (net.Conn, error) { return nil, ErrNotBuilt }

// WhoIs fails.
func (n *Node) WhoIs(context.Context, netip.Addr) (Peer, error) { return Peer{}, ErrNotBuilt }

func (n *Node) countIdentity(string) {}
