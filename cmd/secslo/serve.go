package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/secslo/secslo/engine"
	"github.com/secslo/secslo/slo"
	"github.com/secslo/secslo/sources"
	"github.com/secslo/secslo/status"
)

// defaultListenAddress is the default of --web.listen-address. Port 20027
// lies outside 9100-9999, which the Prometheus default port allocation list
// reported as fully allocated in 2023, and below Linux's default ephemeral
// port range (32768-60999), so outgoing connections do not take it.
const defaultListenAddress = ":20027"

// defaultLedgerPath is the default of --ledger.path, relative to the
// working folder as Prometheus's --storage.tsdb.path is.
const defaultLedgerPath = "data/secslo-ledger.db"

// shutdownTimeout bounds how long serve waits for open requests on exit.
const shutdownTimeout = 10 * time.Second

// serveCommand runs the exporter until its context ends.
type serveCommand struct {
	configFile      string
	ledgerPath      string
	enableLifecycle bool
	web             *web.FlagConfig
	log             promslog.Config
	engine          engineFlags

	// slos holds the SLOs of the latest accepted config, for the status page.
	slos atomic.Pointer[[]*slo.SLO]
}

func (c *serveCommand) register(app *kingpin.Application) {
	cmd := app.Command("serve", "Refresh the configured sources in the background, serve their SLIs as Prometheus metrics, evaluate the SLOs with the embedded rule engine, send its alerts to Alertmanager, and serve the SLO status page.")
	cmd.Flag("config.file", "Path to the secslo configuration file.").Default("secslo.yaml").StringVar(&c.configFile)
	cmd.Flag("ledger.path", "Path to the ledger file that counts each event once across restarts. Created with its folder at the first refresh that returns events; an existing file that is not a secslo ledger is rejected.").
		Default(defaultLedgerPath).StringVar(&c.ledgerPath)
	cmd.Flag("web.enable-lifecycle", "Allow config reloads through POST /-/reload. SIGHUP reloads either way.").BoolVar(&c.enableLifecycle)
	c.web = kingpinflag.AddFlags(cmd, defaultListenAddress)
	c.engine.register(cmd)

	// The log flags go on the serve command, not the app, so that other
	// commands stay free to declare their own.
	c.log.Level = promslog.NewLevel()
	cmd.Flag(promslogflag.LevelFlagName, promslogflag.LevelFlagHelp).Default("info").
		HintOptions(promslog.LevelFlagOptions...).SetValue(c.log.Level)
	c.log.Format = promslog.NewFormat()
	cmd.Flag(promslogflag.FormatFlagName, promslogflag.FormatFlagHelp).Default("logfmt").
		HintOptions(promslog.FormatFlagOptions...).SetValue(c.log.Format)
}

func (c *serveCommand) run(ctx context.Context, stdout, stderr io.Writer) int {
	c.log.Writer = stderr
	logger := promslog.New(&c.log)
	logger.Info("starting secslo", "version", version.Info(), "build_context", version.BuildContext())

	var (
		eng  *engine.Engine
		srv  *sources.Server
		page *status.Page
	)
	srv, err := sources.NewServer(sources.ServerOptions{
		ConfigFile:      c.configFile,
		Registry:        sourceRegistry(),
		Web:             c.web,
		Logger:          logger,
		LedgerPath:      c.ledgerPath,
		EnableLifecycle: c.enableLifecycle,
		OnLoad:          func(cfg *sources.FileConfig) error { return c.applySpecs(eng, cfg) },
		LandingPage:     http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { page.ServeHTTP(w, r) }),
		Routes: func(mux *http.ServeMux) {
			page.Register(mux)
			if eng != nil {
				eng.RegisterAPI(mux)
			}
		},
	})
	if err != nil {
		fmt.Fprintf(stderr, "secslo serve: %v\n", err)
		return exitUsage
	}

	if !c.engine.disabled {
		eng, err = c.engine.openEngine(c.configFile, c.listenAddress(), srv, logger)
		if err != nil {
			fmt.Fprintf(stderr, "secslo serve: %v\n", err)
			return exitFailure
		}
		defer stopEngine(eng, logger)
	}

	page = c.statusPage(eng, srv, logger)

	// Catch SIGHUP before starting, so that a reload signal sent as soon as
	// the server responds cannot end the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	if err := srv.Start(); err != nil {
		logger.Error("failed to start", "err", err)
		return exitFailure
	}
	if eng != nil {
		eng.Start()
	}

	return c.wait(ctx, srv, hup, logger)
}

// applySpecs loads the SLO specs of cfg and hands them to the engine, if it
// runs, and to the status page. Invalid specs reject the config, as invalid
// sources do.
func (c *serveCommand) applySpecs(eng *engine.Engine, cfg *sources.FileConfig) error {
	slos, err := c.engine.loadSLOs(cfg)
	if err != nil {
		return err
	}
	if eng != nil {
		if _, err := eng.Update(slos); err != nil {
			return err
		}
	}
	c.slos.Store(&slos)
	return nil
}

// statusPage builds the status page. Without the engine it shows the specs
// and says that an external Prometheus evaluates them. The engine is also
// the page's status.AlertLister and status.IngestReporter, so the page
// shows alerts from the first evaluation and warns when no samples are
// stored.
func (c *serveCommand) statusPage(eng *engine.Engine, srv *sources.Server, logger *slog.Logger) *status.Page {
	opts := status.Options{
		SLOs: func() []*slo.SLO {
			if slos := c.slos.Load(); slos != nil {
				return *slos
			}
			return nil
		},
		Sources:            srv.Manager().State,
		Logger:             logger,
		EvaluationInterval: time.Duration(c.engine.interval),
	}
	if eng != nil {
		opts.Evaluator = eng
	}
	return status.New(opts)
}

func (c *serveCommand) listenAddress() string {
	if addrs := *c.web.WebListenAddresses; len(addrs) > 0 {
		return addrs[0]
	}
	return defaultListenAddress
}

func stopEngine(eng *engine.Engine, logger *slog.Logger) {
	if err := eng.Stop(); err != nil {
		logger.Error("failed to stop the rule engine", "err", err)
	}
}

// wait reloads the config on every hup signal until ctx ends or the HTTP
// server stops, then shuts the server down.
func (c *serveCommand) wait(ctx context.Context, srv *sources.Server, hup <-chan os.Signal, logger *slog.Logger) int {
	code := exitOK
loop:
	for {
		select {
		case <-ctx.Done():
			logger.Info("stopping secslo", "reason", context.Cause(ctx))
			break loop
		case <-hup:
			logger.Info("reloading config on SIGHUP", "file", c.configFile)
			_ = srv.Reload() // Reload logs a rejected config itself.
		case err := <-srv.Done():
			if !errors.Is(err, http.ErrServerClosed) {
				logger.Error("web server stopped", "err", err)
				code = exitFailure
			}
			break loop
		}
	}

	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		logger.Error("failed to shut down cleanly", "err", err)
	}
	return code
}
