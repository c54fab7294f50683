package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// RegisterRuntimeMetrics adds Go runtime and process metrics to the registry.
func (r *Reporter) RegisterRuntimeMetrics() {
	r.register("go", collectors.NewGoCollector())
	r.register("process", collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

// OpsMux returns a mux serving /metrics, /healthz and, when pprof is true,
// /debug/pprof/. Every role serves it; the collector mounts it on the
// console's server too.
func OpsMux(r *Reporter, withPprof bool) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(r.Registry(), promhttp.HandlerOpts{
		Registry: r.Registry(), ErrorHandling: promhttp.ContinueOnError,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		failures := r.Health()
		body := map[string]any{"status": "ok"}
		code := http.StatusOK
		if len(failures) > 0 {
			code = http.StatusServiceUnavailable
			checks := map[string]string{}
			for k, err := range failures {
				checks[k] = err.Error()
			}
			body = map[string]any{"status": "unhealthy", "failures": checks}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(body)
	})
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// HTTPServer is a component serving a handler on an address with hardened
// timeouts.
type HTTPServer struct {
	addr    string
	handler http.Handler
	srv     *http.Server
	ln      net.Listener
	done    chan error
}

// NewHTTPServer returns an inert server; Start binds.
func NewHTTPServer(addr string, h http.Handler) *HTTPServer {
	return &HTTPServer{addr: addr, handler: h}
}

// NewHTTPServerOn serves on an existing listener (e.g. a tailnet one).
func NewHTTPServerOn(ln net.Listener, h http.Handler) *HTTPServer {
	return &HTTPServer{ln: ln, handler: h}
}

// Start listens and serves in the background.
func (s *HTTPServer) Start(context.Context) error {
	if s.ln == nil {
		ln, err := net.Listen("tcp", s.addr)
		if err != nil {
			return fmt.Errorf("http %s: %w", s.addr, err)
		}
		s.ln = ln
	}
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      5 * time.Minute, // CSV exports and profiles can take a while
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	s.done = make(chan error, 1)
	go func() { s.done <- s.srv.Serve(s.ln) }()
	return nil
}

// Addr is the bound address (useful with port 0).
func (s *HTTPServer) Addr() net.Addr { return s.ln.Addr() }

// Stop shuts down gracefully, waiting up to 5 s for requests in flight.
func (s *HTTPServer) Stop() error {
	if s.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if serr := <-s.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
