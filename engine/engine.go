// Package engine evaluates secslo's generated rules inside secslo serve.
// It stores the exporter's own samples in a Prometheus TSDB and evaluates
// the rule groups that secslo generate writes with the Prometheus rules
// manager and PromQL engine. Alerts go out through the Prometheus notifier.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/notifier"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/secslo/secslo/slo"
)

// Folders inside Options.StoragePath.
const (
	tsdbDir  = "tsdb"
	rulesDir = "rules"
)

// Defaults of the rules manager, the same as Prometheus's flags
// --rules.alert.for-outage-tolerance, --rules.alert.for-grace-period and
// --rules.alert.resend-delay (Prometheus 3).
const (
	outageTolerance = time.Hour
	forGracePeriod  = 10 * time.Minute
	resendDelay     = time.Minute
)

// Defaults of the query limits. The engine stores only secslo's own series,
// a few dozen per objective, so the sample limit is a fifth of Prometheus's
// 50 million. NOTE: that default is an estimate, not a measurement; a query
// that needs more fails with an error that names the limit, and
// --query.max-samples raises it.
const (
	DefaultMaxConcurrentQueries = 8
	DefaultMaxSamples           = 10_000_000
	DefaultQueryTimeout         = 2 * time.Minute
)

// Bounds of Options.Interval. The recording rules sum samples over 5-minute
// windows, and increase() needs two samples in each, so the interval is at
// most half of 5 minutes, with a margin for a late sample. Below a second,
// two samples could share a millisecond timestamp.
const (
	MinInterval = time.Second
	MaxInterval = 2 * time.Minute
)

// Options configures an Engine.
type Options struct {
	// StoragePath is the folder of the TSDB and of the rule files that the
	// engine evaluates; created if missing.
	StoragePath string
	// Interval is how often samples are stored and rules evaluated.
	Interval time.Duration
	// Retention is how long samples are kept, at least. Use Retention to
	// derive it from the SLOs; Update raises it when later SLOs need more.
	// Open raises it to the retention recorded in the storage folder by
	// the previous run, so that a restart after a mistaken edit deletes no
	// history, and records the result.
	Retention time.Duration
	// FixedRetention makes Retention exact: Open neither raises it to the
	// recorded retention nor lets Update raise it, and records it, so that
	// a lower retention can be set on purpose (--storage.retention).
	FixedRetention bool
	// MaxConcurrentQueries bounds the queries of Query, QueryRange and the
	// query API that run at once; others wait. Rule evaluation is not
	// counted. Zero means DefaultMaxConcurrentQueries.
	MaxConcurrentQueries int
	// MaxSamples bounds the samples one query may hold in memory. Zero
	// means DefaultMaxSamples.
	MaxSamples int
	// QueryTimeout bounds each query. Zero means DefaultQueryTimeout.
	QueryTimeout time.Duration
	// Gatherer supplies the samples, usually the exporter's registry. Only
	// families in secslo's namespace are stored.
	Gatherer prometheus.Gatherer
	// Registerer receives the metrics of the TSDB, the rules manager and the
	// notifier; nil registers none.
	Registerer prometheus.Registerer
	// Alertmanagers are the base URLs of the Alertmanagers that receive
	// alerts through API v2, with an optional path prefix and basic auth
	// credentials. Without any, alerts are only logged.
	Alertmanagers []*url.URL
	// ExternalURL is the address users reach secslo at; alerts link to the
	// status page of their SLO below it.
	ExternalURL *url.URL
	// Started, if set, holds back the first stored samples until it
	// returns true, so that the history does not begin with a partial view
	// of sources that are still reading their first export. serve passes
	// a check that every source finished its first refresh.
	Started func() bool
	// Job and Instance label every stored sample, as a Prometheus scrape of
	// the exporter would.
	Job, Instance string
	Logger        *slog.Logger

	// limitedLogger is Logger behind a repeatLimiter, for the Prometheus
	// components, which log once per failed sample or rule.
	limitedLogger *slog.Logger
}

