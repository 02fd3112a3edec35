package sources

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/secslo/secslo/slo"
)

// ServerOptions configures a Server.
type ServerOptions struct {
	// ConfigFile is the secslo.yaml path, read at Start and at every reload.
	ConfigFile string
	// Registry maps source types to adapters.
	Registry Registry
	// Web holds the listen addresses and the exporter-toolkit web config file
	// (TLS, basic auth), usually from kingpinflag.AddFlags.
	Web *web.FlagConfig
	// Logger receives every log line. A nil Logger discards them.
	Logger *slog.Logger
	// LedgerPath is the ledger file that counts events once; see Ledger.
	// Empty means no ledger, and a source that returns events fails.
	LedgerPath string
	// EnableLifecycle allows POST /-/reload. Without it the endpoint
	// answers 403, as Prometheus does, because anyone who reaches the port
	// could otherwise make the exporter reread its config; SIGHUP works
	// either way.
	EnableLifecycle bool
	// OnLoad, if set, receives every config that passed validation, at
	// Start and at each reload, before the sources are replaced. An error
	// rejects the config as an invalid one is rejected: Start fails, and a
	// reload keeps the previous config running.
	OnLoad func(cfg *FileConfig) error
	// Routes, if set, adds handlers to the mux after the built-in ones.
	// When LandingPage is set too, it serves GET / in place of the
	// built-in landing page.
	Routes      func(mux *http.ServeMux)
	LandingPage http.Handler
}

// Server is the secslo exporter: a Manager that refreshes the configured
// sources, their metrics on /metrics, and the web endpoints around them.
type Server struct {
	opts    ServerOptions
	logger  *slog.Logger
	manager *Manager
	metrics *prometheus.Registry

	reloadSuccess prometheus.Gauge
	reloadTime    prometheus.Gauge
	// reloadMu serialises reloads, so that two at once cannot interleave
	// reading the file and applying it.
	reloadMu sync.Mutex

	http      *http.Server
	listeners []net.Listener
	done      chan error
}

// NewServer checks opts and returns a Server that is not yet started.
func NewServer(opts ServerOptions) (*Server, error) {
	if opts.ConfigFile == "" {
		return nil, errors.New("missing config file; set --config.file")
	}
	if opts.Web == nil || opts.Web.WebListenAddresses == nil || opts.Web.WebConfigFile == nil {
		return nil, errors.New("missing web flags; build them with kingpinflag.AddFlags")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}

	s := &Server{
		opts:    opts,
		logger:  opts.Logger,
		manager: NewManager(opts.Registry, opts.Logger),
		metrics: prometheus.NewRegistry(),
		reloadSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: slo.MetricConfigReloadSuccess,
			Help: "1 if the latest config load or reload succeeded, 0 if it was rejected.",
		}),
		reloadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: slo.MetricConfigReloadTime,
			Help: "Unix time of the latest successful config load or reload.",
		}),
		done: make(chan error, 1),
	}

	s.metrics.MustRegister(
		NewCollector(s.manager),
		s.reloadSuccess,
		s.reloadTime,
		versioncollector.NewCollector(slo.Namespace),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return s, nil
}

// Registry returns the registry that /metrics serves, so that an
// in-process consumer reads the same samples without an HTTP round trip
// and can serve metrics of its own beside them.
func (s *Server) Registry() *prometheus.Registry { return s.metrics }

// Manager returns the Manager that refreshes the server's sources.
func (s *Server) Manager() *Manager { return s.manager }

// Start loads the config, starts the sources, opens the listeners and serves
// in the background. An invalid config or web config file, or an address
// that cannot be bound, is returned and nothing keeps running.
func (s *Server) Start() error {
	if path := *s.opts.Web.WebConfigFile; path != "" {
		if err := web.Validate(path); err != nil {
			return fmt.Errorf("invalid web config file %s: %w", path, err)
		}
	}

	if s.opts.LedgerPath != "" {
		if err := s.manager.UseLedger(s.opts.LedgerPath, LedgerOptions{}); err != nil {
			return err
		}
	}

	if err := s.Reload(); err != nil {
		s.manager.Stop()
		return err
	}

	if err := s.listen(); err != nil {
		s.manager.Stop()
		return err
	}
	return nil
}

