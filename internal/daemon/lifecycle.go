package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"
)

// Component is the lifecycle every moving part follows: built inert by its
// package's New(cfg, deps), then Start, then Stop. Start must not block; Stop
// flushes and releases everything Start acquired.
type Component interface {
	Start(ctx context.Context) error
	Stop() error
}

// Named pairs a component with a name for logs.
type Named struct {
	Name string
	Component
}

// Group starts components in order and stops them in reverse.
type Group struct {
	log     *slog.Logger
	started []Named
}

// NewGroup returns an empty group.
func NewGroup(log *slog.Logger) *Group { return &Group{log: log} }

// Start starts each component in order. When one fails, those already
// started are stopped in reverse and the error names the failing one.
func (g *Group) Start(ctx context.Context, comps ...Named) error {
	for _, c := range comps {
		if err := c.Start(ctx); err != nil {
			stopErr := g.Stop()
			return errors.Join(fmt.Errorf("start %s: %w", c.Name, err), stopErr)
		}
		g.log.Debug("started", "component", c.Name)
		g.started = append(g.started, c)
	}
	return nil
}

// Stop stops started components in reverse order and joins their errors.
func (g *Group) Stop() error {
	var errs []error
	for i := len(g.started) - 1; i >= 0; i-- {
		c := g.started[i]
		if err := c.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", c.Name, err))
		}
		g.log.Debug("stopped", "component", c.Name)
	}
	g.started = nil
	return errors.Join(errs...)
}

// SignalContext returns a context cancelled on SIGINT or SIGTERM.
func SignalContext(parent context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
}

// NewLogger returns a text logger when w is a terminal and a JSON logger
// otherwise (journald, files, pipes), at the given level.
func NewLogger(w io.Writer, level slog.Level, forceJSON bool) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if f, ok := w.(*os.File); ok && !forceJSON && term.IsTerminal(int(f.Fd())) {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
