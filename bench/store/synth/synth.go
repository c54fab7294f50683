// Package synth generates realistic, deterministic host flow records for
// store tests and benchmarks.
//
// The traffic imitates a fleet of hosts running hostflow agents, each
// exporting its own samples (exporter = host):
//   - Exporters hosts (default 20), each with 3–6 interfaces (eth0, lo,
//     tailscale0, docker0, veth…), a local IPv4 or IPv6 address (a third of
//     the hosts are IPv6-only), a sampling rate of 1000 or 4096, a site and
//     a role;
//   - per host a handful of processes (nginx, postgres, sshd, node, envoy,
//     curl, …) with a systemd unit, a user and sometimes a container; the
//     process picks the local port (servers on well-known ports, clients on
//     ephemeral ports) and the remote port distribution;
//   - remote addresses from a pool of 200 k drawn with a Zipf law (s=1.1):
//     a few peers carry most flows, with ASN and country derived from the
//     /16 (a few thousand networks, 40 countries);
//   - the protocol follows the process (TCP services, UDP for DNS, NTP and
//     the tailnet: about 60 % TCP, 38 % UDP), plus 2 % ICMP echo;
//     half the samples leave the host
//     (OutIf = the interface, InIf = internal), half enter it;
//   - packet sizes bimodal: full-size data packets (1200–1500 B) and small
//     ACK/control packets (52–100 B); one packet per sample (sFlow);
//   - timestamps increase evenly over Span starting at Start.
package synth

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/hostflow/hostflow/flow"
)

// Config of the generator.
type Config struct {
	Seed      uint64
	Exporters int
	Start     time.Time
	Span      time.Duration // time covered by Rows records
	Rows      int
}

type iface struct {
	index             uint32
	name, desc, kind  string
	speed             uint32
	boundary          uint8
	connectivity, prv string
}

type process struct {
	name, unit, user, container, cgroup string
	pid                                 uint32
	serverPort                          uint16 // 0 = client
	remotePorts                         []uint16
	proto                               uint8
}

type host struct {
	addr                    netip.Addr
	v6                      bool
	name, site, role, group string
	rate                    uint64
	ifaces                  []iface
	procs                   []process
}

// Gen produces records; not safe for concurrent use.
type Gen struct {
	cfg     Config
	rng     *rand.Rand
	hosts   []host
	hostZ   *rand.Zipf
	peerZ   *rand.Zipf
	peers4  []netip.Addr
	peers6  []netip.Addr
	asns    []uint32
	country []string
	n       int
}

var (
	countries = []string{"US", "DE", "FR", "GB", "NL", "JP", "SG", "IN", "BR", "CA", "AU", "SE", "PL", "IT", "ES",
		"CH", "IE", "FI", "NO", "DK", "BE", "AT", "CZ", "RO", "HU", "KR", "TW", "HK", "ZA", "MX", "AR", "CL", "CO",
		"TR", "IL", "AE", "UA", "PT", "GR", "NZ"}
	procCatalog = []process{
		{name: "nginx", unit: "nginx.service", user: "www-data", serverPort: 443, proto: 6},
		{name: "nginx", unit: "nginx.service", user: "www-data", serverPort: 80, proto: 6},
		{name: "postgres", unit: "postgresql@15-main.service", user: "postgres", serverPort: 5432, proto: 6},
		{name: "sshd", unit: "ssh.service", user: "root", serverPort: 22, proto: 6},
		{name: "node", unit: "app.service", user: "app", container: "3f2a9c1b7d4e", remotePorts: []uint16{443, 5432, 6379}, proto: 6},
		{name: "envoy", unit: "docker.service", user: "envoy", container: "9b1c4d2e8f7a", serverPort: 8443, proto: 6},
		{name: "curl", unit: "backup.service", user: "root", remotePorts: []uint16{443}, proto: 6},
		{name: "apt", unit: "apt-daily.service", user: "_apt", remotePorts: []uint16{80, 443}, proto: 6},
		{name: "systemd-resolve", unit: "systemd-resolved.service", user: "systemd-resolve", remotePorts: []uint16{53}, proto: 17},
		{name: "chronyd", unit: "chrony.service", user: "_chrony", remotePorts: []uint16{123}, proto: 17},
		{name: "tailscaled", unit: "tailscaled.service", user: "root", serverPort: 41641, proto: 17},
		{name: "prometheus", unit: "prometheus.service", user: "prometheus", remotePorts: []uint16{9100, 9465}, proto: 6},
	}
)

