package store

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/store/schema"
	"github.com/hostflow/hostflow/store/server"
	"github.com/hostflow/hostflow/store/server/servertest"
)

// compatFlowsDDL is the flows table with the types ClickHouse 18.16 has
// (no IPv6 type, no CODEC, no TTL): the modern DDL is proven on chDB, this
// proves the protocol, the column-listing inserts and the spool.
func compatFlowsDDL(t *testing.T, db string) string {
	sc, err := schema.New(flow.NewSchema(), schema.Options{Database: db, Disabled: DefaultConfig().DisabledColumns})
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for _, c := range sc.Tables()[0].Columns {
		typ := c.Type
		if typ == "IPv6" {
			typ = "FixedString(16)"
		}
		cols = append(cols, c.Name+" "+typ)
	}
	return fmt.Sprintf("CREATE TABLE %s.flows (%s) ENGINE = MergeTree PARTITION BY toYYYYMMDD(TimeReceived) ORDER BY (toStartOfFifteenMinutes(TimeReceived), ExporterAddress, InIfName, OutIfName)",
		db, strings.Join(cols, ", "))
}

// The collector's path against a real ClickHouse 18.16: Native inserts of
// the whole flow schema, then the server stops, writes go to the spool, the
// server comes back, the spool is replayed and the count matches exactly.
func TestServerStoreSpoolAndReplay(t *testing.T) {
	srv := servertest.Start(t)
	ctx := context.Background()
	admin, err := server.New(server.Options{Addresses: []string{srv.Addr()}, User: servertest.User, Password: servertest.Password, DialTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for _, sql := range []string{"CREATE DATABASE hf", compatFlowsDDL(t, "hf")} {
		if err := admin.Exec(ctx, sql, nil); err != nil {
			t.Fatal(err)
		}
	}

	cfg := DefaultConfig()
	cfg.Type = "server"
	cfg.Database = "hf"
	cfg.Server.Addresses = []string{srv.Addr()}
	cfg.Server.User = servertest.User
	cfg.Server.DialTimeout = Duration(time.Second)
	t.Setenv(PasswordEnv, servertest.Password)
	cfg.ManageSchema = false
	cfg.Rollups = false // the hand-made schema has no rollup tables
	cfg.Spool.Dir = t.TempDir()
	cfg.BatchRows = 5000
	s, err := New(cfg, Dependencies{Reporter: newReporter(), Schema: flow.NewSchema()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	app := s.NewAppender()
	first := genFlows(11, 30_000, t0, time.Hour)
	app.AppendFlows(first)
	sync_(t, s)
	if got := one(t, s, "SELECT count() FROM hf.flows"); got != uint64(len(first)) {
		t.Fatalf("count = %v, want %d", got, len(first))
	}
	f := &first[0]
	res, err := s.Query(ctx, `SELECT count() FROM hf.flows WHERE TimeReceived = {t:DateTime} AND ExporterName = {name:String}
		AND SrcAddr = IPv6StringToNum({src:String}) AND DstAddr = IPv6StringToNum({dst:String}) AND DstPort = {port:UInt16}
		AND Bytes = {bytes:UInt64} AND ProcessName = {proc:String}`, map[string]string{
		"t": time.Unix(int64(f.TimeReceived), 0).UTC().Format(time.DateTime), "name": f.ExporterName,
		"src": netip.AddrFrom16(f.SrcAddr.As16()).String(), "dst": netip.AddrFrom16(f.DstAddr.As16()).String(), "port": fmt.Sprint(f.DstPort),
		"bytes": fmt.Sprint(f.Bytes), "proc": f.ProcessName})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows[0][0] == uint64(0) {
		t.Errorf("first flow %+v not found", *f)
	}

	srv.Stop()
	second := genFlows(12, 25_000, t0.Add(time.Hour), time.Hour)
	for i := 0; i < len(second); i += 5000 {
		app.AppendFlows(second[i : i+5000])
	}
	if err := s.Sync(ctx); err == nil {
		t.Fatal("Sync succeeded with the server stopped")
	}
	if s.spool.Len() == 0 {
		t.Fatal("nothing spooled while the server was down")
	}
	srv.Run()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := s.Sync(c)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("spool not replayed 2 minutes after the server restarted: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if got := one(t, s, "SELECT count() FROM hf.flows"); got != uint64(len(first)+len(second)) {
		t.Errorf("after replay count = %v, want %d", got, len(first)+len(second))
	}
}
