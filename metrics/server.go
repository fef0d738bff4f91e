package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewHandler serves /metrics, /healthz and /bindings from src.
func NewHandler(src *Sources) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(src),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if src.Health != nil {
			if err := src.Health(); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintln(w, err)
				return
			}
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /bindings", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(Rows(src.Bindings, src.Method, src.Routes))
	})
	return mux
}

// Server is the metrics endpoint.
type Server struct {
	ln  net.Listener
	srv *http.Server
}

// What one client can hold of the endpoint. A scrape takes no lock the
// packet path or an attach needs, so these bound the daemon's memory and
// descriptors, not its service: past maxConns a connection waits in the
// kernel's backlog until one of those open closes. Prometheus holds one,
// kept alive between scrapes a minute apart at most. Without writeTimeout a
// client that asks for /bindings (MBs at 10,000 TAPs) and never reads would
// hold its connection, and maxConns of them the endpoint, for ever; a
// scrape of 10,000 TAPs is written in well under a second, and Prometheus
// gives up on one after 10 s by default.
const (
	maxConns          = 16
	readHeaderTimeout = 5 * time.Second  // a new connection's request
	writeTimeout      = 30 * time.Second // from a request read to its response written
	idleTimeout       = 2 * time.Minute  // between two requests on one connection
)

// Listen binds addr (host:port). It is called before the daemon drops root,
// so that a port below 1024 works too.
func Listen(addr string, h http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics_listen %s: %w", addr, err)
	}
	return newServer(ln, h), nil
}

func newServer(ln net.Listener, h http.Handler) *Server {
	return &Server{ln: limitListener(ln, maxConns),
		srv: &http.Server{Handler: h, ReadHeaderTimeout: readHeaderTimeout,
			WriteTimeout: writeTimeout, IdleTimeout: idleTimeout}}
}

// Addr is the address bound (with the port chosen when addr had port 0).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Public reports whether the address bound is reachable from beyond this
// host: not a loopback one. /bindings lists every VM's MAC and addresses.
func (s *Server) Public() bool {
	ta, ok := s.ln.Addr().(*net.TCPAddr)
	return !ok || !ta.IP.IsLoopback()
}

// Serve answers requests until ctx is done.
func (s *Server) Serve(ctx context.Context) error {
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		s.srv.Shutdown(sctx)
	}()
	if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}
