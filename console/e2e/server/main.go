// Command server is the fixture server of the console's end-to-end tests:
// it starts a real embedded store (chDB) in a temporary directory, fills one
// database with a deterministic fixture covering the last 24 hours (see
// fixture.go), leaves a second one empty, and serves the real console package
// over both on free loopback ports; the detector (package detect) runs over
// the fixture.
//
//	go run ./console/e2e/server [-token hf_...] [-anonymous none|read] [-stdin-exit]
//
// When ready it prints one JSON line on stdout:
//
//	{"url":"http://127.0.0.1:PORT/","emptyUrl":"http://127.0.0.1:PORT2/","token":"hf_...","now":"..."}
//
// and serves until SIGINT/SIGTERM, or until stdin reaches end of file with
// -stdin-exit (so the server never outlives the test runner that started it).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hostflow/hostflow/console"
	"github.com/hostflow/hostflow/detect"
	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/internal/daemon"
	"github.com/hostflow/hostflow/query"
	"github.com/hostflow/hostflow/store"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "fixture server:", err)
		os.Exit(1)
	}
}

func run() error {
	token := flag.String("token", "hf_e2e_fixture_read_token", "API token accepted with read scope")
	anonymous := flag.String("anonymous", console.ScopeNone, "scope of requests without a token: none or read")
	stdinExit := flag.Bool("stdin-exit", false, "exit when stdin reaches end of file")
	dir := flag.String("dir", "", "storage directory (default: a temporary directory, removed at exit)")
	flag.Parse()

	if *dir == "" {
		tmp, err := os.MkdirTemp("", "hostflow-e2e-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		*dir = tmp
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	r := daemon.NewReporter(logger, nil)
	schema := flow.NewSchema()
	// The fixture is placed relative to this instant, on a whole minute so
	// that rollup buckets line up with it.
	now := time.Now().UTC().Truncate(time.Minute)

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if *stdinExit {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			cancel()
		}()
	}

	auth := console.AuthConfig{Anonymous: *anonymous, Tokens: []console.TokenConfig{
		{Name: "e2e", SHA256: sha256hex(*token), Scope: console.ScopeRead}}}
	var urls []string
	for _, db := range []struct {
		name string
		fill bool
	}{{"fixture", true}, {"empty", false}} {
		st, err := openStore(ctx, r, schema, filepath.Join(*dir, "engine"), db.name)
		if err != nil {
			return err
		}
		defer st.Stop()
		if db.fill {
			if err := fill(ctx, st, now); err != nil {
				return err
			}
		}
		b, err := query.New(query.DefaultConfig(), query.Dependencies{Flow: schema, Store: st.Schema(), Querier: st, Reporter: r})
		if err != nil {
			return err
		}
		deps := console.Dependencies{Reporter: r, Flow: schema, Store: st.Schema(), Builder: b, Querier: st}
		if db.fill {
			// The real detector over the fixture (the empty console has
			// none, to show the "not enabled" state).
			det, err := detect.New(detect.DefaultConfig(), detect.Dependencies{Reporter: r, Store: st, Flow: schema})
			if err != nil {
				return err
			}
			if err := det.Start(ctx); err != nil {
				return fmt.Errorf("detector: %w", err)
			}
			defer det.Stop()
			deps.Detections = det
		}
		cfg := console.DefaultConfig()
		cfg.Listen = "127.0.0.1:0"
		cfg.Auth = auth
		c, err := console.New(cfg, deps)
		if err != nil {
			return err
		}
		if err := c.Start(ctx); err != nil {
			return err
		}
		defer c.Stop()
		urls = append(urls, "http://"+c.Addr().String()+"/")
	}
	ready, _ := json.Marshal(map[string]string{"url": urls[0], "emptyUrl": urls[1], "token": *token,
		"now": now.Format(time.RFC3339)})
	fmt.Println(string(ready))
	<-ctx.Done()
	return nil
}

func openStore(ctx context.Context, r *daemon.Reporter, schema *flow.Schema, path, database string) (*store.Store, error) {
	cfg := store.DefaultConfig()
	cfg.Path = path
	cfg.Database = database
	cfg.Spool.Dir = path + "-spool-" + database
	st, err := store.New(cfg, store.Dependencies{Reporter: r, Schema: schema})
	if err != nil {
		return nil, err
	}
	if err := st.Start(ctx); err != nil {
		return nil, fmt.Errorf("store %s: %w", database, err)
	}
	return st, nil
}

// fill appends the fixture and waits until it is queryable.
func fill(ctx context.Context, st *store.Store, now time.Time) error {
	fx := newFixture(now)
	app := st.NewAppender()
	app.AppendFlows(fx.flows)
	app.AppendHosts(fx.hosts)
	app.AppendInterfaces(fx.interfaces)
	app.Close()
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := st.Sync(sctx); err != nil {
		return fmt.Errorf("store sync: %w", err)
	}
	res, err := st.Query(sctx, "SELECT count() FROM "+st.Schema().InsertTable("flows"), nil)
	if err != nil {
		return err
	}
	if len(res.Rows) != 1 || fmt.Sprint(res.Rows[0][0]) != fmt.Sprint(len(fx.flows)) {
		return errors.New("fixture: stored row count differs from the fixture's")
	}
	return nil
}