// libraryLogger returns the logger of a Prometheus component of the
// engine, whose repeated lines are limited.
func (o *Options) libraryLogger(component string) *slog.Logger {
	return o.limitedLogger.With("component", component)
}

// Engine stores samples, evaluates rules and sends alerts. Its methods are
// safe for concurrent use.
type Engine struct {
	opts   Options
	logger *slog.Logger

	db       *tsdb.DB
	queries  *promql.Engine
	rules    *rules.Manager
	notifier *notifier.Manager
	alerts   *alertLog

	// mu guards the SLO set and the reports of the latest Update.
	mu       sync.Mutex
	slos     []*slo.SLO
	external []External
	// retention is the retention the storage applies now.
	retention time.Duration

	metrics engineMetrics
	// querySlots holds one token per running query of Query, QueryRange
	// and the query API.
	querySlots chan struct{}
	// ingestStatus is the outcome of the latest attempt to store samples.
	ingestStatus atomic.Pointer[IngestStatus]

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// IngestStatus is the outcome of the engine's latest attempt to store
// samples.
type IngestStatus struct {
	// LastSuccess is when samples were last stored; zero before the first.
	LastSuccess time.Time
	// LastError is the error of the latest attempt, or nil if it succeeded.
	LastError error
}

// Ingest returns the outcome of the latest attempt to store samples, and
// the interval at which the engine stores them.
func (e *Engine) Ingest() (IngestStatus, time.Duration) {
	if st := e.ingestStatus.Load(); st != nil {
		return *st, e.opts.Interval
	}
	return IngestStatus{}, e.opts.Interval
}

// engineMetrics are the engine's own metrics, beside Prometheus's.
type engineMetrics struct {
	ingestFailures prometheus.Counter
	lastIngest     prometheus.Gauge
	externalSLOs   prometheus.Gauge
}

func newEngineMetrics(reg prometheus.Registerer) engineMetrics {
	m := engineMetrics{
		ingestFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: slo.MetricEngineIngestFailures,
			Help: "Intervals whose samples the embedded engine failed to store.",
		}),
		lastIngest: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: slo.MetricEngineLastIngest,
			Help: "Unix time of the latest samples the embedded engine stored.",
		}),
		externalSLOs: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: slo.MetricEngineExternalSLOs,
			Help: "SLOs that only an external Prometheus evaluates, because they read metrics secslo does not serve.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.ingestFailures, m.lastIngest, m.externalSLOs)
	}
	return m
}

// Open opens or creates the storage and builds the engine, which does
// nothing until Start.
func Open(opts Options) (*Engine, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.limitedLogger = slog.New(newRepeatLimiter(opts.Logger.Handler(), logRepeatsPerWindow, logRepeatWindow))
	opts.withQueryDefaults()
	if err := opts.applyRecordedRetention(); err != nil {
		return nil, err
	}

	db, err := openTSDB(opts)
	if err != nil {
		return nil, err
	}
	if err := recordRetention(opts.StoragePath, opts.Retention); err != nil {
		db.Close()
		return nil, err
	}

	e := &Engine{opts: opts, logger: opts.Logger.With("component", "engine"), db: db, alerts: newAlertLog(opts.Logger.With("component", "engine")),
		retention: opts.Retention, metrics: newEngineMetrics(opts.Registerer), querySlots: make(chan struct{}, opts.MaxConcurrentQueries)}
	e.queries = promql.NewEngine(promql.EngineOpts{
		Logger:               opts.libraryLogger("query engine"),
		Reg:                  opts.Registerer,
		MaxSamples:           opts.MaxSamples,
		Timeout:              opts.QueryTimeout,
		LookbackDelta:        5 * time.Minute,
		EnableAtModifier:     true,
		EnableNegativeOffset: true,
		Parser:               slo.PromQL,
	})
	if len(opts.Alertmanagers) > 0 {
		e.notifier = newNotifier(opts)
	}
	e.rules = e.newRulesManager()
	return e, nil
}

