// Package console serves the web console and the HTTP API v1 over the query
// builder: JSON everywhere, CSV for raw flows, an OpenAPI document at
// /api/v1/openapi.json, token (and optionally tailnet) authentication.
//
// Every endpoint is a GET without side effects except the admin ones, and
// credentials travel in the Authorization header, never in cookies, so a
// third-party page cannot make a browser call the API on a user's behalf
// (no CSRF surface).
package console

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/hostflow/hostflow/collector"
	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/internal/daemon"
	"github.com/hostflow/hostflow/query"
	"github.com/hostflow/hostflow/store/schema"
)

// Dependencies of the console.
type Dependencies struct {
	Reporter *daemon.Reporter
	Flow     *flow.Schema
	Store    *schema.Schema
	Builder  *query.Builder
	Querier  query.Querier
	// Tap feeds /api/v1/debug/flows; optional.
	Tap *collector.Tap
	// Ops is mounted at /metrics and /healthz; optional.
	Ops http.Handler
	// Identify recognizes callers by other means than tokens (tailnet
	// WhoIs); optional.
	Identify IdentityFunc
	// Listener serves on an existing listener instead of cfg.Listen
	// (tailnet-only console); optional.
	Listener net.Listener
	// Detections lists detections for /api/v1/detections; optional.
	Detections DetectionSource
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// DetectionSource lists recent detections (the detect component).
type DetectionSource interface {
	Detections(ctx context.Context, since time.Time, limit int) (any, error)
}

// Console is the component.
type Console struct {
	cfg  Config
	deps Dependencies
	auth *authenticator
	srv  *daemon.HTTPServer
	mux  *http.ServeMux
	// routes lists the API paths registered, checked against the OpenAPI
	// document by the tests.
	routes []string
}

// New builds the console.
func New(cfg Config, deps Dependencies) (*Console, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	auth, err := newAuthenticator(cfg.Auth, deps.Identify)
	if err != nil {
		return nil, err
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	c := &Console{cfg: cfg, deps: deps, auth: auth, mux: http.NewServeMux()}
	c.routesSetup()
	return c, nil
}

// Handler returns the console's HTTP handler (for tests and embedding).
func (c *Console) Handler() http.Handler { return c.mux }

// Start serves on the configured address or listener.
func (c *Console) Start(ctx context.Context) error {
	if c.deps.Listener != nil {
		c.srv = daemon.NewHTTPServerOn(c.deps.Listener, c.mux)
	} else if c.cfg.Listen != "" {
		c.srv = daemon.NewHTTPServer(c.cfg.Listen, c.mux)
	} else {
		return nil
	}
	if err := c.srv.Start(ctx); err != nil {
		return err
	}
	c.deps.Reporter.Sub("console").Logger().Info("console listening", "url", "http://"+c.srv.Addr().String()+"/",
		"anonymous", c.cfg.Auth.Anonymous)
	return nil
}

// Addr is the bound address, nil before Start.
func (c *Console) Addr() net.Addr {
	if c.srv == nil {
		return nil
	}
	return c.srv.Addr()
}

// Stop shuts the server down.
func (c *Console) Stop() error {
	if c.srv == nil {
		return nil
	}
	return c.srv.Stop()
}

// maxBody bounds request bodies (the API takes parameters in the URL; only
// a few admin calls have small bodies).
const maxBody = 64 << 10

type apiHandler func(w http.ResponseWriter, r *http.Request, p *params) (any, error)

// api registers a JSON endpoint requiring the given scope.
func (c *Console) api(pattern string, need scope, h apiHandler) {
	c.routes = append(c.routes, pattern)
	c.mux.Handle(pattern, c.auth.require(need, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		ctx, cancel := context.WithTimeout(r.Context(), time.Duration(c.cfg.QueryTimeout))
		defer cancel()
		r = r.WithContext(ctx)
		p := &params{v: r.URL.Query(), now: c.deps.Now()}
		out, err := h(w, r, p)
		if err == nil {
			err = p.err
		}
		if err != nil {
			c.fail(w, r, err)
			return
		}
		if out == nil { // the handler wrote the answer itself
			return
		}
		writeJSON(w, http.StatusOK, out)
	})))
}

func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	var re *query.RequestError
	var pe *paramError
	switch {
	case errors.As(err, &re), errors.As(err, &pe):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusGatewayTimeout, "query took longer than "+time.Duration(c.cfg.QueryTimeout).String()+": narrow the time range or the filter")
	case errors.Is(err, context.Canceled):
		// The client went away.
	default:
		c.deps.Reporter.Sub("console").Limited("query", "query failed", "path", r.URL.Path, "error", err)
		writeError(w, http.StatusInternalServerError, "query failed: "+err.Error())
	}
}

// paramError marks bad request parameters.
type paramError struct{ err error }

func (e *paramError) Error() string { return e.err.Error() }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

// apiError is the body of every error answer.
type apiError struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, apiError{Error: msg})
}
