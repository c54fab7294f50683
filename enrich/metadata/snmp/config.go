package snmp

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/hostflow/hostflow/enrich/iptrie"
	"github.com/hostflow/hostflow/internal/config"
)

// Config of the SNMP provider. Exporters are polled only when they match
// some credentials: with none configured, nothing is polled.
type Config struct {
	// Credentials by exporter prefix; the longest matching prefix wins.
	Credentials []Credentials `yaml:"credentials"`
	// Agents poll another address than the exporter's (NAT, management
	// interface), by exporter prefix (longest wins).
	Agents []Agent `yaml:"agents"`
	// Port is the default SNMP port.
	Port uint16 `yaml:"port"`
	// Timeout for one request, tried Retries more times.
	Timeout time.Duration `yaml:"timeout"`
	Retries int           `yaml:"retries"`
	// Workers poll concurrently; QueueSize bounds the exporters waiting for
	// a worker (more are retried on the next maintenance tick).
	Workers   int `yaml:"workers"`
	QueueSize int `yaml:"queue-size"`
	// MaxOIDs per request (sysName + 4 per ifIndex).
	MaxOIDs int `yaml:"max-oids"`
	// Refresh re-polls cached answers older than this while the exporter is
	// in use; TTL drops answers not refreshed successfully for that long.
	Refresh time.Duration `yaml:"refresh"`
	TTL     time.Duration `yaml:"ttl"`
	// NegativeTTL is how long "no such interface" or a failed request is
	// remembered before asking again.
	NegativeTTL time.Duration `yaml:"negative-ttl"`
	// After BreakerThreshold consecutive timeouts an exporter is not polled
	// for BreakerBackoff, doubling up to BreakerMaxBackoff while it stays
	// silent.
	BreakerThreshold  int           `yaml:"breaker-threshold"`
	BreakerBackoff    time.Duration `yaml:"breaker-backoff"`
	BreakerMaxBackoff time.Duration `yaml:"breaker-max-backoff"`
	// MaxInterfaces bounds the interfaces cached per exporter.
	MaxInterfaces int `yaml:"max-interfaces"`
}

// Credentials to poll exporters within Prefixes.
type Credentials struct {
	Prefixes []iptrie.Prefix `yaml:"prefixes"`
	// Version is "2c" or "3".
	Version string `yaml:"version"`
	// Communities (v2c) are tried in order until one answers; the one that
	// did is tried first next time.
	Communities []string `yaml:"communities"`
	// SNMPv3 user-based security. The security level follows from the
	// protocols: no auth-protocol = noAuthNoPriv, no priv-protocol =
	// authNoPriv, both = authPriv.
	User           string `yaml:"user"`
	AuthProtocol   string `yaml:"auth-protocol"` // MD5, SHA, SHA224, SHA256, SHA384, SHA512
	AuthPassphrase string `yaml:"auth-passphrase"`
	PrivProtocol   string `yaml:"priv-protocol"` // DES, AES, AES192, AES256, AES192C, AES256C
	PrivPassphrase string `yaml:"priv-passphrase"`
	ContextName    string `yaml:"context-name"`
}

// Agent overrides the address polled for exporters within Prefix.
type Agent struct {
	Prefix iptrie.Prefix `yaml:"prefix"`
	// Address is an IP address, or [IP]:port / IPv4:port.
	Address string `yaml:"address"`
}

// DefaultConfig returns the defaults (no credentials: SNMP inactive).
func DefaultConfig() Config {
	return Config{
		Port:              161,
		Timeout:           time.Second,
		Retries:           1,
		Workers:           4,
		QueueSize:         1024,
		MaxOIDs:           40,
		Refresh:           30 * time.Minute,
		TTL:               2 * time.Hour,
		NegativeTTL:       5 * time.Minute,
		BreakerThreshold:  3,
		BreakerBackoff:    time.Minute,
		BreakerMaxBackoff: 30 * time.Minute,
		MaxInterfaces:     65_536,
	}
}

var authProtocols = map[string]gosnmp.SnmpV3AuthProtocol{
	"MD5": gosnmp.MD5, "SHA": gosnmp.SHA, "SHA224": gosnmp.SHA224, "SHA256": gosnmp.SHA256,
	"SHA384": gosnmp.SHA384, "SHA512": gosnmp.SHA512,
}