func (o *Options) check() error {
	var errs []error
	if o.StoragePath == "" {
		errs = append(errs, errors.New("missing storage path; set --storage.path"))
	}
	if o.Interval < MinInterval || o.Interval > MaxInterval {
		errs = append(errs, fmt.Errorf("invalid evaluation interval %s; set --engine.evaluation-interval between %s and %s, because the rules need two samples in every 5-minute window",
			o.Interval, slo.FormatDuration(MinInterval), slo.FormatDuration(MaxInterval)))
	}
	if o.MaxConcurrentQueries < 0 || o.MaxSamples < 0 || o.QueryTimeout < 0 {
		errs = append(errs, errors.New("invalid query limits; set --query.max-concurrency, --query.max-samples and --query.timeout to positive values"))
	}
	if o.Retention <= 0 {
		errs = append(errs, fmt.Errorf("invalid retention %s; it must be positive", o.Retention))
	}
	if o.Gatherer == nil {
		errs = append(errs, errors.New("missing gatherer"))
	}
	for _, u := range o.Alertmanagers {
		if err := checkAlertmanagerURL(u); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// checkAlertmanagerURL accepts http and https URLs with a host, an
// optional port and path prefix, and optional basic auth credentials.
// Everything else would be dropped silently, so it is rejected.
func checkAlertmanagerURL(u *url.URL) error {
	redacted := u.Redacted()
	switch {
	case u.Scheme != "http" && u.Scheme != "https" || u.Hostname() == "":
		return fmt.Errorf("invalid Alertmanager URL %q; use http://host:port or https://host:port", redacted)
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("invalid Alertmanager URL %q: a query or fragment is not sent to Alertmanager; remove it, and put credentials in the URL as https://user:password@host:port", redacted)
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("invalid Alertmanager URL %q: port %s is outside 1 to 65535", redacted, port)
		}
	}
	return nil
}

func (o *Options) withQueryDefaults() {
	if o.MaxConcurrentQueries == 0 {
		o.MaxConcurrentQueries = DefaultMaxConcurrentQueries
	}
	if o.MaxSamples == 0 {
		o.MaxSamples = DefaultMaxSamples
	}
	if o.QueryTimeout == 0 {
		o.QueryTimeout = DefaultQueryTimeout
	}
}

// maxBlockDuration returns the longest block that compaction may build: a
// tenth of the retention, at most 31 days and at least the 2-hour head
// block, as Prometheus derives it from its retention. The default of the
// TSDB library is 2 hours, which leaves about 400 blocks for 33 days, and
// every period ratio reads all of them at each evaluation.
func maxBlockDuration(retention time.Duration) time.Duration {
	const longest = 31 * 24 * time.Hour
	shortest := time.Duration(tsdb.DefaultBlockDuration) * time.Millisecond
	return max(min(retention/10, longest), shortest)
}

func openTSDB(opts Options) (*tsdb.DB, error) {
	dir := filepath.Join(opts.StoragePath, tsdbDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("failed to create the storage folder: %w", err)
	}

	tsdbOpts := tsdb.DefaultOptions()
	tsdbOpts.RetentionDuration = opts.Retention.Milliseconds()
	tsdbOpts.MaxBlockDuration = maxBlockDuration(opts.Retention).Milliseconds()
	db, err := tsdb.Open(dir, opts.libraryLogger("tsdb"), opts.Registerer, tsdbOpts, nil)
	// The TSDB returns the errno of flock(2) when another process holds
	// the folder's lock file.
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return nil, fmt.Errorf("failed to open the engine storage %s: %w; the folder is locked by another process; stop that process or, if it is another secslo serve, give each its own --storage.path", dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("failed to open the engine storage %s: %w; if the file named is corrupt, move %s away or restore it from a backup, or set another --storage.path", dir, err, opts.StoragePath)
	}
	return db, nil
}

// Retention returns how long the engine keeps samples for slos: the
// longest period plus the longest alert window, so that every window of
// the period ratio and of the alerts is covered at the start of a period.
// It is at least minimum.
func Retention(slos []*slo.SLO, minimum time.Duration) time.Duration {
	var period, window time.Duration
	for _, s := range slos {
		period = max(period, s.Period)
		for _, w := range s.AlertWindows() {
			window = max(window, w.LongWindow)
		}
		page, ticket := s.ZeroToleranceWindows()
		window = max(window, page, ticket)
	}
	return max(period+window, minimum)
}

// Start starts storing samples, evaluating the rules of the latest Update
// and sending alerts, in the background until Stop.
func (e *Engine) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel

	if e.notifier != nil {
		e.startNotifier()
	}

	e.wg.Add(2)
	go func() {
		defer e.wg.Done()
		e.ingestLoop(ctx)
	}()
	go func() {
		defer e.wg.Done()
		e.rules.Run()
	}()
	e.logger.Info("started the rule engine", "storage", e.opts.StoragePath, "interval", e.opts.Interval,
		"retention", slo.FormatDuration(e.retention), "alertmanagers", len(e.opts.Alertmanagers))
}

