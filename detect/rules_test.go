package detect

import (
	"context"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/query"
	"github.com/hostflow/hostflow/store"
)

// The rule tests store hand-made records in a real embedded store, run one
// evaluation at a fixed time and compare the stored detections with golden
// files (go test ./detect -run TestRule -update rewrites them). Each case
// also checks that the evidence reproduces the finding: its SQL returns the
// subject's row and, for flow rules, its filter finds flows in its range.

// now is the clock of the rule tests; with a 1-minute interval and no
// delay, evaluations cover data up to 12:00:00. It is in the future so
// that the engine's TTLs (driven by the real clock) never expire the
// test's rows.
var now = time.Date(2036, 11, 1, 12, 0, 30, 0, time.UTC)

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.Delay = 0
	return cfg
}

// only enables one rule.
func only(cfg Config, rule string) Config {
	r := &cfg.Rules
	r.PortScan.Enabled = rule == RulePortScan
	r.NewPeer.Enabled = rule == RuleNewPeer
	r.EgressSpike.Enabled = rule == RuleEgressSpike
	r.NewService.Enabled = rule == RuleNewService
	r.InterfaceSaturation.Enabled = rule == RuleInterfaceSaturation
	r.Retransmits.Enabled = rule == RuleRetransmits
	return cfg
}

var ago = func(d time.Duration) time.Time { return now.Truncate(time.Minute).Add(-d) }

// conn describes flows of one side of a connection as a host agent sees
// them.
type conn struct {
	at            time.Time
	host, process string
	local, remote string
	lport, rport  uint16
	proto         uint8
	flags         uint16
	bytes, rate   uint64
}

func (c conn) record(dir uint8) flow.Record {
	local, remote := netip.MustParseAddr(c.local), netip.MustParseAddr(c.remote)
	r := flow.Record{TimeReceived: uint32(c.at.Unix()), SamplingRate: max(c.rate, 1), ExporterAddress: local,
		ExporterName: c.host, HostName: c.host, ProcessName: c.process, Proto: c.proto, TCPFlags: c.flags,
		Bytes: max(c.bytes, 60), Packets: 1, EType: 0x0800, FlowDirection: dir}
	if c.proto == 0 {
		r.Proto = 6
	}
	if dir == flow.DirectionEgress {
		r.SrcAddr, r.DstAddr, r.SrcPort, r.DstPort, r.InIf, r.OutIf = local, remote, c.lport, c.rport, 0, 2
	} else {
		r.SrcAddr, r.DstAddr, r.SrcPort, r.DstPort, r.InIf, r.OutIf = remote, local, c.rport, c.lport, 2, 0
	}
	return r
}

func (c conn) out() flow.Record { return c.record(flow.DirectionEgress) }
func (c conn) in() flow.Record  { return c.record(flow.DirectionIngress) }

// run evaluates once at t and returns the stored detections, normalized
// for golden files (IDs and clock times removed), after checking their
// evidence.
func run(t *testing.T, d *Detector, st *store.Store, t0 time.Time) []Detection {
	t.Helper()
	ctx := context.Background()
	d.now = func() time.Time { return t0 }
	d.evaluate(ctx, t0)
	list, err := d.List(ctx, t0.Add(-time.Hour), 1000)
	if err != nil {
		t.Fatal(err)
	}
	if n := total(d.m.errors); n != 0 {
		t.Fatalf("%v evaluation errors", n)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].Rule != list[j].Rule {
			return list[i].Rule < list[j].Rule
		}
		return list[i].Subject.String() < list[j].Subject.String()
	})
	for i := range list {
		det := &list[i]
		checkEvidence(t, d, st, det)
		if !det.Active {
			t.Errorf("%s %s: not active right after being found", det.Rule, det.Subject)
		}
		det.ID, det.FirstSeen, det.LastSeen = "", time.Time{}, time.Time{}
	}
	return list
}

