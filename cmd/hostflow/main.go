// Command hostflow is host network telemetry in one binary: the agent that
// samples a host's traffic and sends sFlow, the collector that receives,
// enriches, stores and shows flows, and standalone mode that runs both.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"

	"github.com/hostflow/hostflow/console"
	"github.com/hostflow/hostflow/internal/config"
	"github.com/hostflow/hostflow/internal/daemon"
	"github.com/hostflow/hostflow/internal/demo"
	"github.com/hostflow/hostflow/internal/roles"
	"gopkg.in/yaml.v3"
)

// version is set by the build (-ldflags "-X main.version=...").
var version = "dev"

const usage = `hostflow — host network telemetry

Usage:
  hostflow agent      [-c FILE]   sample this host's traffic and counters, send sFlow v5
  hostflow collector  [-c FILE]   receive sFlow/NetFlow/IPFIX, enrich, store, serve console and API
  hostflow standalone [-c FILE]   agent + collector + embedded store in one process
  hostflow top   [--server URL]    top talkers (by process, host, peer, ...) from a collector's API
  hostflow query [--server URL]    raw flows matching a filter, as a table or CSV
  hostflow config check FILE      validate a configuration file
  hostflow config defaults [ROLE] print the default configuration
  hostflow token create [--name N] [--scope read|admin]   make an API token
  hostflow version                print version information

Run "hostflow <command> -h" for the flags of a command.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	case "version", "--version":
		printVersion(stdout)
		return 0
	case "config":
		return runConfig(args[1:], stdout, stderr)
	case "token":
		return runToken(args[1:], stdout, stderr)
	case "agent", "collector", "standalone":
		return runRole(args[0], args[1:], stdout, stderr)
	case "top":
		return runTop(args[1:], stdout, stderr)
	case "query":
		return runQuery(args[1:], stdout, stderr)
	case "demo-peer": // hidden: the processes of standalone --demo-traffic
		return demo.RunPeer(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "hostflow: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func printVersion(w io.Writer) {
	fmt.Fprintf(w, "hostflow %s %s %s/%s\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" || s.Key == "vcs.time" || s.Key == "vcs.modified" {
				fmt.Fprintf(w, "  %s=%s\n", s.Key, s.Value)
			}
		}
	}
}

func runConfig(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, "usage: hostflow config check FILE | hostflow config defaults [ROLE]\n")
		return 2
	}
	switch args[0] {
	case "check":
		if len(args) != 2 {
			fmt.Fprint(stderr, "usage: hostflow config check FILE\n")
			return 2
		}
		if _, err := roles.Load(args[1]); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: OK\n", args[1])
		return 0
	case "defaults":
		return printConfig(roles.Defaults(), stdout, stderr)
	}
	fmt.Fprintf(stderr, "hostflow config: unknown subcommand %q\n", args[0])
	return 2
}

// printConfig prints a configuration as YAML, secrets (passwords, auth
// keys, communities) as <redacted>: a printout is pasted in tickets.
func printConfig(cfg roles.Config, stdout, stderr io.Writer) int {
	enc := yaml.NewEncoder(stdout)
	enc.SetIndent(2)
	node, err := config.Redact(cfg)
	if err == nil {
		err = enc.Encode(node)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

// parseFlags parses a command's flags; when ok is false the command ends
// with code: 0 after -h, 2 for a bad flag (the flag package said why).
func parseFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	return 0, true
}

func runRole(role string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hostflow "+role, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("c", "", "configuration file (YAML); defaults apply when omitted")
	printCfg := fs.Bool("print-config", false, "print the effective configuration and exit")
	var dataDir *string
	var demoTraffic *bool
	if role == "collector" || role == "standalone" {
		dataDir = fs.String("data", "", "directory for the embedded store and the spool (overrides store.path)")
	}
	if role == "standalone" {
		demoTraffic = fs.Bool("demo-traffic", false, "generate real traffic in a network namespace so the console fills on a quiet machine (root)")
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cfg, err := roles.Load(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if dataDir != nil && *dataDir != "" {
		cfg.Store.Path = filepath.Join(*dataDir, "store")
		cfg.Store.Spool.Dir = filepath.Join(*dataDir, "spool")
	}
	if *printCfg {
		return printConfig(cfg, stdout, stderr)
	}
	app, err := roles.NewApp(&cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	switch role {
	case "agent":
		err = app.AddAgent(&cfg)
	case "collector":
		err = app.AddCollector(&cfg)
	case "standalone":
		err = roles.AddStandalone(app, &cfg, roles.StandaloneOptions{DemoTraffic: *demoTraffic, Stdout: stdout})
	}
	if err != nil {
		fmt.Fprintf(stderr, "hostflow %s: %v\n", role, err)
		return 1
	}
	app.AddOps(&cfg)
	ctx, cancel := daemon.SignalContext(context.Background())
	defer cancel()
	app.Log.Info("starting", "role", role, "version", version)
	if err := app.Run(ctx); err != nil {
		app.Log.Error("exiting", "error", err)
		return 1
	}
	return 0
}

func runToken(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprint(stderr, "usage: hostflow token create [--name NAME] [--scope read|admin]\n")
		return 2
	}
	fs := flag.NewFlagSet("hostflow token create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "token", "name shown in logs and /api/v1/whoami")
	scope := fs.String("scope", console.ScopeRead, "read or admin")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	tok, entry, err := console.NewToken(*name, *scope)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "Token (shown once; send it as \"Authorization: Bearer <token>\"):\n\n  %s\n\n", tok)
	fmt.Fprintf(stdout, "Add this entry under console.auth.tokens (only the hash is stored):\n\n%s", console.WriteTokenEntry(entry))
	return 0
}
