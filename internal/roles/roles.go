package roles

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/hostflow/hostflow/agent"
	"github.com/hostflow/hostflow/agent/exporter"
	"github.com/hostflow/hostflow/collector"
	"github.com/hostflow/hostflow/console"
	"github.com/hostflow/hostflow/decoder"
	"github.com/hostflow/hostflow/detect"
	"github.com/hostflow/hostflow/enrich"
	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/inlet"
	"github.com/hostflow/hostflow/internal/daemon"
	"github.com/hostflow/hostflow/internal/privs"
	"github.com/hostflow/hostflow/query"
	"github.com/hostflow/hostflow/store"
	"github.com/hostflow/hostflow/tailnet"
)

// App is a role's set of components, started in order and stopped in
// reverse.
type App struct {
	Reporter *daemon.Reporter
	Log      *slog.Logger
	comps    []daemon.Named
	group    *daemon.Group

	// Set by the collector part, for tests and the console.
	Store   *store.Store
	Inlet   *inlet.Inlet
	Tap     *collector.Tap
	Agent   *agent.Agent
	Console *console.Console
	Ops     *daemon.HTTPServer
	Tailnet *tailnet.Node
}

// NewApp prepares an empty app with a logger built from cfg.
func NewApp(cfg *Config, logOut io.Writer) (*App, error) {
	level, err := cfg.Log.SlogLevel()
	if err != nil {
		return nil, err
	}
	log := daemon.NewLogger(logOut, level, cfg.Log.Format == "json")
	if cfg.Log.Format == "text" {
		log = slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: level}))
	}
	r := daemon.NewReporter(log, nil)
	r.RegisterRuntimeMetrics()
	return &App{Reporter: r, Log: log, group: daemon.NewGroup(log)}, nil
}

func (a *App) add(name string, c daemon.Component) {
	a.comps = append(a.comps, daemon.Named{Name: name, Component: c})
}

// AddCollector adds the collector's components: store, enrichment, the
// decode pipeline and the UDP inlet.
func (a *App) AddCollector(cfg *Config) error {
	schema := flow.NewSchema()
	st, err := store.New(cfg.Store, store.Dependencies{Reporter: a.Reporter, Schema: schema})
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	node, err := a.tailnetNode(cfg, "collector")
	if err != nil {
		return err
	}
	en, err := enrich.New(cfg.Enrich, a.enrichDeps(cfg, node))
	if err != nil {
		return fmt.Errorf("enrich: %w", err)
	}
	decRep := a.Reporter.Sub("decoder")
	// Validate the decoder settings now, so a bad value fails at start and
	// not in the first socket goroutine.
	if _, err := decoder.NewSFlow(cfg.SFlow, decRep); err != nil {
		return fmt.Errorf("sflow: %w", err)
	}
	if _, err := decoder.NewNetFlow(cfg.NetFlow, decRep); err != nil {
		return fmt.Errorf("netflow: %w", err)
	}
	tap := collector.NewTap()
	pipe, err := collector.NewPipeline(cfg.Collector, collector.Dependencies{
		Reporter: a.Reporter,
		NewDecoder: func(protocol string) decoder.Decoder {
			// Each socket goroutine owns its decoder; SO_REUSEPORT keeps an
			// exporter's datagrams on one socket, so per-exporter state
			// (templates, sequences) stays consistent.
			if protocol == inlet.ProtoSFlow {
				d, _ := decoder.NewSFlow(cfg.SFlow, decRep)
				return d
			}
			d, _ := decoder.NewNetFlow(cfg.NetFlow, decRep)
			return d
		},
		Enricher:    en,
		NewAppender: func() collector.Appender { return st.NewAppender() },
		Tap:         tap,
	})
	if err != nil {
		return fmt.Errorf("collector: %w", err)
	}
	inDeps := inlet.Dependencies{
		Reporter:   a.Reporter,
		NewHandler: func(protocol string) inlet.Handler { return pipe.NewWorker(protocol) },
	}
	if node != nil {
		inDeps.PacketConns = node.InletConns
	}
	in, err := inlet.New(cfg.Inlet, inDeps)
	if err != nil {
		return fmt.Errorf("inlet: %w", err)
	}
	builder, err := query.New(cfg.Query, query.Dependencies{Flow: schema, Store: st.Schema(), Querier: st, Reporter: a.Reporter})
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	// The detector always runs: disabled, it still serves the detections
	// stored before.
	det, err := detect.New(cfg.Detect, detect.Dependencies{Reporter: a.Reporter, Store: st, Flow: schema})
	if err != nil {
		return fmt.Errorf("detect: %w", err)
	}
	conDeps := console.Dependencies{
		Reporter: a.Reporter, Flow: schema, Store: st.Schema(), Builder: builder, Querier: st, Tap: tap,
		Detections: det, Ops: daemon.OpsMux(a.Reporter, cfg.HTTP.Pprof),
	}
	if node != nil {
		conDeps.Identify = node.Identify
		if cfg.Tailnet.ConsoleOnlyTailnet {
			conDeps.Listener = node.ConsoleListener()
		}
	}
	con, err := console.New(cfg.Console, conDeps)
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	a.Store, a.Inlet, a.Tap, a.Console = st, in, tap, con
	a.add("store", st)
	a.add("detect", det)
	a.add("enrich", en)
	a.add("pipeline", pipe)
	a.add("inlet", in)
	a.add("console", con)
	return nil
}

// AddAgent adds the host agent of the agent role. It first restricts the
// process to the capabilities the agent needs (agentCapabilities), which
// re-executes the program once when it holds more (internal/privs): call
// it before anything is opened.
func (a *App) AddAgent(cfg *Config) error {
	kept, err := privs.Restrict(agentCapabilities(&cfg.Agent))
	if err != nil {
		return fmt.Errorf("agent: restrict capabilities: %w", err)
	}
	a.Log.Info("capabilities restricted", "kept", kept.String())
	return a.addAgent(cfg)
}

// addAgent adds the host agent.
func (a *App) addAgent(cfg *Config) error {
	deps := agent.Deps{Reporter: a.Reporter}
	// In standalone the collector part owns the node and the agent sends
	// over loopback.
	if cfg.Tailnet.Enabled && a.Tailnet == nil {
		node, err := a.tailnetNode(cfg, "agent")
		if err != nil {
			return err
		}
		tr := exporter.Tailnet{Node: node}
		deps.Transport, deps.Addrs = tr, tr.Addrs
		if cfg.Agent.AgentAddress == "" {
			cfg.Agent.AgentInterface = exporter.TailnetInterface
		}
	}
	ag, err := agent.New(cfg.Agent, deps)
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	a.Agent = ag
	a.add("agent", ag)
	return nil
}

// AddOps serves /metrics, /healthz (and pprof) on cfg.HTTP.Listen.
func (a *App) AddOps(cfg *Config) {
	if cfg.HTTP.Listen == "" {
		return
	}
	a.Ops = daemon.NewHTTPServer(cfg.HTTP.Listen, daemon.OpsMux(a.Reporter, cfg.HTTP.Pprof))
	a.add("http", a.Ops)
}

// Start starts every component in order.
func (a *App) Start(ctx context.Context) error { return a.group.Start(ctx, a.comps...) }

// Stop stops them in reverse order, flushing what they hold.
func (a *App) Stop() error { return a.group.Stop() }

// Run starts the app, waits for ctx to end (SIGINT/SIGTERM), then stops it.
func (a *App) Run(ctx context.Context) error {
	if err := a.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	a.Log.Info("shutting down")
	return a.Stop()
}
