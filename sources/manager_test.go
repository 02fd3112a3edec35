package sources

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCheckResult(t *testing.T) {
	valid := func() *Result {
		return &Result{
			Snapshots:   []Snapshot{{SLI: "log_coverage", Objects: 3, Noncompliant: 1}, {SLI: "patch_compliance", Objects: 2}},
			RecordsRead: 6, RecordsRejected: 1,
		}
	}
	tests := []struct {
		name   string
		change func(*Result)
		want   string
	}{
		{"valid result", func(*Result) {}, ""},
		{"empty result", func(r *Result) { *r = Result{} }, ""},
		{"SLI twice", func(r *Result) { r.Snapshots[1].SLI = "log_coverage" }, `SLI "log_coverage" twice`},
		{"empty SLI id", func(r *Result) { r.Snapshots[0].SLI = "" }, `invalid SLI id ""`},
		{"SLI id not UTF-8", func(r *Result) { r.Snapshots[0].SLI = "\xff" }, "invalid SLI id"},
		{"more bad than objects", func(r *Result) { r.Snapshots[0].Noncompliant = 4 }, "4 noncompliant of 3 objects"},
		{"negative objects", func(r *Result) { r.Snapshots[1].Objects = -1 }, "0 noncompliant of -1 objects"},
		{"more rejected than read", func(r *Result) { r.RecordsRejected = 7 }, "7 rejected of 6 records"},
		{"negative rejected", func(r *Result) { r.RecordsRejected = -1 }, "-1 rejected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := valid()
			tt.change(res)
			err := checkResult(res)

			if tt.want == "" {
				if err != nil {
					t.Errorf("checkResult: %v, want no error", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("checkResult = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// funcSource adapts a function to the Source interface.
type funcSource func(context.Context) (*Result, error)

func (f funcSource) Refresh(ctx context.Context) (*Result, error) { return f(ctx) }

// applyOne loads a config with the given sources YAML and applies it to m.
func applyOne(t *testing.T, m *Manager, sourcesYAML string) error {
	t.Helper()
	cfg, err := ParseConfig([]byte("sources:\n"+sourcesYAML), filepath.Join(t.TempDir(), "secslo.yaml"))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	return m.Apply(cfg)
}

// waitForStatus polls m until the named source satisfies cond.
func waitForStatus(t *testing.T, m *Manager, name string, cond func(*SourceStatus) bool) *SourceStatus {
	t.Helper()
	var st *SourceStatus
	waitFor(t, "source "+name, func() bool {
		st = m.State().Source(name)
		return st != nil && cond(st)
	})
	return st
}

func TestManagerAdapterPanicMarksSourceDown(t *testing.T) {
	registry := Registry{"panics": func(Config, *slog.Logger) (Source, error) {
		return funcSource(func(context.Context) (*Result, error) { panic("index out of range") }), nil
	}}
	m := NewManager(registry, nil)
	defer m.Stop()

	if err := applyOne(t, m, "  - {name: broken, type: panics}\n"); err != nil {
		t.Fatalf("Apply: %v", err)
	}

	st := waitForStatus(t, m, "broken", func(st *SourceStatus) bool { return st.Failures > 0 })
	if st.Up {
		t.Error("up = true after a panic, want false")
	}
	if st.LastError == nil || !strings.Contains(st.LastError.Error(), "adapter panicked: index out of range") {
		t.Errorf("last error = %v, want the panic", st.LastError)
	}
}

func TestManagerRejectsNilResult(t *testing.T) {
	registry := Registry{"nil": func(Config, *slog.Logger) (Source, error) {
		return funcSource(func(context.Context) (*Result, error) { return nil, nil }), nil
	}}
	m := NewManager(registry, nil)
	defer m.Stop()

	if err := applyOne(t, m, "  - {name: empty, type: nil}\n"); err != nil {
		t.Fatalf("Apply: %v", err)
	}

	st := waitForStatus(t, m, "empty", func(st *SourceStatus) bool { return st.Refreshes > 0 })
	if st.Up || st.LastError == nil {
		t.Errorf("up = %v, last error = %v, want down with an error", st.Up, st.LastError)
	}
}

func TestManagerApplyFailureKeepsSources(t *testing.T) {
	dir := t.TempDir()
	hosts := filepath.Join(dir, "hosts.csv")
	if err := os.WriteFile(hosts, []byte(hostsCSV), 0o644); err != nil {
		t.Fatal(err)
	}
	m := NewManager(fileCountRegistry(), nil)
	defer m.Stop()

	if err := applyOne(t, m, "  - {name: hosts, type: filecount, paths: ["+hosts+"]}\n"); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	before := waitForStatus(t, m, "hosts", func(st *SourceStatus) bool { return st.Up })

	err := applyOne(t, m, "  - {name: hosts, type: filecount, paths: ["+hosts+"]}\n  - {name: other, type: filecount}\n  - {name: third, type: filecount, options: {fail: true}}\n")
	for _, want := range []string{"sources[1]: invalid filecount source: missing paths", "sources[2]: invalid filecount source: options.fail is set"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Apply = %v, want an error containing %q", err, want)
		}
	}

	state := m.State()
	if len(state.Sources) != 1 || state.Source("hosts") != before {
		t.Errorf("state after a rejected Apply = %+v, want the unchanged hosts source only", state.Sources)
	}
}

func TestManagerApplyRestartsChangedSource(t *testing.T) {
	dir := t.TempDir()
	for name, contents := range map[string]string{"a.csv": "id,sli,status\na,log_coverage,ok\n", "b.csv": "id,sli,status\nb,log_coverage,bad\nc,log_coverage,bad\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(contents), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := NewManager(fileCountRegistry(), nil)
	defer m.Stop()

	if err := applyOne(t, m, "  - {name: hosts, type: filecount, paths: ["+filepath.Join(dir, "a.csv")+"]}\n"); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	waitForStatus(t, m, "hosts", func(st *SourceStatus) bool { return st.Up })

	if err := applyOne(t, m, "  - {name: hosts, type: filecount, paths: ["+filepath.Join(dir, "b.csv")+"]}\n"); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	st := waitForStatus(t, m, "hosts", func(st *SourceStatus) bool { return st.Up })
	if got := st.Result.Snapshots[0].Objects; got != 2 {
		t.Errorf("objects after changing paths = %d, want 2 from the new file", got)
	}
	if st.Refreshes != 1 {
		t.Errorf("refreshes = %d, want 1: a changed source starts afresh", st.Refreshes)
	}
}

func TestManagerStopRejectsApply(t *testing.T) {
	m := NewManager(fileCountRegistry(), nil)
	m.Stop()

	err := applyOne(t, m, "")
	if err == nil {
		t.Error("Apply after Stop returned no error")
	}
}

func TestManagerStopCancelsRefresh(t *testing.T) {
	started := make(chan struct{})
	registry := Registry{"blocks": func(Config, *slog.Logger) (Source, error) {
		return funcSource(func(ctx context.Context) (*Result, error) {
			close(started)
			<-ctx.Done()
			return nil, ctx.Err()
		}), nil
	}}
	m := NewManager(registry, nil)
	if err := applyOne(t, m, "  - {name: slow, type: blocks}\n"); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	<-started

	m.Stop()
	st := m.State().Source("slow")
	if st.Refreshes != 0 {
		t.Errorf("refreshes = %d after Stop cancelled the only refresh, want 0: a cancelled refresh is not published", st.Refreshes)
	}
}

func TestCollectorBeforeFirstRefresh(t *testing.T) {
	gate := &gateSource{open: make(chan struct{})}
	m := NewManager(gateRegistry(gate), nil)
	defer m.Stop()
	if err := applyOne(t, m, "  - {name: gated, type: gate}\n"); err != nil {
		t.Fatalf("Apply: %v", err)
	}

	want := `
# HELP secslo_source_last_success_timestamp_seconds Unix time at which the latest successful refresh ended; 0 before the first one.
# TYPE secslo_source_last_success_timestamp_seconds gauge
secslo_source_last_success_timestamp_seconds{source="gated"} 0
# HELP secslo_source_refreshes_total Refreshes attempted since the source was configured.
# TYPE secslo_source_refreshes_total counter
secslo_source_refreshes_total{source="gated"} 0
# HELP secslo_source_up 1 if the latest refresh of the source succeeded, 0 if it failed or has not run yet.
# TYPE secslo_source_up gauge
secslo_source_up{source="gated"} 0
`
	if err := testutil.CollectAndCompare(NewCollector(m), strings.NewReader(want),
		"secslo_source_up", "secslo_source_last_success_timestamp_seconds", "secslo_source_refreshes_total",
		"secslo_source_refresh_duration_seconds", "secslo_source_records_read", "secslo_sli_objects"); err != nil {
		t.Error(err)
	}

	close(gate.open)
	waitForStatus(t, m, "gated", func(st *SourceStatus) bool { return st.Up })
	if got := testutil.CollectAndCount(NewCollector(m), "secslo_sli_objects"); got != 1 {
		t.Errorf("secslo_sli_objects series after the first refresh = %d, want 1", got)
	}
}

func TestCallRefreshReturnsAdapterError(t *testing.T) {
	want := &InputError{File: "a.csv", Line: 3, Err: errors.New("bad")}
	_, err := callRefresh(context.Background(), funcSource(func(context.Context) (*Result, error) { return nil, want }))

	var got *InputError
	if !errors.As(err, &got) || got != want {
		t.Errorf("callRefresh error = %v, want the adapter's InputError", err)
	}
}
