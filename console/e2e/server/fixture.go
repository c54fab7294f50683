package main

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"net/netip"
	"time"

	"github.com/hostflow/hostflow/flow"
)

// The fixture: four hostflow hosts and one router exporter, traffic every
// five minutes over the 24 hours before now. Everything is derived from the
// tables below and the slot number, so two runs differ only by "now"; the
// end-to-end tests check names taken from these tables.

const (
	slot         = 5 * time.Minute
	slots        = 288 // 24 h
	samplingRate = 1000
)

type host struct {
	name  string
	addr  netip.Addr
	cpus  uint32
	memGB uint64
	load  float32
	disk  uint32 // fullest partition, percent × 100
}

var hosts = []host{
	{"web-1", netip.MustParseAddr("10.0.1.1"), 8, 16, 1.5, 4200},
	{"web-2", netip.MustParseAddr("10.0.1.2"), 8, 16, 0.7, 3900},
	{"db-1", netip.MustParseAddr("10.0.2.1"), 16, 64, 3.2, 8100},
	{"cache-1", netip.MustParseAddr("10.0.2.2"), 4, 8, 0.3, 2500},
}

type peer struct {
	addr    netip.Addr
	as      uint32
	country string
}

// Peers outside (documentation addresses, well-known ASes) and inside.
var (
	google     = peer{netip.MustParseAddr("198.51.100.10"), 15169, "US"}
	cloudflare = peer{netip.MustParseAddr("198.51.100.20"), 13335, "US"}
	dtag       = peer{netip.MustParseAddr("203.0.113.30"), 3320, "DE"}
	ovh        = peer{netip.MustParseAddr("203.0.113.40"), 16276, "FR"}
	ntt        = peer{netip.MustParseAddr("2001:db8:2914::50"), 2914, "JP"}
	web1       = peer{netip.MustParseAddr("10.0.1.1"), 0, ""}
	web2       = peer{netip.MustParseAddr("10.0.1.2"), 0, ""}
	db1        = peer{netip.MustParseAddr("10.0.2.1"), 0, ""}
	cache1     = peer{netip.MustParseAddr("10.0.2.2"), 0, ""}
)

// traffic is one conversation repeated in every slot.
type traffic struct {
	host                     string
	process, unit, container string
	user                     string
	peer                     peer
	proto                    uint8
	localPort, peerPort      uint16
	egress                   bool
	bytes                    uint64 // sampled bytes per slot at the daily average
}

var traffics = []traffic{
	{"web-1", "nginx", "nginx.service", "", "www-data", google, 6, 443, 51000, true, 9_000_000},
	{"web-1", "nginx", "nginx.service", "", "www-data", google, 6, 443, 51000, false, 900_000},
	{"web-1", "nginx", "nginx.service", "", "www-data", dtag, 6, 443, 52000, true, 5_000_000},
	{"web-1", "nginx", "nginx.service", "", "www-data", dtag, 6, 443, 52000, false, 400_000},
	{"web-1", "node", "", "api", "node", db1, 6, 40100, 5432, true, 600_000},
	{"web-1", "sshd", "ssh.service", "", "root", ovh, 6, 22, 60022, true, 80_000},
	{"web-1", "systemd-resolved", "systemd-resolved.service", "", "systemd-resolve", cloudflare, 17, 53000, 53, true, 30_000},
	// Traffic the agent could not tie to a process (a short-lived one).
	{"web-1", "", "", "", "", cloudflare, 6, 44300, 443, true, 150_000},
	{"web-2", "nginx", "nginx.service", "", "www-data", cloudflare, 6, 443, 53000, true, 6_000_000},
	{"web-2", "nginx", "nginx.service", "", "www-data", ntt, 6, 443, 54000, true, 3_500_000},
	{"web-2", "nginx", "nginx.service", "", "www-data", ntt, 6, 443, 54000, false, 300_000},
	{"web-2", "node", "", "api", "node", db1, 6, 40200, 5432, true, 500_000},
	{"web-2", "node", "", "api", "node", cache1, 6, 40300, 6379, true, 200_000},
	{"db-1", "postgres", "postgresql.service", "", "postgres", web1, 6, 5432, 40100, true, 2_500_000},
	{"db-1", "postgres", "postgresql.service", "", "postgres", web2, 6, 5432, 40200, true, 2_000_000},
	{"db-1", "pgbackrest", "pgbackrest.service", "", "postgres", ovh, 6, 41000, 443, true, 1_200_000},
	{"db-1", "chronyd", "chrony.service", "", "_chrony", google, 17, 123, 123, true, 5_000},
	{"cache-1", "redis-server", "", "redis", "redis", web2, 6, 6379, 40300, true, 700_000},
	{"cache-1", "ping", "", "", "root", cloudflare, 1, 0, 0, true, 10_000},
}

