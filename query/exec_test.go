package query

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/query/filter"
)

type rec = flow.Record

var ctx = context.Background()

// Dimension labels and units computed in Go, independently of the SQL.
var (
	srcAS      = func(r *rec) string { return fmt.Sprintf("AS%d", r.SrcAS) }
	dstAS      = func(r *rec) string { return fmt.Sprintf("AS%d", r.DstAS) }
	srcCountry = func(r *rec) string { return r.SrcCountry }
	proto      = func(r *rec) string { return map[uint8]string{6: "tcp", 17: "udp", 1: "icmp"}[r.Proto] }
	l3bps      = func(r *rec) float64 { return float64(r.Bytes * r.SamplingRate * 8) }
	all        = func(*rec) bool { return true }
)

// expectSeries aggregates the fixture like a time series request should.
func expectSeries(pred func(*rec) bool, dims []func(*rec) string, value func(*rec) float64,
	start, end time.Time, step time.Duration, limit int, topBy TopBy) []Series {
	n := int(end.Sub(start) / step)
	secs := step.Seconds()
	sums := map[string][]float64{}
	labels := map[string][]string{}
	for i := range fixtureFlows {
		r := &fixtureFlows[i]
		t := time.Unix(int64(r.TimeReceived), 0)
		if t.Before(start) || !t.Before(end) || !pred(r) {
			continue
		}
		var ls []string
		for _, d := range dims {
			ls = append(ls, d(r))
		}
		k := strings.Join(ls, "\x00")
		if sums[k] == nil {
			sums[k], labels[k] = make([]float64, n), ls
		}
		sums[k][int(t.Sub(start)/step)] += value(r) / secs
	}
	keys := make([]string, 0, len(sums))
	score := map[string]float64{}
	for k, v := range sums {
		keys = append(keys, k)
		switch topBy {
		case TopByMax:
			score[k] = slices.Max(v)
		case TopByLast:
			score[k] = v[n-1]
		default:
			for _, x := range v {
				score[k] += x
			}
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if score[keys[i]] != score[keys[j]] {
			return score[keys[i]] > score[keys[j]]
		}
		return keys[i] < keys[j]
	})
	var out []Series
	var other *Series
	for i, k := range keys {
		if len(dims) > 0 && i >= limit {
			if other == nil {
				other = &Series{Other: true, Values: make([]float64, n)}
				for range dims {
					other.Labels = append(other.Labels, "Other")
				}
			}
			for j, v := range sums[k] {
				other.Values[j] += v
			}
			continue
		}
		out = append(out, Series{Labels: labels[k], Values: sums[k]})
	}
	if other != nil {
		out = append(out, *other)
	}
	return out
}

func near(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

func compareSeries(t *testing.T, what string, got, want []Series) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d series, want %d\n-got  %v\n+want %v", what, len(got), len(want), seriesLabels(got), seriesLabels(want))
	}
	for i := range want {
		if !slices.Equal(got[i].Labels, want[i].Labels) || got[i].Other != want[i].Other {
			t.Fatalf("%s: series %d:\n-got  %v\n+want %v", what, i, seriesLabels(got), seriesLabels(want))
		}
		for j := range want[i].Values {
			if !near(got[i].Values[j], want[i].Values[j]) {
				t.Fatalf("%s: series %v bucket %d: got %v, want %v", what, want[i].Labels, j, got[i].Values[j], want[i].Values[j])
			}
		}
	}
}

func seriesLabels(s []Series) [][]string {
	var out [][]string
	for _, x := range s {
		out = append(out, x.Labels)
	}
	return out
}

