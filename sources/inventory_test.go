package sources

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/secslo/secslo/slo"
)

// inventoryTestNow is the refresh time of every inventory test.
var inventoryTestNow = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// sharedSamples is where the real export samples live, seen from this package.
const sharedSamples = "../../shared/samples"

// listTestConfig builds a source config whose options are the YAML text opts.
func listTestConfig(t testing.TB, sourceType, opts string, paths ...string) Config {
	t.Helper()
	cfg := Config{Name: "test_" + sourceType, Type: sourceType, Paths: paths}
	if opts == "" {
		return cfg
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(opts), &doc); err != nil {
		t.Fatalf("invalid test options: %v", err)
	}
	cfg.Options = *doc.Content[0]
	return cfg
}

// listTestLogger returns a logger that writes into the returned buffer.
func listTestLogger() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

// newTestInventory builds an inventory source with the test clock.
func newTestInventory(t testing.TB, opts string, paths ...string) (*inventory, *bytes.Buffer) {
	t.Helper()
	return buildTestInventory(t, listTestConfig(t, "inventory", opts, paths...))
}

// newPrometheusInventory builds an inventory source of the asset fixture
// whose last-seen times come from the Prometheus server at url.
func newPrometheusInventory(t testing.TB, url string) *inventory {
	t.Helper()
	opts := `
last_seen:
  format: prometheus
  query: max by (asset) (log_last_seen)
  id_label: asset
`
	cfg := listTestConfig(t, "inventory", opts, "testdata/inventory/assets.csv")
	cfg.URL = url
	src, _ := buildTestInventory(t, cfg)
	return src
}

func buildTestInventory(t testing.TB, cfg Config) (*inventory, *bytes.Buffer) {
	t.Helper()
	logger, logs := listTestLogger()
	src, err := NewInventory(cfg, logger)
	if err != nil {
		t.Fatalf("NewInventory: %v", err)
	}
	inv := src.(*inventory)
	inv.now = func() time.Time { return inventoryTestNow }
	return inv, logs
}

// writeTestFile writes content into a new file of the test's temporary folder.
func writeTestFile(t testing.TB, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func readFixture(t testing.TB, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// objectReasons maps the ids of non-compliant objects to their reasons.
func objectReasons(objects []Object) map[string]string {
	reasons := make(map[string]string, len(objects))
	for _, o := range objects {
		reasons[o.ID] = o.Reason
	}
	return reasons
}

const inventoryCSVOptions = `
last_seen:
  format: csv
  paths: [testdata/inventory/last_seen.csv]
`

func TestInventoryJoinsCSVFiles(t *testing.T) {
	src, _ := newTestInventory(t, inventoryCSVOptions, "testdata/inventory/assets.csv")

	result, err := src.Refresh(context.Background())
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}

	want := Snapshot{SLI: slo.SLILogCoverage, Objects: 4, Noncompliant: 2}
	if len(result.Snapshots) != 1 || result.Snapshots[0] != want {
		t.Errorf("snapshots = %+v, want [%+v]", result.Snapshots, want)
	}
	if result.RecordsRead != 11 {
		t.Errorf("records read = %d, want 11 (5 assets, 6 last-seen rows)", result.RecordsRead)
	}
	if result.RecordsRejected != 0 {
		t.Errorf("records rejected = %d, want 0", result.RecordsRejected)
	}

	reasons := objectReasons(result.Noncompliant)
	wantReasons := map[string]string{
		"i-0002": "last seen 2024-05-01T09:00:00Z, 3h before the refresh, outside the 1h freshness window; owner team-web",
		"i-0003": "never seen; owner team-data",
	}
	for id, want := range wantReasons {
		if reasons[id] != want {
			t.Errorf("reason for %s = %q, want %q", id, reasons[id], want)
		}
	}
	if len(reasons) != len(wantReasons) {
		t.Errorf("non-compliant objects = %v, want only %v", reasons, wantReasons)
	}
	if result.Noncompliant[0].Name != "web-2" || result.Noncompliant[0].SLI != slo.SLILogCoverage {
		t.Errorf("first object = %+v, want web-2 of %s", result.Noncompliant[0], slo.SLILogCoverage)
	}
}

func TestInventoryJoinsJSONFiles(t *testing.T) {
	opts := `
last_seen:
  format: json
  paths: [testdata/inventory/last_seen.json]
`
	src, _ := newTestInventory(t, opts, "testdata/inventory/assets.json")

	result, err := src.Refresh(context.Background())
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}

	want := Snapshot{SLI: slo.SLILogCoverage, Objects: 4, Noncompliant: 2}
	if result.Snapshots[0] != want {
		t.Errorf("snapshot = %+v, want %+v", result.Snapshots[0], want)
	}
	reasons := objectReasons(result.Noncompliant)
	if reasons["i-0003"] != "never seen; owner team-data" {
		t.Errorf("reason for i-0003 = %q, want never seen", reasons["i-0003"])
	}
	if !strings.HasPrefix(reasons["i-0002"], "last seen 2024-05-01T09:00:00Z") {
		t.Errorf("reason for i-0002 = %q, want last seen at 09:00 from the epoch number", reasons["i-0002"])
	}
}

