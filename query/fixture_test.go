package query

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/internal/daemon"
	"github.com/hostflow/hostflow/store/chdb"
	"github.com/hostflow/hostflow/store/native"
	"github.com/hostflow/hostflow/store/schema"
)

// The fixture: two hours of flows from three hosts and a router, with
// hostile strings in names, inserted once into a chDB store with rollups.
// Tests compute their expected answers from fixtureFlows in Go.
var (
	fixStart = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	fixEnd   = fixStart.Add(2 * time.Hour)
	fixNow   = fixEnd.Add(time.Minute)
)

// hostile strings travel through filters as values; each must come back
// as a literal match.
var hostile = []string{
	`evil'; DROP TABLE flows; --`, `back\slash`, `quote"double`, "tab\tname", `%percent_`, "日本語", `/* c */`,
	"new\nline", `\'`, `{p1:String}`,
}

var fixtureFlows = func() []flow.Record {
	hosts := []string{"web-1", "db-1", "cache-1", ""}
	procs := append([]string{"nginx", "postgres", "redis", ""}, hostile...)
	countries := []string{"FR", "DE", "US", "JP"}
	var out []flow.Record
	x := uint64(1)
	rnd := func(n uint64) uint64 { // xorshift: deterministic
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		return x % n
	}
	for i := 0; i < 7200; i++ {
		h := rnd(4)
		r := flow.Record{
			TimeReceived:    uint32(fixStart.Unix()) + uint32(i),
			SamplingRate:    []uint64{1, 100, 1000}[rnd(3)],
			ExporterAddress: netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + h)}),
			ExporterName:    fmt.Sprintf("exp-%d", h),
			HostName:        hosts[h],
			ProcessName:     procs[rnd(uint64(len(procs)))],
			InIf:            uint32(1 + rnd(3)),
			OutIf:           uint32(1 + rnd(3)),
			InIfSpeed:       1000,
			OutIfSpeed:      []uint32{0, 10000}[rnd(2)],
			InIfBoundary:    uint8(rnd(3)),
			OutIfBoundary:   uint8(rnd(3)),
			SrcAS:           uint32(64500 + rnd(12)*rnd(3)),
			DstAS:           uint32(64500 + rnd(8)),
			SrcCountry:      countries[rnd(4)],
			DstCountry:      countries[rnd(4)],
			EType:           0x0800,
			Proto:           []uint8{6, 17, 1}[rnd(3)],
			SrcPort:         uint16(rnd(3) * 443),
			DstPort:         uint16(1024 + rnd(5)),
			FlowDirection:   uint8(1 + rnd(2)),
			Bytes:           64 + rnd(1400),
			Packets:         1 + rnd(3),
		}
		r.InIfName, r.OutIfName = fmt.Sprintf("eth%d", r.InIf), fmt.Sprintf("eth%d", r.OutIf)
		if rnd(2) == 0 {
			r.SrcAddr = netip.AddrFrom4([4]byte{10, 0, byte(rnd(4)), byte(rnd(8))})
			r.DstAddr = netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", rnd(16)))
		} else {
			r.SrcAddr = netip.MustParseAddr(fmt.Sprintf("2001:db8:1::%x", rnd(16)))
			r.DstAddr = netip.AddrFrom4([4]byte{198, 51, 100, byte(rnd(8))})
			r.EType = 0x86dd
		}
		out = append(out, r)
	}
	return out
}()

