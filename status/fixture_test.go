package status

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql"

	"github.com/secslo/secslo/slo"
	"github.com/secslo/secslo/sources"
)

// Error ratios of the fixture at testNow.
const (
	patchRatio     = 0.02  // budget 1 - 0.02/0.05 = 60 %
	driftRatio     = 0.151 // SLI 84.9 % against 97 %: budget -403.333 %
	awsRatio       = 0.05  // fleet group source="aws": budget 50 %
	onpremRatio    = 0.12  // fleet group source="onprem": budget -20 %
	restoresRatio  = 0     // zero tolerance, no bad event: budget 100 %
	fixtureObjects = 6
)

// fixture is the status page over a real TSDB holding the recorded series
// and alerts of testdata/slos.yaml at testNow.
type fixture struct {
	slos   []*slo.SLO
	engine *testEngine
	page   *Page
	mux    *http.ServeMux
	state  *sources.State
	logs   *bytes.Buffer
}

// newFixture writes the fixture data into a new engine and returns the
// page that reads it.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{slos: loadFixture(t), engine: openTestEngine(t, promql.EngineOpts{}), state: fixtureSources()}
	f.write(t)
	f.page, f.logs = newTestPage(f.slos, f.engine, f.state)
	f.mux = http.NewServeMux()
	f.page.Register(f.mux)
	f.mux.Handle("GET /{$}", f.page)
	return f
}

// newTestPage returns a page that logs to the returned buffer in JSON.
// A nil evaluator disables the engine.
func newTestPage(slos []*slo.SLO, evaluator *testEngine, state *sources.State) (*Page, *bytes.Buffer) {
	logs := &bytes.Buffer{}
	opts := Options{
		SLOs:    func() []*slo.SLO { return slos },
		Sources: func() *sources.State { return state },
		Logger:  slog.New(slog.NewJSONHandler(logs, nil)),
		Now:     func() time.Time { return testNow },
	}
	if evaluator != nil {
		opts.Evaluator = evaluator
	}
	return New(opts), logs
}

func (f *fixture) write(t *testing.T) {
	t.Helper()
	w := f.engine.writer(t)

	drift := mustSLO(t, f.slos, "security-posture", "privilege-drift")
	start := testNow.Add(-drift.Period)
	w.budgetHistory(drift, start, testNow, driftHistory(start))
	w.objective(drift, testNow, driftRatio)
	w.alert(drift, testNow, slo.AlertStateFiring, slo.TierTicket, slo.AlertKindBurnRate)

	w.objective(mustSLO(t, f.slos, "security-posture", "patch-compliance"), testNow, patchRatio)
	w.objective(mustSLO(t, f.slos, "security-posture", "restore-tests"), testNow, restoresRatio)

	fleet := mustSLO(t, f.slos, "fleet", "hosts-patched")
	constant := func(v float64) func(time.Time) (float64, bool) {
		return func(time.Time) (float64, bool) { return v, true }
	}
	w.budgetHistory(fleet, testNow.Add(-24*time.Hour), testNow, constant(0.5), "source", "aws")
	w.budgetHistory(fleet, testNow.Add(-24*time.Hour), testNow, constant(-0.2), "source", "onprem")
	w.objective(fleet, testNow, awsRatio, "source", "aws")
	w.objective(fleet, testNow, onpremRatio, "source", "onprem")
	w.alert(fleet, testNow, slo.AlertStatePending, slo.TierPage, slo.AlertKindBurnRate, "source", "onprem")

	w.commit()
}

// driftHistory falls in a straight line from 100 % at start to the
// budget of driftRatio at testNow, with no data on the 10th day.
func driftHistory(start time.Time) func(time.Time) (float64, bool) {
	end := budgetRemaining(&slo.SLO{Objective: 97}, driftRatio)
	return func(t time.Time) (float64, bool) {
		elapsed := t.Sub(start)
		if elapsed >= 9*24*time.Hour && elapsed < 10*24*time.Hour {
			return 0, false
		}
		share := float64(elapsed) / float64(testNow.Sub(start))
		return 1 + share*(end-1), true
	}
}

// fixtureSources returns sources in every state: up, down after a good
// refresh, and waiting for the first refresh.
func fixtureSources() *sources.State {
	lastSuccess := testNow.Add(-time.Minute)
	snapshot := func(sli string) *sources.Result {
		return &sources.Result{RecordsRead: 10, RecordsRejected: 1, Snapshots: []sources.Snapshot{{SLI: sli, Objects: 10, Noncompliant: 2}}}
	}
	return &sources.State{Sources: []*sources.SourceStatus{
		{Name: "aws_iam", Type: "aws_iam", Up: true, LastAttempt: lastSuccess, LastSuccess: lastSuccess, Result: snapshot(slo.SLIPrivilegeDrift)},
		{Name: "inventory", Type: "inventory"},
		{Name: "kubernetes_rbac", Type: "kubernetes_rbac", LastAttempt: testNow, LastSuccess: lastSuccess,
			LastError: errors.New("rbac.yaml:3:1: invalid role"), Result: snapshot(slo.SLIPrivilegeDrift)},
		{Name: "patches", Type: "patches", Up: true, LastAttempt: lastSuccess, LastSuccess: lastSuccess, Result: snapshot(slo.SLIPatchCompliance)},
		{Name: "restores", Type: "restores", Up: true, LastAttempt: lastSuccess, LastSuccess: lastSuccess, Result: &sources.Result{
			RecordsRead: 1, Events: []sources.Event{{SLI: slo.SLIRestoreTests, ID: "job-1", End: lastSuccess}},
		}},
	}}
}

// get serves one request and returns the response and its body.
func get(t *testing.T, handler http.Handler, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	resp := rec.Result()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("failed to read the response to %s: %v", path, err)
	}
	return resp, string(body)
}
