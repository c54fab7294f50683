package detect

import (
	"testing"
	"time"

	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/store/schema"
)

// The rollups lag the clock (the store's writer adds a minute after it
// ends): a range ending within schema.RollupLag of now reads the raw
// table, whatever its alignment.
func TestFlowTable(t *testing.T) {
	sc, err := schema.New(flow.NewSchema(), schema.Options{Database: "d", Rollups: true})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2036, 11, 1, 12, 0, 30, 0, time.UTC)
	d := &Detector{sc: sc, now: func() time.Time { return now }}
	at := func(clock string) time.Time {
		layout := "2006-01-02 15:04"
		if len(clock) > 5 {
			layout += ":05"
		}
		v, err := time.Parse(layout, "2036-11-01 "+clock)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		start, end string
		mainOnly   bool
		want       string
	}{
		{"11:58", "12:00", false, schema.Flows},   // minute-aligned, but the last minute may be missing
		{"11:55", "12:00", false, schema.Flows},   // same for 5 minutes
		{"11:50", "11:55", false, schema.Flows5m}, // older than the lag
		{"11:56", "11:57", false, schema.Flows1m},
		{"10:00", "11:00", false, schema.Flows1h},
		{"11:50", "11:55", true, schema.Flows},     // a column the rollups lack
		{"11:50:10", "11:55", false, schema.Flows}, // unaligned
	} {
		if got := d.flowTable(at(c.start), at(c.end), c.mainOnly); got != c.want {
			t.Errorf("[%s, %s) mainOnly=%v: %s, want %s", c.start, c.end, c.mainOnly, got, c.want)
		}
	}
}
