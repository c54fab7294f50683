package query

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/hostflow/hostflow/flow"
)

// healthReference computes a host's health series from the fixture's
// counter samples in Go, sample by sample: each interval between
// consecutive samples of a stream (whenever the earlier one was) given to
// the bucket of its later sample, negative steps and reboots (uptime going
// down) left out.
func healthReference(host string, start, end time.Time, step time.Duration, keep int) *HostHealthSeries {
	n := int(end.Sub(start) / step)
	out := &HostHealthSeries{Host: host, Start: start, End: end, Step: step}
	for _, s := range []*[]float64{&out.CPUBusyPct, &out.Load1, &out.CPUs, &out.MemUsed, &out.MemUsedPct,
		&out.DiskMaxUsedPct, &out.TCPRetransPerSec, &out.TCPRetransPct, &out.NetErrorsPerSec, &out.NetDropsPerSec} {
		*s = gaps(n)
	}
	to := end.Unix()
	bucket := func(t uint32) (int, bool) {
		if int64(t) < start.Unix() {
			return 0, false
		}
		return int((int64(t) - start.Unix()) / int64(step/time.Second)), true
	}
	type key struct {
		addr netip.Addr
		sub  uint32
	}
	streams := map[key][]flow.HostCounters{}
	addrs := map[netip.Addr]bool{}
	for _, c := range append(slices.Clone(fixtureHostCounters), healthHostCounters...) {
		if c.HostName == host && int64(c.TimeReceived) < to {
			k := key{c.ExporterAddress, c.SubAgentID}
			streams[k] = append(streams[k], c)
			if int64(c.TimeReceived) >= start.Unix() {
				addrs[c.ExporterAddress] = true
			}
		}
	}
	type sums struct {
		samples, load, cpus, memN, mem, memPct, disk             float64
		busy, total, retrans, outSegs, tcpDt, errs, drops, netDt float64
	}
	b := make([]sums, n)
	for i := range b {
		b[i].cpus, b[i].disk = math.Inf(-1), math.Inf(-1)
	}
	for _, s := range streams {
		slices.SortFunc(s, func(x, y flow.HostCounters) int { return cmp.Compare(x.TimeReceived, y.TimeReceived) })
		for j, c := range s {
			i, ok := bucket(c.TimeReceived)
			if !ok {
				continue
			}
			x := &b[i]
			x.samples++
			x.load += float64(c.LoadOne)
			x.cpus = max(x.cpus, float64(c.CPUNum))
			x.disk = max(x.disk, float64(c.DiskPartMaxUsed)/100)
			if c.MemTotal > 0 {
				used := float64(int64(c.MemTotal) - int64(c.MemFree+c.MemCached+c.MemBuffers))
				x.memN++
				x.mem += used
				x.memPct += 100 * used / float64(c.MemTotal)
			}
			if j == 0 {
				continue
			}
			p := s[j-1]
			dt := float64(c.TimeReceived) - float64(p.TimeReceived)
			if dt <= 0 || c.UptimeSeconds < p.UptimeSeconds {
				continue
			}
			busy := func(h flow.HostCounters) float64 {
				return float64(h.CPUUserMs) + float64(h.CPUNiceMs) + float64(h.CPUSystemMs) + float64(h.CPUWioMs) +
					float64(h.CPUIntrMs) + float64(h.CPUSintrMs) + float64(h.CPUStealMs)
			}
			if db, di := busy(c)-busy(p), float64(c.CPUIdleMs)-float64(p.CPUIdleMs); db >= 0 && di >= 0 {
				x.busy += db
				x.total += db + di
			}
			if dr, do := float64(c.TCPRetransSegs)-float64(p.TCPRetransSegs), float64(c.TCPOutSegs)-float64(p.TCPOutSegs); dr >= 0 && do >= 0 {
				x.retrans += dr
				x.outSegs += do
				x.tcpDt += dt
			}
			de := float64(c.NetErrsIn+c.NetErrsOut) - float64(p.NetErrsIn+p.NetErrsOut)
			dd := float64(c.NetDropsIn+c.NetDropsOut) - float64(p.NetDropsIn+p.NetDropsOut)
			if de >= 0 && dd >= 0 {
				x.errs += de
				x.drops += dd
				x.netDt += dt
			}
		}
	}
	for i, x := range b {
		out.Samples += uint64(x.samples)
		if x.samples > 0 {
			out.Load1[i], out.CPUs[i], out.DiskMaxUsedPct[i] = x.load/x.samples, x.cpus, x.disk
		}
		if x.memN > 0 {
			out.MemUsed[i], out.MemUsedPct[i] = x.mem/x.memN, x.memPct/x.memN
		}
		out.CPUBusyPct[i] = ratio(100*x.busy, x.total)
		out.TCPRetransPerSec[i], out.TCPRetransPct[i] = ratio(x.retrans, x.tcpDt), ratio(100*x.retrans, x.outSegs)
		out.NetErrorsPerSec[i], out.NetDropsPerSec[i] = ratio(x.errs, x.netDt), ratio(x.drops, x.netDt)
	}

	// Interfaces of the host's exporter addresses, merged by name.
	type ifKey struct {
		addr  netip.Addr
		sub   uint32
		index uint32
	}
	ifStreams := map[ifKey][]flow.InterfaceCounters{}
	for _, c := range append(slices.Clone(fixtureIfCounters), healthIfCounters...) {
		if addrs[c.ExporterAddress] && int64(c.TimeReceived) < to {
			k := ifKey{c.ExporterAddress, c.SubAgentID, c.IfIndex}
			ifStreams[k] = append(ifStreams[k], c)
		}
	}
	type ifSums struct {
		in, inDt, out, outDt float64
		latest               uint32
		kind                 string
		speed                uint64
		seen                 bool
	}
	byName := map[string][]ifSums{}
	for _, s := range ifStreams {
		slices.SortFunc(s, func(x, y flow.InterfaceCounters) int { return cmp.Compare(x.TimeReceived, y.TimeReceived) })
		for j, c := range s {
			i, ok := bucket(c.TimeReceived)
			if !ok {
				continue
			}
			name := c.IfName
			if name == "" {
				name = fmt.Sprint(c.IfIndex)
			}
			if byName[name] == nil {
				byName[name] = make([]ifSums, n)
			}
			x := &byName[name][i]
			if !x.seen || c.TimeReceived > x.latest {
				x.seen, x.latest, x.kind, x.speed = true, c.TimeReceived, c.IfKind, c.IfSpeed
			}
			if j == 0 || c.TimeReceived == s[j-1].TimeReceived {
				continue
			}
			dt := float64(c.TimeReceived) - float64(s[j-1].TimeReceived)
			if d := float64(c.InOctets) - float64(s[j-1].InOctets); d >= 0 {
				x.in += d
				x.inDt += dt
			}
			if d := float64(c.OutOctets) - float64(s[j-1].OutOctets); d >= 0 {
				x.out += d
				x.outDt += dt
			}
		}
	}
	var names []string
	for name := range byName {
		names = append(names, name)
	}
	slices.Sort(names)
	total := map[string]float64{}
	for _, name := range names {
		s := InterfaceSeries{Name: name, InBps: gaps(n), OutBps: gaps(n), InPct: gaps(n), OutPct: gaps(n)}
		for i, x := range byName[name] {
			if !x.seen {
				continue
			}
			s.Kind, s.Speed = x.kind, x.speed
			s.InBps[i], s.OutBps[i] = ratio(8*x.in, x.inDt), ratio(8*x.out, x.outDt)
			if x.speed > 0 {
				s.InPct[i], s.OutPct[i] = 100*s.InBps[i]/float64(x.speed), 100*s.OutBps[i]/float64(x.speed)
			}
			total[name] += x.in + x.out
		}
		out.Interfaces = append(out.Interfaces, s)
	}
	slices.SortStableFunc(out.Interfaces, func(x, y InterfaceSeries) int { return cmp.Compare(total[y.Name], total[x.Name]) })
	if len(out.Interfaces) > keep {
		out.Interfaces = out.Interfaces[:keep]
	}
	return out
}

