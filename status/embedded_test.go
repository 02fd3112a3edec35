package status

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/rules"

	"github.com/secslo/secslo/engine"
	"github.com/secslo/secslo/slo"
)

// The embedded engine provides every optional interface of the page, so
// secslo serve needs no adapter.
var (
	_ Evaluator      = (*engine.Engine)(nil)
	_ AlertLister    = (*engine.Engine)(nil)
	_ IngestReporter = (*engine.Engine)(nil)
)

// embeddedInterval is the engine interval of these tests, short so that
// the first evaluations come within seconds.
const embeddedInterval = time.Second

// embeddedTimeout bounds the wait for the engine's first evaluations,
// which take a few intervals.
const embeddedTimeout = 30 * time.Second

// coverageSpec is one objective whose SLI the test registry serves.
const coverageSpec = `version: secslo/v1
service: posture
owner: security@example.com
slos:
  - name: log-coverage
    objective: 98
    sli:
      builtin: log_coverage
`

// burningRegistry serves a log coverage SLI with half of its 10 objects
// out of compliance: an error ratio of 0.5 against a budget of 0.02,
// which fires the page alert at the first evaluation.
func burningRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	objects := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: slo.MetricObjects}, []string{slo.LabelSLI})
	bad := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: slo.MetricNoncompliantObjects}, []string{slo.LabelSLI})
	reg.MustRegister(objects, bad)
	objects.WithLabelValues(slo.SLILogCoverage).Set(10)
	bad.WithLabelValues(slo.SLILogCoverage).Set(5)
	return reg
}

// openEmbedded opens the embedded engine on a fresh folder and stops it
// when the test ends.
func openEmbedded(t *testing.T, opts engine.Options) *engine.Engine {
	t.Helper()
	opts.StoragePath = t.TempDir()
	opts.Interval = embeddedInterval
	opts.Retention = 24 * time.Hour
	e, err := engine.Open(opts)
	if err != nil {
		t.Fatalf("failed to open the engine: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Stop(); err != nil {
			t.Errorf("failed to stop the engine: %v", err)
		}
	})
	return e
}

// waitFor polls done until it returns true, and fails the test after
// embeddedTimeout.
func waitFor(t *testing.T, what string, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(embeddedTimeout)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s", what, embeddedTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// queryOnly hides every method of an Evaluator but its queries, so that
// the page reads alerts from the ALERTS series.
type queryOnly struct{ Evaluator }

// stateOf returns the state of one objective in the JSON list.
func stateOf(t *testing.T, page *Page, service, name string) string {
	t.Helper()
	mux := http.NewServeMux()
	page.Register(mux)
	list := getJSON(t, mux, PathSLOs)
	state, _ := field(t, sloByName(t, field(t, list, "slos"), service, name), "state").(string)
	return state
}

func TestEngineAlertsBeforeALERTSSeries(t *testing.T) {
	slos := parseSpec(t, coverageSpec)
	e := openEmbedded(t, engine.Options{Gatherer: burningRegistry()})
	if _, err := e.Update(slos); err != nil {
		t.Fatalf("failed to load the rules: %v", err)
	}
	e.Start()

	var firing *rules.Alert
	waitFor(t, "firing alert from ActiveAlerts", func() bool {
		for _, a := range e.ActiveAlerts() {
			if a.State == rules.StateFiring {
				firing = a
				return true
			}
		}
		return false
	})
	// The rules manager writes no ALERTS series until it has restored the
	// state of alerts after its second evaluation, so at the time the
	// alert became active there is none.
	at := firing.ActiveAt
	alerts, err := e.Query(context.Background(), slo.MetricAlerts, at)
	if err != nil {
		t.Fatalf("failed to query %s: %v", slo.MetricAlerts, err)
	}
	if len(alerts) != 0 {
		t.Fatalf("%s has %d series at %s, when the alert became active; want none, as the rules manager writes them later", slo.MetricAlerts, len(alerts), at)
	}

	cases := []struct {
		name      string
		evaluator Evaluator
		want      string
	}{
		{"page of the engine marks the objective burning", e, StateBurning},
		{"page of the ALERTS series alone still shows OK", queryOnly{e}, StateOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			page := New(Options{SLOs: func() []*slo.SLO { return slos }, Evaluator: tc.evaluator, Now: func() time.Time { return at }})
			if got := stateOf(t, page, "posture", "log-coverage"); got != tc.want {
				t.Errorf("state at %s = %q, want %q", at, got, tc.want)
			}
		})
	}

	t.Run("overview row names the firing alert", func(t *testing.T) {
		page := New(Options{SLOs: func() []*slo.SLO { return slos }, Evaluator: e, Now: func() time.Time { return at }})
		_, body := get(t, page, "/")
		row := objectiveRow(t, parseHTML(t, body), "posture", "log-coverage")
		if got := attr(row, "class"); got != StateBurning {
			t.Errorf("row class = %q, want %q", got, StateBurning)
		}
		if got, want := text(row), "LogCoverageBudgetBurn (page, firing)"; !strings.Contains(got, want) {
			t.Errorf("row lacks %q:\n%s", want, got)
		}
	})
}

