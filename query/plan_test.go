package query

import (
	"context"
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/internal/daemon"
	"github.com/hostflow/hostflow/store/schema"
	"github.com/hostflow/hostflow/store/transport"
)

var update = flag.Bool("update", false, "rewrite testdata/*.sql golden files")

// unreachable is the querier of builders that only prepare statements.
type unreachable struct{}

func (unreachable) Query(context.Context, string, map[string]string) (*transport.Result, error) {
	return nil, errors.New("no store in this test")
}

var planNow = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func planBuilder(t *testing.T, opts schema.Options) *Builder {
	t.Helper()
	fs := flow.NewSchema()
	if opts.Database == "" {
		opts.Database = "hostflow"
	}
	ss, err := schema.New(fs, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(DefaultConfig(), Dependencies{Flow: fs, Store: ss, Querier: unreachable{},
		Reporter: daemon.NewReporter(daemon.NewLogger(os.Stderr, 0, false), nil),
		Now:      func() time.Time { return planNow }})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var retention = schema.Options{Rollups: true, TTL: map[string]time.Duration{
	schema.Flows: 15 * 24 * time.Hour, schema.Flows1m: 7 * 24 * time.Hour,
	schema.Flows5m: 90 * 24 * time.Hour, schema.Flows1h: 365 * 24 * time.Hour,
}}

func golden(t *testing.T, name string, plans ...*plan) {
	t.Helper()
	var b strings.Builder
	for _, p := range plans {
		if p == nil {
			continue
		}
		b.WriteString("-- " + p.kind + " on " + p.table.name + "\n" + p.sql + ";\n-- params:")
		for i := 1; i <= len(p.params.Values()); i++ {
			name := "p" + itoa(int64(i))
			b.WriteString(" " + name + "=" + p.params.Values()[name])
		}
		b.WriteString("\n\n")
	}
	path := filepath.Join("testdata", name+".sql")
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("%s differs (go test -update to accept):\n-got\n%s\n+want\n%s", path, got, want)
	}
}

func TestGoldenSQL(t *testing.T) {
	b := planBuilder(t, retention)
	day := planNow.Add(-24 * time.Hour)
	t.Run("timeseries", func(t *testing.T) {
		m, r, p, err := b.tsPlans(TimeSeriesRequest{Start: day, End: planNow, Dimensions: []string{"SrcAS", "InIfName"},
			Limit: 10, Filter: "InIfBoundary = external AND ExporterName LIKE 'edge-%'", Bidirectional: true,
			PreviousPeriod: PreviousWeek})
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "timeseries", m, r, p)
	})
	t.Run("timeseries-total", func(t *testing.T) {
		m, _, _, err := b.tsPlans(TimeSeriesRequest{Start: day, End: planNow, Unit: UnitPPS})
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "timeseries-total", m)
	})
	t.Run("timeseries-last-l2", func(t *testing.T) {
		m, _, _, err := b.tsPlans(TimeSeriesRequest{Start: planNow.Add(-time.Hour), End: planNow, Dimensions: []string{"DstAddr"},
			TopBy: TopByLast, Unit: UnitL2bps, Filter: "SrcAddr << 2001:db8::/32"})
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "timeseries-last-l2", m)
	})
	t.Run("sankey", func(t *testing.T) {
		p, err := b.sankeyPlan(SankeyRequest{Start: day, End: planNow, Dimensions: []string{"SrcCountry", "DstAS", "Proto"},
			Limit: 20, Unit: UnitFPS})
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "sankey", p)
	})
	t.Run("flows", func(t *testing.T) {
		p, _, err := b.flowsPlan(FlowsRequest{Start: day, End: planNow, Filter: "HostName = 'web-1'", Offset: 100}, 50)
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "flows", p)
	})
	t.Run("hosts", func(t *testing.T) {
		plans, err := b.hostPlans(HostsRequest{Start: day, End: planNow, Host: "web-1"})
		if err != nil {
			t.Fatal(err)
		}
		hosts := []HostSummary{{Host: "web-1", ExporterAddress: netipMust("192.0.2.1")}}
		req := HostsRequest{Start: day, End: planNow}
		req.CPUPoints = 48
		golden(t, "hosts", append(plans, b.hostHealthPlan(req, hosts), b.hostInterfacesPlan(req, hosts),
			b.hostCPUPlan(req, hosts))...)
	})
	t.Run("host-health", func(t *testing.T) {
		h, i, err := b.hostHealthPlans(HostHealthRequest{Host: "web-1", Start: day, End: planNow})
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "host-health", h, i)
	})
}