// Host and interface counters: every 20 s, growing steadily, with one
// counter reset half-way (an agent restart) that deltas must ignore.
var fixtureHostCounters, fixtureIfCounters = func() ([]flow.HostCounters, []flow.InterfaceCounters) {
	var hc []flow.HostCounters
	var ic []flow.InterfaceCounters
	for i := uint32(0); i < 360; i++ {
		k := i
		if i >= 180 {
			k = i - 180 // restart
		}
		for h, name := range []string{"web-1", "db-1", "cache-1"} {
			addr := netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + h)})
			t := uint32(fixStart.Unix()) + 20*i
			hc = append(hc, flow.HostCounters{TimeReceived: t, ExporterAddress: addr, HostName: name,
				LoadOne: float32(h) + 0.5, CPUNum: 4, CPUUserMs: 100 * k, CPUIdleMs: 300 * k,
				MemTotal: 8 << 30, MemFree: 1 << 30, MemCached: 2 << 30, MemBuffers: 1 << 29,
				DiskPartMaxUsed: 4250, UptimeSeconds: 20 * k, TCPRetransSegs: 2 * k, TCPOutSegs: 100 * k,
				NetErrsIn: k, NetDropsIn: 3 * k})
			ic = append(ic, flow.InterfaceCounters{TimeReceived: t, ExporterAddress: addr, IfIndex: 2,
				IfName: "eth0", IfKind: "physical", IfSpeed: 1e9, InOctets: 1250000 * uint64(k),
				OutOctets: 2500000 * uint64(k), InErrors: uint64(k / 10)})
		}
	}
	return hc, ic
}()

// batch-1 is a host with only counters (no flows), sampled every 20-40 s
// from 09:45, with every irregularity a counter series meets: a 15-minute
// gap without samples (10:40-10:55), the CPU user counter wrapping at 2^32
// (about 10:25), a reboot at 11:20 (counters and uptime back to 0, network
// errors and drops only after it), the
// agent's address changing at 11:30, memory not reported 10:05-10:10,
// interfaces with an unknown speed, without a name, and a speed change.
// Health series tests compare the engine's answers with healthReference.
var healthHost = "batch-1"

var healthHostCounters, healthIfCounters = func() ([]flow.HostCounters, []flow.InterfaceCounters) {
	var hc []flow.HostCounters
	var ic []flow.InterfaceCounters
	x := uint64(7)
	rnd := func(n uint64) uint64 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		return x % n
	}
	at := func(hh, mm int) uint32 { return uint32(fixStart.Unix()) + uint32((hh-10)*3600+mm*60) }
	var c flow.HostCounters
	c.CPUUserMs = 1<<32 - 6_500_000 // wraps after ~40 minutes at ~2,800 ms/s
	var octets [3][2]uint64
	uptime, rebooted := uint32(86400), false
	prev := at(9, 45) - 30
	for t := at(9, 45); t < uint32(fixEnd.Unix()); t += 20 + uint32(rnd(21)) {
		if t >= at(10, 40) && t < at(10, 55) {
			continue
		}
		dt := t - prev
		prev = t
		uptime += dt
		if t >= at(11, 20) && !rebooted {
			c, octets, uptime, rebooted = flow.HostCounters{}, [3][2]uint64{}, 30, true
		}
		const cpus = 8
		busy := uint32(dt) * 1000 * cpus * uint32(5+rnd(86)) / 100
		c.CPUUserMs += busy * 3 / 4
		c.CPUSystemMs += busy - busy*3/4
		c.CPUIdleMs += uint32(dt)*1000*cpus - busy
		c.TCPOutSegs += uint32(dt) * uint32(100+rnd(1000))
		c.TCPRetransSegs += uint32(rnd(uint64(dt) * 5))
		if rebooted { // no network errors before the reboot: only the uptime tells that interval apart
			c.NetErrsIn += uint32(rnd(3))
			c.NetDropsOut += uint32(rnd(5))
		}
		c.UptimeSeconds = uptime
		addr := netip.MustParseAddr("192.0.2.20")
		if t >= at(11, 30) {
			addr = netip.MustParseAddr("2001:db8::20")
		}
		h := c
		h.TimeReceived, h.ExporterAddress, h.HostName, h.CPUNum = t, addr, healthHost, cpus
		h.LoadOne = float32(rnd(400)) / 100
		h.MemTotal, h.MemFree, h.MemCached, h.MemBuffers = 16<<30, (1+rnd(4))<<30, (2+rnd(3))<<30, rnd(512)<<20
		if t >= at(10, 5) && t < at(10, 10) {
			h.MemTotal, h.MemFree, h.MemCached, h.MemBuffers = 0, 0, 0, 0
		}
		h.DiskPartMaxUsed = uint32(5000 + rnd(1000))
		hc = append(hc, h)
		for j, itf := range []struct {
			index       uint32
			name, kind  string
			speed, rate uint64
		}{{2, "eth0", "physical", 1e9, 40_000_000}, {5, "tun0", "tun", 0, 2_000_000}, {7, "", "veth", 1e10, 5_000_000}} {
			speed := itf.speed
			if itf.index == 2 && t >= at(11, 0) {
				speed = 1e10
			}
			octets[j][0] += uint64(dt) * rnd(itf.rate)
			octets[j][1] += uint64(dt) * rnd(itf.rate/2)
			ic = append(ic, flow.InterfaceCounters{TimeReceived: t, ExporterAddress: addr, IfIndex: itf.index,
				IfName: itf.name, IfKind: itf.kind, IfSpeed: speed, InOctets: octets[j][0], OutOctets: octets[j][1]})
		}
	}
	return hc, ic
}()