func TestInventoryScopeOptions(t *testing.T) {
	cases := []struct {
		name        string
		extra       string
		wantObjects int
		wantBad     int
	}{
		{"default scope is critical", "", 4, 2},
		{"high added to scope", "criticalities: [critical, HIGH]", 5, 3},
		{"only high in scope", "criticalities: [high]", 1, 1},
		{"wider freshness window", "freshness: 4h", 4, 1},
		{"freshness of days", "freshness: 2d", 4, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src, _ := newTestInventory(t, inventoryCSVOptions+tc.extra, "testdata/inventory/assets.csv")

			result, err := src.Refresh(context.Background())
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}

			if got := result.Snapshots[0].Objects; got != tc.wantObjects {
				t.Errorf("objects = %d, want %d", got, tc.wantObjects)
			}
			if got := result.Snapshots[0].Noncompliant; got != tc.wantBad {
				t.Errorf("non-compliant = %d, want %d (%v)", got, tc.wantBad, objectReasons(result.Noncompliant))
			}
		})
	}
}

func TestInventoryRenamedColumns(t *testing.T) {
	assets := writeTestFile(t, "assets.csv", "Asset ID,Hostname,Tier,Team\nsrv-1,alpha,Tier 0,ops\nsrv-2,beta,Tier 1,ops\n")
	seen := writeTestFile(t, "seen.json", `[{"host": "srv-1", "ts": "2024-05-01T11:00:00Z"}]`)
	opts := fmt.Sprintf(`
columns: {id: Asset ID, name: Hostname, criticality: Tier, owner: Team}
criticalities: [tier 0]
freshness: 30m
last_seen:
  format: json
  paths: [%s]
  columns: {id: host, last_seen: ts}
`, seen)
	src, _ := newTestInventory(t, opts, assets)

	result, err := src.Refresh(context.Background())
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}

	want := Snapshot{SLI: slo.SLILogCoverage, Objects: 1, Noncompliant: 1}
	if result.Snapshots[0] != want {
		t.Errorf("snapshot = %+v, want %+v", result.Snapshots[0], want)
	}
	if len(result.Noncompliant) == 1 && result.Noncompliant[0].Name != "alpha" {
		t.Errorf("object name = %q, want alpha", result.Noncompliant[0].Name)
	}
}

func TestInventoryReadsSSMFixture(t *testing.T) {
	opts := `
last_seen:
  format: ssm
  paths: [testdata/inventory/ssm-instance-information.json]
`
	src, _ := newTestInventory(t, opts, "testdata/inventory/assets.csv")

	result, err := src.Refresh(context.Background())
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}

	want := Snapshot{SLI: slo.SLILogCoverage, Objects: 4, Noncompliant: 2}
	if result.Snapshots[0] != want {
		t.Errorf("snapshot = %+v, want %+v", result.Snapshots[0], want)
	}
	reasons := objectReasons(result.Noncompliant)
	wantReason := "last seen 2024-05-01T09:00:00Z, 3h before the refresh, outside the 1h freshness window; SSM PingStatus ConnectionLost; owner team-web"
	if reasons["i-0002"] != wantReason {
		t.Errorf("reason for i-0002 = %q, want %q", reasons["i-0002"], wantReason)
	}
	if reasons["i-0003"] != "never seen; owner team-data" {
		t.Errorf("reason for i-0003 = %q, want never seen", reasons["i-0003"])
	}
}

func TestInventoryReadsSSMSample(t *testing.T) {
	sample := filepath.Join(sharedSamples, "aws-ssm-describe-instance-information.json")
	if _, err := os.Stat(sample); err != nil {
		t.Skipf("shared sample %s not available (%v); the SSM reader is still covered by testdata/inventory", sample, err)
	}
	assets := writeTestFile(t, "assets.csv", "id,name,criticality\ni-028ea792daEXAMPLE,sles-1,critical\n")
	opts := fmt.Sprintf("last_seen: {format: ssm, paths: [%s]}", sample)

	// LastPingDateTime in the sample is 1582221233.421 (2020-02-20T17:53:53.421Z).
	lastPing := time.Unix(1582221233, 421e6)
	cases := []struct {
		name    string
		now     time.Time
		wantBad int
	}{
		{"ping 30 minutes ago is fresh", lastPing.Add(30 * time.Minute), 0},
		{"ping exactly 1h ago is fresh", lastPing.Add(time.Hour), 0},
		{"ping 2 hours ago is stale", lastPing.Add(2 * time.Hour), 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src, _ := newTestInventory(t, opts, assets)
			src.now = func() time.Time { return tc.now }

			result, err := src.Refresh(context.Background())
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}

			want := Snapshot{SLI: slo.SLILogCoverage, Objects: 1, Noncompliant: tc.wantBad}
			if result.Snapshots[0] != want {
				t.Errorf("snapshot = %+v, want %+v (%v)", result.Snapshots[0], want, objectReasons(result.Noncompliant))
			}
		})
	}
}

