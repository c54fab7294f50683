package detect

import (
	"context"
	"flag"
	"net/netip"
	"testing"
	"time"

	"github.com/hostflow/hostflow/bench/store/synth"
	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/store"
)

var (
	benchDir  = flag.String("detect.dir", "", "engine directory kept between benchmark runs, so the flows are ingested once (default: a temporary one)")
	benchRows = flag.Int("detect.rows", 2_000_000, "flows stored for BenchmarkRules (spread over 24 h)")
)

// benchEnd is the end of the benchmark's data: in the future, so the
// engine's TTLs (driven by the real clock) never expire it.
var benchEnd = time.Date(2036, 6, 2, 0, 0, 0, 0, time.UTC)

// benchStore returns a store on database detectbench holding *benchRows
// synthetic flows of 20 hosts over the 24 h before benchEnd (a host of the
// generator: ~13.9 k flows/minute at 20 M), plus their interface and host
// counters every 20 s. The flows are ingested only when the database
// holds a different number.
func benchStore(b *testing.B) *store.Store {
	needChDB(b)
	cfg := store.DefaultConfig()
	cfg.Path, cfg.Database = enginePath, "detectbench"
	cfg.Spool.Dir = b.TempDir()
	cfg.TTL = map[string]store.Duration{}
	st, err := store.New(cfg, store.Dependencies{Reporter: quietReporter(), Schema: flow.NewSchema()})
	if err != nil {
		b.Fatal(err)
	}
	if err := st.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Stop() })
	res, err := st.Query(context.Background(), "SELECT count() FROM detectbench.flows", nil)
	if err != nil {
		b.Fatal(err)
	}
	if int(num(res.Rows[0][0])) == *benchRows {
		return st
	}
	for _, t := range []string{"flows", "flows_1m", "flows_5m", "flows_1h", "interface_counters", "host_counters"} {
		if err := st.Exec(context.Background(), "TRUNCATE TABLE detectbench."+t); err != nil {
			b.Fatal(err)
		}
	}
	start := time.Now()
	span := 24 * time.Hour
	gen := synth.New(synth.Config{Seed: 1, Exporters: 20, Start: benchEnd.Add(-span), Span: span, Rows: *benchRows})
	app := st.NewAppender()
	batch := make([]flow.Record, 10_000)
	first := benchEnd.Add(-span).Unix()
	for done := 0; done < *benchRows; done += len(batch) {
		n := min(len(batch), *benchRows-done)
		gen.Fill(batch[:n])
		// Times are set here: the generator's offset (n × Span in ns)
		// overflows int64 past ~100 k rows over 24 h.
		for i := range batch[:n] {
			batch[i].TimeReceived = uint32(first + int64(float64(done+i)*span.Seconds()/float64(*benchRows)))
		}
		app.AppendFlows(batch[:n])
		if (done+n)%1_000_000 == 0 {
			// Back-pressure: without it the appender outruns the engine and
			// the store spools, then drops, the oldest blocks.
			syncStore(b, st)
		}
	}
	var ifaces []flow.InterfaceCounters
	var hosts []flow.HostCounters
	for h := range 20 {
		exp := netip.AddrFrom4([4]byte{100, 64, 0, byte(h)})
		var octets, segs uint64
		for at := benchEnd.Add(-span); at.Before(benchEnd); at = at.Add(20 * time.Second) {
			octets += 50e6
			segs += 40_000
			for i := range uint32(4) {
				ifaces = append(ifaces, flow.InterfaceCounters{TimeReceived: uint32(at.Unix()), ExporterAddress: exp,
					IfIndex: i + 1, IfName: "eth" + itoa(int(i)), IfKind: "physical", IfSpeed: 10e9, InOctets: octets, OutOctets: octets})
			}
			hosts = append(hosts, flow.HostCounters{TimeReceived: uint32(at.Unix()), ExporterAddress: exp,
				HostName: "host-" + itoa(h), TCPOutSegs: uint32(segs), TCPRetransSegs: uint32(segs / 100)})
		}
	}
	app.AppendInterfaces(ifaces)
	app.AppendHosts(hosts)
	app.Close()
	syncStore(b, st)
	res, err = st.Query(context.Background(), "SELECT count() FROM detectbench.flows", nil)
	if err != nil || int(num(res.Rows[0][0])) != *benchRows {
		b.Fatalf("stored %v flows of %d (%v)", res.Rows, *benchRows, err)
	}
	b.Logf("ingested %d flows in %v", *benchRows, time.Since(start).Round(time.Second))
	return st
}

func syncStore(b *testing.B, st *store.Store) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	if err := st.Sync(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRules measures one evaluation of each rule (the work done every
// interval, a minute by default) at default settings over the stored
// flows, evaluation after evaluation a minute apart, the novelty rules'
// summaries already caught up. ns/op is the cost per minute of data;
// ns/flow divides it by the flows stored per minute. It also reports the
// catch-up of the novelty rules over their whole baseline at start.
//
//	go test ./detect -run '^$' -bench Rules -benchtime 20x -detect.rows 20000000 -detect.dir /var/tmp/detectbench
func BenchmarkRules(b *testing.B) {
	st := benchStore(b)
	perMinute := float64(*benchRows) / (24 * 60)
	for _, name := range []string{RulePortScan, RuleNewPeer, RuleEgressSpike, RuleNewService, RuleInterfaceSaturation, RuleRetransmits} {
		b.Run(name, func(b *testing.B) {
			cfg := only(DefaultConfig(), name)
			cfg.Delay = 0
			cfg.Sinks.Log.Enabled = false
			cfg.Rules.NewPeer.Kinds = []string{KindAddress, KindAS, KindCountry} // the most work
			cfg.Rules.NewPeer.PerProcess = true
			// Hosts have 12 h of history at the first evaluation: judge them.
			cfg.Rules.NewPeer.MinHistory, cfg.Rules.NewService.MinHistory = dur(time.Hour), dur(time.Hour)
			at := benchEnd.Add(-12 * time.Hour)
			d, err := New(cfg, Dependencies{Reporter: quietReporter(), Store: st, Flow: flow.NewSchema(),
				Now: func() time.Time { return at }})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			if err := d.createTables(ctx); err != nil {
				b.Fatal(err)
			}
			for _, t := range []string{TableSeen, TableDetections} {
				if err := st.Exec(ctx, "TRUNCATE TABLE detectbench."+t); err != nil {
					b.Fatal(err)
				}
			}
			start := time.Now()
			d.evaluate(ctx, at) // the novelty rules catch up over their baseline
			first := time.Since(start)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				at = at.Add(time.Minute)
				d.evaluate(ctx, at)
			}
			b.StopTimer()
			if n := total(d.m.errors); n > 0 {
				b.Fatalf("%v evaluation errors", n)
			}
			b.ReportMetric(first.Seconds(), "first-s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/perMinute, "ns/flow")
			b.ReportMetric(total(d.m.findings)/float64(b.N+1), "findings/op")
		})
	}
}