// router is an sFlow exporter without host attribution (a top-of-rack
// switch), so the exporters list has more than hosts.
var router = struct {
	name string
	addr netip.Addr
}{"tor-1", netip.MustParseAddr("10.0.0.254")}

type fixture struct {
	flows      []flow.Record
	hosts      []flow.HostCounters
	interfaces []flow.InterfaceCounters
}

// shape is a deterministic daily curve in [0.4, 1.6]: busy in the
// afternoon, quiet at night, with a small per-slot ripple.
func shape(i int) float64 {
	day := math.Sin(2 * math.Pi * float64(i) / slots)
	ripple := 0.1 * math.Sin(float64(i)*0.7)
	return 1 + 0.5*day + ripple
}

func newFixture(now time.Time) *fixture {
	fx := &fixture{}
	hostByName := map[string]host{}
	for _, h := range hosts {
		hostByName[h.name] = h
	}
	outBytes := map[string]uint64{}
	inBytes := map[string]uint64{}
	for i := 0; i < slots; i++ {
		// The last slot ends at now, like a collector receiving live.
		t := now.Add(-time.Duration(slots-1-i) * slot)
		for k, tr := range traffics {
			h := hostByName[tr.host]
			b := uint64(float64(tr.bytes) * shape(i+k))
			// Record timestamps spread over the slot's last two minutes,
			// never after now.
			ts := uint32(t.Add(-time.Duration(k) * 7 * time.Second).Unix())
			r := flow.Record{
				TimeReceived: ts, SamplingRate: samplingRate,
				ExporterAddress: h.addr, ExporterName: h.name, ExporterGroup: "prod", ExporterSite: "par1",
				HostName: h.name, ProcessName: tr.process, ProcessID: uint32(1000 + k), ProcessUser: tr.user,
				Unit: tr.unit, Container: tr.container, Proto: tr.proto,
				Bytes: b / samplingRate, Packets: max(1, b/samplingRate/1200),
				InIfName: "eth0", OutIfName: "eth0", InIfSpeed: 10000, OutIfSpeed: 10000,
			}
			if tr.unit != "" {
				r.Cgroup = "/system.slice/" + tr.unit
			} else if tr.container != "" {
				r.Cgroup = "/system.slice/docker-" + tr.container + ".scope"
			}
			if tr.peer.addr.Is6() {
				r.EType = 0x86dd
			} else {
				r.EType = 0x0800
			}
			local := peer{addr: h.addr}
			if tr.egress {
				r.FlowDirection = flow.DirectionEgress
				r.InIf, r.OutIf = flow.IfIndexInternal, 2
				r.OutIfBoundary = boundary(tr.peer)
				setSides(&r, local, tr.peer, tr.localPort, tr.peerPort)
				outBytes[h.name] += b
			} else {
				r.FlowDirection = flow.DirectionIngress
				r.InIf, r.OutIf = 2, flow.IfIndexInternal
				r.InIfBoundary = boundary(tr.peer)
				setSides(&r, tr.peer, local, tr.peerPort, tr.localPort)
				inBytes[h.name] += b
			}
			if local.addr.Is4() && tr.peer.addr.Is6() {
				// web-2 talks to NTT over IPv6: give it a v6 address.
				if tr.egress {
					r.SrcAddr = netip.MustParseAddr("2001:db8:1::2")
				} else {
					r.DstAddr = netip.MustParseAddr("2001:db8:1::2")
				}
			}
			fx.flows = append(fx.flows, r)
		}
		fx.flows = append(fx.flows, flow.Record{
			TimeReceived: uint32(t.Unix()), SamplingRate: 4096, ExporterAddress: router.addr, ExporterName: router.name,
			ExporterGroup: "network", SrcAddr: web1.addr, DstAddr: google.addr, DstAS: google.as, DstCountry: google.country,
			Proto: 6, EType: 0x0800, SrcPort: 443, DstPort: 51000, Bytes: 1400, Packets: 1, InIf: 7, OutIf: 49,
			InIfName: "Ethernet7", OutIfName: "Ethernet49", InIfBoundary: flow.BoundaryInternal,
			OutIfBoundary: flow.BoundaryExternal, InIfSpeed: 25000, OutIfSpeed: 100000,
		})
		for j, h := range hosts {
			ts := uint32(t.Add(-time.Duration(j) * time.Second).Unix())
			fx.hosts = append(fx.hosts, hostCounters(h, i, ts))
			fx.interfaces = append(fx.interfaces, flow.InterfaceCounters{
				TimeReceived: ts, ExporterAddress: h.addr, ExporterName: h.name, IfIndex: 2, IfName: "eth0",
				IfKind: "physical", IfType: 6, IfSpeed: 10_000_000_000, IfStatus: 3,
				InOctets: inBytes[h.name], OutOctets: outBytes[h.name],
				InUcastPkts: inBytes[h.name] / 1200, OutUcastPkts: outBytes[h.name] / 1200,
				InDiscards: uint64(i / 50), InErrors: uint64(i / 100),
			})
		}
	}
	fx.flows = append(fx.flows, portScan(now)...)
	return fx
}