// prometheusVectorResponse is the body of a successful instant query whose
// result is a vector, as the Prometheus HTTP API writes it.
const prometheusVectorResponse = `{"status":"success","data":{"resultType":"vector","result":[
{"metric":{"__name__":"log_last_seen","asset":"i-0001","job":"shipper"},"value":[1714564800,"1714563000"]},
{"metric":{"__name__":"log_last_seen","asset":"i-0002","job":"shipper"},"value":[1714564800,"1714554000.5"]},
{"metric":{"__name__":"log_last_seen","asset":"i-0005","job":"shipper"},"value":[1714564800,"1714563900"]}
]}}`

// startPrometheusAPI serves /api/v1/query with body and status, and records
// the form of the last request.
func startPrometheusAPI(t *testing.T, status int, body string) (*httptest.Server, *http.Request) {
	t.Helper()
	var last http.Request
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/query" {
			http.NotFound(w, r)
			return
		}
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		last = *r
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(server.Close)
	return server, &last
}

func TestInventoryQueriesPrometheus(t *testing.T) {
	server, request := startPrometheusAPI(t, http.StatusOK, prometheusVectorResponse)
	src := newPrometheusInventory(t, server.URL)

	result, err := src.Refresh(context.Background())
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}

	if got := request.Form.Get("query"); got != "max by (asset) (log_last_seen)" {
		t.Errorf("query sent = %q, want the configured query", got)
	}
	if got := request.Form.Get("time"); got != "1714564800" {
		t.Errorf("evaluation time sent = %q, want the refresh time 1714564800", got)
	}
	want := Snapshot{SLI: slo.SLILogCoverage, Objects: 4, Noncompliant: 2}
	if result.Snapshots[0] != want {
		t.Errorf("snapshot = %+v, want %+v", result.Snapshots[0], want)
	}
	if result.RecordsRead != 8 {
		t.Errorf("records read = %d, want 8 (5 assets, 3 samples)", result.RecordsRead)
	}
	reasons := objectReasons(result.Noncompliant)
	if !strings.HasPrefix(reasons["i-0002"], "last seen 2024-05-01T09:00:00Z, 2h59m59s before the refresh") {
		t.Errorf("reason for i-0002 = %q, want last seen at 09:00:00.5", reasons["i-0002"])
	}
}

