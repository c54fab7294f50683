// Command ingest is hostflow's decode-only ingest harness: the collector's
// real receive path — inlet (SO_REUSEPORT sockets, recvmmsg, SO_RXQ_OVFL
// kernel-drop accounting), the sFlow and NetFlow decoders, the collector
// pipeline workers — with a store appender that counts records and drops
// them, and an enricher that does nothing (-enrich runs the real one).
//
//	go build -o /tmp/ingest ./bench/ingest
//	taskset -c 1 /tmp/ingest -sflow 127.0.0.1:6343 -netflow 127.0.0.1:2055 -http 127.0.0.1:9100
//
// It serves /metrics (and /debug/pprof/) on -http: hostflow_collector_flows_total,
// hostflow_inlet_drops_total{reason="kernel"}, hostflow_ingestbench_flows_total
// and the process CPU time, so a script can read counts between runs. It
// prints "ready sflow=ADDR netflow=ADDR" once listening, with -interval a
// line "stats flows=… kernel_drops=… cpu=… elapsed=…" of cumulative counts
// every interval and, on SIGINT or SIGTERM (or after -max-duration), the
// summary line:
//
//	flows=… interface_records=… host_records=… kernel_drops=… other_drops=… decode_errors=… cpu=… elapsed=…
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/hostflow/hostflow/inlet"
	"github.com/hostflow/hostflow/internal/cpuprofile"
	"github.com/hostflow/hostflow/internal/daemon"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "ingest:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	var cfg harnessConfig
	def := inlet.DefaultConfig().Listeners[0]
	fs.StringVar(&cfg.SFlow, "sflow", "127.0.0.1:6343", "sFlow listen address (empty: none)")
	fs.StringVar(&cfg.NetFlow, "netflow", "127.0.0.1:2055", "NetFlow/IPFIX listen address (empty: none)")
	fs.IntVar(&cfg.Sockets, "sockets", 1, "SO_REUSEPORT sockets (reader/decoder goroutines) per listener")
	fs.IntVar(&cfg.ReceiveBuffer, "receive-buffer", def.ReceiveBuffer, "socket receive buffer in bytes")
	fs.IntVar(&cfg.Batch, "batch", def.Batch, "datagrams per recvmmsg call")
	fs.BoolVar(&cfg.Enrich, "enrich", false, "run the real enricher instead of a no-op one")
	httpAddr := fs.String("http", "", "serve /metrics and /debug/pprof/ on this address")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	maxDuration := fs.Duration("max-duration", 30*time.Minute, "stop after this long even without a signal")
	interval := fs.Duration("interval", 0, "also print a stats line (cumulative counts) at this interval (0: none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	h, err := newHarness(cfg, log)
	if err != nil {
		return err
	}
	stopProfile, err := cpuprofile.Start(*profile)
	if err != nil {
		return err
	}
	defer stopProfile()
	ctx, stop := daemon.SignalContext(context.Background())
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *maxDuration)
	defer cancel()
	if *httpAddr != "" {
		h.comps = append(h.comps, daemon.Named{Name: "http",
			Component: daemon.NewHTTPServer(*httpAddr, daemon.OpsMux(h.reporter, true))})
	}
	start, cpu0 := time.Now(), cpuTime()
	if err := h.start(ctx); err != nil {
		return err
	}
	var ready []string
	for i, a := range h.addrs() {
		ready = append(ready, h.protos[i]+"="+a.String())
	}
	fmt.Println("ready", strings.Join(ready, " "))
	var tick <-chan time.Time
	if *interval > 0 {
		t := time.NewTicker(*interval)
		defer t.Stop()
		tick = t.C
	}
	for done := false; !done; {
		select {
		case <-tick:
			if err := h.print("stats ", start, cpu0); err != nil {
				return err
			}
		case <-ctx.Done():
			done = true
		}
	}
	stopErr := h.stop()
	if err := h.print("", start, cpu0); err != nil {
		return err
	}
	return stopErr
}

// print writes one line of cumulative counts, the process CPU time and
// the time since start.
func (h *harness) print(prefix string, start time.Time, cpu0 time.Duration) error {
	s, err := h.stats()
	if err != nil {
		return err
	}
	fmt.Printf("%sflows=%d interface_records=%d host_records=%d kernel_drops=%d other_drops=%d decode_errors=%d cpu=%.3f elapsed=%.3f\n",
		prefix, s.flows, s.interfaces, s.hosts, s.kernelDrops, s.otherDrops, s.decodeErrors,
		(cpuTime() - cpu0).Seconds(), time.Since(start).Seconds())
	return nil
}

func label(ls []*dto.LabelPair, name string) string {
	for _, l := range ls {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// cpuTime is the CPU time (user + system) of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
