package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/model"

	"github.com/secslo/secslo/engine"
	"github.com/secslo/secslo/slo"
	"github.com/secslo/secslo/sources"
)

// defaultStoragePath is the default of --storage.path, relative to the
// working folder as the ledger's is.
const defaultStoragePath = "data/engine"

// minRetention is the shortest retention of the engine storage, so that a
// config with few or short SLOs still keeps a day of history.
const minRetention = 24 * time.Hour

// engineFlags configure the embedded rule engine of serve.
type engineFlags struct {
	disabled      bool
	storagePath   string
	interval      model.Duration
	alertmanagers []string
	externalURL   string
	slothPeriod   model.Duration
	retention     model.Duration
	maxQueries    int
	maxSamples    int
	queryTimeout  model.Duration
}

func (f *engineFlags) register(cmd *kingpin.CmdClause) {
	cmd.Flag("engine.disabled", "Do not evaluate the generated rules in process; use when Prometheus, Thanos, Mimir or VictoriaMetrics evaluate them.").BoolVar(&f.disabled)
	cmd.Flag("storage.path", "Folder of the engine's time series database and of the rule files it evaluates; created if missing.").
		Default(defaultStoragePath).StringVar(&f.storagePath)
	cmd.Flag("engine.evaluation-interval", "How often the engine stores the SLI samples and evaluates the rules.").Default("30s").SetValue(&f.interval)
	cmd.Flag("alertmanager.url", "Base URL of an Alertmanager that receives the engine's alerts through API v2, such as http://alertmanager:9093 or https://user:password@host:9093/prefix; repeatable. Without one, alerts are logged and shown on the status page.").
		StringsVar(&f.alertmanagers)
	cmd.Flag("web.external-url", "URL under which users reach secslo, for the links in alerts. Defaults to http://HOSTNAME:PORT/ of the first listen address.").StringVar(&f.externalURL)
	cmd.Flag("storage.retention", "How long the engine keeps samples. By default the longest SLO period plus the longest alert window, and never less than the storage folder recorded at the previous run; set it to lower the retention on purpose.").
		SetValue(&f.retention)
	cmd.Flag("query.max-concurrency", "Queries of the status page and the query API that run at once; others wait.").
		Default(strconv.Itoa(engine.DefaultMaxConcurrentQueries)).IntVar(&f.maxQueries)
	cmd.Flag("query.max-samples", "Samples one query may hold in memory; a query that needs more fails.").
		Default(strconv.Itoa(engine.DefaultMaxSamples)).IntVar(&f.maxSamples)
	cmd.Flag("query.timeout", "Time after which a query is cancelled.").
		Default(model.Duration(engine.DefaultQueryTimeout).String()).SetValue(&f.queryTimeout)
	cmd.Flag("sloth.period", "SLO period of Sloth prometheus/v1 specs, which have no period field.").Default("30d").SetValue(&f.slothPeriod)
}

// loadSLOs reads the specs that cfg lists. A config without specs has no
// SLOs, which is valid: the exporter then serves SLIs only.
func (f *engineFlags) loadSLOs(cfg *sources.FileConfig) ([]*slo.SLO, error) {
	if len(cfg.Specs) == 0 {
		return nil, nil
	}
	slos, problems := slo.Load(cfg.Specs, slo.LoadOptions{SlothPeriod: time.Duration(f.slothPeriod)})
	if len(problems) > 0 {
		return nil, fmt.Errorf("%d problem(s) in the SLO specs of %s; run secslo validate --config.file=%s to list them: %w",
			len(problems), cfg.File, cfg.File, problems)
	}
	return slos, nil
}

// openEngine opens the engine storage with the retention that the SLOs of
// the config file need, before the server loads the config itself, so
// that no history is deleted at start-up by a shorter default.
func (f *engineFlags) openEngine(configFile, listenAddress string, srv *sources.Server, logger *slog.Logger) (*engine.Engine, error) {
	cfg, err := sources.LoadConfigFile(configFile)
	if err != nil {
		return nil, err
	}
	slos, err := f.loadSLOs(cfg)
	if err != nil {
		return nil, err
	}

	if f.maxQueries < 1 || f.maxSamples < 1 {
		return nil, fmt.Errorf("invalid query limits --query.max-concurrency=%d and --query.max-samples=%d; set both to at least 1", f.maxQueries, f.maxSamples)
	}
	alertmanagers, err := parseURLs(f.alertmanagers, "--alertmanager.url")
	if err != nil {
		return nil, err
	}
	external, err := f.external(listenAddress)
	if err != nil {
		return nil, err
	}

	retention, fixed := engine.Retention(slos, minRetention), false
	if f.retention > 0 {
		retention, fixed = time.Duration(f.retention), true
	}

	return engine.Open(engine.Options{
		StoragePath:          f.storagePath,
		Interval:             time.Duration(f.interval),
		Retention:            retention,
		FixedRetention:       fixed,
		MaxConcurrentQueries: f.maxQueries,
		MaxSamples:           f.maxSamples,
		QueryTimeout:         time.Duration(f.queryTimeout),
		Gatherer:             srv.Registry(),
		Registerer:           srv.Registry(),
		Alertmanagers:        alertmanagers,
		ExternalURL:          external,
		Started:              func() bool { return srv.Manager().State().Attempted() },
		Job:                  slo.Namespace,
		Instance:             instanceLabel(listenAddress),
		Logger:               logger,
	})
}

func (f *engineFlags) external(listenAddress string) (*url.URL, error) {
	if f.externalURL != "" {
		urls, err := parseURLs([]string{f.externalURL}, "--web.external-url")
		if err != nil {
			return nil, err
		}
		return urls[0], nil
	}
	return &url.URL{Scheme: "http", Host: instanceLabel(listenAddress), Path: "/"}, nil
}

// instanceLabel returns HOSTNAME:PORT for a listen address such as :20027,
// as Prometheus would name the target.
func instanceLabel(listenAddress string) string {
	host, port, err := net.SplitHostPort(listenAddress)
	if err != nil {
		return listenAddress
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		if name, err := os.Hostname(); err == nil {
			host = name
		}
	}
	return net.JoinHostPort(host, port)
}

func parseURLs(values []string, flag string) ([]*url.URL, error) {
	urls := make([]*url.URL, 0, len(values))
	for _, v := range values {
		u, err := url.Parse(v)
		if err != nil {
			// url.Error repeats the whole value, and with it a password.
			var parseErr *url.Error
			if errors.As(err, &parseErr) {
				err = parseErr.Err
			}
			return nil, fmt.Errorf("invalid %s: %w; use http://host:port or https://host:port", flag, err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("invalid %s %q; use http://host:port or https://host:port", flag, u.Redacted())
		}
		urls = append(urls, u)
	}
	return urls, nil
}