// TestInventoryQueriesRealPrometheus runs the query against Prometheus
// itself, which scrapes last-seen gauges from a local exporter.
func TestInventoryQueriesRealPrometheus(t *testing.T) {
	binary, err := exec.LookPath("prometheus")
	if err != nil || testing.Short() {
		t.Skip("prometheus binary not on PATH (Debian package prometheus) or -short set")
	}
	now := time.Now()
	exporter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "log_last_seen{asset=\"i-0001\"} %d\n", now.Add(-time.Minute).Unix())
		fmt.Fprintf(w, "log_last_seen{asset=\"i-0002\"} %d\n", now.Add(-3*time.Hour).Unix())
		fmt.Fprintf(w, "log_last_seen{asset=\"i-0005\"} %d\n", now.Add(-30*time.Second).Unix())
	}))
	t.Cleanup(exporter.Close)
	address := startPrometheus(t, binary, strings.TrimPrefix(exporter.URL, "http://"))

	src := newPrometheusInventory(t, "http://"+address)
	src.now = time.Now
	var result *Result
	deadline := time.Now().Add(30 * time.Second)
	for result == nil {
		result, err = src.Refresh(context.Background())
		if err != nil && time.Now().After(deadline) {
			t.Fatalf("no successful refresh within 30s; last error: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}

	want := Snapshot{SLI: slo.SLILogCoverage, Objects: 4, Noncompliant: 2}
	if result.Snapshots[0] != want {
		t.Errorf("snapshot = %+v, want %+v (%v)", result.Snapshots[0], want, objectReasons(result.Noncompliant))
	}
	reasons := objectReasons(result.Noncompliant)
	if !strings.Contains(reasons["i-0002"], "outside the 1h freshness window") {
		t.Errorf("reason for i-0002 = %q, want it stale", reasons["i-0002"])
	}
	if !strings.HasPrefix(reasons["i-0003"], "never seen") {
		t.Errorf("reason for i-0003 = %q, want never seen", reasons["i-0003"])
	}
}

// startPrometheus starts Prometheus on a free loopback port, scraping target
// every second, and stops it when the test ends. It returns host:port.
func startPrometheus(t *testing.T, binary, target string) string {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	address := listener.Addr().String()
	listener.Close()

	dir := t.TempDir()
	config := fmt.Sprintf("global: {scrape_interval: 1s}\nscrape_configs:\n  - job_name: shipper\n    static_configs: [{targets: ['%s']}]\n", target)
	configFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(configFile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(binary, "--config.file="+configFile, "--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+address)
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Start(); err != nil {
		t.Fatalf("failed to start prometheus: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus output:\n%s", output.String())
		}
	})
	return address
}

func TestInventoryPrometheusFailures(t *testing.T) {
	cases := []struct {
		name    string
		status  int
		body    string
		wantErr string
	}{
		{
			name:    "query rejected by Prometheus",
			status:  http.StatusBadRequest,
			body:    `{"status":"error","errorType":"bad_data","error":"1:8: parse error: unexpected end of input"}`,
			wantErr: "parse error: unexpected end of input",
		},
		{
			name:    "range vector result",
			status:  http.StatusOK,
			body:    `{"status":"success","data":{"resultType":"matrix","result":[]}}`,
			wantErr: "returned a matrix: expected an instant vector",
		},
		{
			name:    "empty result",
			status:  http.StatusOK,
			body:    `{"status":"success","data":{"resultType":"vector","result":[]}}`,
			wantErr: "returned no samples",
		},
		{
			name:    "samples without the id label",
			status:  http.StatusOK,
			body:    `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"instance":"i-0001"},"value":[1714564800,"1714563000"]}]}}`,
			wantErr: `has no label "asset": set options.last_seen.id_label`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			server, _ := startPrometheusAPI(t, tc.status, tc.body)
			src := newPrometheusInventory(t, server.URL)

			result, err := src.Refresh(context.Background())

			if err == nil {
				t.Fatalf("Refresh returned %+v, want an error containing %q", result.Snapshots, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error = %q, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestInventoryPrometheusUnreachable(t *testing.T) {
	server := httptest.NewServer(http.NotFoundHandler())
	url := server.URL
	server.Close()
	src := newPrometheusInventory(t, url)

	_, err := src.Refresh(context.Background())

	if err == nil || !strings.Contains(err.Error(), "at "+url+" failed") {
		t.Errorf("error = %v, want a failed query naming %s", err, url)
	}
}

// TestInventoryRejectsBadFiles changes the known-good CSV or JSON inputs one
// problem at a time; each problem fails the whole refresh.
func TestInventoryRejectsBadFiles(t *testing.T) {
	goodCSV := readFixture(t, "testdata/inventory/assets.csv")
	goodJSON := readFixture(t, "testdata/inventory/assets.json")
	cases := []struct {
		name    string
		file    string
		content string
		wantErr string
	}{
		{"truncated JSON", "assets.json", goodJSON[:len(goodJSON)/2], "assets.json:4:"},
		{"truncated JSON message", "assets.json", goodJSON[:len(goodJSON)/2], "invalid JSON: unexpected end of input: the file is truncated"},
		{"JSON array without its end", "assets.json", strings.TrimSuffix(strings.TrimSpace(goodJSON), "]"), "assets.json:7:1: invalid JSON: unexpected end of input: the file is truncated"},
		{"JSON array cut after a comma", "assets.json", `[{"id": "a", "criticality": "critical"},`, "assets.json:1:41: invalid JSON: unexpected end of input"},
		{"JSON object at top level", "assets.json", `{"assets": []}`, "assets.json:1:1: expected a JSON array of objects at the top level, found an object"},
		{"JSON syntax error", "assets.json", `[{"id": "a",}]`, "assets.json:1:13: invalid JSON: invalid character '}'"},
		{"empty CSV file", "assets.csv", "", "assets.csv: file is empty"},
		{"empty JSON file", "assets.json", "", "assets.json: file is empty"},
		{"whitespace-only JSON file", "assets.json", "\xef\xbb\xbf \r\n", "file is empty"},
		{"missing id column", "assets.csv", strings.Replace(goodCSV, "id,", "asset,", 1),
			`assets.csv:1: missing required column "id" (found "asset", "name", "criticality", "owner", "tags"): set options.columns.id to the column that contains the asset id`},
		{"missing criticality column", "assets.csv", strings.Replace(goodCSV, "criticality", "tier", 1),
			`missing required column "criticality" (found "id", "name", "tier", "owner", "tags"): set options.columns.criticality`},
		{"unclosed CSV quote", "assets.csv", goodCSV + "\"i-0009,x,critical,y,z\n", "assets.csv:7:"},
		{"unknown file extension", "assets.txt", goodCSV, "set options.format to csv or json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTestFile(t, tc.file, tc.content)
			src, _ := newTestInventory(t, inventoryCSVOptions, path)

			result, err := src.Refresh(context.Background())

			if err == nil {
				t.Fatalf("Refresh returned %+v, want an error containing %q", result.Snapshots, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error = %q, want it to contain %q", err, tc.wantErr)
			}
			var inputErr *InputError
			if tc.name != "unknown file extension" && !errors.As(err, &inputErr) {
				t.Errorf("error %v is not an InputError with a position", err)
			}
		})
	}
}

func TestInventoryMissingFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "absent.csv")
	src, _ := newTestInventory(t, inventoryCSVOptions, missing)

	_, err := src.Refresh(context.Background())

	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error = %v, want one that wraps fs.ErrNotExist", err)
	}
	if err != nil && !strings.Contains(err.Error(), "failed to open input: open "+missing) {
		t.Errorf("error = %q, want it to name %s", err, missing)
	}
}

func TestInventoryMissingLastSeenFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "ssm.json")
	src, _ := newTestInventory(t, "last_seen: {format: ssm, paths: ["+missing+"]}", "testdata/inventory/assets.csv")

	_, err := src.Refresh(context.Background())

	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error = %v, want one that wraps fs.ErrNotExist", err)
	}
}

func TestInventoryAcceptsBOMAndCRLF(t *testing.T) {
	goodCSV := readFixture(t, "testdata/inventory/assets.csv")
	goodJSON := readFixture(t, "testdata/inventory/assets.json")
	cases := []struct {
		name, file, content string
	}{
		{"CSV with byte-order mark", "assets.csv", "\xef\xbb\xbf" + goodCSV},
		{"CSV with CRLF lines", "assets.csv", strings.ReplaceAll(goodCSV, "\n", "\r\n")},
		{"CSV with both", "assets.csv", "\xef\xbb\xbf" + strings.ReplaceAll(goodCSV, "\n", "\r\n")},
		{"JSON with byte-order mark", "assets.json", "\xef\xbb\xbf" + goodJSON},
		{"JSON with CRLF lines", "assets.json", strings.ReplaceAll(goodJSON, "\n", "\r\n")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTestFile(t, tc.file, tc.content)
			src, _ := newTestInventory(t, inventoryCSVOptions, path)

			result, err := src.Refresh(context.Background())
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}

			want := Snapshot{SLI: slo.SLILogCoverage, Objects: 4, Noncompliant: 2}
			if result.Snapshots[0] != want {
				t.Errorf("snapshot = %+v, want %+v", result.Snapshots[0], want)
			}
			if result.RecordsRejected != 0 {
				t.Errorf("records rejected = %d, want 0", result.RecordsRejected)
			}
			if reason := objectReasons(result.Noncompliant)["i-0003"]; reason != "never seen; owner team-data" {
				t.Errorf("reason for i-0003 = %q: the owner column must read without a stray \\r", reason)
			}
		})
	}
}

