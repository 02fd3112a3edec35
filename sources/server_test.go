package sources

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/secslo/secslo/slo"
)

// pollTimeout bounds every wait for a background refresh in these tests.
const pollTimeout = 15 * time.Second

// testServer is a started Server with its config folder and base URL.
type testServer struct {
	*Server
	dir     string
	baseURL string
}

// writeFileAtomic replaces path in one rename, so a refresh running at the
// same moment reads either the old or the new contents, never a mix.
func writeFileAtomic(t testing.TB, path, contents string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(contents), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// startTestServer writes config into a temporary folder together with the
// given input files, starts a Server on a free loopback port and stops it
// when the test ends.
func startTestServer(t testing.TB, registry Registry, config string, files map[string]string) *testServer {
	t.Helper()
	dir := t.TempDir()
	for name, contents := range files {
		writeFileAtomic(t, filepath.Join(dir, name), contents)
	}
	configFile := filepath.Join(dir, "secslo.yaml")
	writeFileAtomic(t, configFile, config)

	addresses := []string{"127.0.0.1:0"}
	webConfig := ""
	srv, err := NewServer(ServerOptions{
		ConfigFile:      configFile,
		Registry:        registry,
		Web:             &web.FlagConfig{WebListenAddresses: &addresses, WebConfigFile: &webConfig},
		Logger:          slog.New(slog.NewTextHandler(testLogWriter{t}, nil)),
		EnableLifecycle: true,
	})
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})

	addrs := srv.Addrs()
	if len(addrs) != 1 {
		t.Fatalf("Addrs = %v, want one address", addrs)
	}
	return &testServer{Server: srv, dir: dir, baseURL: "http://" + addrs[0].String()}
}

// testLogWriter sends server logs to the test log, so they show on failure.
type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func fileCountRegistry() Registry {
	return Registry{"filecount": newFileCountSource}
}