// sameValues compares series where NaN (no data) equals NaN.
func sameValues(t *testing.T, what string, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d values, want %d", what, len(got), len(want))
		return
	}
	for i := range want {
		if math.IsNaN(got[i]) != math.IsNaN(want[i]) || !math.IsNaN(want[i]) && !near(got[i], want[i]) {
			t.Errorf("%s bucket %d:\n-got  %v\n+want %v", what, i, got[i], want[i])
			return
		}
	}
}

func compareHealth(t *testing.T, got, want *HostHealthSeries) {
	t.Helper()
	if !got.Start.Equal(want.Start) || !got.End.Equal(want.End) || got.Step != want.Step || len(got.Times) != int(want.End.Sub(want.Start)/want.Step) {
		t.Fatalf("range %s-%s step %s (%d times), want %s-%s step %s", got.Start, got.End, got.Step, len(got.Times),
			want.Start, want.End, want.Step)
	}
	if got.Samples != want.Samples {
		t.Errorf("samples %d, want %d", got.Samples, want.Samples)
	}
	for _, m := range []struct {
		name      string
		got, want []float64
	}{
		{"cpu", got.CPUBusyPct, want.CPUBusyPct}, {"load", got.Load1, want.Load1}, {"cpus", got.CPUs, want.CPUs},
		{"mem", got.MemUsed, want.MemUsed}, {"mem %", got.MemUsedPct, want.MemUsedPct},
		{"disk", got.DiskMaxUsedPct, want.DiskMaxUsedPct}, {"retrans/s", got.TCPRetransPerSec, want.TCPRetransPerSec},
		{"retrans %", got.TCPRetransPct, want.TCPRetransPct}, {"errors/s", got.NetErrorsPerSec, want.NetErrorsPerSec},
		{"drops/s", got.NetDropsPerSec, want.NetDropsPerSec},
	} {
		sameValues(t, m.name, m.got, m.want)
	}
	var gotNames, wantNames []string
	for _, s := range got.Interfaces {
		gotNames = append(gotNames, s.Name)
	}
	for _, s := range want.Interfaces {
		wantNames = append(wantNames, s.Name)
	}
	if !slices.Equal(gotNames, wantNames) {
		t.Fatalf("interfaces:\n-got  %v\n+want %v", gotNames, wantNames)
	}
	for i, w := range want.Interfaces {
		g := got.Interfaces[i]
		if g.Kind != w.Kind || g.Speed != w.Speed {
			t.Errorf("%s: kind %q speed %d, want %q %d", w.Name, g.Kind, g.Speed, w.Kind, w.Speed)
		}
		sameValues(t, w.Name+" in bps", g.InBps, w.InBps)
		sameValues(t, w.Name+" out bps", g.OutBps, w.OutBps)
		sameValues(t, w.Name+" in %", g.InPct, w.InPct)
		sameValues(t, w.Name+" out %", g.OutPct, w.OutPct)
	}
}