// TestInventoryRejectsBadRecords changes one record of a known-good input;
// the record is rejected, counted and logged, and the refresh goes on.
func TestInventoryRejectsBadRecords(t *testing.T) {
	goodCSV := readFixture(t, "testdata/inventory/assets.csv")
	goodJSON := readFixture(t, "testdata/inventory/assets.json")
	goodSeen := readFixture(t, "testdata/inventory/last_seen.csv")
	cases := []struct {
		name      string
		assetFile string
		assets    string
		seen      string
		wantLog   string
		wantID    string
		wantWhy   string
	}{
		{
			name:      "duplicate asset id",
			assetFile: "assets.csv",
			assets:    goodCSV + "i-0001,web-1-copy,low,team-web,prod\n",
			seen:      goodSeen,
			wantLog:   `duplicate asset id \"i-0001\", first at`,
			wantID:    "i-0001",
			wantWhy:   "duplicate asset id in the asset list at ",
		},
		{
			name:      "unknown timestamp format",
			assetFile: "assets.csv",
			assets:    goodCSV,
			seen:      strings.Replace(goodSeen, "i-0001,2024-05-01T11:30:00Z", "i-0001,01/05/2024 11:30", 1),
			wantLog:   `invalid timestamp \"01/05/2024 11:30\": expected RFC 3339`,
			wantID:    "i-0001",
			wantWhy:   `no valid last-seen record: `,
		},
		{
			name:      "wrong type of id",
			assetFile: "assets.json",
			assets:    strings.Replace(goodJSON, `"id": "i-0004"`, `"id": {"value": "i-0004"}`, 1),
			seen:      goodSeen,
			wantLog:   `field \"id\": found an object, expected a string or a number`,
		},
		{
			name:      "array element that is not an object",
			assetFile: "assets.json",
			assets:    strings.Replace(goodJSON, `{"id": "i-0004", "name": "batch-1", "criticality": "high", "owner": "team-data"}`, `"i-0004"`, 1),
			seen:      goodSeen,
			wantLog:   "element is a JSON string, expected an object",
		},
		{
			name:      "JSON record without a criticality",
			assetFile: "assets.json",
			assets:    strings.Replace(goodJSON, `"criticality": "high", `, "", 1),
			seen:      goodSeen,
			wantLog:   `missing field \"criticality\" (found \"id\", \"name\", \"owner\"): set options.columns.criticality`,
		},
		{
			name:      "CSV row with a missing field",
			assetFile: "assets.csv",
			assets:    strings.Replace(goodCSV, "i-0004,batch-1,high,team-data,prod", "i-0004,batch-1,high", 1),
			seen:      goodSeen,
			wantLog:   "row has 3 fields, the header has 5",
		},
		{
			name:      "empty criticality",
			assetFile: "assets.csv",
			assets:    strings.Replace(goodCSV, "i-0004,batch-1,high", "i-0004,batch-1,", 1),
			seen:      goodSeen,
			wantLog:   `asset \"i-0004\" has an empty criticality`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assets := writeTestFile(t, tc.assetFile, tc.assets)
			seen := writeTestFile(t, "last_seen.csv", tc.seen)
			src, logs := newTestInventory(t, "last_seen: {format: csv, paths: ["+seen+"]}", assets)

			result, err := src.Refresh(context.Background())
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}

			if result.RecordsRejected != 1 {
				t.Errorf("records rejected = %d, want 1", result.RecordsRejected)
			}
			if !strings.Contains(logs.String(), tc.wantLog) {
				t.Errorf("log does not contain %q:\n%s", tc.wantLog, logs)
			}
			if !strings.Contains(logs.String(), "file="+filepath.Dir(assets)) && !strings.Contains(logs.String(), "file="+filepath.Dir(seen)) {
				t.Errorf("log does not name the file:\n%s", logs)
			}
			if tc.wantID == "" {
				return
			}
			if reason := objectReasons(result.Noncompliant)[tc.wantID]; !strings.HasPrefix(reason, tc.wantWhy) {
				t.Errorf("reason for %s = %q, want it to start with %q", tc.wantID, reason, tc.wantWhy)
			}
		})
	}
}

