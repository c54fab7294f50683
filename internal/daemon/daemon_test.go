package daemon

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

type rec struct {
	name     string
	log      *[]string
	startErr error
}

func (r rec) Start(context.Context) error {
	*r.log = append(*r.log, "start "+r.name)
	return r.startErr
}
func (r rec) Stop() error { *r.log = append(*r.log, "stop "+r.name); return nil }

func TestGroupStartsInOrderStopsInReverse(t *testing.T) {
	var log []string
	g := NewGroup(slog.New(slog.DiscardHandler))
	if err := g.Start(context.Background(),
		Named{"a", rec{"a", &log, nil}}, Named{"b", rec{"b", &log, nil}}); err != nil {
		t.Fatal(err)
	}
	if err := g.Stop(); err != nil {
		t.Fatal(err)
	}
	want := "start a,start b,stop b,stop a"
	if got := strings.Join(log, ","); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestGroupFailedStartStopsStarted(t *testing.T) {
	var log []string
	g := NewGroup(slog.New(slog.DiscardHandler))
	err := g.Start(context.Background(),
		Named{"a", rec{"a", &log, nil}}, Named{"b", rec{"b", &log, errors.New("boom")}})
	if err == nil || !strings.Contains(err.Error(), "start b: boom") {
		t.Fatalf("err = %v", err)
	}
	if got := strings.Join(log, ","); got != "start a,start b,stop a" {
		t.Errorf("got %s", got)
	}
}

func TestLimitedLogsOnceAndCounts(t *testing.T) {
	var buf bytes.Buffer
	r := NewReporter(slog.New(slog.NewTextHandler(&buf, nil)), nil).Sub("test")
	for i := 0; i < 5; i++ {
		r.Limited("decode", "bad datagram", "i", i)
	}
	if n := strings.Count(buf.String(), "bad datagram"); n != 1 {
		t.Errorf("logged %d lines, want 1", n)
	}
	if v := testutil.ToFloat64(r.shared.suppressed.WithLabelValues("hostflow_test_decode")); v != 4 {
		t.Errorf("suppressed = %v, want 4", v)
	}
}

func TestMetricsAreSharedByName(t *testing.T) {
	r := NewReporter(slog.New(slog.DiscardHandler), nil)
	a := r.Sub("inlet").CounterVec("packets_total", "help", "listener")
	b := r.Sub("inlet").CounterVec("packets_total", "help", "listener")
	a.WithLabelValues("x").Inc()
	if testutil.ToFloat64(b.WithLabelValues("x")) != 1 {
		t.Error("second lookup returned a different counter")
	}
}

func TestOpsMuxServesMetricsAndHealth(t *testing.T) {
	r := NewReporter(slog.New(slog.DiscardHandler), nil)
	r.Sub("x").Counter("things_total", "Things.").Add(3)
	healthy := true
	r.Sub("x").RegisterHealth("store", func() error {
		if healthy {
			return nil
		}
		return errors.New("store down")
	})
	srv := NewHTTPServer("127.0.0.1:0", OpsMux(r, false))
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	base := "http://" + srv.Addr().String()
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "hostflow_x_things_total 3") {
		t.Errorf("/metrics %d %s", code, body)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz healthy = %d", code)
	}
	healthy = false
	if code, body := get("/healthz"); code != 503 || !strings.Contains(body, "store down") {
		t.Errorf("/healthz unhealthy = %d %s", code, body)
	}
	if code, _ := get("/debug/pprof/"); code != 404 {
		t.Errorf("pprof served without the flag: %d", code)
	}
}

func TestMetricsListsRegisteredMetrics(t *testing.T) {
	r := NewReporter(slog.New(slog.DiscardHandler), nil)
	r.Sub("inlet").CounterVec("drops_total", `Datagrams dropped, by "reason".`, "listener", "reason")
	r.Sub("store").Gauge("spool_bytes", "Spool size.")
	var names []string
	for _, m := range r.Metrics() {
		names = append(names, m.Name+"|"+m.Help+"|"+strings.Join(m.Labels, ","))
	}
	got := strings.Join(names, "\n")
	for _, want := range []string{`hostflow_inlet_drops_total|Datagrams dropped, by "reason".|listener,reason`, "hostflow_store_spool_bytes|Spool size.|"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}