func TestChooseTable(t *testing.T) {
	b := planBuilder(t, retention)
	noRollups := planBuilder(t, schema.Options{TTL: retention.TTL})
	col := func(n string) *flow.Column { c, _ := b.flow.Column(n); return c }
	cases := []struct {
		name      string
		b         *Builder
		ago       time.Duration
		step      time.Duration
		cols      []*flow.Column
		wantTable string
		wantStep  time.Duration
		end       *time.Time // default: two hours after the start
	}{
		{"fine step, recent", b, time.Hour, 30 * time.Second, nil, "flows", 30 * time.Second, nil},
		{"minute step", b, time.Hour, 2 * time.Minute, nil, "flows_1m", 2 * time.Minute, nil},
		{"10 minutes", b, 24 * time.Hour, 10 * time.Minute, []*flow.Column{col("SrcAS")}, "flows_5m", 10 * time.Minute, nil},
		{"hours", b, 7 * 24 * time.Hour, time.Hour, nil, "flows_1h", time.Hour, nil},
		{"main-only column", b, 24 * time.Hour, time.Hour, []*flow.Column{col("SrcAddr")}, "flows", time.Hour, nil},
		{"past raw retention: 1m too short, 5m", b, 20 * 24 * time.Hour, time.Minute, nil, "flows_5m", 5 * time.Minute, nil},
		{"past 5m retention", b, 100 * 24 * time.Hour, 10 * time.Minute, nil, "flows_1h", time.Hour, nil},
		{"past every retention: longest", b, 400 * 24 * time.Hour, time.Minute, nil, "flows_1h", time.Hour, nil},
		{"main-only past retention", b, 20 * 24 * time.Hour, time.Minute, []*flow.Column{col("DstPort")}, "flows", time.Minute, nil},
		{"no rollups", noRollups, 7 * 24 * time.Hour, time.Hour, nil, "flows", time.Hour, nil},
		{"step not a multiple of 5m", b, 24 * time.Hour, 2 * time.Minute, nil, "flows_1m", 2 * time.Minute, nil},
		{"last 15 minutes: raw (the rollups lag)", b, 15 * time.Minute, 15 * time.Minute, nil, "flows", 15 * time.Minute, &planNow},
		{"15 minutes an hour ago: rollup", b, 75 * time.Minute, 15 * time.Minute, nil, "flows_5m", 15 * time.Minute, ptr(planNow.Add(-time.Hour))},
		{"last 24 hours: rollup", b, 24 * time.Hour, 10 * time.Minute, nil, "flows_5m", 10 * time.Minute, &planNow},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := planNow.Add(-c.ago)
			end := start.Add(2 * time.Hour)
			if c.end != nil {
				end = *c.end
			}
			table, step := c.b.chooseTable(start, end, c.step, c.cols)
			if table.name != c.wantTable || step != c.wantStep {
				t.Errorf("got %s step %s, want %s step %s", table.name, step, c.wantTable, c.wantStep)
			}
		})
	}
}

func TestStepFor(t *testing.T) {
	cases := []struct {
		d    time.Duration
		want time.Duration
	}{
		{5 * time.Minute, 5 * time.Second},
		{time.Hour, 30 * time.Second},
		{6 * time.Hour, 2 * time.Minute},
		{24 * time.Hour, 10 * time.Minute},
		{7 * 24 * time.Hour, time.Hour},
		{30 * 24 * time.Hour, 6 * time.Hour},
		{365 * 24 * time.Hour, 48 * time.Hour},
		{20 * 365 * 24 * time.Hour, 28 * 24 * time.Hour},
	}
	for _, c := range cases {
		if got := stepFor(c.d, 200); got != c.want {
			t.Errorf("stepFor(%s) = %s, want %s", c.d, got, c.want)
		}
	}
	// Weeks align on the Unix epoch like the SQL buckets, not on year 1.
	wk := 7 * 24 * time.Hour
	if got := alignDown(planNow, wk); got.Unix()%int64(wk/time.Second) != 0 || got.After(planNow) {
		t.Errorf("alignDown(week) = %s", got)
	}
}