// TestTimeSeriesTables runs one top-N request at several resolutions: each
// lands on a different table (raw, 1m, 5m, 1h rollups fed by the
// materialized views) and must give the answer computed in Go.
func TestTimeSeriesTables(t *testing.T) {
	b := store(t)
	cases := []struct {
		points int
		filter string
		pred   func(*rec) bool
		table  string
		step   time.Duration
	}{
		{200, "", all, "flows_1m", time.Minute},
		{24, "", all, "flows_5m", 5 * time.Minute},
		{2, "", all, "flows_1h", time.Hour},
		{200, "SrcPort = 443", func(r *rec) bool { return r.SrcPort == 443 }, "flows", time.Minute},
		{24, "Proto = udp OR InIfBoundary = external", func(r *rec) bool { return r.Proto == 17 || r.InIfBoundary == 1 },
			"flows_5m", 5 * time.Minute},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%d/%s", c.points, c.filter), func(t *testing.T) {
			got, err := b.TimeSeries(ctx, TimeSeriesRequest{Start: fixStart, End: fixEnd, Points: c.points,
				Dimensions: []string{"SrcAS"}, Limit: 5, Filter: c.filter})
			if err != nil {
				t.Fatal(err)
			}
			if got.Table != c.table || got.Step != c.step || len(got.Times) != int(2*time.Hour/c.step) {
				t.Errorf("table %s step %s points %d, want %s %s", got.Table, got.Step, len(got.Times), c.table, c.step)
			}
			want := expectSeries(c.pred, []func(*rec) string{srcAS}, l3bps, fixStart, fixEnd, c.step, 5, TopBySum)
			compareSeries(t, "series", got.Series, want)
		})
	}
}

func TestTimeSeriesUnitsAndRanking(t *testing.T) {
	b := store(t)
	l2 := func(r *rec) float64 { return float64((r.Bytes+38*r.Packets)*r.SamplingRate) * 8 }
	cases := []struct {
		unit  Unit
		topBy TopBy
		value func(*rec) float64
		dims  []string
		fns   []func(*rec) string
	}{
		{UnitL3bps, TopByMax, l3bps, []string{"SrcCountry", "Proto"}, []func(*rec) string{srcCountry, proto}},
		{UnitL2bps, TopByLast, l2, []string{"DstAS"}, []func(*rec) string{dstAS}},
		{UnitPPS, TopByAvg, func(r *rec) float64 { return float64(r.Packets * r.SamplingRate) }, []string{"Proto"}, []func(*rec) string{proto}},
		{UnitFPS, TopBySum, func(*rec) float64 { return 1 }, []string{"SrcAS"}, []func(*rec) string{srcAS}},
		{UnitInIfSpeed, TopBySum, func(r *rec) float64 { return l2(r) * 100 / (float64(r.InIfSpeed) * 1e6) }, nil, nil},
		{UnitOutIfSpeed, TopBySum, func(r *rec) float64 {
			if r.OutIfSpeed == 0 {
				return 0
			}
			return l2(r) * 100 / (float64(r.OutIfSpeed) * 1e6)
		}, nil, nil},
	}
	for _, c := range cases {
		t.Run(string(c.unit)+"/"+string(c.topBy), func(t *testing.T) {
			got, err := b.TimeSeries(ctx, TimeSeriesRequest{Start: fixStart, End: fixEnd, Points: 24,
				Dimensions: c.dims, Limit: 3, TopBy: c.topBy, Unit: c.unit})
			if err != nil {
				t.Fatal(err)
			}
			want := expectSeries(all, c.fns, c.value, fixStart, fixEnd, got.Step, 3, c.topBy)
			compareSeries(t, "series", got.Series, want)
		})
	}
}

func TestTimeSeriesBidirectionalAndPrevious(t *testing.T) {
	b := store(t)
	start := fixStart.Add(time.Hour)
	got, err := b.TimeSeries(ctx, TimeSeriesRequest{Start: start, End: fixEnd, Points: 12,
		Dimensions: []string{"SrcAS"}, Limit: 4, Filter: "SrcCountry = 'FR'", Bidirectional: true,
		PreviousPeriod: PreviousHour})
	if err != nil {
		t.Fatal(err)
	}
	step := got.Step
	compareSeries(t, "forward", got.Series, expectSeries(func(r *rec) bool { return r.SrcCountry == "FR" },
		[]func(*rec) string{srcAS}, l3bps, start, fixEnd, step, 4, TopBySum))
	compareSeries(t, "reverse", got.Reverse, expectSeries(func(r *rec) bool { return r.DstCountry == "FR" },
		[]func(*rec) string{dstAS}, l3bps, start, fixEnd, step, 4, TopBySum))
	prev := expectSeries(func(r *rec) bool { return r.SrcCountry == "FR" }, nil, l3bps, fixStart, start, step, 4, TopBySum)
	if got.Previous == nil {
		t.Fatal("no previous period")
	}
	compareSeries(t, "previous", []Series{*got.Previous}, prev)
}

