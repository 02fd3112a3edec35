package sources

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
)

const incidentsConfig = `sources:
  - name: inc
    type: incidents
    refresh_interval: 1s
    paths: [incidents.csv]
    options: {format: csv}
`

const incidentsHeader = "id,occurred_at,detected_at,contained_at\n"

// recentT0 is a start time within the ledger's retention, which a fixed
// date would leave one day.
var recentT0 = time.Now().UTC().Add(-30 * 24 * time.Hour).Truncate(time.Hour)

// incidentRows returns CSV rows for incidents first..last, where incident i
// is detected after i minutes and contained after i hours.
func incidentRows(first, last int) string {
	var b strings.Builder
	for i := first; i <= last; i++ {
		start := recentT0.Add(time.Duration(i) * 24 * time.Hour)
		fmt.Fprintf(&b, "INC-%d,%s,%s,%s\n", i, start.Format(time.RFC3339),
			start.Add(time.Duration(i)*time.Minute).Format(time.RFC3339),
			start.Add(time.Duration(i)*time.Hour).Format(time.RFC3339))
	}
	return b.String()
}

// startLedgerServer starts a Server with the incidents source and a ledger
// in dir, and returns it with a function that shuts it down.
func startLedgerServer(t *testing.T, dir string) (*testServer, func()) {
	t.Helper()
	addresses := []string{"127.0.0.1:0"}
	webConfig := ""
	srv, err := NewServer(ServerOptions{
		ConfigFile: filepath.Join(dir, "secslo.yaml"),
		Registry:   Registry{"incidents": NewIncidents},
		Web:        &web.FlagConfig{WebListenAddresses: &addresses, WebConfigFile: &webConfig},
		Logger:     slog.New(slog.NewTextHandler(testLogWriter{t}, nil)),
		LedgerPath: filepath.Join(dir, "data", "ledger.db"),
	})
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}

	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	}
	t.Cleanup(stop)
	return &testServer{Server: srv, dir: dir, baseURL: "http://" + srv.Addrs()[0].String()}, stop
}

// monotonic records every scrape of the event counters and fails the test
// when one goes down.
type monotonic struct {
	last map[string]float64
}

func (m *monotonic) scrape(t *testing.T, srv *testServer) (total, bad float64) {
	t.Helper()
	families := srv.scrape(t)
	labels := "sli=containment_time,source=inc"
	total, _ = value(families, "secslo_sli_events_total", labels)
	bad, _ = value(families, "secslo_sli_bad_events_total", labels)
	for name, v := range map[string]float64{"total": total, "bad": bad} {
		if v < m.last[name] {
			t.Errorf("counter %s went down from %v to %v", name, m.last[name], v)
		}
		m.last[name] = v
	}
	return total, bad
}

// waitCounts scrapes until the containment counters equal total and bad.
func (m *monotonic) waitCounts(t *testing.T, srv *testServer, total, bad float64) {
	t.Helper()
	waitFor(t, fmt.Sprintf("containment counters %v/%v", total, bad), func() bool {
		gotTotal, gotBad := m.scrape(t, srv)
		return gotTotal == total && gotBad == bad
	})
}

func TestServerCountsEventsOnceAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	writeFileAtomic(t, filepath.Join(dir, "secslo.yaml"), incidentsConfig)
	export := filepath.Join(dir, "incidents.csv")
	writeFileAtomic(t, export, incidentsHeader+incidentRows(1, 6))
	m := &monotonic{last: map[string]float64{}}

	// Incidents 1-6: containment after 1..6 hours, so 5 and 6 miss 4 hours.
	srv, stop := startLedgerServer(t, dir)
	m.waitCounts(t, srv, 6, 2)

	_, body := srv.get(t, PathMetrics)
	for _, want := range []string{
		`secslo_sli_events_total{sli="detection_time",source="inc"} 6`,
		`secslo_sli_bad_events_total{sli="detection_time",source="inc"} 0`,
		`secslo_sli_event_duration_seconds_bucket{sli="containment_time",source="inc",le="14400"} 4`,
		`secslo_sli_event_duration_seconds_bucket{sli="detection_time",source="inc",le="900"} 6`,
		`secslo_sli_event_duration_seconds_count{sli="containment_time",source="inc"} 6`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// A rolling export drops 1-3 and adds 7: only 7 counts.
	writeFileAtomic(t, export, incidentsHeader+incidentRows(4, 7))
	m.waitCounts(t, srv, 7, 3)

	// A broken export fails the refresh and commits nothing.
	writeFileAtomic(t, export, incidentsHeader+"INC-8,not a time,,\n")
	waitFor(t, "the source to go down", srv.metricEquals(t, "secslo_source_up", "source=inc", 0))
	m.waitCounts(t, srv, 7, 3)

	// Restart on the same export plus a newer one: the counters start at the
	// persisted values and only incident 8 counts.
	stop()
	writeFileAtomic(t, export, incidentsHeader+incidentRows(4, 8))
	srv, _ = startLedgerServer(t, dir)
	total, _ := m.scrape(t, srv)
	if total != 7 && total != 8 {
		t.Errorf("first scrape after restart: total %v, want the persisted 7 (or 8 after the first refresh)", total)
	}
	m.waitCounts(t, srv, 8, 4)
	waitFor(t, "a second refresh", func() bool {
		st := srv.Manager().State().Source("inc")
		return st != nil && st.Refreshes >= 2
	})
	m.waitCounts(t, srv, 8, 4)
}

func TestServerRejectsForeignLedger(t *testing.T) {
	dir := t.TempDir()
	writeFileAtomic(t, filepath.Join(dir, "secslo.yaml"), incidentsConfig)
	ledger := filepath.Join(dir, "data", "ledger.db")
	if err := os.MkdirAll(filepath.Dir(ledger), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFileAtomic(t, ledger, strings.Repeat("precious data\n", 500))

	addresses := []string{"127.0.0.1:0"}
	webConfig := ""
	srv, err := NewServer(ServerOptions{
		ConfigFile: filepath.Join(dir, "secslo.yaml"),
		Registry:   Registry{"incidents": NewIncidents},
		Web:        &web.FlagConfig{WebListenAddresses: &addresses, WebConfigFile: &webConfig},
		LedgerPath: ledger,
	})
	if err != nil {
		t.Fatal(err)
	}
	err = srv.Start()
	if err == nil {
		srv.Shutdown(context.Background())
		t.Fatal("Start succeeded on a file that is not a ledger")
	}
	if !strings.Contains(err.Error(), "is not a readable bbolt file") {
		t.Errorf("got %v, want a rejected ledger error", err)
	}
	if data, _ := os.ReadFile(ledger); !strings.HasPrefix(string(data), "precious data") {
		t.Error("the rejected file was changed")
	}
}

func TestManagerFailsEventsWithoutLedger(t *testing.T) {
	m := NewManager(Registry{"events": func(Config, *slog.Logger) (Source, error) {
		return funcSource(func(context.Context) (*Result, error) {
			return &Result{Events: []Event{{SLI: "restore_tests", ID: "a", End: ledgerT0}}}, nil
		}), nil
	}}, nil)
	defer m.Stop()

	if err := applyOne(t, m, "  - {name: ev, type: events}\n"); err != nil {
		t.Fatal(err)
	}
	st := waitForStatus(t, m, "ev", func(st *SourceStatus) bool { return st.Refreshes > 0 })
	if st.Up || st.LastError == nil || !strings.Contains(st.LastError.Error(), "set --ledger.path") {
		t.Errorf("up %v, error %v; want the source down with a missing ledger error", st.Up, st.LastError)
	}
}