// checkEvidence runs a detection's SQL (it must return the subject) and,
// for flow rules, searches flows with its filter over its range (there
// must be some).
func checkEvidence(t *testing.T, d *Detector, st *store.Store, det *Detection) {
	t.Helper()
	ctx := context.Background()
	e := det.Evidence
	res, err := st.Query(ctx, e.SQL, e.Params)
	if err != nil {
		t.Fatalf("%s %s: evidence SQL: %v\n%s", det.Rule, det.Subject, err, e.SQL)
	}
	if len(res.Rows) == 0 {
		t.Errorf("%s %s: evidence SQL returns nothing:\n%s\n%v", det.Rule, det.Subject, e.SQL, e.Params)
	}
	b, err := query.New(query.DefaultConfig(), query.Dependencies{Flow: d.flow, Store: st.Schema(), Querier: st,
		Reporter: quietReporter(), Now: d.now})
	if err != nil {
		t.Fatal(err)
	}
	page, err := b.Flows(ctx, query.FlowsRequest{Start: e.Start, End: e.End, Filter: e.Filter, Limit: 10})
	if err != nil {
		t.Fatalf("%s %s: evidence filter %q: %v", det.Rule, det.Subject, e.Filter, err)
	}
	counters := det.Rule == RuleInterfaceSaturation
	if !counters && len(page.Rows) == 0 {
		t.Errorf("%s %s: evidence filter %q finds no flow in [%s, %s)", det.Rule, det.Subject, e.Filter, e.Start, e.End)
	}
}

func TestRulePortScan(t *testing.T) {
	t.Parallel()
	st := startStore(t, false)
	var flows []flow.Record
	w := ago(3 * time.Minute)
	for i := range 200 { // a vertical scan seen at 1:1
		c := conn{at: w.Add(time.Duration(i) * 100 * time.Millisecond), host: "scanner", process: "nmap",
			local: "10.0.0.5", remote: "10.0.0.9", lport: 40000, rport: uint16(1 + i), flags: 0x02}
		flows = append(flows, c.out())
	}
	for i := range 30 { // a scan seen at 1:100: 30 samples stand for ~3000 probes
		c := conn{at: w.Add(time.Duration(i) * time.Second), host: "other", process: "masscan",
			local: "10.0.0.6", remote: "10.0.0.9", lport: 61000, rport: uint16(1000 + i), flags: 0xc2, rate: 100}
		flows = append(flows, c.out())
	}
	for i := range 500 { // a busy client: many connections, few ports
		c := conn{at: w.Add(time.Duration(i%120) * time.Second), host: "client", process: "curl",
			local: "10.0.0.7", remote: "10.0.0.9", lport: uint16(40000 + i), rport: []uint16{443, 80, 8080, 8443, 22}[i%5], flags: 0x02}
		flows = append(flows, c.out())
	}
	for i := range 50 { // a crawler below the host threshold
		c := conn{at: w, host: "crawler", local: "10.0.0.8", remote: "10.5.0." + itoa(i+1), lport: uint16(50000 + i), rport: 443, flags: 0x02}
		flows = append(flows, c.out())
	}
	for i := range 300 { // a server answering: SYN+ACK is no attempt
		c := conn{at: w, host: "server", local: "10.0.0.9", remote: "10.6.0." + itoa(i%250+1), lport: 443, rport: uint16(30000 + i), flags: 0x12}
		flows = append(flows, c.out())
	}
	for i := range 300 { // a scan before the window
		c := conn{at: ago(10 * time.Minute), local: "10.0.0.10", remote: "10.0.0.9", lport: 40000, rport: uint16(1 + i), flags: 0x02}
		flows = append(flows, c.out())
	}
	insert(t, st, flows, nil, nil)

	d := newDetector(t, only(testConfig(), RulePortScan), st, now)
	golden(t, "port-scan", run(t, d, st, now))

	cfg := only(testConfig(), RulePortScan)
	cfg.Rules.PortScan.Exclude = "ProcessName = 'nmap'"
	st2 := startStore(t, false)
	insert(t, st2, flows, nil, nil)
	d = newDetector(t, cfg, st2, now)
	got := run(t, d, st2, now)
	if len(got) != 1 || got[0].Subject.Address != "10.0.0.6" {
		t.Errorf("with nmap excluded: got %v, want only 10.0.0.6", subjects(got))
	}
}