// New builds the host inventory and address pools from cfg.Seed.
func New(cfg Config) *Gen {
	if cfg.Exporters <= 0 {
		cfg.Exporters = 20
	}
	if cfg.Rows <= 0 {
		cfg.Rows = 1
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	g := &Gen{cfg: cfg, rng: rng}
	const peers = 200_000
	g.peers4 = make([]netip.Addr, peers)
	g.peers6 = make([]netip.Addr, peers)
	for i := range peers {
		// ~4 k /16 networks for IPv4, /32s for IPv6.
		net16 := uint32(rng.IntN(4096))
		g.peers4[i] = netip.AddrFrom4([4]byte{byte(11 + net16>>8), byte(net16), byte(rng.IntN(256)), byte(1 + rng.IntN(254))})
		var a [16]byte
		a[0], a[1], a[2], a[3] = 0x20, 0x01, byte(net16>>8), byte(net16)
		for j := 8; j < 16; j++ {
			a[j] = byte(rng.IntN(256))
		}
		g.peers6[i] = netip.AddrFrom16(a)
	}
	g.asns = make([]uint32, 4096)
	g.country = make([]string, 4096)
	for i := range g.asns {
		g.asns[i] = 64512 + uint32(rng.IntN(3000))
		g.country[i] = countries[int(rng.ExpFloat64()*6)%len(countries)]
	}
	for h := range cfg.Exporters {
		g.hosts = append(g.hosts, g.newHost(h))
	}
	g.hostZ = rand.NewZipf(rng, 1.2, 2, uint64(cfg.Exporters-1))
	g.peerZ = rand.NewZipf(rng, 1.1, 8, peers-1)
	return g
}

func (g *Gen) newHost(i int) host {
	h := host{
		name:  fmt.Sprintf("host-%03d.%s", i, []string{"fra1", "ams3", "nyc2", "sgp1"}[i%4]),
		site:  []string{"fra1", "ams3", "nyc2", "sgp1"}[i%4],
		role:  []string{"web", "db", "app", "edge"}[i%4],
		group: "fleet",
		rate:  []uint64{1000, 4096}[i%2],
		v6:    i%3 == 2,
	}
	if h.v6 {
		h.addr = netip.AddrFrom16([16]byte{0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0, 0, 0, 0, 0, 0, 0, 0, 0, byte(i >> 8), byte(i)})
	} else {
		h.addr = netip.AddrFrom4([4]byte{100, 64, byte(i >> 8), byte(i)})
	}
	h.ifaces = []iface{
		{index: 2, name: "eth0", desc: "uplink", kind: "physical", speed: 10000, boundary: flow.BoundaryExternal, connectivity: "transit", prv: "cloud"},
		{index: 3, name: "tailscale0", desc: "tailnet", kind: "tun", speed: 0, boundary: flow.BoundaryInternal, connectivity: "vpn", prv: "tailscale"},
		{index: 1, name: "lo", kind: "loopback", boundary: flow.BoundaryInternal},
	}
	if i%2 == 0 {
		h.ifaces = append(h.ifaces,
			iface{index: 4, name: "docker0", kind: "bridge", boundary: flow.BoundaryInternal},
			iface{index: uint32(10 + i%7), name: fmt.Sprintf("veth%04x", i*7919%65536), kind: "veth", boundary: flow.BoundaryInternal})
	}
	for k := 0; k < 4+i%4; k++ {
		p := procCatalog[(i*5+k*7)%len(procCatalog)]
		p.pid = uint32(300 + g.rng.IntN(60000))
		p.cgroup = "/system.slice/" + p.unit
		h.procs = append(h.procs, p)
	}
	return h
}

// timeAt is the TimeReceived of record n: evenly spread over Span. (In
// floating point: n × Span in nanoseconds overflows int64 past ~100 k rows
// per day.)
func (g *Gen) timeAt(n int) uint32 {
	offset := time.Duration(float64(g.cfg.Span) * (float64(n) / float64(g.cfg.Rows)))
	return uint32(g.cfg.Start.Add(offset).Unix())
}

// Fill overwrites recs with the next records.
func (g *Gen) Fill(recs []flow.Record) {
	for i := range recs {
		g.next(&recs[i])
	}
}

func (g *Gen) next(r *flow.Record) {
	rng := g.rng
	h := &g.hosts[g.hostZ.Uint64()]
	p := &h.procs[rng.IntN(len(h.procs))]
	// eth0 most of the time, then the tailnet, rarely the others.
	ifi := 0
	switch x := rng.IntN(100); {
	case x >= 95:
		ifi = rng.IntN(len(h.ifaces))
	case x >= 75:
		ifi = 1
	}
	itf := &h.ifaces[ifi]
	peer := int(g.peerZ.Uint64())
	var remote netip.Addr
	if h.v6 {
		remote = g.peers6[peer]
	} else {
		remote = g.peers4[peer]
	}
	net16 := peer * 2654435761 % len(g.asns)

	t := g.timeAt(g.n)
	g.n++
	*r = flow.Record{
		TimeReceived:    t,
		SamplingRate:    h.rate,
		ExporterAddress: h.addr,
		ExporterName:    h.name,
		ExporterGroup:   h.group,
		ExporterRole:    h.role,
		ExporterSite:    h.site,
		Packets:         1,
		HostName:        h.name,
		ProcessName:     p.name,
		ProcessID:       p.pid,
		ProcessUser:     p.user,
		Cgroup:          p.cgroup,
		Unit:            p.unit,
		Container:       p.container,
		FlowDirection:   flow.DirectionEgress,
	}
	r.EType = 0x0800
	if h.v6 {
		r.EType = 0x86dd
	}
	r.Proto = p.proto
	if rng.IntN(50) == 0 {
		r.Proto = 1
	}
	local, remotePort := uint16(32768+rng.IntN(28000)), uint16(443)
	if p.serverPort != 0 {
		local, remotePort = p.serverPort, uint16(32768+rng.IntN(28000))
	} else if len(p.remotePorts) > 0 {
		remotePort = p.remotePorts[rng.IntN(len(p.remotePorts))]
	}
	if r.Proto == 1 {
		local, remotePort = 0, 0
		r.ICMPType = 8
	}
	if rng.IntN(100) < 55 {
		r.Bytes = uint64(1200 + rng.IntN(301))
	} else {
		r.Bytes = uint64(52 + rng.IntN(49))
	}
	if r.Proto == 6 {
		r.TCPFlags = 0x10
		if rng.IntN(50) == 0 {
			r.TCPFlags = 0x02
		}
	}
	r.IPTTL = 64
	asn, cc := g.asns[net16], g.country[net16]
	if rng.IntN(2) == 0 { // egress
		r.SrcAddr, r.DstAddr, r.SrcPort, r.DstPort = h.addr, remote, local, remotePort
		r.DstAS, r.DstCountry = asn, cc
		r.InIf, r.OutIf = flow.IfIndexInternal, itf.index
		r.OutIfName, r.OutIfDescription, r.OutIfKind, r.OutIfSpeed = itf.name, itf.desc, itf.kind, itf.speed
		r.OutIfBoundary, r.OutIfConnectivity, r.OutIfProvider = itf.boundary, itf.connectivity, itf.prv
	} else {
		r.SrcAddr, r.DstAddr, r.SrcPort, r.DstPort = remote, h.addr, remotePort, local
		r.SrcAS, r.SrcCountry = asn, cc
		r.InIf, r.OutIf = itf.index, flow.IfIndexInternal
		r.InIfName, r.InIfDescription, r.InIfKind, r.InIfSpeed = itf.name, itf.desc, itf.kind, itf.speed
		r.InIfBoundary, r.InIfConnectivity, r.InIfProvider = itf.boundary, itf.connectivity, itf.prv
		r.FlowDirection = flow.DirectionIngress
	}
	r.SrcNetMask, r.DstNetMask = 24, 24
	if h.v6 {
		r.SrcNetMask, r.DstNetMask = 48, 48
	}
}