// failingGatherer serves the registry once, then fails, as a storage that
// fills up after the first samples would make the ingest fail.
type failingGatherer struct {
	reg   *prometheus.Registry
	calls atomic.Int64
}

func (g *failingGatherer) Gather() ([]*dto.MetricFamily, error) {
	if g.calls.Add(1) == 1 {
		return g.reg.Gather()
	}
	return nil, errors.New("registry unavailable")
}

func TestEngineIngestWarning(t *testing.T) {
	slos := parseSpec(t, coverageSpec)

	t.Run("engine whose ingest fails shows the error", func(t *testing.T) {
		e := openEmbedded(t, engine.Options{Gatherer: &failingGatherer{reg: burningRegistry()}})
		e.Start()
		waitFor(t, "failed ingest after a good one", func() bool {
			st, _ := e.Ingest()
			return st.LastError != nil && !st.LastSuccess.IsZero()
		})

		page := New(Options{SLOs: func() []*slo.SLO { return slos }, Evaluator: e})
		_, body := get(t, page, "/")
		warning := findFirst(parseHTML(t, body), byID("engine-warning"))
		if warning == nil {
			t.Fatal("overview shows no engine warning")
		}
		if got, want := text(warning), "⚠ Warning: the engine failed to store samples"; !strings.HasPrefix(got, want) {
			t.Errorf("warning = %q, want it to start with %q", got, want)
		}
		if got, want := text(warning), "registry unavailable"; !strings.Contains(got, want) {
			t.Errorf("warning lacks the error %q:\n%s", want, got)
		}
	})

	t.Run("engine before its first ingest is starting", func(t *testing.T) {
		e := openEmbedded(t, engine.Options{Gatherer: burningRegistry(), Started: func() bool { return false }})
		e.Start()

		page := New(Options{SLOs: func() []*slo.SLO { return slos }, Evaluator: e})
		mux := http.NewServeMux()
		page.Register(mux)
		ingest := field(t, getJSON(t, mux, PathSLOs), "ingest")
		assertEqual(t, "ingest.state", field(t, ingest, "state"), IngestStarting)
		assertEqual(t, "ingest.stale", field(t, ingest, "stale"), false)
		assertEqual(t, "ingest.last_ingest", field(t, ingest, "last_ingest"), nil)
		assertEqual(t, "ingest.interval", field(t, ingest, "interval"), "1s")
	})
}

// parseSpec parses one SLO spec.
func parseSpec(t *testing.T, spec string) []*slo.SLO {
	t.Helper()
	slos, problems := slo.Parse("spec.yaml", []byte(spec), slo.LoadOptions{})
	if len(problems) > 0 {
		t.Fatalf("invalid test spec: %v", problems)
	}
	return slos
}