func TestHostHealthSeries(t *testing.T) {
	b := store(t)
	cases := []struct {
		name       string
		host       string
		start, end time.Time
		points     int
		interfaces int
		step       time.Duration
	}{
		{"whole range, 5 min", healthHost, fixStart, fixEnd, 24, 0, 5 * time.Minute},
		// Unaligned, starting after the host's first samples (the lookback
		// gives the first bucket its interval); a minute at the finest.
		{"one hour, finest", healthHost, fixStart.Add(17 * time.Minute), fixStart.Add(77 * time.Minute), 1000, 0, time.Minute},
		{"two busiest interfaces", healthHost, fixStart, fixEnd, 0, 2, time.Minute},
		{"steady host with a restart", "web-1", fixStart, fixEnd, 12, 0, 10 * time.Minute},
		{"unknown host", "nope", fixStart, fixEnd, 12, 0, 10 * time.Minute},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := b.HostHealthSeries(ctx, HostHealthRequest{Host: c.host, Start: c.start, End: c.end, Points: c.points,
				Interfaces: c.interfaces})
			if err != nil {
				t.Fatal(err)
			}
			start, end := alignRange(c.start, c.end, c.step)
			keep := c.interfaces
			if keep == 0 {
				keep = defaultHealthInterfaces
			}
			compareHealth(t, got, healthReference(c.host, start, end, c.step, keep))
		})
	}
}

