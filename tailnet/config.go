package tailnet

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/hostflow/hostflow/inlet"
	"github.com/hostflow/hostflow/internal/config"
)

// MaxDatagram is the largest UDP payload that crosses a tailnet intact over
// both address families: the tailnet MTU is 1280 and tsnet silently drops
// IPv6 fragments (tailscale/tailscale#20083, #18799), so 1280 − 40 (IPv6)
// − 8 (UDP) = 1232.
const MaxDatagram = 1232

// Environment variables that override the auth key of the configuration,
// the first one set wins.
const (
	EnvAuthKey          = "HOSTFLOW_TAILNET_AUTHKEY"
	EnvTailscaleAuthKey = "TS_AUTHKEY"
)

// Config is the `tailnet` section: an embedded Tailscale node (tsnet) that
// joins the tailnet by itself, without tailscaled on the host.
type Config struct {
	// Enabled joins the tailnet with an embedded node.
	Enabled bool `yaml:"enabled"`
	// AuthKey registers the node the first time (later starts use the
	// state in StateDir). Overridden by $HOSTFLOW_TAILNET_AUTHKEY, then
	// $TS_AUTHKEY, then AuthKeyFile.
	AuthKey string `yaml:"auth-key"`
	// AuthKeyFile holds the auth key (keeps it out of the configuration).
	AuthKeyFile string `yaml:"auth-key-file"`
	// Hostname is the node's name on the tailnet; empty: the host's name.
	Hostname string `yaml:"hostname"`
	// ControlURL is the coordination server (Headscale); empty: Tailscale's.
	ControlURL string `yaml:"control-url"`
	// StateDir keeps the node's keys and state. Empty keeps the state in
	// memory, which needs Ephemeral (the node registers anew at each start).
	StateDir string `yaml:"state-dir"`
	// Ephemeral nodes are removed from the tailnet soon after they go
	// offline.
	Ephemeral bool `yaml:"ephemeral"`
	// Tags are advertised for ACLs ("tag:hostflow-agent"); the auth key or
	// the tailnet policy must allow them.
	Tags []string `yaml:"tags"`
	// UpTimeout bounds joining the tailnet at start.
	UpTimeout time.Duration `yaml:"up-timeout"`

	// Collector side.

	// Listeners are opened on each tailnet address (IPv4 100.x and IPv6
	// fd7a:) of the node, in addition to the inlet's.
	Listeners []Listener `yaml:"listeners"`
	// ConsoleOnlyTailnet serves the console on the tailnet only (port
	// ConsolePort on the node's addresses) instead of console.listen.
	ConsoleOnlyTailnet bool `yaml:"console-only-tailnet"`
	// ConsolePort is the console's port on the tailnet.
	ConsolePort uint16 `yaml:"console-port"`
	// AllowUsers may read through the console on the tailnet, identified by
	// WhoIs: login names, "*@example.com" for a domain, "*" for anyone
	// (tagged nodes have no user).
	AllowUsers []string `yaml:"allow-users"`
	// AllowTags may read: nodes carrying one of these tags.
	AllowTags []string `yaml:"allow-tags"`
	// AdminUsers may also call the admin endpoints (same patterns as
	// AllowUsers).
	AdminUsers []string `yaml:"admin-users"`
}

// Listener is one UDP listener on the tailnet.
type Listener struct {
	// Protocol is sflow, netflow (v5, v9 and IPFIX) or ipfix.
	Protocol string `yaml:"protocol"`
	Port     uint16 `yaml:"port"`
}

// DefaultConfig is disabled; when enabled, the state lives in
// /var/lib/hostflow/tailnet and the collector listens for sFlow on 6343 and
// NetFlow/IPFIX on 2055 and serves the console on port 80 of the tailnet.
func DefaultConfig() Config {
	return Config{
		StateDir:  "/var/lib/hostflow/tailnet",
		UpTimeout: time.Minute,
		Listeners: []Listener{
			{Protocol: inlet.ProtoSFlow, Port: 6343},
			{Protocol: inlet.ProtoNetFlow, Port: 2055},
		},
		ConsolePort: 80,
	}
}

// Validate checks the values; keys are relative to the tailnet section.
func (c *Config) Validate() error {
	var errs []error
	if c.AuthKey != "" && c.AuthKeyFile != "" {
		errs = append(errs, config.Errorf("auth-key-file", "set auth-key or auth-key-file, not both"))
	}
	if c.Hostname != "" && !validLabel(c.Hostname) {
		errs = append(errs, config.Errorf("hostname", "%q is not a DNS label (letters, digits and hyphens, at most 63)", c.Hostname))
	}
	if c.ControlURL != "" {
		if u, err := url.Parse(c.ControlURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, config.Errorf("control-url", "want an http(s) URL, not %q", c.ControlURL))
		}
	}
	if c.StateDir == "" && !c.Ephemeral {
		errs = append(errs, config.Errorf("state-dir", "required unless ephemeral: without state the node registers anew at each start"))
	}
	for i, t := range c.Tags {
		if !validTag(t) {
			errs = append(errs, config.Errorf(fmt.Sprintf("tags.%d", i), "%q: tags look like tag:name", t))
		}
	}
	if c.UpTimeout < time.Second {
		errs = append(errs, config.Errorf("up-timeout", "must be at least 1s"))
	}
	seen := map[uint16]int{}
	for i, l := range c.Listeners {
		key := fmt.Sprintf("listeners.%d", i)
		switch l.Protocol {
		case inlet.ProtoSFlow, inlet.ProtoNetFlow, inlet.ProtoIPFIX:
		default:
			errs = append(errs, config.Errorf(key+".protocol", "must be sflow, netflow or ipfix, not %q", l.Protocol))
		}
		if l.Port == 0 {
			errs = append(errs, config.Errorf(key+".port", "required"))
		} else if j, dup := seen[l.Port]; dup {
			errs = append(errs, config.Errorf(key+".port", "port %d already used by listeners.%d", l.Port, j))
		}
		seen[l.Port] = i
	}
	if c.ConsoleOnlyTailnet && c.ConsolePort == 0 {
		errs = append(errs, config.Errorf("console-port", "required with console-only-tailnet"))
	}
	for key, list := range map[string][]string{"allow-users": c.AllowUsers, "admin-users": c.AdminUsers} {
		for i, u := range list {
			if u == "" || strings.ContainsAny(u, " \t") || strings.Count(u, "*") > 1 || strings.Contains(u, "*") && u != "*" && !strings.HasPrefix(u, "*@") {
				errs = append(errs, config.Errorf(fmt.Sprintf("%s.%d", key, i), "%q: want a login name, *@domain or *", u))
			}
		}
	}
	for i, t := range c.AllowTags {
		if !validTag(t) {
			errs = append(errs, config.Errorf(fmt.Sprintf("allow-tags.%d", i), "%q: tags look like tag:name", t))
		}
	}
	return errors.Join(errs...)
}

func validLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

func validTag(t string) bool {
	name, ok := strings.CutPrefix(t, "tag:")
	return ok && validLabel(name)
}

// authKey returns the auth key to register with: the environment wins over
// the key file, which wins over auth-key. Empty is fine once registered.
func (c *Config) authKey(getenv func(string) string) (string, error) {
	for _, env := range []string{EnvAuthKey, EnvTailscaleAuthKey} {
		if v := strings.TrimSpace(getenv(env)); v != "" {
			return v, nil
		}
	}
	if c.AuthKeyFile != "" {
		b, err := os.ReadFile(c.AuthKeyFile)
		if err != nil {
			return "", fmt.Errorf("auth-key-file: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return c.AuthKey, nil
}
