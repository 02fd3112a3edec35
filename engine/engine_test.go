package engine

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/secslo/secslo/slo"
)

// logCoverageSpec is one snapshot SLO on the exporter's own metrics and
// one custom SLO on metrics that secslo does not serve.
const logCoverageSpec = `version: secslo/v1
service: posture
owner: security@example.com
slos:
  - name: log-coverage
    objective: 98
    controls: [A.8.15]
    sli:
      builtin: log_coverage
  - name: login-errors
    objective: 99
    controls: [A.8.16]
    sli:
      custom:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
`

func parseSLOs(t *testing.T, spec string) []*slo.SLO {
	t.Helper()
	slos, problems := slo.Parse("spec.yaml", []byte(spec), slo.LoadOptions{})
	if len(problems) > 0 {
		t.Fatalf("invalid test spec: %v", problems)
	}
	return slos
}

// openTestEngine opens an engine on a fresh folder that gathers from reg.
func openTestEngine(t *testing.T, dir string, reg *prometheus.Registry, interval time.Duration) *Engine {
	t.Helper()
	e, err := Open(Options{
		StoragePath: dir,
		Interval:    interval,
		Retention:   24 * time.Hour,
		Gatherer:    reg,
		Job:         "secslo",
		Instance:    "test:20027",
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return e
}

func queryOne(t *testing.T, e *Engine, query string, at time.Time) (float64, bool) {
	t.Helper()
	vector, err := e.Query(context.Background(), query, at)
	if err != nil {
		t.Fatalf("query %s: %v", query, err)
	}
	switch len(vector) {
	case 0:
		return 0, false
	case 1:
		return vector[0].F, true
	}
	t.Fatalf("query %s returned %d series, want at most 1: %v", query, len(vector), vector)
	return 0, false
}

func TestIngestStoresSamplesAsAScrapeWould(t *testing.T) {
	reg := prometheus.NewRegistry()
	objects := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: slo.MetricObjects}, []string{slo.LabelSLI})
	events := prometheus.NewCounter(prometheus.CounterOpts{Name: slo.MetricEvents})
	durations := prometheus.NewHistogram(prometheus.HistogramOpts{Name: slo.MetricEventDuration, Buckets: []float64{900, 14400}})
	other := prometheus.NewGauge(prometheus.GaugeOpts{Name: "go_other_metric"})
	reg.MustRegister(objects, events, durations, other)
	objects.WithLabelValues("log_coverage").Set(12)
	events.Add(3)
	durations.Observe(60)
	durations.Observe(1000)
	other.Set(1)

	e := openTestEngine(t, t.TempDir(), reg, time.Minute)
	defer e.Stop()
	now := time.Now()
	if _, err := e.ingest(context.Background(), now, nil); err != nil {
		t.Fatalf("ingest: %v", err)
	}

	tests := []struct {
		query string
		want  float64
	}{
		{slo.MetricObjects + `{sli="log_coverage",job="secslo",instance="test:20027"}`, 12},
		{slo.MetricEvents, 3},
		{slo.MetricEventDuration + `_bucket{le="900"}`, 1},
		{slo.MetricEventDuration + `_bucket{le="14400"}`, 2},
		{slo.MetricEventDuration + `_bucket{le="+Inf"}`, 2},
		{slo.MetricEventDuration + `_count`, 2},
		{slo.MetricEventDuration + `_sum`, 1060},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got, ok := queryOne(t, e, tt.query, now)
			if !ok {
				t.Fatalf("no sample")
			}
			if got != tt.want {
				t.Errorf("got %g, want %g", got, tt.want)
			}
		})
	}

	t.Run("families outside the namespace are not stored", func(t *testing.T) {
		if _, ok := queryOne(t, e, "go_other_metric", now); ok {
			t.Errorf("go_other_metric was stored")
		}
	})
}

func TestIngestMarksVanishedSeriesStale(t *testing.T) {
	reg := prometheus.NewRegistry()
	objects := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: slo.MetricObjects}, []string{slo.LabelSLI})
	reg.MustRegister(objects)
	objects.WithLabelValues("log_coverage").Set(5)

	e := openTestEngine(t, t.TempDir(), reg, time.Minute)
	defer e.Stop()
	first := time.Now().Add(-time.Minute)
	previous, err := e.ingest(context.Background(), first, nil)
	if err != nil {
		t.Fatalf("first ingest: %v", err)
	}
	objects.Reset()
	if _, err := e.ingest(context.Background(), first.Add(10*time.Second), previous); err != nil {
		t.Fatalf("second ingest: %v", err)
	}

	if _, ok := queryOne(t, e, slo.MetricObjects, first.Add(5*time.Second)); !ok {
		t.Errorf("the sample before the series vanished is missing")
	}
	if v, ok := queryOne(t, e, slo.MetricObjects, first.Add(20*time.Second)); ok {
		t.Errorf("the vanished series still returns %g within the lookback window; want a staleness marker to end it", v)
	}
}