func subjects(ds []Detection) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Rule+" "+d.Subject.String())
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

// total sums a counter vector over its labels.
func total(cv *prometheus.CounterVec) float64 {
	ch := make(chan prometheus.Metric, 100)
	cv.Collect(ch)
	close(ch)
	var sum float64
	for m := range ch {
		var pb dto.Metric
		if err := m.Write(&pb); err == nil {
			sum += pb.GetCounter().GetValue()
		}
	}
	return sum
}

// geo enriches an egress record's destination like GeoIP would.
func geo(r flow.Record, as uint32, country string) flow.Record {
	r.DstAS, r.DstCountry = as, country
	return r
}

func TestRuleNewPeer(t *testing.T) {
	t.Parallel()
	st := startStore(t, false)
	var flows []flow.Record
	// Three days of history, a connection every 6 hours.
	for at := ago(3 * 24 * time.Hour); at.Before(ago(10 * time.Minute)); at = at.Add(6 * time.Hour) {
		flows = append(flows,
			geo(conn{at: at, host: "h1", process: "curl", local: "10.1.0.1", remote: "192.0.2.1", lport: 40000, rport: 443}.out(), 64500, "DE"),
			geo(conn{at: at, host: "h1", process: "apt", local: "10.1.0.1", remote: "192.0.2.2", lport: 40001, rport: 80}.out(), 64500, "DE"),
			geo(conn{at: at, host: "h3", process: "curl", local: "10.1.0.3", remote: "192.0.2.1", lport: 40000, rport: 443}.out(), 64500, "DE"))
	}
	// h3 talked to 192.0.2.50 before the baseline (7 days) only.
	flows = append(flows, geo(conn{at: ago(8 * 24 * time.Hour), host: "h3", process: "curl", local: "10.1.0.3", remote: "192.0.2.50",
		lport: 40000, rport: 443}.out(), 64502, "FR"))
	w := ago(2 * time.Minute)
	flows = append(flows,
		// New to h1 (address, AS, country): reported for the host only.
		geo(conn{at: w, host: "h1", process: "curl", local: "10.1.0.1", remote: "198.51.100.7", lport: 40010, rport: 443}.out(), 64501, "NL"),
		// Known to h1 (curl talked to it) but new to apt.
		geo(conn{at: w, host: "h1", process: "apt", local: "10.1.0.1", remote: "192.0.2.1", lport: 40011, rport: 443}.out(), 64500, "DE"),
		// A new client of h1's server: not a connection h1 opened.
		conn{at: w, host: "h1", process: "nginx", local: "10.1.0.1", remote: "203.0.113.9", lport: 443, rport: 50000}.in(),
		geo(conn{at: w, host: "h1", process: "nginx", local: "10.1.0.1", remote: "203.0.113.9", lport: 443, rport: 50000}.out(), 64999, "US"),
		// h2 appeared an hour ago: everything is new to it, nothing is judged.
		geo(conn{at: ago(time.Hour), host: "h2", process: "curl", local: "10.1.0.2", remote: "192.0.2.1", lport: 40000, rport: 443}.out(), 64500, "DE"),
		geo(conn{at: w, host: "h2", process: "curl", local: "10.1.0.2", remote: "198.51.100.9", lport: 40000, rport: 443}.out(), 64501, "NL"),
		// Forgotten after the baseline: new again.
		geo(conn{at: w, host: "h3", process: "curl", local: "10.1.0.3", remote: "192.0.2.50", lport: 40001, rport: 443}.out(), 64502, "FR"),
	)
	insert(t, st, flows, nil, nil)

	cfg := only(testConfig(), RuleNewPeer)
	cfg.Rules.NewPeer.Kinds = []string{KindAddress, KindAS, KindCountry}
	cfg.Rules.NewPeer.PerProcess = true
	d := newDetector(t, cfg, st, now)
	golden(t, "new-peer", run(t, d, st, now))

	// A minute later h1 reaches one more new peer: the open detection is
	// updated (count 2, both peers), nothing new is opened.
	later := now.Add(time.Minute)
	insert(t, st, []flow.Record{geo(conn{at: ago(-10 * time.Second), host: "h1", process: "curl", local: "10.1.0.1",
		remote: "198.51.100.8", lport: 40012, rport: 443}.out(), 64501, "NL")}, nil, nil)
	got := run(t, d, st, later)
	if len(got) != 3 {
		t.Fatalf("after the second evaluation: %v, want the same 3 detections", subjects(got))
	}
	h1 := got[0]
	var keys []string
	for _, k := range h1.Keys {
		keys = append(keys, k.Kind+"="+k.Value)
	}
	want := []string{"address=198.51.100.7", "as=64501", "country=NL", "address=198.51.100.8"}
	if h1.Subject.String() != "host=h1" || h1.Count != 2 || !equalSets(keys, want) {
		t.Errorf("h1 after update: subject %s count %d keys %v, want host=h1 count 2 keys %v", h1.Subject, h1.Count, keys, want)
	}
	if want := "HostName = 'h1' AND FlowDirection = egress AND DstPort < SrcPort AND (DstAddr IN (198.51.100.7, 198.51.100.8) OR DstAS IN (AS64501) OR DstCountry IN ('NL'))"; h1.Evidence.Filter != want {
		t.Errorf("h1 filter after update:\n got %s\nwant %s", h1.Evidence.Filter, want)
	}
}