// get fetches path and returns the status code and body.
func (s *testServer) get(t testing.TB, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(s.baseURL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, string(body)
}

func (s *testServer) postReload(t testing.TB) (int, string) {
	t.Helper()
	resp, err := http.Post(s.baseURL+PathReload, "", nil)
	if err != nil {
		t.Fatalf("POST %s: %v", PathReload, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// scrape returns the metric families of one /metrics scrape.
func (s *testServer) scrape(t testing.TB) map[string]*familyValues {
	t.Helper()
	status, body := s.get(t, PathMetrics)
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: status %d: %s", status, body)
	}

	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}

	out := map[string]*familyValues{}
	for name, mf := range families {
		fv := &familyValues{values: map[string]float64{}}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, lp := range m.GetLabel() {
				labels = append(labels, lp.GetName()+"="+lp.GetValue())
			}
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue() + m.GetUntyped().GetValue()
			fv.values[strings.Join(labels, ",")] = v
		}
		out[name] = fv
	}
	return out
}

// familyValues maps "label=value,..." to the sample value.
type familyValues struct {
	values map[string]float64
}

// value returns the sample of metric with labels, and whether it exists.
func value(families map[string]*familyValues, metric, labels string) (float64, bool) {
	fv := families[metric]
	if fv == nil {
		return 0, false
	}
	v, ok := fv.values[labels]
	return v, ok
}

// waitFor polls cond until it returns true or pollTimeout passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(pollTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", pollTimeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// metricEquals returns a condition that holds once metric{labels} == want.
func (s *testServer) metricEquals(t testing.TB, metric, labels string, want float64) func() bool {
	return func() bool {
		got, ok := value(s.scrape(t), metric, labels)
		return ok && got == want
	}
}

const hostsCSV = `id,sli,status
web-1,patch_compliance,ok
web-2,patch_compliance,bad
db-1,patch_compliance,ok
db-1,log_coverage,bad
db-2,log_coverage,unknown
`

const oneSourceConfig = `sources:
  - name: hosts
    type: filecount
    refresh_interval: %s
    paths: [hosts.csv]
`

func TestServerServesSourceMetrics(t *testing.T) {
	srv := startTestServer(t, fileCountRegistry(), fmt.Sprintf(oneSourceConfig, "1h"), map[string]string{"hosts.csv": hostsCSV})
	waitFor(t, "the first refresh", srv.metricEquals(t, slo.MetricSourceUp, "source=hosts", 1))

	want := `
# HELP secslo_sli_noncompliant_objects Objects out of compliance for a snapshot SLI at the latest successful refresh.
# TYPE secslo_sli_noncompliant_objects gauge
secslo_sli_noncompliant_objects{sli="log_coverage",source="hosts"} 1
secslo_sli_noncompliant_objects{sli="patch_compliance",source="hosts"} 1
# HELP secslo_sli_objects Objects in scope of a snapshot SLI at the latest successful refresh.
# TYPE secslo_sli_objects gauge
secslo_sli_objects{sli="log_coverage",source="hosts"} 1
secslo_sli_objects{sli="patch_compliance",source="hosts"} 3
# HELP secslo_source_records_read Records parsed by the latest successful refresh, rejected ones included.
# TYPE secslo_source_records_read gauge
secslo_source_records_read{source="hosts"} 5
# HELP secslo_source_records_rejected Records skipped as invalid by the latest successful refresh.
# TYPE secslo_source_records_rejected gauge
secslo_source_records_rejected{source="hosts"} 1
# HELP secslo_source_refresh_failures_total Refreshes that failed since the source was configured.
# TYPE secslo_source_refresh_failures_total counter
secslo_source_refresh_failures_total{source="hosts"} 0
# HELP secslo_source_refreshes_total Refreshes attempted since the source was configured.
# TYPE secslo_source_refreshes_total counter
secslo_source_refreshes_total{source="hosts"} 1
# HELP secslo_source_up 1 if the latest refresh of the source succeeded, 0 if it failed or has not run yet.
# TYPE secslo_source_up gauge
secslo_source_up{source="hosts"} 1
# HELP secslo_config_last_reload_successful 1 if the latest config load or reload succeeded, 0 if it was rejected.
# TYPE secslo_config_last_reload_successful gauge
secslo_config_last_reload_successful 1
`
	err := testutil.ScrapeAndCompare(srv.baseURL+PathMetrics, strings.NewReader(want),
		slo.MetricObjects, slo.MetricNoncompliantObjects, slo.MetricSourceRecordsRead, slo.MetricSourceRecordsRejected,
		slo.MetricSourceRefreshes, slo.MetricSourceRefreshFailures, slo.MetricSourceUp, slo.MetricConfigReloadSuccess)
	if err != nil {
		t.Error(err)
	}

	families := srv.scrape(t)
	now := float64(time.Now().Unix())
	for _, metric := range []string{slo.MetricSourceLastSuccess, slo.MetricConfigReloadTime} {
		labels := "source=hosts"
		if metric == slo.MetricConfigReloadTime {
			labels = ""
		}
		got, ok := value(families, metric, labels)
		if !ok || got < now-60 || got > now+1 {
			t.Errorf("%s{%s} = %v (present %v), want a Unix time within the last minute", metric, labels, got, ok)
		}
	}
	if got, ok := value(families, slo.MetricSourceRefreshDuration, "source=hosts"); !ok || got <= 0 || got > 10 {
		t.Errorf("%s = %v (present %v), want a positive duration below 10s", slo.MetricSourceRefreshDuration, got, ok)
	}
	if _, ok := families[slo.MetricBuildInfo]; !ok {
		t.Errorf("%s is missing", slo.MetricBuildInfo)
	}
}

func TestServerKeepsLastGoodValuesOnFailure(t *testing.T) {
	srv := startTestServer(t, fileCountRegistry(), fmt.Sprintf(oneSourceConfig, "1s"), map[string]string{"hosts.csv": hostsCSV})
	waitFor(t, "the first refresh", srv.metricEquals(t, slo.MetricSourceUp, "source=hosts", 1))
	goodSuccess, _ := value(srv.scrape(t), slo.MetricSourceLastSuccess, "source=hosts")

	hostsFile := filepath.Join(srv.dir, "hosts.csv")
	writeFileAtomic(t, hostsFile, "id,sli,status\nweb-1,patch_compliance,ok\nweb-2,patch_compliance\n")
	waitFor(t, "the broken file to set up to 0", srv.metricEquals(t, slo.MetricSourceUp, "source=hosts", 0))

	families := srv.scrape(t)
	kept := map[string]float64{
		slo.MetricObjects + "|sli=patch_compliance,source=hosts":             3,
		slo.MetricNoncompliantObjects + "|sli=patch_compliance,source=hosts": 1,
		slo.MetricObjects + "|sli=log_coverage,source=hosts":                 1,
		slo.MetricSourceRecordsRead + "|source=hosts":                        5,
		slo.MetricSourceLastSuccess + "|source=hosts":                        goodSuccess,
	}
	for key, want := range kept {
		metric, labels, _ := strings.Cut(key, "|")
		if got, ok := value(families, metric, labels); !ok || got != want {
			t.Errorf("after a failed refresh %s{%s} = %v (present %v), want the last good %v", metric, labels, got, ok, want)
		}
	}
	if got, _ := value(families, slo.MetricSourceRefreshFailures, "source=hosts"); got < 1 {
		t.Errorf("%s = %v, want at least 1", slo.MetricSourceRefreshFailures, got)
	}

	_, page := srv.get(t, "/")
	if want := hostsFile + ":3: got 2 fields, want 3"; !strings.Contains(page, want) {
		t.Errorf("landing page does not show the error %q:\n%s", want, page)
	}

	writeFileAtomic(t, hostsFile, "id,sli,status\nweb-1,patch_compliance,ok\nweb-2,patch_compliance,ok\n")
	waitFor(t, "recovery once the file is fixed", srv.metricEquals(t, slo.MetricSourceUp, "source=hosts", 1))

	families = srv.scrape(t)
	if got, _ := value(families, slo.MetricNoncompliantObjects, "sli=patch_compliance,source=hosts"); got != 0 {
		t.Errorf("after recovery noncompliant = %v, want 0 from the fixed file", got)
	}
	if got, _ := value(families, slo.MetricObjects, "sli=patch_compliance,source=hosts"); got != 2 {
		t.Errorf("after recovery objects = %v, want 2 from the fixed file", got)
	}
	if _, ok := value(families, slo.MetricObjects, "sli=log_coverage,source=hosts"); ok {
		t.Error("after recovery log_coverage is still served, but the fixed file has no such record")
	}
}

// gateSource is a Source whose refreshes block until the test opens the gate,
// so a test can observe the server before the first refresh ends.
type gateSource struct {
	open chan struct{}
}

func (g *gateSource) Refresh(ctx context.Context) (*Result, error) {
	select {
	case <-g.open:
		return &Result{Snapshots: []Snapshot{{SLI: "log_coverage", Objects: 2, Noncompliant: 1}},
			RecordsRead: 2, Noncompliant: []Object{{SLI: "log_coverage", ID: "host-2", Reason: "no logs"}}}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func gateRegistry(gate *gateSource) Registry {
	return Registry{
		"gate":      func(Config, *slog.Logger) (Source, error) { return gate, nil },
		"filecount": newFileCountSource,
	}
}

const gateConfig = `sources:
  - name: gated
    type: gate
    refresh_interval: 1h
`

func TestServerReadyAfterFirstRefresh(t *testing.T) {
	gate := &gateSource{open: make(chan struct{})}
	srv := startTestServer(t, gateRegistry(gate), gateConfig, nil)

	status, body := srv.get(t, PathReady)
	if status != http.StatusServiceUnavailable {
		t.Errorf("before the first refresh %s = %d, want 503", PathReady, status)
	}
	if !strings.Contains(body, "gated") {
		t.Errorf("503 body %q does not name the waiting source", body)
	}
	if status, _ := srv.get(t, PathHealthy); status != http.StatusOK {
		t.Errorf("before the first refresh %s = %d, want 200", PathHealthy, status)
	}

	families := srv.scrape(t)
	if got, ok := value(families, slo.MetricSourceUp, "source=gated"); !ok || got != 0 {
		t.Errorf("before the first refresh up = %v (present %v), want 0", got, ok)
	}
	if got, ok := value(families, slo.MetricSourceLastSuccess, "source=gated"); !ok || got != 0 {
		t.Errorf("before the first refresh last success = %v (present %v), want 0", got, ok)
	}
	if _, ok := families[slo.MetricObjects]; ok {
		t.Errorf("before the first refresh %s is served, want no SLI values yet", slo.MetricObjects)
	}

	close(gate.open)
	waitFor(t, "readiness", func() bool {
		status, _ := srv.get(t, PathReady)
		return status == http.StatusOK
	})
}

func TestNoncompliantEndpoint(t *testing.T) {
	gate := &gateSource{open: make(chan struct{})}
	config := gateConfig + `  - name: hosts
    type: filecount
    refresh_interval: 1h
    paths: [hosts.csv]
`
	srv := startTestServer(t, gateRegistry(gate), config, map[string]string{"hosts.csv": hostsCSV})

	if status, _ := srv.get(t, NoncompliantPath("gated")); status != http.StatusServiceUnavailable {
		t.Errorf("before the first refresh status = %d, want 503", status)
	}
	if status, body := srv.get(t, NoncompliantPath("absent")); status != http.StatusNotFound {
		t.Errorf("unknown source status = %d (%s), want 404", status, body)
	}
	if status, body := srv.get(t, NoncompliantPath("gated")+"?sli=log_coveragee"); status != http.StatusBadRequest || !strings.Contains(body, `unknown SLI "log_coveragee"`) {
		t.Errorf("misspelt SLI: status = %d (%s), want 400 naming it", status, body)
	}

	waitFor(t, "the hosts refresh", srv.metricEquals(t, slo.MetricSourceUp, "source=hosts", 1))
	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{"every SLI", "", []string{"patch_compliance/web-2", "log_coverage/db-1"}},
		{"one SLI", "?sli=log_coverage", []string{"log_coverage/db-1"}},
		{"SLI without objects", "?sli=privilege_drift", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := srv.get(t, NoncompliantPath("hosts")+tt.query)
			if status != http.StatusOK {
				t.Fatalf("status = %d: %s", status, body)
			}

			var got noncompliantJSON
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("invalid JSON %q: %v", body, err)
			}
			if got.Source != "hosts" || got.LastSuccess == nil {
				t.Errorf("source = %q, last_success = %v, want hosts and a time", got.Source, got.LastSuccess)
			}
			var ids []string
			for _, obj := range got.Objects {
				ids = append(ids, obj.SLI+"/"+obj.ID)
			}
			if strings.Join(ids, " ") != strings.Join(tt.want, " ") {
				t.Errorf("objects = %v, want %v", ids, tt.want)
			}
		})
	}
}