func TestInventoryDuplicateKeepsScope(t *testing.T) {
	assets := writeTestFile(t, "assets.csv", "id,criticality\na,low\nb,critical\na,critical\n")
	seen := writeTestFile(t, "seen.csv", "id,last_seen\na,2024-05-01T11:59:00Z\nb,2024-05-01T11:59:00Z\n")
	src, _ := newTestInventory(t, "last_seen: {format: csv, paths: ["+seen+"]}", assets)

	result, err := src.Refresh(context.Background())
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}

	want := Snapshot{SLI: slo.SLILogCoverage, Objects: 2, Noncompliant: 1}
	if result.Snapshots[0] != want {
		t.Errorf("snapshot = %+v, want %+v: a duplicate in scope once counts in scope and out of compliance", result.Snapshots[0], want)
	}
	wantReason := fmt.Sprintf("duplicate asset id in the asset list at %s:2, %s:4", assets, assets)
	if reason := objectReasons(result.Noncompliant)["a"]; reason != wantReason {
		t.Errorf("reason = %q, want %q", reason, wantReason)
	}
}

func TestInventoryDuplicateAcrossFiles(t *testing.T) {
	first := writeTestFile(t, "first.csv", "id,criticality\na,critical\n")
	second := writeTestFile(t, "second.json", `[{"id": "b", "criticality": "critical"}, {"id": "a", "criticality": "critical"}]`)
	seen := writeTestFile(t, "seen.csv", "id,last_seen\na,2024-05-01T11:59:00Z\nb,2024-05-01T11:59:00Z\n")
	src, logs := newTestInventory(t, "last_seen: {format: csv, paths: ["+seen+"]}", first, second)

	result, err := src.Refresh(context.Background())
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}

	if result.Snapshots[0].Noncompliant != 1 {
		t.Errorf("non-compliant = %d, want 1", result.Snapshots[0].Noncompliant)
	}
	if want := "first at " + first + ":2"; !strings.Contains(logs.String(), want) {
		t.Errorf("log does not contain %q:\n%s", want, logs)
	}
}

func TestInventoryFailsWhenEveryRecordIsRejected(t *testing.T) {
	seen := writeTestFile(t, "seen.csv", "id,last_seen\ni-0001,yesterday\ni-0002,today\n")
	src, _ := newTestInventory(t, "last_seen: {format: csv, paths: ["+seen+"]}", "testdata/inventory/assets.csv")

	_, err := src.Refresh(context.Background())

	want := "every record of " + seen + ` was rejected (2), so the file is not in the expected format; first problem: ` + seen + `:2: asset "i-0001": invalid timestamp "yesterday"`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error = %v, want it to contain %q", err, want)
	}
}

func TestInventoryRejectsBadSSMFiles(t *testing.T) {
	good := readFixture(t, "testdata/inventory/ssm-instance-information.json")
	cases := []struct {
		name        string
		content     string
		wantErr     string
		wantReject  int
		wantLogPart string
	}{
		{name: "truncated export", content: good[:len(good)-40], wantErr: "invalid JSON: unexpected end of input: the file is truncated"},
		{name: "export truncated after the list", content: `{"InstanceInformationList": [{"InstanceId": "i-0001", "LastPingDateTime": 1714563000}], "NextToken": `,
			wantErr: "ssm.json:1:102: invalid JSON: unexpected end of input: the file is truncated"},
		{name: "export cut before the list", content: `{"NextToken": null, `, wantErr: "ssm.json:1:21: invalid JSON: unexpected end of input"},
		{name: "missing instance list", content: `{"NextToken": null}`, wantErr: `ssm.json:1: missing member "InstanceInformationList" in the top-level object`},
		{name: "array at the top level", content: `[]`, wantErr: `expected a JSON object with the member "InstanceInformationList", found an array`},
		{name: "instance list of the wrong type", content: `{"InstanceInformationList": {}}`, wantErr: `expected "InstanceInformationList" to be an array, found an object`},
		{name: "empty file", content: "", wantErr: "file is empty"},
		{
			name:        "ping time of the wrong type",
			content:     strings.Replace(good, `"LastPingDateTime": 1714563000.125`, `"LastPingDateTime": true`, 1),
			wantReject:  1,
			wantLogPart: "found a boolean, expected a string or a number",
		},
		{
			name:        "instance id of the wrong type",
			content:     strings.Replace(good, `"InstanceId": "i-0001"`, `"InstanceId": 17`, 1),
			wantReject:  1,
			wantLogPart: `field \"InstanceId\" is a JSON number, expected a string`,
		},
		{
			name:        "unknown ping time format",
			content:     strings.Replace(good, `"2024-05-01T09:00:00.000+00:00"`, `"Wed May  1 09:00:00 2024"`, 1),
			wantReject:  1,
			wantLogPart: `LastPingDateTime: invalid timestamp \"Wed May  1 09:00:00 2024\"`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTestFile(t, "ssm.json", tc.content)
			src, logs := newTestInventory(t, "last_seen: {format: ssm, paths: ["+path+"]}", "testdata/inventory/assets.csv")

			result, err := src.Refresh(context.Background())

			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			if result.RecordsRejected != tc.wantReject {
				t.Errorf("records rejected = %d, want %d", result.RecordsRejected, tc.wantReject)
			}
			if !strings.Contains(logs.String(), tc.wantLogPart) {
				t.Errorf("log does not contain %q:\n%s", tc.wantLogPart, logs)
			}
		})
	}
}

