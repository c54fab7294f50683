// Command agentprobe is a plain (non-test) program that joins a tailnet
// with hostflow's embedded node and sends datagrams through the agent's
// tailnet transport, then leaves. Package tailnet's tests run it under
// strace: outside `go test` Tailscale would upload its logs unless told
// not to, so this is where "never phones log.tailscale.com" is checked.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/hostflow/hostflow/agent/exporter"
	"github.com/hostflow/hostflow/internal/daemon"
	"github.com/hostflow/hostflow/tailnet"
)

func main() {
	control := flag.String("control", "", "control server URL")
	collector := flag.String("collector", "", "collector host:port on the tailnet")
	state := flag.String("state", "", "state directory")
	count := flag.Int("n", 50, "datagrams to send, 100 ms apart")
	flag.Parse()
	if err := run(*control, *collector, *state, *count); err != nil {
		fmt.Fprintln(os.Stderr, "agentprobe:", err)
		os.Exit(1)
	}
}

func run(control, collector, state string, count int) error {
	cfg := tailnet.DefaultConfig()
	cfg.Enabled, cfg.ControlURL, cfg.Hostname = true, control, "agentprobe"
	cfg.StateDir, cfg.Ephemeral, cfg.UpTimeout = state, true, time.Minute
	r := daemon.NewReporter(slog.New(slog.NewTextHandler(os.Stderr, nil)), nil)
	node, err := tailnet.New(cfg, tailnet.Dependencies{Reporter: r, Role: "agent"})
	if err != nil {
		return err
	}
	ctx := context.Background()
	if err := node.Start(ctx); err != nil {
		return err
	}
	defer node.Stop()
	c, err := exporter.Tailnet{Node: node}.Dial(ctx, collector)
	if err != nil {
		return err
	}
	defer c.Close()
	payload := make([]byte, exporter.TailnetMaxDatagram)
	for i := range count {
		payload[0] = byte(i)
		if err := c.Write(payload, time.Now().Add(time.Second)); err != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}
