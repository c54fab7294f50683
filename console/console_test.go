package console

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hostflow/hostflow/collector"
	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/internal/daemon"
	"github.com/hostflow/hostflow/query"
	"github.com/hostflow/hostflow/store"
	"github.com/hostflow/hostflow/store/chdb"
)

// now is the fixed clock of every test: fixtures are placed before it.
var now = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

var enginePath string

// One chDB engine per process (chDB allows one storage path per process);
// every test uses its own database in it.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hostflow-console-test-")
	if err != nil {
		panic(err)
	}
	enginePath = filepath.Join(dir, "engine")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fixture is a small, known traffic set: host web-1 (nginx serving two
// clients over TCP/443) and host db-1 (postgres), each record sampled 1:100.
func fixture() []flow.Record {
	var recs []flow.Record
	add := func(host, proc string, exporter, src, dst string, sport, dport uint16, proto uint8, bytes uint64, dir uint8, minutesAgo int) {
		recs = append(recs, flow.Record{
			TimeReceived: uint32(now.Add(-time.Duration(minutesAgo) * time.Minute).Unix()), SamplingRate: 100,
			ExporterAddress: netip.MustParseAddr(exporter), ExporterName: host, HostName: host, ProcessName: proc,
			SrcAddr: netip.MustParseAddr(src), DstAddr: netip.MustParseAddr(dst), SrcPort: sport, DstPort: dport,
			Proto: proto, EType: 0x0800, Bytes: bytes, Packets: 1, FlowDirection: dir, InIfName: "eth0",
		})
	}
	for m := 1; m <= 50; m++ {
		add("web-1", "nginx", "10.0.0.1", "10.0.0.1", "198.51.100.7", 443, 50000, 6, 1500, flow.DirectionEgress, m)
		add("web-1", "nginx", "10.0.0.1", "198.51.100.7", "10.0.0.1", 50000, 443, 6, 100, flow.DirectionIngress, m)
		add("web-1", "nginx", "10.0.0.1", "10.0.0.1", "203.0.113.9", 443, 40000, 6, 500, flow.DirectionEgress, m)
		add("db-1", "postgres", "10.0.0.2", "10.0.0.2", "10.0.0.1", 5432, 41000, 6, 300, flow.DirectionEgress, m)
	}
	return recs
}

// counters are web-1's host and interface counters, one sample a minute
// from 50 minutes ago: 4 CPUs a quarter busy, eth0 (1 Gbps) receiving
// 1 Mbps. db-1 sends none.
func counters() ([]flow.HostCounters, []flow.InterfaceCounters) {
	var hc []flow.HostCounters
	var ic []flow.InterfaceCounters
	for k := uint32(0); k < 50; k++ {
		t := uint32(now.Add(-time.Duration(50-k) * time.Minute).Unix())
		addr := netip.MustParseAddr("10.0.0.1")
		hc = append(hc, flow.HostCounters{TimeReceived: t, ExporterAddress: addr, HostName: "web-1", CPUNum: 4,
			LoadOne: 1, CPUUserMs: 60_000 * k, CPUIdleMs: 180_000 * k, UptimeSeconds: 1000 + 60*k,
			MemTotal: 8 << 30, MemFree: 2 << 30})
		ic = append(ic, flow.InterfaceCounters{TimeReceived: t, ExporterAddress: addr, IfIndex: 2, IfName: "eth0",
			IfKind: "physical", IfSpeed: 1e9, InOctets: 7_500_000 * uint64(k)})
	}
	return hc, ic
}

type env struct {
	srv     *httptest.Server
	console *Console
	recs    []flow.Record
}

const (
	readToken  = "hf_read_token_for_tests"
	adminToken = "hf_admin_token_for_tests"
)

func tokenEntry(name, tok, scope string) TokenConfig {
	return TokenConfig{Name: name, SHA256: sha256hex(tok), Scope: scope}
}

func setup(t *testing.T, anonymous string) *env {
	t.Helper()
	if _, err := chdb.ResolvePath(""); err != nil {
		t.Skipf("libchdb not installed (run scripts/setup.sh test): %v", err)
	}
	r := daemon.NewReporter(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	schema := flow.NewSchema()
	scfg := store.DefaultConfig()
	scfg.Path = enginePath
	scfg.Database = "console_" + regexp.MustCompile(`\W`).ReplaceAllString(t.Name(), "_")
	scfg.Spool.Dir = t.TempDir()
	scfg.TTL = map[string]store.Duration{}
	st, err := store.New(scfg, store.Dependencies{Reporter: r, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Stop() })
	recs := fixture()
	app := st.NewAppender()
	app.AppendFlows(recs)
	hc, ic := counters()
	app.AppendHosts(hc)
	app.AppendInterfaces(ic)
	app.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := st.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return now }
	b, err := query.New(query.DefaultConfig(), query.Dependencies{Flow: schema, Store: st.Schema(), Querier: st, Reporter: r, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Listen = ""
	cfg.Auth = AuthConfig{Anonymous: anonymous, Tokens: []TokenConfig{
		tokenEntry("reader", readToken, ScopeRead), tokenEntry("admin", adminToken, ScopeAdmin)}}
	c, err := New(cfg, Dependencies{Reporter: r, Flow: schema, Store: st.Schema(), Builder: b, Querier: st,
		Tap: collector.NewTap(), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(srv.Close)
	return &env{srv: srv, console: c, recs: recs}
}

func (e *env) get(t *testing.T, path, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

func TestAuthPaths(t *testing.T) {
	e := setup(t, ScopeNone)
	cases := []struct {
		name, path, token string
		code              int
		errPart           string
	}{
		{"no token", "/api/v1/status", "", 401, "authentication required"},
		{"bad token", "/api/v1/status", "hf_wrong", 401, "invalid API token"},
		{"read token", "/api/v1/status", readToken, 200, ""},
		{"read token on admin endpoint", "/api/v1/debug/flows?limit=1&timeout=1", readToken, 403, "needs admin"},
		{"admin token on admin endpoint", "/api/v1/debug/flows?limit=1&timeout=1", adminToken, 200, ""},
		{"admin token on read endpoint", "/api/v1/status", adminToken, 200, ""},
		{"openapi needs nothing", "/api/v1/openapi.json", "", 200, ""},
		{"health needs nothing", "/api/v1/health", "", 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := e.get(t, tc.path, tc.token)
			if code != tc.code {
				t.Fatalf("code %d, want %d: %s", code, tc.code, body)
			}
			if tc.errPart != "" && !strings.Contains(string(body), tc.errPart) {
				t.Errorf("body %s lacks %q", body, tc.errPart)
			}
		})
	}
	code, body := e.get(t, "/api/v1/whoami", readToken)
	if code != 200 || !strings.Contains(string(body), `"name":"reader"`) {
		t.Errorf("whoami: %d %s", code, body)
	}
}

func TestAnonymousReadStillRejectsBadTokens(t *testing.T) {
	e := setup(t, ScopeRead)
	if code, _ := e.get(t, "/api/v1/status", ""); code != 200 {
		t.Errorf("anonymous read: %d", code)
	}
	if code, _ := e.get(t, "/api/v1/status", "hf_typo"); code != 401 {
		t.Errorf("a wrong token must not fall back to anonymous: %d", code)
	}
	if code, _ := e.get(t, "/api/v1/debug/flows", ""); code != 401 {
		t.Errorf("anonymous on admin endpoint: %d", code)
	}
}

func TestRequestErrorsAreActionable(t *testing.T) {
	e := setup(t, ScopeRead)
	cases := []struct{ path, want string }{
		{"/api/v1/timeseries?start=yesterday", "parameter start: want RFC 3339"},
		{"/api/v1/timeseries?unit=furlongs", "parameter unit"},
		{"/api/v1/timeseries?start=now&end=now-1h", "must be before end"},
		{"/api/v1/timeseries?filter=" + urlq("SrcAddr = nope"), "expected an IP address"},
		{"/api/v1/timeseries?dimensions=NoSuchColumn", "NoSuchColumn"},
		{"/api/v1/topn", "at least one dimension"},
		{"/api/v1/flows?limit=0", "parameter limit"},
		{"/api/v1/timeseries?start=now-1000d", "longer than the maximum"},
	}
	for _, tc := range cases {
		code, body := e.get(t, tc.path, "")
		var ae apiError
		if code != 400 || json.Unmarshal(body, &ae) != nil || !strings.Contains(ae.Error, tc.want) {
			t.Errorf("%s: %d %s, want 400 with %q", tc.path, code, body, tc.want)
		}
	}
	code, body := e.get(t, "/api/v1/nope", "")
	if code != 404 || !strings.Contains(string(body), "openapi.json") {
		t.Errorf("unknown endpoint: %d %s", code, body)
	}
}

func urlq(s string) string {
	return strings.NewReplacer(" ", "%20", "=", "%3D", "'", "%27", "<", "%3C").Replace(s)
}

// The top-N answer is computed independently from the fixture: average
// L3 bps per process over the range, bytes scaled by the sampling rate.
func TestTopNMatchesFixture(t *testing.T) {
	e := setup(t, ScopeRead)
	start, end := now.Add(-time.Hour), now
	code, body := e.get(t, "/api/v1/topn?dimensions=ProcessName&start="+start.Format(time.RFC3339)+"&end="+end.Format(time.RFC3339), "")
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var out topNOut
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{}
	for _, r := range e.recs {
		ts := time.Unix(int64(r.TimeReceived), 0)
		if !ts.Before(start) && ts.Before(end) {
			want[r.ProcessName] += float64(r.Bytes*r.SamplingRate*8) / end.Sub(start).Seconds()
		}
	}
	if len(out.Rows) != len(want) {
		t.Fatalf("rows %+v, want %v", out.Rows, want)
	}
	for _, row := range out.Rows {
		w := want[row.Labels[0]]
		if d := row.Value - w; d > w*0.001 || d < -w*0.001 {
			t.Errorf("%s = %f, want %f", row.Labels[0], row.Value, w)
		}
	}
	if out.Rows[0].Labels[0] != "nginx" {
		t.Errorf("busiest first: %+v", out.Rows)
	}
}

func TestTimeSeriesShape(t *testing.T) {
	e := setup(t, ScopeRead)
	code, body := e.get(t, "/api/v1/timeseries?dimensions=HostName&start=now-1h&bidirectional=true&previous=day", "")
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var out timeSeriesOut
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Times) == 0 || out.Step <= 0 || len(out.Series) != 2 || out.Previous == nil || out.Reverse == nil {
		t.Fatalf("unexpected shape: %s", body)
	}
	var names []string
	for _, s := range out.Series {
		if len(s.Values) != len(out.Times) {
			t.Errorf("series %v has %d values for %d times", s.Labels, len(s.Values), len(out.Times))
		}
		names = append(names, s.Labels[0])
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "db-1,web-1" {
		t.Errorf("series %v", names)
	}
}

func TestFlowsJSONAndCSV(t *testing.T) {
	e := setup(t, ScopeRead)
	code, body := e.get(t, "/api/v1/flows?start=now-1h&limit=5&filter="+urlq("ProcessName = 'postgres'"), "")
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var page flowsOut
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Rows) != 5 || page.Next != 5 {
		t.Fatalf("page: %d rows, next %d", len(page.Rows), page.Next)
	}
	col := -1
	for i, c := range page.Columns {
		if c == "ProcessName" {
			col = i
		}
	}
	for _, row := range page.Rows {
		if row[col] != "postgres" {
			t.Errorf("filter not applied: %v", row)
		}
	}
	code, body = e.get(t, "/api/v1/flows?start=now-1h&format=csv&columns=HostName,Bytes&filter="+urlq("HostName = 'db-1'"), "")
	if code != 200 {
		t.Fatalf("csv: %d %s", code, body)
	}
	rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 51 || rows[0][0] != "HostName" || rows[1][0] != "db-1" || rows[1][1] != "30000" {
		t.Errorf("csv: %d rows, first %v", len(rows), rows[:min(2, len(rows))])
	}
}

func TestFilterValidateAndComplete(t *testing.T) {
	e := setup(t, ScopeRead)
	code, body := e.get(t, "/api/v1/filter/validate?q="+urlq("proto = TCP and SrcPort < DstPort"), "")
	if code != 200 || !strings.Contains(string(body), `"valid":true`) {
		t.Errorf("validate: %d %s", code, body)
	}
	code, body = e.get(t, "/api/v1/filter/validate?q="+urlq("SrcPort = 'x'"), "")
	if code != 200 || !strings.Contains(string(body), `"valid":false`) || !strings.Contains(string(body), `"column":11`) {
		t.Errorf("invalid: %d %s", code, body)
	}
	code, body = e.get(t, "/api/v1/filter/complete?q=ProcessName%20%3D%20", "")
	if code != 200 || !strings.Contains(string(body), "nginx") {
		t.Errorf("complete values from the store: %d %s", code, body)
	}
}

func TestHostsEndpoint(t *testing.T) {
	e := setup(t, ScopeRead)
	code, body := e.get(t, "/api/v1/hosts/web-1?start=now-1h", "")
	if code != 200 || !strings.Contains(string(body), `"host":"web-1"`) || !strings.Contains(string(body), `"label":"nginx"`) {
		t.Errorf("host: %d %s", code, body)
	}
	if code, _ := e.get(t, "/api/v1/hosts/nope?start=now-1h", ""); code != 404 {
		t.Errorf("unknown host: %d", code)
	}
}

// The health series over the counters of counters(): nothing before the
// first sample, a gauge but no rate in its bucket (no interval ends
// there), then the known rates; null in JSON where there is no value.
func TestHostHealthEndpoint(t *testing.T) {
	e := setup(t, ScopeRead)
	code, body := e.get(t, "/api/v1/hosts/web-1/health?start=now-1h&points=60", "")
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var out struct {
		Step       int64      `json:"step"`
		Times      []string   `json:"times"`
		Samples    uint64     `json:"samples"`
		CPUBusyPct []*float64 `json:"cpuBusyPct"`
		Load1      []*float64 `json:"load1"`
		MemUsedPct []*float64 `json:"memUsedPct"`
		Interfaces []struct {
			Name  string     `json:"name"`
			Speed uint64     `json:"speed"`
			InBps []*float64 `json:"inBps"`
			InPct []*float64 `json:"inPct"`
		} `json:"interfaces"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	if out.Step != 60 || len(out.Times) != 60 || out.Samples != 50 || len(out.CPUBusyPct) != 60 || len(out.Interfaces) != 1 {
		t.Fatalf("unexpected shape: %s", body)
	}
	value := func(p *float64) string {
		if p == nil {
			return "null"
		}
		return strconv.FormatFloat(*p, 'g', 6, 64)
	}
	eth0 := out.Interfaces[0]
	for i := range 60 {
		want := [5]string{"null", "null", "null", "null", "null"} // cpu, load, mem, in bps, in %
		switch {
		case i == 10: // the first sample (50 minutes ago)
			want = [5]string{"null", "1", "75", "null", "null"}
		case i > 10:
			want = [5]string{"25", "1", "75", "1e+06", "0.1"}
		}
		got := [5]string{value(out.CPUBusyPct[i]), value(out.Load1[i]), value(out.MemUsedPct[i]), value(eth0.InBps[i]), value(eth0.InPct[i])}
		if got != want {
			t.Fatalf("bucket %d (%s):\n-got  %v\n+want %v", i, out.Times[i], got, want)
		}
	}
	if eth0.Name != "eth0" || eth0.Speed != 1e9 {
		t.Errorf("interface %+v", eth0)
	}
	// A host without counters is not an error.
	code, body = e.get(t, "/api/v1/hosts/db-1/health?start=now-1h", "")
	if code != 200 || !strings.Contains(string(body), `"samples":0`) || !strings.Contains(string(body), `"cpuBusyPct":[null,`) {
		t.Errorf("db-1: %d %s", code, body)
	}
	code, body = e.get(t, "/api/v1/hosts/web-1/health?interfaces=0", "")
	if code != 400 || !strings.Contains(string(body), "parameter interfaces") {
		t.Errorf("interfaces=0: %d %s", code, body)
	}
	// The hosts list's CPU sparklines, on request only.
	code, body = e.get(t, "/api/v1/hosts?start=now-1h&cpu-points=60", "")
	var hosts struct {
		Hosts []struct {
			Host      string     `json:"host"`
			CPUSeries []*float64 `json:"cpuSeries"`
		} `json:"hosts"`
	}
	if err := json.Unmarshal(body, &hosts); code != 200 || err != nil || len(hosts.Hosts) != 2 {
		t.Fatalf("hosts: %d %s %v", code, body, err)
	}
	for _, h := range hosts.Hosts {
		want := map[string]string{"web-1": "25", "db-1": "null"}[h.Host]
		if len(h.CPUSeries) != 60 || value(h.CPUSeries[30]) != want {
			t.Errorf("%s: CPU series %d values, [30] = %s, want %s", h.Host, len(h.CPUSeries), value(h.CPUSeries[30]), want)
		}
	}
	if _, body := e.get(t, "/api/v1/hosts?start=now-1h", ""); strings.Contains(string(body), "cpuSeries") {
		t.Error("CPU series sent without cpu-points")
	}
}

// No API answer carries NUL-padded strings: FixedString columns (the
// countries, empty in this fixture) come back trimmed.
func TestNoNULPadding(t *testing.T) {
	e := setup(t, ScopeRead)
	for _, path := range []string{
		"/api/v1/topn?start=now-1h&dimensions=SrcCountry,DstCountry",
		"/api/v1/timeseries?start=now-1h&dimensions=SrcCountry",
		"/api/v1/sankey?start=now-1h&dimensions=SrcCountry,DstCountry",
		"/api/v1/flows?start=now-1h&limit=5&columns=SrcCountry,DstCountry,HostName",
		"/api/v1/flows?start=now-1h&limit=5&columns=SrcCountry,DstCountry&format=csv",
		"/api/v1/filter/complete?q=SrcCountry%20%3D%20",
	} {
		code, body := e.get(t, path, "")
		if code != 200 || bytes.Contains(body, []byte(`\u0000`)) || bytes.IndexByte(body, 0) >= 0 {
			t.Errorf("%s: %d %q", path, code, body)
		}
	}
	code, body := e.get(t, "/api/v1/topn?start=now-1h&dimensions=SrcCountry", "")
	if code != 200 || !strings.Contains(string(body), `"labels":[""]`) {
		t.Errorf("the empty country: %d %s", code, body)
	}
}

// Every route is documented and every documented path is served.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(openapiDoc, &doc); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Auth: AuthConfig{Anonymous: ScopeNone}, MaxRange: 1, QueryTimeout: 1}, Dependencies{
		Reporter: daemon.NewReporter(slog.New(slog.DiscardHandler), nil), Flow: flow.NewSchema()})
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, r := range c.routes {
		method, path, _ := strings.Cut(r, " ")
		served[strings.ToLower(method)+" "+path] = true
		if _, ok := doc.Paths[path][strings.ToLower(method)]; !ok {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if !served[method+" "+path] {
				t.Errorf("openapi.json documents %s %s, which is not served", method, path)
			}
		}
	}
}

func TestTokenCreation(t *testing.T) {
	tok, entry, err := NewToken("ci", ScopeRead)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, "hf_") || entry.SHA256 != sha256hex(tok) || strings.Contains(WriteTokenEntry(entry), tok) {
		t.Errorf("token %q entry %+v", tok, entry)
	}
	if _, _, err := NewToken("x", ScopeNone); err == nil {
		t.Error("a token with scope none was created")
	}
}