func TestUpdateLeavesExternalSLOsOut(t *testing.T) {
	dir := t.TempDir()
	e := openTestEngine(t, dir, prometheus.NewRegistry(), time.Minute)
	defer e.Stop()
	stale := filepath.Join(dir, rulesDir)
	if err := os.MkdirAll(stale, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stale, "removed-service.yml"), []byte("groups: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	external, err := e.Update(parseSLOs(t, logCoverageSpec))
	if err != nil {
		t.Fatalf("Update: %v", err)
	}

	if len(external) != 1 || external[0].SLO != "login-errors" || !slices.Equal(external[0].Metrics, []string{"http_requests_total"}) {
		t.Errorf("external SLOs = %+v, want login-errors needing http_requests_total", external)
	}
	if got := testutil.ToFloat64(e.metrics.externalSLOs); got != 1 {
		t.Errorf("%s = %g, want 1", slo.MetricEngineExternalSLOs, got)
	}
	var groups []string
	for _, g := range e.rules.RuleGroups() {
		groups = append(groups, g.Name())
	}
	if !slices.Equal(groups, []string{"secslo-posture-log-coverage"}) {
		t.Errorf("rule groups = %v, want only the log coverage group", groups)
	}
	entries, err := os.ReadDir(stale)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, entry := range entries {
		names = append(names, entry.Name())
	}
	if !slices.Equal(names, []string{"posture.yml"}) {
		t.Errorf("rules folder holds %v, want only posture.yml", names)
	}
}

func TestRetentionCoversPeriodAndLongestWindow(t *testing.T) {
	slos := parseSLOs(t, logCoverageSpec)

	tests := []struct {
		name    string
		slos    []*slo.SLO
		minimum time.Duration
		want    time.Duration
	}{
		{"30-day SLOs keep 33 days", slos, time.Hour, 33 * 24 * time.Hour},
		{"no SLOs keep the minimum", nil, 24 * time.Hour, 24 * time.Hour},
		{"a longer minimum wins", slos, 60 * 24 * time.Hour, 60 * 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Retention(tt.slos, tt.minimum); got != tt.want {
				t.Errorf("Retention = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestEngineFiresPageOnFastBurn runs the engine as serve does: it stores
// samples and evaluates the generated rules on its own interval.
func TestEngineFiresPageOnFastBurn(t *testing.T) {
	reg := prometheus.NewRegistry()
	objects := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: slo.MetricObjects}, []string{slo.LabelSLI})
	bad := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: slo.MetricNoncompliantObjects}, []string{slo.LabelSLI})
	reg.MustRegister(objects, bad)
	objects.WithLabelValues(slo.SLILogCoverage).Set(10)
	bad.WithLabelValues(slo.SLILogCoverage).Set(5)

	e := openTestEngine(t, t.TempDir(), reg, MinInterval)
	if _, err := e.Update(parseSLOs(t, logCoverageSpec)); err != nil {
		t.Fatalf("Update: %v", err)
	}
	e.Start()
	defer e.Stop()

	query := `ALERTS{alertstate="firing",secslo_tier="page",slo="log-coverage"}`
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, ok := queryOne(t, e, query, time.Now()); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s returned nothing within 30s", query)
		}
		time.Sleep(100 * time.Millisecond)
	}

	if got := testutil.ToFloat64(e.metrics.lastIngest); got < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("%s = %g, want the time of a recent ingest", slo.MetricEngineLastIngest, got)
	}
	remaining, ok := queryOne(t, e, slo.RecordBudgetRemaining, time.Now())
	if !ok || remaining > -20 {
		t.Errorf("budget remaining = %g (present %t), want -24 for an error ratio of 0.5 against a budget of 0.02", remaining, ok)
	}
}

func TestReopenedStorageKeepsSamples(t *testing.T) {
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	objects := prometheus.NewGauge(prometheus.GaugeOpts{Name: slo.MetricObjects})
	reg.MustRegister(objects)
	objects.Set(7)

	e := openTestEngine(t, dir, reg, time.Minute)
	at := time.Now()
	if _, err := e.ingest(context.Background(), at, nil); err != nil {
		t.Fatalf("ingest: %v", err)
	}
	if err := e.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}

	reopened := openTestEngine(t, dir, reg, time.Minute)
	defer reopened.Stop()
	got, ok := queryOne(t, reopened, slo.MetricObjects, at)
	if !ok || got != 7 {
		t.Errorf("after reopening, %s = %g (present %t), want 7", slo.MetricObjects, got, ok)
	}
}