func TestTableStats(t *testing.T) {
	b := store(t)
	got, err := b.TimeSeries(ctx, TimeSeriesRequest{Start: fixStart, End: fixEnd, Points: 24, Dimensions: []string{"Proto"}})
	if err != nil {
		t.Fatal(err)
	}
	var total float64
	for i := range fixtureFlows {
		if fixtureFlows[i].Proto == 6 {
			total += l3bps(&fixtureFlows[i])
		}
	}
	s := got.Series[slices.IndexFunc(got.Series, func(s Series) bool { return s.Labels[0] == "tcp" })]
	if !near(s.Stats.Total, total) {
		t.Errorf("total = %v, want %v", s.Stats.Total, total)
	}
	if !near(s.Stats.Avg, total/7200) || s.Stats.Min > s.Stats.Avg || s.Stats.Max < s.Stats.P95 || s.Stats.Last != s.Values[len(s.Values)-1] {
		t.Errorf("stats inconsistent: %+v (avg want %v)", s.Stats, total/7200)
	}
}

func TestSankey(t *testing.T) {
	b := store(t)
	got, err := b.Sankey(ctx, SankeyRequest{Start: fixStart, End: fixEnd, Dimensions: []string{"SrcCountry", "DstAS"},
		Limit: 6, Filter: "Proto != icmp AND InIfBoundary = external", Bidirectional: true})
	if err != nil {
		t.Fatal(err)
	}
	if got.Table != "flows_1h" {
		t.Errorf("table = %s, want flows_1h", got.Table)
	}
	// A sankey is a time series with one bucket spanning the range.
	want := expectSeries(func(r *rec) bool { return r.Proto != 1 && r.InIfBoundary == 1 }, []func(*rec) string{srcCountry, dstAS}, l3bps,
		fixStart, fixEnd, 2*time.Hour, 6, TopBySum)
	checkPaths(t, "forward", got, want)
	if got.Reverse == nil {
		t.Fatal("no reverse half")
	}
	dstCountry := func(r *rec) string { return r.DstCountry }
	checkPaths(t, "reverse", got.Reverse, expectSeries(func(r *rec) bool { return r.Proto != 1 && r.OutIfBoundary == 1 },
		[]func(*rec) string{dstCountry, srcAS}, l3bps, fixStart, fixEnd, 2*time.Hour, 6, TopBySum))
}

func checkPaths(t *testing.T, what string, got *Sankey, want []Series) {
	t.Helper()
	if len(got.Paths) != len(want) {
		t.Fatalf("%s: got %d paths, want %d", what, len(got.Paths), len(want))
	}
	var sum float64
	for i, p := range got.Paths {
		if !slices.Equal(p.Labels, want[i].Labels) || !near(p.Value, want[i].Values[0]) {
			t.Errorf("%s path %d:\n-got  %v %v\n+want %v %v", what, i, p.Labels, p.Value, want[i].Labels, want[i].Values[0])
		}
		sum += p.Value
	}
	var links float64
	for _, l := range got.Links {
		if got.Nodes[l.Source].Dimension != 0 || got.Nodes[l.Target].Dimension != 1 {
			t.Errorf("link %+v does not join consecutive dimensions", l)
		}
		links += l.Value
	}
	if !near(links, sum) {
		t.Errorf("links carry %v, paths %v", links, sum)
	}
}

func TestFlowsPagingAndCSV(t *testing.T) {
	b := store(t)
	req := FlowsRequest{Start: fixStart, End: fixStart.Add(10 * time.Minute), Filter: "HostName = 'web-1' AND Proto = tcp",
		Columns: []string{"TimeReceived", "SrcAddr", "Proto", "Bytes", "ProcessName"}, Limit: 7}
	var want []rec
	for _, r := range fixtureFlows {
		if r.HostName == "web-1" && r.Proto == 6 && int64(r.TimeReceived) < req.End.Unix() {
			want = append(want, r)
		}
	}
	slices.Reverse(want) // newest first; one flow per second, so no ties
	var got [][]any
	for page := 0; page < 100; page++ {
		res, err := b.Flows(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, res.Rows...)
		if res.Next < 0 {
			break
		}
		req.Offset = res.Next
	}
	if len(got) != len(want) {
		t.Fatalf("got %d flows, want %d", len(got), len(want))
	}
	for i, r := range want {
		g := got[i]
		if g[0].(time.Time).Unix() != int64(r.TimeReceived) || g[1] != r.SrcAddr || g[2] != "tcp" ||
			g[3] != r.Bytes*r.SamplingRate || g[4] != r.ProcessName {
			t.Fatalf("flow %d:\n-got  %v\n+want %v", i, g, r)
		}
	}
	req.Offset = 0
	var buf bytes.Buffer
	if err := b.ExportCSV(ctx, req, &buf); err != nil {
		t.Fatal(err)
	}
	lines, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != len(want)+1 || strings.Join(lines[0], ",") != "TimeReceived,SrcAddr,Proto,Bytes,ProcessName" {
		t.Fatalf("CSV: %d lines, header %v", len(lines), lines[0])
	}
	if l := lines[1]; l[0] != time.Unix(int64(want[0].TimeReceived), 0).UTC().Format(time.RFC3339) || l[1] != want[0].SrcAddr.String() ||
		l[4] != want[0].ProcessName {
		t.Errorf("CSV first row %v, want %v", l, want[0])
	}
}

