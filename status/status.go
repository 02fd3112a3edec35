// Package status serves the SLO status page of secslo serve and its JSON
// API: every objective, worst error budget first, with its burn rates,
// firing alerts and the health of the sources it reads. The values come
// from the embedded rule engine's storage through an Evaluator.
package status

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/rules"

	"github.com/secslo/secslo/engine"
	"github.com/secslo/secslo/slo"
	"github.com/secslo/secslo/sources"
)

// Evaluator runs PromQL queries over the engine's storage.
type Evaluator interface {
	Query(ctx context.Context, query string, ts time.Time) (promql.Vector, error)
	QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) (promql.Matrix, error)
}

// AlertLister lists the pending and firing alerts that the rules manager
// holds, as *engine.Engine does. When the Evaluator implements it, the page
// takes the alerts from it instead of querying the ALERTS series, which the
// rules manager writes only from its third evaluation on.
type AlertLister interface {
	ActiveAlerts() []*rules.Alert
}

// IngestReporter reports the outcome of the engine's latest attempt to
// store samples and the interval of its attempts, as *engine.Engine does.
// When the Evaluator implements it, the page warns while the engine starts
// and when it no longer stores samples.
type IngestReporter interface {
	Ingest() (engine.IngestStatus, time.Duration)
}

// Paths served by the status page.
const (
	// PathSLOs lists every objective as JSON, and PathSLOs/{service}/{slo}
	// returns one objective with its error budget history.
	PathSLOs = "/api/v1/slos"
	// PathDetail is followed by {service}/{slo} for the detail view.
	PathDetail = "/slos/"
)

// defaultEvaluationInterval is the shortest chart step when
// Options.EvaluationInterval is zero: the engine's default interval.
const defaultEvaluationInterval = time.Minute

// Options configures a Page.
type Options struct {
	// SLOs returns the current objectives. The result changes on a config
	// reload, so the page calls it on every request.
	SLOs func() []*slo.SLO
	// Evaluator queries the embedded engine. Nil means the engine is
	// disabled: the page shows the specs and says that an external
	// Prometheus evaluates them. The page also uses it as an AlertLister
	// and an IngestReporter when it implements them.
	Evaluator Evaluator
	// Sources returns the health of every source, usually
	// sources.Manager.State.
	Sources func() *sources.State
	// Logger receives every query error. Nil discards logs.
	Logger *slog.Logger
	// Now returns the evaluation time of the queries. Nil means time.Now.
	Now func() time.Time
	// EvaluationInterval is the engine's rule evaluation interval, the
	// shortest step of the error budget chart. Zero means one minute.
	EvaluationInterval time.Duration
}

// Page serves the overview, the detail view of each objective and the JSON
// API. Its handlers are safe for concurrent use.
type Page struct {
	opts   Options
	logger *slog.Logger
	now    func() time.Time
	// alerts and ingest are the Evaluator's optional interfaces, nil when
	// it does not implement them.
	alerts  AlertLister
	ingest  IngestReporter
	feeding sourceIndexCache
}

// New returns a Page that reads its objectives, values and source health
// through opts on every request. Missing functions read as empty.
func New(opts Options) *Page {
	if opts.SLOs == nil {
		opts.SLOs = func() []*slo.SLO { return nil }
	}
	if opts.Sources == nil {
		opts.Sources = func() *sources.State { return &sources.State{} }
	}
	if opts.EvaluationInterval <= 0 {
		opts.EvaluationInterval = defaultEvaluationInterval
	}

	p := &Page{opts: opts, logger: opts.Logger, now: opts.Now}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	if p.now == nil {
		p.now = time.Now
	}
	p.alerts, _ = opts.Evaluator.(AlertLister)
	p.ingest, _ = opts.Evaluator.(IngestReporter)
	return p
}

// ServeHTTP serves the overview. Query errors appear on the page and in
// the log, so the overview and its sources section always render.
func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	overview := p.overview(r.Context())
	p.writeHTML(w, http.StatusOK, overviewTemplate, newOverviewView(overview))
}

// Register adds the JSON API and the detail view to mux:
// GET /api/v1/slos, GET /api/v1/slos/{service}/{slo} and
// GET /slos/{service}/{slo}.
func (p *Page) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+PathSLOs, p.listJSON)
	mux.HandleFunc("GET "+PathSLOs+"/{service}/{slo}", p.detailJSON)
	mux.HandleFunc("GET "+PathDetail+"{service}/{slo}", p.detailHTML)
}

// DetailPath returns the URL path of the detail view of one objective.
func DetailPath(service, name string) string {
	return PathDetail + url.PathEscape(service) + "/" + url.PathEscape(name)
}

// apiPath returns the URL path of the JSON form of one objective.
func apiPath(service, name string) string {
	return PathSLOs + "/" + url.PathEscape(service) + "/" + url.PathEscape(name)
}
