package detect

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/store"
)

// scanAt returns a vertical scan from 10.0.0.5 at t.
func scanAt(t time.Time) []flow.Record {
	var out []flow.Record
	for i := range 150 {
		out = append(out, conn{at: t, host: "scanner", local: "10.0.0.5", remote: "10.0.0.9", lport: 40000,
			rport: uint16(1 + i), flags: 0x02}.out())
	}
	return out
}

// TestCoolDown: the same subject found again within the cool-down updates
// its detection; after it, a new detection opens. A restarted detector
// picks up the active detections from the store.
func TestCoolDown(t *testing.T) {
	t.Parallel()
	st := startStore(t, false)
	t0 := now
	t1 := t0.Add(2 * time.Minute)
	t2 := t0.Add(2 * time.Hour) // past the 1 h cool-down
	var flows []flow.Record
	for _, at := range []time.Time{t0, t1, t2} {
		flows = append(flows, scanAt(at.Truncate(time.Minute).Add(-time.Minute))...)
	}
	insert(t, st, flows, nil, nil)
	cfg := only(testConfig(), RulePortScan)
	ctx := context.Background()
	d := newDetector(t, cfg, st, t0)
	d.evaluate(ctx, t0)
	first := listAt(t, d, t0)
	if len(first) != 1 || first[0].Count != 1 || !first[0].Active {
		t.Fatalf("after the first finding: %+v", first)
	}
	if got := testutil.ToFloat64(d.m.active.WithLabelValues(RulePortScan)); got != 1 {
		t.Errorf("active gauge %v, want 1", got)
	}

	// A restarted detector (the loop off: it only serves and records
	// what it is given) reloads the open detection and updates it.
	cfg.Enabled = false
	d2, err := New(cfg, Dependencies{Reporter: testReporter(t), Store: st, Flow: flow.NewSchema(), Now: func() time.Time { return t1 }})
	if err != nil {
		t.Fatal(err)
	}
	if err := d2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer d2.Stop()
	d2.evaluate(ctx, t1)
	second := listAt(t, d2, t1)
	if len(second) != 1 || second[0].ID != first[0].ID || second[0].Count != 2 || !second[0].FirstSeen.Equal(first[0].FirstSeen) {
		t.Fatalf("after the second finding: %+v, want the first detection updated", second)
	}
	if !second[0].Evidence.Start.Equal(first[0].Evidence.Start) || !second[0].Evidence.End.After(first[0].Evidence.End) {
		t.Errorf("evidence range [%s, %s), want it to span both findings from %s", second[0].Evidence.Start,
			second[0].Evidence.End, first[0].Evidence.Start)
	}
	if got := testutil.ToFloat64(d2.m.detections.WithLabelValues(RulePortScan, "updated")); got != 1 {
		t.Errorf("updated events %v, want 1", got)
	}

	// Past the cool-down: the old detection is inactive, a new one opens.
	d2.now = func() time.Time { return t2 }
	d2.evaluate(ctx, t2)
	third := listAt(t, d2, t2.Add(-24*time.Hour))
	if len(third) != 2 || third[0].ID == first[0].ID || third[0].Count != 1 || !third[0].Active || third[1].Active {
		t.Fatalf("past the cool-down: %+v, want a new active detection and the old one inactive", third)
	}
	if got := testutil.ToFloat64(d2.m.active.WithLabelValues(RulePortScan)); got != 1 {
		t.Errorf("active gauge %v, want 1", got)
	}
	// The API answer is the list, as JSON.
	v, err := d2.Detections(ctx, t2.Add(-24*time.Hour), 1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v)
	if !strings.HasPrefix(string(b), `[{"id":"`+third[0].ID+`","rule":"port-scan"`) {
		t.Errorf("API answer: %s", b)
	}
}

func listAt(t *testing.T, d *Detector, since time.Time) []Detection {
	t.Helper()
	list, err := d.List(context.Background(), since.Add(-time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func TestDisabledColumn(t *testing.T) {
	t.Parallel()
	needChDB(t)
	cfg := store.DefaultConfig()
	cfg.Path = enginePath
	cfg.DisabledColumns = append(cfg.DisabledColumns, "TCPFlags")
	st, err := store.New(cfg, store.Dependencies{Reporter: quietReporter(), Schema: flow.NewSchema()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(DefaultConfig(), Dependencies{Reporter: quietReporter(), Store: st, Flow: flow.NewSchema()})
	want := "key rules.port-scan: reads flow column TCPFlags, which the store does not write (store.disabled-columns): " +
		"enable the column or disable the rule\nkey rules.new-service: reads flow column TCPFlags"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("New: %v\nwant %s...", err, want)
	}
}