// TestInjection runs filters holding hostile strings on the real engine:
// every one must match exactly the records holding that literal value.
func TestInjection(t *testing.T) {
	b := store(t)
	for _, s := range hostile {
		if strings.Contains(s, "\n") {
			continue // the filter language has no newline escape (as Akvorado)
		}
		for _, op := range []string{"=", "IN"} {
			text := "ProcessName " + op + " " + filter.Quote(s)
			if op == "IN" {
				text = "ProcessName IN (" + filter.Quote(s) + ", 'nope')"
			}
			res, err := b.Sankey(ctx, SankeyRequest{Start: fixStart, End: fixEnd, Dimensions: []string{"ProcessName", "HostName"},
				Filter: text, Unit: UnitFPS, Limit: 50})
			if err != nil {
				t.Fatalf("%s: %v", text, err)
			}
			var got, want float64
			for _, p := range res.Paths {
				if p.Labels[0] != s {
					t.Errorf("%s: matched %q", text, p.Labels[0])
				}
				got += p.Value * res.End.Sub(res.Start).Seconds()
			}
			for _, r := range fixtureFlows {
				if r.ProcessName == s {
					want++
				}
			}
			if want == 0 || !near(got, want) {
				t.Errorf("%s: %v flows, want %v", text, got, want)
			}
		}
	}
	// LIKE keeps its wildcards, and escaping them matches literally.
	res, err := b.Flows(ctx, FlowsRequest{Start: fixStart, End: fixEnd, Filter: `ProcessName LIKE '\\%percent\\_'`,
		Columns: []string{"ProcessName"}, Limit: 1})
	if err != nil || len(res.Rows) != 1 || res.Rows[0][0] != `%percent_` {
		t.Errorf("escaped LIKE: %v %v", res, err)
	}
	// The table is still there and whole.
	res2, err := b.TimeSeries(ctx, TimeSeriesRequest{Start: fixStart, End: fixEnd, Points: 2, Unit: UnitFPS})
	if err != nil || len(res2.Series) != 1 || !near(res2.Series[0].Stats.Total, float64(len(fixtureFlows))) {
		t.Errorf("flows after injection attempts: %+v %v", res2, err)
	}
}

