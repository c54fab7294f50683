package store

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hostflow/hostflow/flow"
)

// The crash test re-executes the test binary as a child that ingests into
// its own store until it is SIGKILLed, then as a second child that reopens
// the store (replaying the spool) and counts.
const crashChildEnv = "HOSTFLOW_STORE_CRASH_CHILD"

func crashChild() {
	mode, dir, _ := strings.Cut(os.Getenv(crashChildEnv), ":")
	cfg := DefaultConfig()
	cfg.Path = filepath.Join(dir, "store")
	cfg.Spool.Dir = filepath.Join(dir, "spool")
	cfg.Database = "crash"
	cfg.TTL = map[string]Duration{}
	cfg.Rollups = true
	cfg.BatchRows = 5000
	cfg.QueueBlocks = 1 // small: blocks overflow into the spool
	s, err := New(cfg, Dependencies{Reporter: newReporter(), Schema: flow.NewSchema()})
	if err == nil {
		err = s.Start(context.Background())
	}
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	switch mode {
	case "ingest":
		app := s.NewAppender()
		recs := genFlows(7, 5000, t0, time.Hour)
		appended := 0
		for {
			app.AppendFlows(recs)
			appended += len(recs)
			// Acknowledged = written to the store or to the spool (fsynced).
			acked := testutil.ToFloat64(s.m.rows.WithLabelValues("crash.flows", "inserted")) +
				testutil.ToFloat64(s.m.rows.WithLabelValues("crash.flows", "spooled"))
			fmt.Printf("progress %d %d %d\n", appended, int64(acked), s.spool.Len())
		}
	case "verify":
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		for s.spool.Len() > 0 && ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
		}
		// Sync emits the rollup rows of the replayed flows.
		if err := s.Sync(ctx); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		res, err := s.Query(ctx, `SELECT (SELECT count() FROM crash.flows), (SELECT sum(Flows) FROM crash.flows_1m),
			(SELECT sum(Flows) FROM crash.flows_5m), (SELECT sum(Flows) FROM crash.flows_1h)`, nil)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		r := res.Rows[0]
		fmt.Printf("count %d replayed %d rollups %d %d %d\n", r[0], int64(testutil.ToFloat64(s.m.replayedRows.WithLabelValues("crash.flows"))), r[1], r[2], r[3])
		s.Stop()
	}
	os.Exit(0)
}

func TestCrashKeepsAcknowledgedRows(t *testing.T) {
	needChDB(t)
	dir := t.TempDir()
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), crashChildEnv+"=ingest:"+dir)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	var appended, acked, spooled int64
	lines := bufio.NewScanner(out)
	deadline := time.Now().Add(2 * time.Minute)
	for lines.Scan() && time.Now().Before(deadline) {
		f := strings.Fields(lines.Text())
		if len(f) != 4 || f[0] != "progress" {
			t.Fatalf("child: %s", lines.Text())
		}
		appended, _ = strconv.ParseInt(f[1], 10, 64)
		acked, _ = strconv.ParseInt(f[2], 10, 64)
		spooled, _ = strconv.ParseInt(f[3], 10, 64)
		if acked >= 300_000 && spooled > 0 {
			break
		}
	}
	if acked < 300_000 || spooled == 0 {
		t.Fatalf("child never reached 300k acknowledged rows with blocks in the spool (acked %d, spool %d)", acked, spooled)
	}
	// Kill mid-batch: the child keeps appending while we read its line.
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()

	verify := exec.Command(os.Args[0], "-test.run=^$")
	verify.Env = append(os.Environ(), crashChildEnv+"=verify:"+dir)
	verify.Stderr = os.Stderr
	res, err := verify.Output()
	if err != nil {
		t.Fatalf("verify child: %v: %s", err, res)
	}
	var count, replayed int64
	var rollups [3]int64
	if _, err := fmt.Sscanf(string(res), "count %d replayed %d rollups %d %d %d", &count, &replayed, &rollups[0], &rollups[1], &rollups[2]); err != nil {
		t.Fatalf("verify child said %q", res)
	}
	t.Logf("appended ≥ %d, acknowledged %d (spool %d blocks) before SIGKILL; after reopen %d rows, %d replayed from the spool, rollups sum(Flows) 1m/5m/1h %v",
		appended, acked, spooled, count, replayed, rollups)
	// The rollup rows the writer held at the kill are lost (documented), but
	// no flow is rolled up twice, and the replayed ones are rolled up.
	for i, n := range rollups {
		if n > count {
			t.Errorf("rollup %d: sum(Flows) %d > %d raw flows", i, n, count)
		}
	}
	if rollups[0] < replayed {
		t.Errorf("flows_1m: sum(Flows) %d < %d flows replayed from the spool", rollups[0], replayed)
	}
	if count < acked {
		t.Errorf("lost acknowledged rows: %d < %d", count, acked)
	}
	if count > appended+2*5000*int64(3) {
		t.Errorf("more rows than appended: %d > %d", count, appended)
	}
	if replayed == 0 {
		t.Error("nothing replayed from the spool")
	}
}