// TestHealthFixtureCoversEdges guards the fixture: the irregularities the
// health series must survive are really in it, and show in the answer.
func TestHealthFixtureCoversEdges(t *testing.T) {
	b := store(t)
	got, err := b.HostHealthSeries(ctx, HostHealthRequest{Host: healthHost, Start: fixStart, End: fixEnd, Points: 1000})
	if err != nil {
		t.Fatal(err)
	}
	at := func(hh, mm int) int { return (hh-10)*60 + mm }
	for _, c := range []struct {
		what   string
		values []float64
		minute int
		nan    bool
	}{
		{"no sample in the gap", got.Load1, at(10, 45), true},
		{"the interval over the gap, in the bucket of its end", got.CPUBusyPct, at(10, 55), false},
		{"memory not reported", got.MemUsedPct, at(10, 7), true},
		{"memory reported", got.MemUsedPct, at(10, 12), false},
	} {
		if math.IsNaN(c.values[c.minute]) != c.nan {
			t.Errorf("%s: minute %d = %v", c.what, c.minute, c.values[c.minute])
		}
	}
	// The CPU user counter wraps once and the host reboots once.
	var wraps, reboots int
	addrs := map[netip.Addr]bool{}
	for i, c := range healthHostCounters[1:] {
		p := healthHostCounters[i]
		addrs[c.ExporterAddress] = true
		switch {
		case c.UptimeSeconds < p.UptimeSeconds:
			reboots++
		case c.CPUUserMs < p.CPUUserMs:
			wraps++
		}
	}
	if wraps != 1 || reboots != 1 || len(addrs) != 2 {
		t.Errorf("fixture: %d wraps, %d reboots, %d addresses; want 1, 1, 2", wraps, reboots, len(addrs))
	}
	for _, s := range got.CPUBusyPct {
		if s < 0 || s > 100 {
			t.Fatalf("CPU busy %v out of 0-100: a wrap or reboot leaked", s)
		}
	}
	names := map[string]InterfaceSeries{}
	for _, s := range got.Interfaces {
		names[s.Name] = s
	}
	if len(names) != 3 || names["7"].Kind != "veth" || names["tun0"].Speed != 0 || names["eth0"].Speed != 1e10 {
		t.Errorf("interfaces %+v", got.Interfaces)
	}
	if !math.IsNaN(names["tun0"].InPct[30]) || math.IsNaN(names["eth0"].InPct[30]) {
		t.Error("utilisation: unknown speed must give no value, a known one a value")
	}
}

// The hosts list's CPU sparklines are the same series, for every host in
// one statement.
func TestHostsCPUSeries(t *testing.T) {
	b := store(t)
	hosts, err := b.Hosts(ctx, HostsRequest{Start: fixStart, End: fixEnd, CPUPoints: 12})
	if err != nil {
		t.Fatal(err)
	}
	if len(hosts) != 3 {
		t.Fatalf("%d hosts", len(hosts))
	}
	for _, h := range hosts {
		want := healthReference(h.Host, fixStart, fixEnd, 10*time.Minute, 0)
		sameValues(t, h.Host, h.CPUBusyPct, want.CPUBusyPct)
	}
}

func TestHostHealthRequestErrors(t *testing.T) {
	b := planBuilder(t, retention)
	day := planNow.Add(-24 * time.Hour)
	for _, req := range []HostHealthRequest{
		{Start: day, End: planNow},
		{Host: "h", Start: planNow, End: day},
		{Host: "h", Start: day, End: planNow, Interfaces: 51},
	} {
		_, err := b.HostHealthSeries(ctx, req)
		var re *RequestError
		if !errors.As(err, &re) {
			t.Errorf("%+v: got %v, want a RequestError", req, err)
		}
	}
}