var privProtocols = map[string]gosnmp.SnmpV3PrivProtocol{
	"DES": gosnmp.DES, "AES": gosnmp.AES, "AES192": gosnmp.AES192, "AES256": gosnmp.AES256,
	"AES192C": gosnmp.AES192C, "AES256C": gosnmp.AES256C,
}

func names[V any](m map[string]V) string {
	return strings.Join(slices.Sorted(maps.Keys(m)), ", ")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) { errs = append(errs, config.Errorf(key, format, args...)) }
	for i, cr := range c.Credentials {
		key := "credentials." + strconv.Itoa(i)
		if len(cr.Prefixes) == 0 {
			add(key+".prefixes", "required (use ::/0 and 0.0.0.0/0 for every exporter)")
		}
		switch cr.Version {
		case "2c":
			if len(cr.Communities) == 0 {
				add(key+".communities", "required for version 2c")
			}
			if cr.User != "" || cr.AuthProtocol != "" || cr.PrivProtocol != "" {
				add(key+".version", "user and protocols need version 3")
			}
		case "3":
			if cr.User == "" {
				add(key+".user", "required for version 3")
			}
			if len(cr.Communities) > 0 {
				add(key+".communities", "only for version 2c")
			}
			if cr.AuthProtocol != "" {
				if _, ok := authProtocols[strings.ToUpper(cr.AuthProtocol)]; !ok {
					add(key+".auth-protocol", "unknown %q (want %s)", cr.AuthProtocol, names(authProtocols))
				}
				if len(cr.AuthPassphrase) < 8 {
					add(key+".auth-passphrase", "at least 8 characters (RFC 3414)")
				}
			}
			if cr.PrivProtocol != "" {
				if cr.AuthProtocol == "" {
					add(key+".priv-protocol", "privacy needs an auth-protocol")
				}
				if _, ok := privProtocols[strings.ToUpper(cr.PrivProtocol)]; !ok {
					add(key+".priv-protocol", "unknown %q (want %s)", cr.PrivProtocol, names(privProtocols))
				}
				if len(cr.PrivPassphrase) < 8 {
					add(key+".priv-passphrase", "at least 8 characters (RFC 3414)")
				}
			}
		default:
			add(key+".version", "want 2c or 3, not %q", cr.Version)
		}
	}
	for i, a := range c.Agents {
		key := "agents." + strconv.Itoa(i)
		if !a.Prefix.IsValid() {
			add(key+".prefix", "required")
		}
		if _, err := parseAgent(a.Address, 161); err != nil {
			add(key+".address", "%v", err)
		}
	}
	for k, v := range map[string]time.Duration{"timeout": c.Timeout, "refresh": c.Refresh, "ttl": c.TTL,
		"negative-ttl": c.NegativeTTL, "breaker-backoff": c.BreakerBackoff, "breaker-max-backoff": c.BreakerMaxBackoff} {
		if v < 10*time.Millisecond {
			add(k, "must be at least 10ms")
		}
	}
	if c.TTL < c.Refresh {
		add("ttl", "must be at least refresh (%s)", c.Refresh)
	}
	if c.BreakerMaxBackoff < c.BreakerBackoff {
		add("breaker-max-backoff", "must be at least breaker-backoff")
	}
	for k, v := range map[string]int{"workers": c.Workers, "queue-size": c.QueueSize, "breaker-threshold": c.BreakerThreshold,
		"max-interfaces": c.MaxInterfaces, "port": int(c.Port)} {
		if v < 1 {
			add(k, "must be positive")
		}
	}
	if c.Retries < 0 {
		add("retries", "must not be negative")
	}
	if c.MaxOIDs < 5 || c.MaxOIDs > gosnmp.MaxOids {
		add("max-oids", "must be within 5..%d", gosnmp.MaxOids)
	}
	return errors.Join(errs...)
}

// parseAgent parses "addr", "[v6]:port" or "v4:port".
func parseAgent(s string, port uint16) (netip.AddrPort, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(a.Unmap(), port), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q is not an address or address:port", s)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}