func TestRequestErrors(t *testing.T) {
	b := planBuilder(t, schema.Options{Rollups: true, Disabled: []string{"SrcVlan"}})
	day := planNow.Add(-24 * time.Hour)
	cases := []struct {
		name string
		req  TimeSeriesRequest
		want string
	}{
		{"bad filter", TimeSeriesRequest{Start: day, End: planNow, Filter: "SrcPort = x"}, "filter: line 1, column 11: expected an unsigned integer"},
		{"disabled filter column", TimeSeriesRequest{Start: day, End: planNow, Filter: "SrcVlan = 1"}, "column SrcVlan is disabled"},
		{"disabled dimension", TimeSeriesRequest{Start: day, End: planNow, Dimensions: []string{"srcvlan"}}, "dimension SrcVlan is disabled"},
		{"unknown dimension", TimeSeriesRequest{Start: day, End: planNow, Dimensions: []string{"Nope"}}, `unknown dimension "Nope"`},
		{"not a dimension", TimeSeriesRequest{Start: day, End: planNow, Dimensions: []string{"Bytes"}}, `unknown dimension "Bytes"`},
		{"twice", TimeSeriesRequest{Start: day, End: planNow, Dimensions: []string{"SrcAS", "srcas"}}, "given twice"},
		{"limit", TimeSeriesRequest{Start: day, End: planNow, Limit: 51}, "limit must be between 1 and 50"},
		{"range", TimeSeriesRequest{Start: planNow, End: day}, "must be after start"},
		{"unit", TimeSeriesRequest{Start: day, End: planNow, Unit: "bps"}, `unknown unit "bps"`},
		{"top-by", TimeSeriesRequest{Start: day, End: planNow, TopBy: "median"}, `unknown top-by "median"`},
		{"previous", TimeSeriesRequest{Start: day, End: planNow, PreviousPeriod: time.Minute}, "previous period must be"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := b.TimeSeries(context.Background(), c.req)
			var re *RequestError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want a RequestError containing %q", err, c.want)
			}
		})
	}
	if _, err := b.Sankey(context.Background(), SankeyRequest{Start: day, End: planNow, Dimensions: []string{"SrcAS"}}); err == nil ||
		!strings.Contains(err.Error(), "expected 2 to 4 dimensions") {
		t.Errorf("sankey with one dimension: %v", err)
	}
	if _, err := b.Flows(context.Background(), FlowsRequest{Start: day, End: planNow, Limit: 5000}); err == nil {
		t.Error("flows over max-flows accepted")
	}
	// A store error is not a request error, and is counted.
	_, err := b.TimeSeries(context.Background(), TimeSeriesRequest{Start: day, End: planNow})
	var re *RequestError
	if err == nil || errors.As(err, &re) {
		t.Errorf("store failure: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.MaxPoints = 5 }, "key max-points"},
		{func(c *Config) { c.DimensionsLimit = 0 }, "key dimensions-limit"},
		{func(c *Config) { c.MaxFlows = 0 }, "key max-flows"},
		{func(c *Config) { c.MaxExportRows = -1 }, "key max-export-rows"},
		{func(c *Config) { c.L2Overhead = 200 }, "key l2-overhead"},
	}
	for _, c := range cases {
		cfg := DefaultConfig()
		c.mod(&cfg)
		if err := cfg.Validate(); err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("got %v, want %s", err, c.want)
		}
	}
}

func netipMust(s string) netip.Addr { return netip.MustParseAddr(s) }

func ptr[T any](v T) *T { return &v }