func TestServerReloadAppliesGoodConfig(t *testing.T) {
	files := map[string]string{"hosts.csv": hostsCSV, "more.csv": "id,sli,status\nx,privilege_drift,bad\n"}
	srv := startTestServer(t, fileCountRegistry(), fmt.Sprintf(oneSourceConfig, "1h"), files)
	waitFor(t, "the first refresh", srv.metricEquals(t, slo.MetricSourceUp, "source=hosts", 1))

	config := fmt.Sprintf(oneSourceConfig, "1h") + `  - name: more
    type: filecount
    paths: [more.csv]
`
	writeFileAtomic(t, filepath.Join(srv.dir, "secslo.yaml"), config)
	if status, body := srv.postReload(t); status != http.StatusOK {
		t.Fatalf("POST %s = %d: %s", PathReload, status, body)
	}

	waitFor(t, "the new source", srv.metricEquals(t, slo.MetricNoncompliantObjects, "sli=privilege_drift,source=more", 1))
	families := srv.scrape(t)
	if got, _ := value(families, slo.MetricSourceRefreshes, "source=hosts"); got != 1 {
		t.Errorf("unchanged source refreshes = %v, want 1: a reload must not restart it", got)
	}
	if got, _ := value(families, slo.MetricConfigReloadSuccess, ""); got != 1 {
		t.Errorf("reload success = %v, want 1", got)
	}
}

func TestServerReloadRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name   string
		config string
		want   string
	}{
		{"invalid YAML", "sources: [", "invalid YAML"},
		{"unknown field", "sources:\n  - name: hosts\n    typ: filecount\n", "field typ not found"},
		{"unknown type", "sources:\n  - name: hosts\n    type: nosuch\n", `unknown source type "nosuch"`},
		{"factory error", "sources:\n  - name: hosts\n    type: filecount\n", "missing paths"},
		{"bad option", "sources:\n  - name: hosts\n    type: filecount\n    paths: [hosts.csv]\n    options: {fial: true}\n", "field fial not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startTestServer(t, fileCountRegistry(), fmt.Sprintf(oneSourceConfig, "1h"), map[string]string{"hosts.csv": hostsCSV})
			waitFor(t, "the first refresh", srv.metricEquals(t, slo.MetricSourceUp, "source=hosts", 1))
			goodTime, _ := value(srv.scrape(t), slo.MetricConfigReloadTime, "")

			writeFileAtomic(t, filepath.Join(srv.dir, "secslo.yaml"), tt.config)
			status, body := srv.postReload(t)
			if status != http.StatusInternalServerError {
				t.Errorf("POST %s = %d, want 500", PathReload, status)
			}
			if !strings.Contains(body, tt.want) {
				t.Errorf("reload response %q does not contain %q", body, tt.want)
			}

			families := srv.scrape(t)
			if got, _ := value(families, slo.MetricConfigReloadSuccess, ""); got != 0 {
				t.Errorf("reload success = %v, want 0", got)
			}
			if got, _ := value(families, slo.MetricConfigReloadTime, ""); got != goodTime {
				t.Errorf("reload time = %v, want the last good %v", got, goodTime)
			}
			if got, _ := value(families, slo.MetricObjects, "sli=patch_compliance,source=hosts"); got != 3 {
				t.Errorf("old source objects = %v, want 3: the old config must keep running", got)
			}
		})
	}
}