// scanner probes 20 ports of one outside address from cache-1, 2.5 minutes
// before now: inside the detector's first evaluation window (5 minutes
// ending at the last whole minute 15 s before it starts), so the real
// port-scan rule reports it.
var scanner = struct {
	host    string
	addr    netip.Addr
	process string
	target  netip.Addr
}{"cache-1", netip.MustParseAddr("10.0.2.2"), "nmap", netip.MustParseAddr("203.0.113.99")}

func portScan(now time.Time) []flow.Record {
	var out []flow.Record
	for i := 0; i < 20; i++ {
		out = append(out, flow.Record{
			TimeReceived: uint32(now.Add(-150*time.Second + time.Duration(i)*time.Second).Unix()), SamplingRate: samplingRate,
			ExporterAddress: scanner.addr, ExporterName: scanner.host, HostName: scanner.host, ProcessName: scanner.process,
			ProcessUser: "root", SrcAddr: scanner.addr, DstAddr: scanner.target, SrcPort: 61000, DstPort: uint16(20 + i*7),
			Proto: 6, TCPFlags: 2, EType: 0x0800, Bytes: 60, Packets: 1, FlowDirection: flow.DirectionEgress,
			InIf: flow.IfIndexInternal, OutIf: 2, OutIfName: "eth0", InIfName: "eth0",
		})
	}
	return out
}

func boundary(p peer) uint8 {
	if p.as == 0 {
		return flow.BoundaryInternal
	}
	return flow.BoundaryExternal
}

func setSides(r *flow.Record, src, dst peer, sport, dport uint16) {
	r.SrcAddr, r.DstAddr = src.addr, dst.addr
	r.SrcAS, r.DstAS = src.as, dst.as
	r.SrcCountry, r.DstCountry = src.country, dst.country
	r.SrcPort, r.DstPort = sport, dport
}

// hostCounters is the cumulative counter sample of h at slot i: CPU time
// and TCP segments grow at a rate following the traffic shape.
func hostCounters(h host, i int, ts uint32) flow.HostCounters {
	var busy, idle, out, retrans float64
	for k := 0; k <= i; k++ {
		s := shape(k)
		cpuMs := float64(h.cpus) * slot.Seconds() * 1000
		busy += cpuMs * 0.12 * s * float64(h.load)
		idle += cpuMs - cpuMs*0.12*s*float64(h.load)
		out += 5000 * s
		retrans += 5000 * s * 0.002 * float64(h.load)
	}
	memTotal := h.memGB << 30
	return flow.HostCounters{
		TimeReceived: ts, ExporterAddress: h.addr, HostName: h.name, OSRelease: "6.1.0-28-amd64",
		LoadOne: h.load, LoadFive: h.load, LoadFifteen: h.load, CPUNum: h.cpus, CPUSpeedMHz: 2900,
		UptimeSeconds: uint32(86400*12 + i*int(slot.Seconds())),
		CPUUserMs:     uint32(busy * 0.7), CPUSystemMs: uint32(busy * 0.3), CPUIdleMs: uint32(idle),
		MemTotal: memTotal, MemFree: memTotal / 5, MemCached: memTotal / 4, MemBuffers: memTotal / 50,
		DiskTotal: 500 << 30, DiskFree: 200 << 30, DiskPartMaxUsed: h.disk,
		TCPOutSegs: uint32(out), TCPRetransSegs: uint32(retrans), TCPCurrEstab: 120,
		NetPktsIn: uint32(out), NetPktsOut: uint32(out),
	}
}

func sha256hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
