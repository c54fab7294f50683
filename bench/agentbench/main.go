// Command agentbench supports bench/agent-overhead.sh: "gen" sends small UDP
// datagrams as fast as it can for a while; "agent" runs the hostflow agent
// with a configuration file until SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hostflow/hostflow/agent"
	"github.com/hostflow/hostflow/internal/config"
	"github.com/hostflow/hostflow/internal/cpuprofile"
	"github.com/hostflow/hostflow/internal/daemon"
	"golang.org/x/net/ipv4"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: agentbench gen|agent ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(os.Args[2:])
	case "agent":
		err = runAgent(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "agentbench:", err)
		os.Exit(1)
	}
}

// gen sends batches of datagrams with sendmmsg until the duration passes
// and prints how many it sent.
func gen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	dst := fs.String("dst", "", "destination host:port")
	dur := fs.Duration("duration", 10*time.Second, "how long to send")
	size := fs.Int("size", 64, "UDP payload bytes")
	pps := fs.Int("pps", 0, "packets per second to aim at (0: as fast as possible)")
	_ = fs.Parse(args)
	c, err := net.Dial("udp4", *dst)
	if err != nil {
		return err
	}
	pc := ipv4.NewPacketConn(c.(*net.UDPConn))
	msgs := make([]ipv4.Message, 64)
	payload := make([]byte, *size)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{payload}
	}
	var sent int
	start := time.Now()
	deadline := start.Add(*dur)
	for now := start; now.Before(deadline); now = time.Now() {
		if *pps > 0 {
			if ahead := time.Duration(float64(sent)/float64(*pps)*float64(time.Second)) - now.Sub(start); ahead > 0 {
				time.Sleep(ahead)
			}
		}
		n, err := pc.WriteBatch(msgs, 0)
		if err != nil {
			continue // ICMP errors from the sink surface here; keep sending
		}
		sent += n
	}
	fmt.Println(sent)
	return nil
}

func runAgent(args []string) error {
	fs := flag.NewFlagSet("agent", flag.ExitOnError)
	path := fs.String("c", "", "agent configuration (YAML)")
	profile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	_ = fs.Parse(args)
	stopProfile, err := cpuprofile.Start(*profile)
	if err != nil {
		return err
	}
	defer stopProfile()
	cfg := agent.DefaultConfig()
	if *path != "" {
		if err := config.Load(*path, &cfg); err != nil {
			return err
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := agent.New(cfg, agent.Deps{Reporter: daemon.NewReporter(log, nil)})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := a.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	return a.Stop()
}
