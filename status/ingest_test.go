package status

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/secslo/secslo/engine"
	"github.com/secslo/secslo/slo"
	"github.com/secslo/secslo/sources"
)

func TestIngestHealthState(t *testing.T) {
	const interval = 30 * time.Second
	diskFull := errors.New("write wal: no space left on device")

	cases := []struct {
		name      string
		status    engine.IngestStatus
		wantState string
		wantStale bool
	}{
		{"engine before its first attempt is starting", engine.IngestStatus{}, IngestStarting, false},
		{"success one interval ago is current", engine.IngestStatus{LastSuccess: testNow.Add(-interval)}, IngestCurrent, false},
		{"success three intervals ago is current", engine.IngestStatus{LastSuccess: testNow.Add(-3 * interval)}, IngestCurrent, false},
		{"success over three intervals ago is late", engine.IngestStatus{LastSuccess: testNow.Add(-3*interval - time.Second)}, IngestLate, true},
		{"failure after a recent success is failed", engine.IngestStatus{LastSuccess: testNow.Add(-interval), LastError: diskFull}, IngestFailed, true},
		{"failure before any success is failed", engine.IngestStatus{LastError: diskFull}, IngestFailed, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newIngestHealth(tc.status, interval, testNow)
			if h.State != tc.wantState {
				t.Errorf("state = %q, want %q", h.State, tc.wantState)
			}
			if h.Stale() != tc.wantStale {
				t.Errorf("stale = %t, want %t", h.Stale(), tc.wantStale)
			}
		})
	}
}

// reportingEngine is a real TSDB behind the Evaluator interface that
// reports a fixed ingest status, as the embedded engine would.
type reportingEngine struct {
	*testEngine
	status   engine.IngestStatus
	interval time.Duration
}

func (r *reportingEngine) Ingest() (engine.IngestStatus, time.Duration) {
	return r.status, r.interval
}

func TestIngestWarningOnEveryView(t *testing.T) {
	const interval = 30 * time.Second
	diskFull := errors.New("write wal: no space left on device")

	cases := []struct {
		name   string
		status engine.IngestStatus
		// wantWarning is the start of the warning, "" for none.
		wantWarning string
		// wantText is a further part of the warning or note, "" for none.
		wantText     string
		wantStarting bool
		wantState    string
		wantStale    bool
		wantError    any
		wantLast     any
	}{
		{
			name: "current ingest shows no warning", status: engine.IngestStatus{LastSuccess: testNow.Add(-10 * time.Second)},
			wantState: IngestCurrent, wantError: nil, wantLast: "2026-11-30T23:59:50Z",
		},
		{
			name: "failed ingest warns with its error", status: engine.IngestStatus{LastSuccess: testNow.Add(-2 * time.Minute), LastError: diskFull},
			wantWarning: "⚠ Warning: the engine failed to store samples",
			wantText:    "Its latest attempt failed: write wal: no space left on device. It last stored samples at 2026-11-30T23:58:00Z, 2m ago.",
			wantState:   IngestFailed, wantStale: true, wantError: diskFull.Error(), wantLast: "2026-11-30T23:58:00Z",
		},
		{
			name: "late ingest warns with its age", status: engine.IngestStatus{LastSuccess: testNow.Add(-10 * time.Minute)},
			wantWarning: "⚠ Warning: the engine has stored no samples for 10m",
			wantText:    "more than 1m30s (three intervals of 30s) ago",
			wantState:   IngestLate, wantStale: true, wantError: nil, wantLast: "2026-11-30T23:50:00Z",
		},
		{
			name: "engine before its first ingest is starting", status: engine.IngestStatus{},
			wantText: "○ The engine is starting", wantStarting: true,
			wantState: IngestStarting, wantError: nil, wantLast: nil,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			evaluator := &reportingEngine{testEngine: f.engine, status: tc.status, interval: interval}
			page := New(Options{
				SLOs:      func() []*slo.SLO { return f.slos },
				Sources:   func() *sources.State { return f.state },
				Evaluator: evaluator,
				Now:       func() time.Time { return testNow },
			})
			mux := http.NewServeMux()
			page.Register(mux)
			mux.Handle("GET /{$}", page)

			for _, path := range []string{"/", DetailPath("security-posture", "privilege-drift")} {
				_, body := get(t, mux, path)
				doc := parseHTML(t, body)
				warning, starting := findFirst(doc, byID("engine-warning")), findFirst(doc, byID("engine-starting"))

				switch {
				case tc.wantWarning == "" && warning != nil:
					t.Errorf("GET %s warns: %q", path, text(warning))
				case tc.wantWarning != "" && warning == nil:
					t.Errorf("GET %s shows no warning, want %q", path, tc.wantWarning)
				case tc.wantWarning != "" && !strings.HasPrefix(text(warning), tc.wantWarning):
					t.Errorf("GET %s warning = %q, want it to start with %q", path, text(warning), tc.wantWarning)
				}
				if tc.wantStarting != (starting != nil) {
					t.Errorf("GET %s shows the starting note: %t, want %t", path, starting != nil, tc.wantStarting)
				}
				if tc.wantText != "" && !strings.Contains(text(doc), tc.wantText) {
					t.Errorf("GET %s lacks %q", path, tc.wantText)
				}
			}

			for _, path := range []string{PathSLOs, apiPath("security-posture", "privilege-drift")} {
				ingest := field(t, getJSON(t, mux, path), "ingest")
				assertEqual(t, path+" ingest.state", field(t, ingest, "state"), tc.wantState)
				assertEqual(t, path+" ingest.stale", field(t, ingest, "stale"), tc.wantStale)
				assertEqual(t, path+" ingest.last_ingest_error", field(t, ingest, "last_ingest_error"), tc.wantError)
				assertEqual(t, path+" ingest.last_ingest", field(t, ingest, "last_ingest"), tc.wantLast)
				assertEqual(t, path+" ingest.interval", field(t, ingest, "interval"), "30s")
			}
		})
	}
}

func TestIngestAbsentWithoutReport(t *testing.T) {
	cases := []struct {
		name string
		page func(t *testing.T) *Page
	}{
		{"engine that does not report its ingest", func(t *testing.T) *Page { return newFixture(t).page }},
		{"disabled engine", func(t *testing.T) *Page {
			page, _ := newTestPage(loadFixture(t), nil, fixtureSources())
			return page
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			page := tc.page(t)
			mux := http.NewServeMux()
			page.Register(mux)

			assertEqual(t, "ingest", field(t, getJSON(t, mux, PathSLOs), "ingest"), nil)
			_, body := get(t, page, "/")
			doc := parseHTML(t, body)
			if findFirst(doc, byID("engine-warning")) != nil || findFirst(doc, byID("engine-starting")) != nil {
				t.Error("overview reports an ingest that the engine does not report")
			}
		})
	}
}