// Stop stops evaluating, stores nothing more, sends the alerts already
// queued, and closes the storage.
func (e *Engine) Stop() error {
	if e.cancel != nil {
		e.cancel()
	} else {
		// Groups loaded by Update wait for the manager to run before they
		// can stop, so a manager that never ran is run to let them stop.
		go e.rules.Run()
	}
	e.rules.Stop()
	e.wg.Wait()
	if e.notifier != nil {
		e.notifier.Stop()
	}

	if err := e.db.Close(); err != nil {
		return fmt.Errorf("failed to close the engine storage: %w", err)
	}
	e.logger.Info("stopped the rule engine")
	return nil
}

// Query evaluates an instant query over the engine's storage.
func (e *Engine) Query(ctx context.Context, query string, ts time.Time) (promql.Vector, error) {
	value, err := e.run(ctx, func() (promql.Query, error) { return e.queries.NewInstantQuery(ctx, e.db, nil, query, ts) })
	if err != nil {
		return nil, err
	}
	switch v := value.(type) {
	case promql.Vector:
		return v, nil
	case promql.Scalar:
		return promql.Vector{promql.Sample{T: v.T, F: v.V}}, nil
	default:
		return nil, fmt.Errorf("query %q returned a %s, not a vector", query, value.Type())
	}
}

// QueryRange evaluates a range query over the engine's storage.
func (e *Engine) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) (promql.Matrix, error) {
	value, err := e.run(ctx, func() (promql.Query, error) { return e.queries.NewRangeQuery(ctx, e.db, nil, query, start, end, step) })
	if err != nil {
		return nil, err
	}
	m, ok := value.(promql.Matrix)
	if !ok {
		return nil, fmt.Errorf("range query %q returned a %s, not a matrix", query, value.Type())
	}
	return m, nil
}

// invalidQueryError is a query that the PromQL engine rejected before
// running it, such as one that does not parse.
type invalidQueryError struct{ err error }

func (e *invalidQueryError) Error() string { return e.err.Error() }
func (e *invalidQueryError) Unwrap() error { return e.err }

// run builds a query with newQuery, runs it and closes it, once a query
// slot is free. A query that cannot be built returns an
// *invalidQueryError.
func (e *Engine) run(ctx context.Context, newQuery func() (promql.Query, error)) (parser.Value, error) {
	select {
	case e.querySlots <- struct{}{}:
		defer func() { <-e.querySlots }()
	case <-ctx.Done():
		return nil, fmt.Errorf("query waited for a free slot: %w", context.Cause(ctx))
	}

	q, err := newQuery()
	if err != nil {
		return nil, &invalidQueryError{err}
	}
	defer q.Close()

	res := q.Exec(ctx)
	if res.Err != nil {
		return nil, res.Err
	}
	return res.Value, nil
}
