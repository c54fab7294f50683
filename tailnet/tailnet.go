// Package tailnet embeds a Tailscale node (tailscale.com/tsnet) in the
// agent or the collector, so they join the tailnet themselves, without
// tailscaled on the host: the agent sends sFlow to the collector's tailnet
// address through the node, the collector listens for flows on its tailnet
// addresses (IPv4 100.x and IPv6 fd7a:, one socket each: tsnet has no
// wildcard), can serve the console on the tailnet only, and tells who is
// behind a tailnet address (WhoIs) to name exporters and to let users and
// tagged nodes into the console.
//
// Build with -tags notailnet to leave tsnet out (about 20 MB): New then
// fails when the section is enabled.
package tailnet

import (
	"errors"

	"github.com/hostflow/hostflow/internal/daemon"
)

// Dependencies of the node.
type Dependencies struct {
	Reporter *daemon.Reporter
	// Getenv reads the auth key overrides (nil: os.Getenv).
	Getenv func(string) string
	// Role ("agent", "collector") keeps each role's node state in its own
	// sub-directory of state-dir, so an agent and a collector on one host
	// are two nodes; empty uses state-dir itself.
	Role string
}

// Peer is who owns a tailnet address.
type Peer struct {
	// Name is the node's MagicDNS short name (unique in the tailnet).
	Name string
	// FQDN is the node's full MagicDNS name.
	FQDN string
	// User is the owner's login name; empty for tagged nodes.
	User string
	// Tags are the node's ACL tags.
	Tags []string
}

// ErrUnknownPeer is WhoIs's answer for an address no peer holds.
var ErrUnknownPeer = errors.New("no tailnet peer has this address")

var errNotStarted = errors.New("tailnet node not started")
