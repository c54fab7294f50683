package inlet

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"

	"github.com/hostflow/hostflow/internal/config"
)

// Protocols a listener can carry. "netflow" accepts NetFlow v5, v9 and IPFIX
// alike (the version field tells them apart), so one port can serve all.
const (
	ProtoSFlow   = "sflow"
	ProtoNetFlow = "netflow"
	ProtoIPFIX   = "ipfix"
)

// Config is the collector's UDP input.
type Config struct {
	// Listeners are the UDP sockets to receive on.
	Listeners []ListenerConfig `yaml:"listeners"`
	// AllowedExporters, when not empty, restricts accepted datagrams to
	// these source prefixes; others are dropped and counted (reason
	// "not_allowed").
	AllowedExporters []string `yaml:"allowed-exporters"`
	// MaxExporterLabels caps how many exporters get their own label in
	// per-exporter metrics; the rest are reported as "other".
	MaxExporterLabels int `yaml:"max-exporter-labels"`
}

// ListenerConfig is one UDP listener.
type ListenerConfig struct {
	// Protocol is sflow, netflow or ipfix.
	Protocol string `yaml:"protocol"`
	// Listen is host:port; "[::]:6343" is dual-stack (IPv4 and IPv6).
	Listen string `yaml:"listen"`
	// Sockets is the number of SO_REUSEPORT sockets, each with its own
	// reader/decoder goroutine. 0 means one per CPU, at most 8.
	Sockets int `yaml:"sockets"`
	// ReceiveBuffer is SO_RCVBUF in bytes (forced past rmem_max when
	// running with CAP_NET_ADMIN); 0 or absent: 32 MiB.
	ReceiveBuffer int `yaml:"receive-buffer"`
	// MaxDatagram is the largest datagram accepted; longer ones are
	// dropped (reason "truncated"); 0 or absent: 9216.
	MaxDatagram int `yaml:"max-datagram"`
	// Batch is how many datagrams one recvmmsg call may return; 0 or
	// absent: 64.
	Batch int `yaml:"batch"`
}

// DefaultConfig listens for sFlow on 6343, NetFlow on 2055 and IPFIX on
// 4739, dual-stack.
func DefaultConfig() Config {
	l := func(proto, addr string) ListenerConfig {
		d := ListenerConfig{Protocol: proto, Listen: addr}
		d.defaults()
		return d
	}
	return Config{
		Listeners: []ListenerConfig{
			l(ProtoSFlow, "[::]:6343"),
			l(ProtoNetFlow, "[::]:2055"),
			l(ProtoIPFIX, "[::]:4739"),
		},
		MaxExporterLabels: 1000,
	}
}

// defaults sets the fields left out (zero) of a listener, so a
// configuration can give a listener as just its protocol and address.
func (l *ListenerConfig) defaults() {
	if l.ReceiveBuffer == 0 {
		l.ReceiveBuffer = 32 << 20
	}
	if l.MaxDatagram == 0 {
		l.MaxDatagram = 9216
	}
	if l.Batch == 0 {
		l.Batch = 64
	}
}

// Validate sets the listeners' defaults and checks every listener.
func (c *Config) Validate() error {
	var errs []error
	for i := range c.Listeners {
		l := &c.Listeners[i]
		l.defaults()
		key := fmt.Sprintf("listeners.%d", i)
		switch l.Protocol {
		case ProtoSFlow, ProtoNetFlow, ProtoIPFIX:
		default:
			errs = append(errs, config.Errorf(key+".protocol", "must be sflow, netflow or ipfix, not %q", l.Protocol))
		}
		if _, _, err := net.SplitHostPort(l.Listen); err != nil {
			errs = append(errs, config.Errorf(key+".listen", "%v", err))
		}
		if l.Sockets < 0 || l.Sockets > 256 {
			errs = append(errs, config.Errorf(key+".sockets", "must be between 0 and 256"))
		}
		if l.MaxDatagram < 512 || l.MaxDatagram > 65535 {
			errs = append(errs, config.Errorf(key+".max-datagram", "must be between 512 and 65535"))
		}
		if l.Batch < 1 || l.Batch > 1024 {
			errs = append(errs, config.Errorf(key+".batch", "must be between 1 and 1024"))
		}
		if l.ReceiveBuffer < 0 {
			errs = append(errs, config.Errorf(key+".receive-buffer", "must not be negative"))
		}
	}
	if _, err := c.allowed(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (c *Config) allowed() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for i, s := range c.AllowedExporters {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, config.Errorf(fmt.Sprintf("allowed-exporters.%d", i), "not a prefix or address: %q", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func (l *ListenerConfig) sockets() int {
	if l.Sockets > 0 {
		return l.Sockets
	}
	return min(runtime.NumCPU(), 8)
}