func TestNewInventoryRejectsBadOptions(t *testing.T) {
	cases := []struct {
		name    string
		opts    string
		paths   []string
		wantErr string
	}{
		{"no asset files", inventoryCSVOptions, nil, "paths is empty: list the asset files"},
		{"no last-seen format", "freshness: 1h", []string{"a.csv"}, "options.last_seen.format is missing: set it to ssm, csv, json or prometheus"},
		{"unknown last-seen format", "last_seen: {format: wazuh}", []string{"a.csv"}, `invalid options.last_seen.format "wazuh"`},
		{"last-seen files missing", "last_seen: {format: ssm}", []string{"a.csv"}, "options.last_seen.paths is empty: list the ssm files"},
		{"prometheus without a query", "last_seen: {format: prometheus, id_label: asset}", []string{"a.csv"}, "the prometheus last-seen format needs the source's url (the Prometheus server) and options.last_seen.query and id_label"},
		{"query given to a file format", "last_seen: {format: csv, paths: [s.csv], query: up}", []string{"a.csv"}, "apply only to the prometheus last-seen format, not csv"},
		{"unknown option", inventoryCSVOptions + "freshnes: 2h", []string{"a.csv"}, "field freshnes not found"},
		{"invalid freshness", inventoryCSVOptions + "freshness: 1 hour", []string{"a.csv"}, `unknown unit " hour" in duration "1 hour"`},
		{"zero freshness", inventoryCSVOptions + "freshness: 0s", []string{"a.csv"}, "invalid options.freshness 0s"},
		{"empty scope", inventoryCSVOptions + "criticalities: []", []string{"a.csv"}, "options.criticalities is empty"},
		{"unknown asset format", inventoryCSVOptions + "format: xlsx", []string{"a.csv"}, `invalid options.format "xlsx"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logger, _ := listTestLogger()

			_, err := NewInventory(listTestConfig(t, "inventory", tc.opts, tc.paths...), logger)

			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestInventoryStopsOnCanceledContext(t *testing.T) {
	var rows strings.Builder
	rows.WriteString("id,criticality\n")
	for i := range tableCancelInterval + 10 {
		fmt.Fprintf(&rows, "a-%d,critical\n", i)
	}
	assets := writeTestFile(t, "assets.csv", rows.String())
	src, _ := newTestInventory(t, inventoryCSVOptions, assets)
	server, _ := startPrometheusAPI(t, http.StatusOK, prometheusVectorResponse)
	prom := newPrometheusInventory(t, server.URL)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	if _, err := src.Refresh(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("file refresh error = %v, want context.Canceled", err)
	}
	if _, err := prom.Refresh(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("prometheus refresh error = %v, want context.Canceled", err)
	}
}

// FuzzInventoryAssetsCSV feeds arbitrary bytes to the CSV asset reader: it
// must return an error or a count, never panic, and never count more
// rejections than records.
func FuzzInventoryAssetsCSV(f *testing.F) {
	f.Add([]byte(readFixture(f, "testdata/inventory/assets.csv")))
	f.Add([]byte("\xef\xbb\xbfid,criticality\r\na,critical\r\na,critical\r\n"))
	f.Add([]byte("id,criticality\n\"a\nb\",x\n"))
	f.Add([]byte(""))
	fuzzInventoryAssets(f, "assets.csv")
}

// FuzzInventoryAssetsJSON does the same for JSON asset lists.
func FuzzInventoryAssetsJSON(f *testing.F) {
	f.Add([]byte(readFixture(f, "testdata/inventory/assets.json")))
	f.Add([]byte(`[{"id": 1, "criticality": "critical"}, "x", null, {"id": {}}]`))
	f.Add([]byte(`{"a": [`))
	f.Add([]byte("\xef\xbb\xbf[]"))
	fuzzInventoryAssets(f, "assets.json")
}

func fuzzInventoryAssets(f *testing.F, name string) {
	dir := f.TempDir()
	seen := filepath.Join(dir, "seen.csv")
	if err := os.WriteFile(seen, []byte("id,last_seen\na,2024-05-01T11:00:00Z\n"), 0o600); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		src, _ := newTestInventory(t, "last_seen: {format: csv, paths: ["+seen+"]}", path)

		result, err := src.Refresh(context.Background())
		if err != nil {
			return
		}
		if result.RecordsRejected > result.RecordsRead {
			t.Errorf("rejected %d of %d records", result.RecordsRejected, result.RecordsRead)
		}
		if s := result.Snapshots[0]; s.Noncompliant > s.Objects || s.Noncompliant != len(result.Noncompliant) {
			t.Errorf("snapshot %+v does not match %d listed objects", s, len(result.Noncompliant))
		}
	})
}

// FuzzInventoryLastSeenSSM feeds arbitrary bytes to the SSM
// describe-instance-information reader.
func FuzzInventoryLastSeenSSM(f *testing.F) {
	f.Add([]byte(readFixture(f, "testdata/inventory/ssm-instance-information.json")))
	f.Add([]byte(`{"InstanceInformationList": [{"InstanceId": "i-0001", "LastPingDateTime": 1e300}], "x": {`))
	f.Add([]byte(`{"InstanceInformationList": [{"InstanceId": "i-0001", "LastPingDateTime": "-1"}]}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "ssm.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		src, _ := newTestInventory(t, "last_seen: {format: ssm, paths: ["+path+"]}", "testdata/inventory/assets.csv")

		result, err := src.Refresh(context.Background())
		if err != nil {
			return
		}
		if result.Snapshots[0].Objects != 4 {
			t.Errorf("objects = %d, want the 4 critical assets whatever the SSM file holds", result.Snapshots[0].Objects)
		}
	})
}

// FuzzInventoryLastSeenCSV feeds arbitrary bytes to the last-seen list reader.
func FuzzInventoryLastSeenCSV(f *testing.F) {
	f.Add([]byte(readFixture(f, "testdata/inventory/last_seen.csv")))
	f.Add([]byte("id,last_seen\ni-0001,1e400\ni-0002,NaN\ni-0003,-5\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "seen.csv")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		src, _ := newTestInventory(t, "last_seen: {format: csv, paths: ["+path+"]}", "testdata/inventory/assets.csv")

		result, err := src.Refresh(context.Background())
		if err != nil {
			return
		}
		if result.Snapshots[0].Objects != 4 {
			t.Errorf("objects = %d, want the 4 critical assets whatever the last-seen file holds", result.Snapshots[0].Objects)
		}
	})
}

// BenchmarkInventoryRefreshMillion measures one refresh of a 1,000,000-asset
// CSV inventory, every asset in scope, joined with 1,000,000 last-seen rows
// of which every 20th is stale. "first" builds a new source per refresh, so
// its tables start empty; "repeat" refreshes one source, as serve does.
func BenchmarkInventoryRefreshMillion(b *testing.B) {
	const assets = 1_000_000
	dir := b.TempDir()
	assetFile := filepath.Join(dir, "assets.csv")
	seenFile := filepath.Join(dir, "last_seen.csv")
	writeBenchmarkFile(b, assetFile, "id,name,criticality,owner,tags\n", assets, func(w *bufio.Writer, i int) {
		fmt.Fprintf(w, "i-%012d,host-%d.example.internal,critical,team-%d,prod;linux\n", i, i, i%50)
	})
	writeBenchmarkFile(b, seenFile, "id,last_seen\n", assets, func(w *bufio.Writer, i int) {
		at := inventoryTestNow.Add(-time.Duration(i%60) * time.Second)
		if i%20 == 0 {
			at = inventoryTestNow.Add(-2 * time.Hour)
		}
		fmt.Fprintf(w, "i-%012d,%s\n", i, at.Format(time.RFC3339))
	})
	opts := "last_seen: {format: csv, paths: [" + seenFile + "]}"

	refresh := func(b *testing.B, src *inventory) {
		result, err := src.Refresh(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if s := result.Snapshots[0]; s.Objects != assets || s.Noncompliant != assets/20 {
			b.Fatalf("snapshot = %+v, want %d objects and %d non-compliant", s, assets, assets/20)
		}
	}
	b.Run("first", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			src, _ := newTestInventory(b, opts, assetFile)
			refresh(b, src)
		}
	})
	b.Run("repeat", func(b *testing.B) {
		src, _ := newTestInventory(b, opts, assetFile)
		refresh(b, src)
		b.ReportAllocs()
		for b.Loop() {
			refresh(b, src)
		}
	})
}

func writeBenchmarkFile(b *testing.B, path, header string, rows int, writeRow func(*bufio.Writer, int)) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString(header)
	for i := range rows {
		writeRow(w, i)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

func TestInventoryRejectsFileCutMidRow(t *testing.T) {
	assets := writeTestFile(t, "assets.csv", "id,criticality,owner\na,critical,ops\nb,critical,ops\nc,crit")
	lastSeen := writeTestFile(t, "last_seen.csv", "id,last_seen\na,2099-01-01T00:00:00Z\n")
	src, _ := newTestInventory(t, "last_seen:\n  format: csv\n  paths: ["+lastSeen+"]\n", assets)

	_, err := src.Refresh(context.Background())

	if err == nil || !strings.Contains(err.Error(), "assets.csv:4: the last row is incomplete") {
		t.Fatalf("got %v, want the cut-off file rejected at line 4", err)
	}
}

func TestInventoryAcceptsLastRowWithoutLineBreak(t *testing.T) {
	assets := writeTestFile(t, "assets.csv", "id,criticality\na,critical\nb,critical")
	lastSeen := writeTestFile(t, "last_seen.csv", "id,last_seen\na,2099-01-01T00:00:00Z\n")
	src, _ := newTestInventory(t, "last_seen:\n  format: csv\n  paths: ["+lastSeen+"]\n", assets)

	result, err := src.Refresh(context.Background())

	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if got := result.Snapshots[0].Objects; got != 2 {
		t.Errorf("objects: got %d, want 2", got)
	}
}