func TestServerGetReloadNotAllowed(t *testing.T) {
	srv := startTestServer(t, fileCountRegistry(), "sources: []\n", nil)
	if status, _ := srv.get(t, PathReload); status != http.StatusMethodNotAllowed {
		t.Errorf("GET %s = %d, want 405", PathReload, status)
	}
}

func TestServerStartRejectsBadConfig(t *testing.T) {
	dir := t.TempDir()
	configFile := filepath.Join(dir, "secslo.yaml")
	writeFileAtomic(t, configFile, "sources:\n  - name: hosts\n    type: nosuch\n")

	addresses := []string{"127.0.0.1:0"}
	webConfig := ""
	srv, err := NewServer(ServerOptions{
		ConfigFile: configFile, Registry: fileCountRegistry(),
		Web: &web.FlagConfig{WebListenAddresses: &addresses, WebConfigFile: &webConfig},
	})
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}

	err = srv.Start()
	if err == nil || !strings.Contains(err.Error(), `sources[0].type: unknown source type "nosuch"`) {
		t.Errorf("Start error = %v, want the unknown type with its field path", err)
	}
	if addrs := srv.Addrs(); len(addrs) != 0 {
		t.Errorf("Addrs = %v after a failed start, want none", addrs)
	}
}

func TestMetricsPassPromtoolCheck(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("SECSLO_REQUIRE_TOOLS") == "1" {
			t.Fatal("promtool not found in PATH, and SECSLO_REQUIRE_TOOLS=1 requires it")
		}
		t.Skip("promtool not found in PATH; install Prometheus to run this check")
	}

	srv := startTestServer(t, fileCountRegistry(), fmt.Sprintf(oneSourceConfig, "1h"), map[string]string{"hosts.csv": hostsCSV})
	waitFor(t, "the first refresh", srv.metricEquals(t, slo.MetricSourceUp, "source=hosts", 1))
	_, body := srv.get(t, PathMetrics)

	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out.String())
	}
	if out.Len() > 0 {
		t.Errorf("promtool check metrics reported problems:\n%s", out.String())
	}
}

func TestScrapeSeesWholeRefreshes(t *testing.T) {
	// Two files that disagree in every SLI value; the source flips between
	// them while scrapes run, and every scrape must show one file only.
	before := "id,sli,status\na,log_coverage,ok\nb,log_coverage,ok\n"
	after := "id,sli,status\na,log_coverage,bad\nb,log_coverage,bad\nc,log_coverage,bad\n"
	srv := startTestServer(t, fileCountRegistry(), fmt.Sprintf(oneSourceConfig, "1s"), map[string]string{"hosts.csv": before})
	waitFor(t, "the first refresh", srv.metricEquals(t, slo.MetricSourceUp, "source=hosts", 1))

	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		contents := []string{after, before}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				writeFileAtomic(t, filepath.Join(srv.dir, "hosts.csv"), contents[i%2])
			}
		}
	}()

	refreshes := func() float64 {
		v, _ := value(srv.scrape(t), slo.MetricSourceRefreshes, "source=hosts")
		return v
	}
	first := refreshes()
	deadline := time.Now().Add(pollTimeout)
	for refreshes() < first+2 {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for two refreshes", pollTimeout)
		}
		families := srv.scrape(t)
		objects, _ := value(families, slo.MetricObjects, "sli=log_coverage,source=hosts")
		bad, _ := value(families, slo.MetricNoncompliantObjects, "sli=log_coverage,source=hosts")
		read, _ := value(families, slo.MetricSourceRecordsRead, "source=hosts")
		if !(objects == 2 && bad == 0 && read == 2) && !(objects == 3 && bad == 3 && read == 3) {
			t.Fatalf("scrape mixes two refreshes: objects %v, noncompliant %v, records %v", objects, bad, read)
		}
	}
	close(stop)
	wg.Wait()
}

func TestReloadNeedsLifecycleFlag(t *testing.T) {
	reloaded := false
	h := &webHandlers{reload: func() error { reloaded = true; return nil }}
	rec := httptest.NewRecorder()

	h.reloadConfig(rec, httptest.NewRequest(http.MethodPost, PathReload, nil))

	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "--web.enable-lifecycle") {
		t.Errorf("got %d %q, want 403 naming --web.enable-lifecycle", rec.Code, rec.Body.String())
	}
	if reloaded {
		t.Error("the config was reloaded without --web.enable-lifecycle")
	}
}