func equalSets(a, b []string) bool {
	a, b = append([]string(nil), a...), append([]string(nil), b...)
	sort.Strings(a)
	sort.Strings(b)
	return len(a) == len(b) && (len(a) == 0 || strings.Join(a, "\x00") == strings.Join(b, "\x00"))
}

func TestRuleNewService(t *testing.T) {
	t.Parallel()
	st := startStore(t, false)
	var flows []flow.Record
	ssh := func(at time.Time) []flow.Record {
		c := conn{at: at, host: "h1", process: "sshd", local: "10.1.0.1", remote: "10.9.0.1", lport: 22, rport: 52000, flags: 0x18}
		return []flow.Record{c.in(), c.out()}
	}
	for at := ago(3 * 24 * time.Hour); at.Before(ago(10 * time.Minute)); at = at.Add(time.Hour) {
		flows = append(flows, ssh(at)...)
	}
	w := ago(2 * time.Minute)
	flows = append(flows, ssh(w)...)
	// A new TCP service (handshake completed: ACK in).
	web := conn{at: w, host: "h1", process: "python3", local: "10.1.0.1", remote: "10.9.0.2", lport: 8443, rport: 51000, flags: 0x10}
	flows = append(flows, web.in(), web.out())
	// A scan of closed ports: SYN in, RST+ACK out.
	for p := range 100 {
		c := conn{at: w, host: "h1", local: "10.1.0.1", remote: "10.9.0.3", lport: uint16(1 + p), rport: 40000, flags: 0x02}
		r := c.out()
		r.TCPFlags = 0x14
		flows = append(flows, c.in(), r)
	}
	// UDP: 5353 only receives (no service answers); 1194 answers.
	flows = append(flows,
		conn{at: w, host: "h1", local: "10.1.0.1", remote: "10.9.0.5", lport: 5353, rport: 40000, proto: 17}.in(),
		conn{at: w, host: "h1", process: "openvpn", local: "10.1.0.1", remote: "10.9.0.5", lport: 1194, rport: 40001, proto: 17}.in(),
		conn{at: w, host: "h1", process: "openvpn", local: "10.1.0.1", remote: "10.9.0.5", lport: 1194, rport: 40001, proto: 17}.out())
	// h1 as a client: the replies come to an ephemeral port.
	cl := conn{at: w, host: "h1", process: "curl", local: "10.1.0.1", remote: "10.9.0.4", lport: 45000, rport: 443, flags: 0x10}
	flows = append(flows, cl.out(), cl.in())
	// h2 is new: its first service is not judged.
	c2 := conn{at: w, host: "h2", process: "nginx", local: "10.1.0.2", remote: "10.9.0.2", lport: 80, rport: 51000, flags: 0x10}
	flows = append(flows, c2.in(), c2.out())
	insert(t, st, flows, nil, nil)

	d := newDetector(t, only(testConfig(), RuleNewService), st, now)
	golden(t, "new-service", run(t, d, st, now))
}

