package status

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/secslo/secslo/slo"
)

// testNow is the evaluation time of every test and the end of its data.
var testNow = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// testEngine is a real Prometheus TSDB and PromQL engine behind the
// Evaluator interface, as the embedded engine provides it.
type testEngine struct {
	db      *tsdb.DB
	queries *promql.Engine
}

func openTestEngine(tb testing.TB, engineOpts promql.EngineOpts) *testEngine {
	tb.Helper()
	db, err := tsdb.Open(tb.TempDir(), nil, nil, tsdb.DefaultOptions(), nil)
	if err != nil {
		tb.Fatalf("failed to open the TSDB: %v", err)
	}
	// The tests write 30 days of samples into the head at once, and
	// compacting them into blocks would only slow the tests down.
	db.DisableCompactions()
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("failed to close the TSDB: %v", err)
		}
	})

	if engineOpts.MaxSamples == 0 {
		engineOpts.MaxSamples = 50_000_000
	}
	if engineOpts.Timeout == 0 {
		engineOpts.Timeout = time.Minute
	}
	return &testEngine{db: db, queries: promql.NewEngine(engineOpts)}
}

func (e *testEngine) Query(ctx context.Context, query string, ts time.Time) (promql.Vector, error) {
	q, err := e.queries.NewInstantQuery(ctx, e.db, nil, query, ts)
	if err != nil {
		return nil, err
	}
	defer q.Close()

	result := q.Exec(ctx)
	if result.Err != nil {
		return nil, result.Err
	}
	return result.Vector()
}

func (e *testEngine) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) (promql.Matrix, error) {
	q, err := e.queries.NewRangeQuery(ctx, e.db, nil, query, start, end, step)
	if err != nil {
		return nil, err
	}
	defer q.Close()

	result := q.Exec(ctx)
	if result.Err != nil {
		return nil, result.Err
	}
	return result.Matrix()
}

// writer appends samples to a testEngine and commits them at once.
type writer struct {
	tb  testing.TB
	app storage.Appender
}

func (e *testEngine) writer(tb testing.TB) *writer {
	return &writer{tb: tb, app: e.db.Appender(context.Background())}
}

func (w *writer) add(series labels.Labels, t time.Time, v float64) {
	w.tb.Helper()
	if _, err := w.app.Append(0, series, t.UnixMilli(), v); err != nil {
		w.tb.Fatalf("failed to append %s at %s: %v", series, t, err)
	}
}

func (w *writer) commit() {
	w.tb.Helper()
	if err := w.app.Commit(); err != nil {
		w.tb.Fatalf("failed to commit samples: %v", err)
	}
}

// seriesOf returns the labels of a recorded series of s, with the group
// given as name, value pairs.
func seriesOf(name string, s *slo.SLO, group ...string) labels.Labels {
	pairs := append([]string{labels.MetricName, name, slo.LabelService, s.Service, slo.LabelSLO, s.Name}, group...)
	return labels.FromStrings(pairs...)
}

// objective writes, at t, what the generated rules record for s when the
// error ratio over every window and the period is ratio: the ratios and
// the remaining budget.
func (w *writer) objective(s *slo.SLO, t time.Time, ratio float64, group ...string) {
	w.tb.Helper()
	for _, window := range recordedWindows(s) {
		w.add(seriesOf(slo.RecordErrorRatioPrefix+window, s, group...), t, ratio)
	}
	w.add(seriesOf(slo.RecordBudgetRemaining, s, group...), t, budgetRemaining(s, ratio))
}

// budgetRemaining is the value of the budget recording rule at ratio.
func budgetRemaining(s *slo.SLO, ratio float64) float64 {
	if s.ZeroTolerance() {
		if ratio > 0 {
			return 0
		}
		return 1
	}
	return 1 - ratio/s.ErrorBudget()
}

// recordedWindows returns the window suffixes of every error ratio series
// that the generated rules record for s.
func recordedWindows(s *slo.SLO) []string {
	windows := []string{periodWindow}
	for _, w := range s.AlertWindows() {
		windows = append(windows, slo.FormatDuration(w.LongWindow), slo.FormatDuration(w.ShortWindow))
	}
	if s.ZeroTolerance() {
		page, ticket := s.ZeroToleranceWindows()
		windows = append(windows, slo.FormatDuration(page), slo.FormatDuration(ticket))
	}
	return windows
}

// alert writes, at t, the ALERTS series that the rules manager writes for
// an alert of s.
func (w *writer) alert(s *slo.SLO, t time.Time, state, tier, kind string, group ...string) {
	w.tb.Helper()
	alertName := s.Alerting.Name
	if kind == slo.AlertKindNoData {
		alertName += "NoData"
	}
	pairs := append([]string{
		slo.LabelAlertName, alertName, slo.LabelAlertState, state,
		slo.LabelTier, tier, slo.LabelAlertKind, kind, slo.LabelSeverity, tier,
	}, group...)
	w.add(seriesOf(slo.MetricAlerts, s, pairs...), t, 1)
}

// budgetHistory writes the remaining budget of s every five minutes from
// start to before end, as value(t) gives it, leaving out the samples for
// which value returns false.
func (w *writer) budgetHistory(s *slo.SLO, start, end time.Time, value func(t time.Time) (float64, bool), group ...string) {
	w.tb.Helper()
	for t := start; t.Before(end); t = t.Add(5 * time.Minute) {
		if v, ok := value(t); ok {
			w.add(seriesOf(slo.RecordBudgetRemaining, s, group...), t, v)
		}
	}
}

// mustSLO returns the fixture objective with the given service and name.
func mustSLO(tb testing.TB, slos []*slo.SLO, service, name string) *slo.SLO {
	tb.Helper()
	for _, s := range slos {
		if s.Service == service && s.Name == name {
			return s
		}
	}
	tb.Fatalf("fixture has no objective %s/%s", service, name)
	return nil
}

// loadFixture reads testdata/slos.yaml.
func loadFixture(tb testing.TB) []*slo.SLO {
	tb.Helper()
	slos, problems := slo.Load([]string{"testdata/slos.yaml"}, slo.LoadOptions{})
	if len(problems) > 0 {
		tb.Fatalf("invalid fixture: %v", problems)
	}
	return slos
}

func objectiveID(s *slo.SLO) string {
	return fmt.Sprintf("%s/%s", s.Service, s.Name)
}