var shared struct {
	builder *Builder
	tr      *chdb.Transport
	err     error
	dir     string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.tr != nil {
		shared.tr.Close()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// store opens (once per test binary: chDB serves one path per process) a
// chDB store holding the fixture, and returns a builder over it.
func store(t testing.TB) *Builder {
	t.Helper()
	if _, err := chdb.ResolvePath(""); err != nil {
		t.Skipf("libchdb not installed (run scripts/setup.sh test): %v", err)
	}
	if shared.builder == nil && shared.err == nil {
		shared.builder, shared.err = openFixture()
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.builder
}

// openFixture opens the engine, in a temporary directory or, for
// benchmarks over a large store that should survive the run, in
// $HOSTFLOW_QUERY_BENCH_DIR; the fixture database is rebuilt either way.
func openFixture() (*Builder, error) {
	dir := os.Getenv("HOSTFLOW_QUERY_BENCH_DIR")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "hostflow-query-test-"); err != nil {
			return nil, err
		}
		shared.dir = dir
	}
	tr, err := chdb.NewTransport(chdb.Options{Path: filepath.Join(dir, "store"), MaxMemory: 4 << 30})
	if err != nil {
		return nil, err
	}
	shared.tr = tr
	fs := flow.NewSchema()
	ss, err := schema.New(fs, schema.Options{Database: "qtest", Rollups: true})
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	if _, err := tr.Query(ctx, "DROP DATABASE IF EXISTS qtest SYNC", nil); err != nil {
		return nil, err
	}
	if _, err := ss.Migrate(ctx, tr); err != nil {
		return nil, err
	}
	if err := insert(ctx, tr, ss.InsertTable(schema.Flows), ss.FlowFields(), fixtureFlows); err != nil {
		return nil, err
	}
	hc := append(slices.Clone(fixtureHostCounters), healthHostCounters...)
	if err := insert(ctx, tr, ss.InsertTable(schema.HostCounters), schema.HostFields(), hc); err != nil {
		return nil, err
	}
	ic := append(slices.Clone(fixtureIfCounters), healthIfCounters...)
	if err := insert(ctx, tr, ss.InsertTable(schema.InterfaceCounters), schema.InterfaceFields(), ic); err != nil {
		return nil, err
	}
	return New(DefaultConfig(), Dependencies{Flow: fs, Store: ss, Querier: tr,
		Reporter: daemon.NewReporter(daemon.NewLogger(os.Stderr, 0, false), nil),
		Now:      func() time.Time { return fixNow }})
}

func insert[T any](ctx context.Context, tr *chdb.Transport, table string, fields []native.Field[T], rows []T) error {
	enc := native.NewEncoder(fields)
	for i := range rows {
		enc.Append(&rows[i])
	}
	return tr.Insert(ctx, table, enc.Block())
}