// egressEvery returns one egress record per minute over [from, to) with
// bytesPerMin(t) bytes.
func egressEvery(host, process string, from, to time.Time, bytesPerMin func(time.Time) uint64) []flow.Record {
	var out []flow.Record
	for at := from; at.Before(to); at = at.Add(time.Minute) {
		out = append(out, conn{at: at.Add(17 * time.Second), host: host, process: process, local: "10.4.0.1", remote: "10.8.0.1",
			lport: 40000, rport: 443, flags: 0x10, bytes: bytesPerMin(at)}.out())
	}
	return out
}

func TestRuleEgressSpike(t *testing.T) {
	t.Parallel()
	st := startStore(t, true)
	const kbps = 1000 / 8 * 60 // bytes per minute at 1 kbps
	window := ago(5 * time.Minute)
	hourly := func(atHour11, otherwise uint64) func(time.Time) uint64 {
		return func(at time.Time) uint64 {
			if at.Hour() == 11 {
				return atHour11
			}
			return otherwise
		}
	}
	steady := func(v uint64) func(time.Time) uint64 { return func(time.Time) uint64 { return v } }
	var flows []flow.Record
	week := ago(7*24*time.Hour + time.Hour)
	// h1 is busy at 11:00 UTC every day: 160 kbps now is twice its usual
	// rate at that hour, though 20 times its daily average.
	flows = append(flows, egressEvery("h1", "app", week, window, hourly(80*kbps, 8*kbps))...)
	flows = append(flows, egressEvery("h1", "app", window, ago(0), steady(160*kbps))...)
	// h2: 10 times its usual rate at 11:00.
	flows = append(flows, egressEvery("h2", "app", week, window, hourly(80*kbps, 80*kbps))...)
	flows = append(flows, egressEvery("h2", "app", window, ago(0), steady(800*kbps))...)
	// h3 has sent for two hours only: compared with that.
	flows = append(flows, egressEvery("h3", "app", ago(2*time.Hour), window, steady(100*kbps))...)
	flows = append(flows, egressEvery("h3", "app", window, ago(0), steady(1000*kbps))...)
	// h4 has sent for 20 minutes: not judged yet.
	flows = append(flows, egressEvery("h4", "app", ago(20*time.Minute), window, steady(100*kbps))...)
	flows = append(flows, egressEvery("h4", "app", window, ago(0), steady(1000*kbps))...)
	// h5's total is steady but its backup process sends 20 times more.
	flows = append(flows, egressEvery("h5", "nginx", ago(3*time.Hour), ago(0), steady(1000*kbps))...)
	flows = append(flows, egressEvery("h5", "backup", ago(3*time.Hour), window, steady(10*kbps))...)
	flows = append(flows, egressEvery("h5", "backup", window, ago(0), steady(200*kbps))...)
	// h6 is steady.
	flows = append(flows, egressEvery("h6", "app", week, ago(0), steady(500*kbps))...)
	insert(t, st, flows, nil, nil)

	cfg := only(testConfig(), RuleEgressSpike)
	cfg.Rules.EgressSpike.MinRate = 100e3
	d := newDetector(t, cfg, st, now)
	golden(t, "egress-spike", run(t, d, st, now))
}