func TestOpenRejectsStorageInUse(t *testing.T) {
	dir := t.TempDir()
	first := openTestEngine(t, dir, prometheus.NewRegistry(), time.Minute)
	defer first.Stop()

	_, err := Open(Options{StoragePath: dir, Interval: time.Minute, Retention: time.Hour, Gatherer: prometheus.NewRegistry()})
	if err == nil {
		t.Fatal("a second engine opened the storage that the first one holds")
	}
	if !strings.Contains(err.Error(), "give each its own --storage.path") {
		t.Errorf("error %q does not say how to fix it", err)
	}
}

func TestOpenNamesCorruptStorageFile(t *testing.T) {
	dir := t.TempDir()
	openTestEngine(t, dir, prometheus.NewRegistry(), time.Minute).Stop()
	corrupt := filepath.Join(dir, tsdbDir, "chunks_head", "000001")
	if err := os.WriteFile(corrupt, []byte("not a head chunk file"), 0o644); err != nil {
		t.Fatal(err)
	}

	_, err := Open(Options{StoragePath: dir, Interval: time.Minute, Retention: time.Hour, Gatherer: prometheus.NewRegistry()})
	if err == nil {
		t.Fatal("the engine opened a storage with a corrupt head chunk file")
	}
	if !strings.Contains(err.Error(), corrupt) {
		t.Errorf("error %q does not name %s", err, corrupt)
	}
	if !strings.Contains(err.Error(), "restore") {
		t.Errorf("error %q does not say how to fix it", err)
	}
	if strings.Contains(err.Error(), "give each its own --storage.path") {
		t.Errorf("error %q blames another serve for a corrupt file", err)
	}
}

func TestOpenRejectsInvalidOptions(t *testing.T) {
	_, err := Open(Options{})
	if err == nil {
		t.Fatal("Open accepted empty options")
	}
	for _, want := range []string{"missing storage path", "set --engine.evaluation-interval between 1s and 2m", "invalid retention", "missing gatherer"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestOpenChecksAlertmanagerURLs(t *testing.T) {
	tests := []struct {
		name string
		url  string
		want string
	}{
		{"a query string is rejected", "http://127.0.0.1:9093/?token=abc", "a query or fragment is not sent"},
		{"a port out of range is rejected", "http://127.0.0.1:99999", "port 99999 is outside 1 to 65535"},
		{"another scheme is rejected", "ftp://127.0.0.1:9093", "use http://host:port"},
		{"the password is not printed", "http://admin:s3cret@127.0.0.1:9093/?x=1", "admin:xxxxx@"},
		{"credentials and a path prefix are accepted", "https://admin:s3cret@127.0.0.1:9093/am/", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			e, err := Open(Options{StoragePath: t.TempDir(), Interval: time.Minute, Retention: time.Hour, Gatherer: prometheus.NewRegistry(), Alertmanagers: []*url.URL{u}})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Open rejected %s: %v", tt.url, err)
				}
				e.Stop()
				return
			}
			if err == nil {
				e.Stop()
				t.Fatalf("Open accepted %s", tt.url)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

// TestNotifierSendsToAlertmanager checks, against an HTTP server of the
// test, that alerts reach the API v2 path under the URL's path prefix with
// the URL's credentials.
func TestNotifierSendsToAlertmanager(t *testing.T) {
	type request struct{ path, user, password string }
	requests := make(chan request, 100)
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, password, _ := r.BasicAuth()
		requests <- request{r.URL.Path, user, password}
	}))
	defer server.Close()
	u, err := url.Parse(server.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("pager", "s3cret")
	u.Path = "/am/"

	reg := prometheus.NewRegistry()
	objects := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: slo.MetricObjects}, []string{slo.LabelSLI})
	bad := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: slo.MetricNoncompliantObjects}, []string{slo.LabelSLI})
	reg.MustRegister(objects, bad)
	objects.WithLabelValues(slo.SLILogCoverage).Set(10)
	bad.WithLabelValues(slo.SLILogCoverage).Set(10)
	e, err := Open(Options{StoragePath: t.TempDir(), Interval: MinInterval, Retention: time.Hour, Gatherer: reg, Alertmanagers: []*url.URL{u}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Update(parseSLOs(t, logCoverageSpec)); err != nil {
		t.Fatal(err)
	}
	e.Start()
	defer e.Stop()

	select {
	case got := <-requests:
		want := request{"/am/api/v2/alerts", "pager", "s3cret"}
		if got != want {
			t.Errorf("Alertmanager received %+v, want %+v", got, want)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no alert reached the Alertmanager within 30s")
	}
}
