// Command hostflow is host network telemetry in one binary: the agent that
// samples a host's traffic and sends sFlow, the collector that receives,
// enriches, stores and shows flows, and standalone mode that runs both.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"

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
  hostflow top        --server URL   live top talkers in the terminal
  hostflow query      --server URL   run a query against the HTTP API
  hostflow config check FILE      validate a configuration file
  hostflow config defaults [ROLE] print the default configuration
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
	case "agent", "collector", "standalone", "top", "query":
		return runRole(args[0], args[1:], stdout, stderr)
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
		cfg := roles.Defaults()
		enc := yaml.NewEncoder(stdout)
		enc.SetIndent(2)
		if err := enc.Encode(cfg); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(stderr, "hostflow config: unknown subcommand %q\n", args[0])
	return 2
}

func runRole(role string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hostflow "+role, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("c", "", "configuration file (YAML); defaults apply when omitted")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if _, err := roles.Load(*cfgPath); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stderr, "hostflow %s: not yet available\n", role)
	return 1
}