func TestRuleInterfaceSaturation(t *testing.T) {
	t.Parallel()
	st := startStore(t, false)
	type iface struct {
		index       uint32
		name, kind  string
		speed       uint64  // bits/s
		load        float64 // share of speed
		resetAt     int     // sample index where the agent restarts (counters from 0), 0 never
		slowSamples int     // samples at a tenth of the load
	}
	var recs []flow.InterfaceCounters
	for _, i := range []iface{
		{index: 2, name: "eth0", kind: "physical", speed: 1e9, load: 0.95, slowSamples: 2},
		{index: 3, name: "eth1", kind: "physical", speed: 1e9, load: 0.5},
		{index: 4, name: "veth0", kind: "veth", speed: 10e9, load: 1},
		{index: 5, name: "eth2", kind: "physical", speed: 1e9, load: 0.1, resetAt: 20},
		{index: 6, name: "eth3", kind: "physical", speed: 0, load: 1},
	} {
		var octets uint64
		for s := range 45 { // every 20 s over 15 minutes
			at := ago(15*time.Minute - time.Duration(s)*20*time.Second + 5*time.Second)
			load := i.load
			if s > 0 && s <= i.slowSamples {
				load /= 10
			}
			if s == i.resetAt && s > 0 {
				octets = 0
			}
			octets += uint64(load * float64(max(i.speed, 1e9)) / 8 * 20)
			recs = append(recs, flow.InterfaceCounters{TimeReceived: uint32(at.Unix()), ExporterAddress: netip.MustParseAddr("10.2.0.1"),
				ExporterName: "r1", IfIndex: i.index, IfName: i.name, IfKind: i.kind, IfSpeed: i.speed, IfStatus: 3,
				InOctets: octets / 10, OutOctets: octets})
		}
	}
	insert(t, st, nil, recs, nil)
	d := newDetector(t, only(testConfig(), RuleInterfaceSaturation), st, now)
	golden(t, "interface-saturation", run(t, d, st, now))
}

func TestRuleRetransmits(t *testing.T) {
	t.Parallel()
	st := startStore(t, false)
	var hosts []flow.HostCounters
	for _, h := range []struct {
		name          string
		sent, retrans uint32 // per sample
	}{{"h1", 10000, 800}, {"h2", 10000, 100}, {"h3", 100, 50}} {
		// TCPOutSegs wraps (32 bits) after a few samples: that interval is
		// left out, not counted as a huge or negative increase.
		var sent, retrans uint32 = 1<<32 - 45_000, 7
		for s := range 15 {
			at := ago(5*time.Minute - time.Duration(s)*20*time.Second + 5*time.Second)
			hosts = append(hosts, flow.HostCounters{TimeReceived: uint32(at.Unix()), ExporterAddress: netip.MustParseAddr("10.3.0.1"),
				HostName: h.name, TCPOutSegs: sent, TCPRetransSegs: retrans})
			sent += h.sent
			retrans += h.retrans
		}
	}
	var flows []flow.Record
	for i, n := range []uint32{10, 30, 50} {
		r := conn{at: ago(4*time.Minute - time.Duration(i)*time.Minute), host: "h1", process: "postgres", local: "10.3.0.1",
			remote: "10.3.0.9", lport: 40000, rport: 5432, flags: 0x10}.out()
		r.TCPRetrans = n
		flows = append(flows, r)
	}
	insert(t, st, flows, nil, hosts)
	d := newDetector(t, only(testConfig(), RuleRetransmits), st, now)
	golden(t, "retransmits", run(t, d, st, now))
}