func TestHosts(t *testing.T) {
	b := store(t)
	got, err := b.Hosts(ctx, HostsRequest{Start: fixStart.Add(time.Hour), End: fixEnd, Top: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("got %d hosts, want 3", len(got))
	}
	secs := 3600.0
	for _, h := range got {
		var in, out float64
		procs := map[string]float64{}
		peers := map[string]float64{}
		seenBefore := map[string]bool{}
		for _, r := range fixtureFlows {
			if r.HostName != h.Host {
				continue
			}
			peer := r.SrcAddr
			if r.FlowDirection == 2 {
				peer = r.DstAddr
			}
			if int64(r.TimeReceived) < fixStart.Add(time.Hour).Unix() {
				seenBefore[peer.Unmap().String()] = true
				continue
			}
			if r.FlowDirection == 1 {
				in += l3bps(&r)
			} else {
				out += l3bps(&r)
			}
			procs[r.ProcessName] += l3bps(&r) / secs
			peers[peer.Unmap().String()] += l3bps(&r) / secs
		}
		if !near(h.InBps, in/secs) || !near(h.OutBps, out/secs) {
			t.Errorf("%s: in/out %v/%v, want %v/%v", h.Host, h.InBps, h.OutBps, in/secs, out/secs)
		}
		checkTop(t, h.Host+" processes", h.TopProcesses, procs, 3)
		checkTop(t, h.Host+" peers", h.TopPeers, peers, 3)
		newPeers := map[string]float64{}
		for p, v := range peers {
			if !seenBefore[p] {
				newPeers[p] = v
			}
		}
		if h.NewPeerCount != uint64(len(newPeers)) {
			t.Errorf("%s: %d new peers, want %d", h.Host, h.NewPeerCount, len(newPeers))
		}
		checkTop(t, h.Host+" new peers", h.NewPeers, newPeers, 3)
		hh := h.Health
		// Counters over 10:00-12:00 restart at 11:00; the window 11:00-12:00
		// holds samples k = 0..179: deltas are 179 steps.
		if hh == nil || hh.TCPRetrans != 2*179 || !near(hh.TCPRetransPct, 2) || !near(hh.CPUBusyPct, 25) ||
			hh.NetErrors != 179 || hh.NetDrops != 3*179 || hh.DiskMaxUsed != 42.5 || hh.MemAvailable != 3<<30+1<<29 {
			t.Errorf("%s: health %+v", h.Host, hh)
		}
		if len(h.Interfaces) != 1 || !near(h.Interfaces[0].InBps, 1250000*8/20.0) || !near(h.Interfaces[0].OutPct, 2500000*8/20/1e9*100) {
			t.Errorf("%s: interfaces %+v", h.Host, h.Interfaces)
		}
	}
	one, err := b.Hosts(ctx, HostsRequest{Start: fixStart, End: fixEnd, Host: "db-1"})
	if err != nil || len(one) != 1 || one[0].Host != "db-1" {
		t.Errorf("one host: %+v %v", one, err)
	}
}

func checkTop(t *testing.T, what string, got []Top, want map[string]float64, n int) {
	t.Helper()
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return want[keys[i]] > want[keys[j]] })
	if len(keys) > n {
		keys = keys[:n]
	}
	if len(got) != len(keys) {
		t.Errorf("%s: got %d entries, want %d", what, len(got), len(keys))
		return
	}
	for i, k := range keys {
		if got[i].Label != k || !near(got[i].Bps, want[k]) {
			t.Errorf("%s %d: got %s %v, want %s %v", what, i, got[i].Label, got[i].Bps, k, want[k])
		}
	}
}

func TestValues(t *testing.T) {
	b := store(t)
	b2 := *b
	b2.now = func() time.Time { return fixEnd } // the fixture is the last 2 hours
	cases := []struct {
		column, prefix string
		want           []string
	}{
		{"HostName", "WE", []string{"web-1"}},
		{"ExporterName", "exp-", []string{"exp-0", "exp-1", "exp-2", "exp-3"}},
		{"SrcAddr", "10.0.1.", nil},
		{"SrcAS", "as6450", nil},
		{"Proto", "t", nil},
	}
	for _, c := range cases {
		got, err := b2.Values(ctx, c.column, c.prefix)
		if err != nil {
			t.Fatalf("%s %q: %v", c.column, c.prefix, err)
		}
		switch c.column {
		case "ExporterName":
			slices.Sort(got)
		case "SrcAddr", "SrcAS":
			// Busiest first; check membership and order against Go.
			if len(got) == 0 || len(got) > 20 {
				t.Fatalf("%s %q: %v", c.column, c.prefix, got)
			}
			for _, v := range got {
				if !strings.HasPrefix(strings.ToLower(v), strings.ToLower(c.prefix)) {
					t.Errorf("%s %q: %q does not match", c.column, c.prefix, v)
				}
			}
			continue
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s %q:\n-got  %q\n+want %q", c.column, c.prefix, got, c.want)
		}
	}
	// Through the filter package's completion.
	comp, err := filter.Complete(ctx, b2.flow, "HostName = 'c", 13, &b2)
	if err != nil || len(comp.Candidates) != 1 || comp.Candidates[0].Text != "'cache-1'" {
		t.Errorf("completion: %+v %v", comp, err)
	}
	if _, err := b2.Values(ctx, "Bytes", ""); err == nil {
		t.Error("Values(Bytes) accepted")
	}
}