// listen opens the TCP listeners itself, so that Addrs can return the bound
// addresses, and leaves systemd socket activation and vsock addresses to
// exporter-toolkit.
func (s *Server) listen() error {
	s.http = &http.Server{Handler: s.handler(), ReadHeaderTimeout: 10 * time.Second}
	flags := s.opts.Web

	if s.toolkitListens() {
		go func() { s.done <- web.ListenAndServe(s.http, flags, s.logger) }()
		return nil
	}

	if len(*flags.WebListenAddresses) == 0 {
		return errors.New("missing listen address; set --web.listen-address")
	}
	for _, addr := range *flags.WebListenAddresses {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("failed to listen on %s: %w; pick a free address with --web.listen-address", addr, err)
		}
		s.listeners = append(s.listeners, l)
	}

	go func() { s.done <- web.ServeMultiple(s.listeners, s.http, flags, s.logger) }()
	return nil
}

// toolkitListens reports whether exporter-toolkit must open the listeners.
func (s *Server) toolkitListens() bool {
	flags := s.opts.Web
	if flags.WebSystemdSocket != nil && *flags.WebSystemdSocket {
		return true
	}
	for _, addr := range *flags.WebListenAddresses {
		if strings.HasPrefix(addr, "vsock://") {
			return true
		}
	}
	return false
}

func (s *Server) closeListeners() {
	for _, l := range s.listeners {
		l.Close()
	}
	s.listeners = nil
}

// Addrs returns the bound TCP addresses, which tests use after listening on
// port 0. It returns nil when exporter-toolkit opened the listeners.
func (s *Server) Addrs() []net.Addr {
	addrs := make([]net.Addr, 0, len(s.listeners))
	for _, l := range s.listeners {
		addrs = append(addrs, l.Addr())
	}
	return addrs
}

// Done returns a channel that receives the error that stopped the HTTP
// server when it stops on its own, for example on a failed TLS setup.
func (s *Server) Done() <-chan error { return s.done }

// Reload reads the config file again and applies it. An invalid config is
// logged and returned, the reload metric drops to 0, and the sources of the
// previous config keep running.
func (s *Server) Reload() error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()

	err := s.loadAndApply()
	if err != nil {
		s.reloadSuccess.Set(0)
		s.logger.Error("rejected config, the previous config keeps running", "file", s.opts.ConfigFile, "err", err)
		return err
	}

	s.reloadSuccess.Set(1)
	s.reloadTime.SetToCurrentTime()
	s.logger.Info("loaded config", "file", s.opts.ConfigFile, "sources", len(s.manager.State().Sources))
	return nil
}

func (s *Server) loadAndApply() error {
	cfg, err := LoadConfigFile(s.opts.ConfigFile)
	if err != nil {
		return err
	}
	// With OnLoad, every source is built first, so that a config whose
	// sources would fail is rejected before OnLoad applies its part of it.
	if s.opts.OnLoad != nil {
		if err := CheckConfig(cfg, s.opts.Registry, s.logger); err != nil {
			return err
		}
		if err := s.opts.OnLoad(cfg); err != nil {
			return err
		}
	}
	return s.manager.Apply(cfg)
}

// Shutdown stops serving, waiting for open requests until ctx ends, and
// then stops every source.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	if s.http != nil {
		err = s.http.Shutdown(ctx)
	}
	s.manager.Stop()
	return err
}

// handler returns the mux with /metrics and the web endpoints.
func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+PathMetrics, promhttp.HandlerFor(s.metrics, promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelError),
		EnableOpenMetrics: true,
	}))

	h := &webHandlers{manager: s.manager, reload: s.Reload, lifecycle: s.opts.EnableLifecycle, logger: s.logger}
	h.register(mux)

	landing := s.opts.LandingPage
	if landing == nil {
		landing = http.HandlerFunc(h.landingPage)
	}
	mux.Handle("GET /{$}", landing)
	if s.opts.Routes != nil {
		s.opts.Routes(mux)
	}
	return mux
}
