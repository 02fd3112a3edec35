package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/secslo/secslo/slo"
)

// exampleConfig is the config that the README's first command serves.
const exampleConfig = "../../examples/secslo.yaml"

// exampleSources lists every source of the example config.
var exampleSources = []string{
	"inventory", "patches", "aws_iam", "kubernetes_rbac", "prowler", "control_register",
	"incidents", "restores", "vulnerabilities", "findings", "access_reviews",
}

// snapshotWant is what one source reports for one snapshot SLI, and which
// objects it lists as out of compliance.
type snapshotWant struct {
	source       string
	sli          string
	objects      float64
	noncompliant []string // ids on /api/v1/sources/<source>/noncompliant
}

// exampleSnapshots are the values that the example data was written to
// give. They do not depend on the day the test runs: fresh last-seen times
// and Prowler scan times lie in 2099, which the adapters count as fresh,
// stale ones lie in 2026, and patch ages are durations, not dates. The
// control register cannot be written that way and is checked apart.
var exampleSnapshots = []snapshotWant{
	{"inventory", "log_coverage", 73, []string{
		"i-02305abb901f453aa", // auth-api-prod-01, last seen 2026-11-21
		"rds-keycloak-prod",   // last seen 2026-10-30
		"alb-auth-prod",       // never seen
	}},
	{"patches", "patch_compliance", 119, []string{
		"i-04965d2dbe70f80eb", // critical, 12d missing, SLA 7d
		"i-0d575bdc9051bbfb5", // critical, 9d
		"i-0553fa5099446b86e", // critical, 23d
		"i-0998e37046b505e73", // high, 45d, SLA 30d
		"i-040b5443eb13cdd40", // high, 38d
	}},
	{"aws_iam", "privilege_drift", 36, []string{
		"arn:aws:iam::111122223333:role/analytics-notebook",
		"arn:aws:iam::111122223333:role/ci-image-builder",
		"arn:aws:iam::111122223333:role/legacy-etl-runner",
		"arn:aws:iam::111122223333:role/support-portal-backend",
	}},
	{"kubernetes_rbac", "privilege_drift", 17, []string{
		"ClusterRole/cluster-admin",
		"ClusterRole/legacy-dashboard",
		"Role/ci/ci-runner",
		"Role/payments/payments-debug",
	}},
	{"prowler", "evidence_automation", 15, []string{"A.5.23", "A.8.13", "A.8.21"}},
	// The open critical findings of the latest scans. Each was first seen
	// at least a week before the last scan of 2026-11-30, so all are past
	// the 7-day SLA for good.
	{"vulnerabilities", "vuln_remediation", 4, []string{
		trivyImage + "checkout-api:production|" + trivyImage + "checkout-api:production (debian 12.7)|zlib1g|CVE-2023-45853",
		trivyImage + "payments-worker:production|" + trivyImage + "payments-worker:production (debian 12.7)|zlib1g|CVE-2023-45853",
		trivyImage + "storefront-web:production|Node.js|json-schema|app/node_modules/json-schema/package.json|CVE-2021-3918",
		trivyImage + "storefront-web:production|Node.js|jsonpath-plus|app/node_modules/jsonpath-plus/package.json|CVE-2024-21534",
	}},
}

// trivyImage is the registry path of the example's scanned images.
const trivyImage = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/shop/"

// eventWant is what one event source counts for one event SLI.
type eventWant struct {
	source, sli string
	total, bad  float64
}

// exampleEvents are the counters that the example data was written to give
// on a fresh ledger. Every event closed between 2026-09-02 and 2026-12-02.
// Open incidents and restore jobs count nothing, and every open finding
// and review is already past its deadline, so the counts hold until the
// ledger's 400-day retention starts to skip the oldest events, on
// eventsStableUntil.
var exampleEvents = []eventWant{
	// 84 incidents: 4 with an unknown first activity give no detection
	// event, and 6 were detected after 15 minutes.
	{"incidents", "detection_time", 80, 6},
	// One incident is not contained yet, and 5 took longer than 4 hours.
	{"incidents", "containment_time", 83, 5},
	// 13 weekly restore tests of 4 resources: 2 failed, 1 was aborted.
	{"restores", "restore_tests", 52, 3},
	// 12 critical findings fixed: 9 within 7 days by a rebuild, and 3
	// that later weekly scans no longer listed after 14 or 21 days.
	{"vulnerabilities", "vuln_remediation", 12, 3},
	// 17 major and minor findings (3 observations are out of scope): 3
	// closed after 90 days and 2 still open past their deadline.
	{"findings", "finding_closure", 17, 5},
	// 19 reviews: 3 completed after their due time, 1 never completed.
	{"access_reviews", "access_reviews", 19, 4},
}

// eventsStableUntil is 400 days after the earliest event end of the data, a
// restore test of 2026-09-02, less a day. From then on a fresh ledger skips
// the oldest events, so the counts can only fall.
var eventsStableUntil = time.Date(2027, 10, 6, 0, 0, 0, 0, time.UTC)

// The control register has 89 applicable controls. 76 are out of
// compliance: 74 manual, A.8.13 whose evidence stopped in August and
// A.8.32 with no evidence yet. The 13 automated controls with evidence of
// 2026-12-04 turn stale when their 30-day freshness runs out, between
// registerFirstExpiry and registerLastExpiry, because the adapter rejects
// evidence times in the future and so the file cannot stay fresh for good.
const (
	registerObjects           = 89
	registerNoncompliantFresh = 76
	registerNoncompliantStale = 89
)

var (
	registerFirstExpiry = time.Date(2027, 1, 3, 1, 17, 0, 0, time.UTC)
	registerLastExpiry  = time.Date(2027, 1, 3, 6, 42, 0, 0, time.UTC)
)

func TestExampleValidates(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), []string{"validate", "--config.file=" + exampleConfig}, &stdout, &stderr)

	if code != exitOK {
		t.Fatalf("validate exited with %d, want %d; stderr:\n%s", code, exitOK, stderr.String())
	}
	if want := "12 SLO(s) valid."; !strings.Contains(stdout.String(), want) {
		t.Errorf("validate output does not contain %q:\n%s", want, stdout.String())
	}
}

func TestExampleRulesPassPromtool(t *testing.T) {
	promtool := requirePromtool(t)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), []string{"generate", "--config.file=" + exampleConfig, "--output.dir=" + out}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("generate exited with %d, want %d; stderr:\n%s", code, exitOK, stderr.String())
	}

	ruleFiles := globFiles(t, filepath.Join(out, "rules", "*.yml"))
	testFiles := globFiles(t, filepath.Join(out, "tests", "*.yml"))
	// Three spec files give three rule files; every SLO but the Sloth one
	// with a raw error ratio query gets a test.
	if len(ruleFiles) != 3 {
		t.Errorf("generate wrote %d rule files, want 3: %v", len(ruleFiles), ruleFiles)
	}
	if len(testFiles) != 11 {
		t.Errorf("generate wrote %d test files, want 11: %v", len(testFiles), testFiles)
	}

	// Each promtool run takes seconds, so the runs go in parallel subtests.
	for _, file := range ruleFiles {
		t.Run("check "+filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			runPromtool(t, promtool, out, "check", "rules", file)
		})
	}
	for _, file := range testFiles {
		t.Run("test "+filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			runPromtool(t, promtool, out, "test", "rules", file)
		})
	}
}

func TestExampleServe(t *testing.T) {
	// A fresh ledger per run, so that the counters are those of the data
	// alone, and so that the test writes nothing into the package folder.
	ledger := filepath.Join(t.TempDir(), "secslo-ledger.db")
	addr := startServeWith(t, "--config.file="+exampleConfig, "--ledger.path="+ledger, "--storage.path="+t.TempDir())
	families := scrapeMetrics(t, addr)

	// validate and the engine tell a misspelt secslo_ metric from a served
	// one by the list in slo, which must name every served family.
	for name := range families {
		if strings.HasPrefix(name, slo.Namespace+"_") && !slo.IsExporterMetric(name) {
			t.Errorf("serve serves %s, which slo.IsExporterMetric does not know; add it to the exporter's metrics in slo/conventions.go", name)
		}
	}
	for _, source := range exampleSources {
		if got := gaugeValue(families, "secslo_source_up", map[string]string{"source": source}); got != 1 {
			t.Errorf("secslo_source_up{source=%q} = %v, want 1", source, got)
		}
		if got := gaugeValue(families, "secslo_source_records_rejected", map[string]string{"source": source}); got != 0 {
			t.Errorf("secslo_source_records_rejected{source=%q} = %v, want 0", source, got)
		}
	}
	for _, want := range exampleSnapshots {
		labels := map[string]string{"source": want.source, "sli": want.sli}
		if got := gaugeValue(families, "secslo_sli_objects", labels); got != want.objects {
			t.Errorf("%s = %v, want %v", series("secslo_sli_objects", labels), got, want.objects)
		}
		if got := gaugeValue(families, "secslo_sli_noncompliant_objects", labels); got != float64(len(want.noncompliant)) {
			t.Errorf("%s = %v, want %d", series("secslo_sli_noncompliant_objects", labels), got, len(want.noncompliant))
		}
		if got := noncompliantIDs(t, addr, want.source); !slices.Equal(got, sorted(want.noncompliant)) {
			t.Errorf("noncompliant objects of %s = %v, want %v", want.source, got, sorted(want.noncompliant))
		}
	}
	checkControlRegister(t, families, time.Now())
	checkEventCounters(t, families, time.Now())
}

// checkControlRegister checks the control register's values, which depend
// on the day: exact before and after the expiry window, a range within it.
func checkControlRegister(t *testing.T, families map[string]*dto.MetricFamily, now time.Time) {
	t.Helper()
	labels := map[string]string{"source": "control_register", "sli": "evidence_automation"}
	if got := gaugeValue(families, "secslo_sli_objects", labels); got != registerObjects {
		t.Errorf("%s = %v, want %d", series("secslo_sli_objects", labels), got, registerObjects)
	}

	name := series("secslo_sli_noncompliant_objects", labels)
	got := gaugeValue(families, "secslo_sli_noncompliant_objects", labels)
	switch {
	case now.Before(registerFirstExpiry):
		if got != registerNoncompliantFresh {
			t.Errorf("%s = %v, want %d before %s", name, got, registerNoncompliantFresh, registerFirstExpiry.Format(time.RFC3339))
		}
	case now.After(registerLastExpiry):
		if got != registerNoncompliantStale {
			t.Errorf("%s = %v, want %d after %s", name, got, registerNoncompliantStale, registerLastExpiry.Format(time.RFC3339))
		}
	default:
		if got < registerNoncompliantFresh || got > registerNoncompliantStale {
			t.Errorf("%s = %v, want between %d and %d", name, got, registerNoncompliantFresh, registerNoncompliantStale)
		}
	}
}

// checkEventCounters checks the event counters of each event source: exact
// until eventsStableUntil, and at most the written counts after it.
func checkEventCounters(t *testing.T, families map[string]*dto.MetricFamily, now time.Time) {
	t.Helper()
	for _, want := range exampleEvents {
		labels := map[string]string{"source": want.source, "sli": want.sli}
		counts := []struct {
			name string
			want float64
		}{
			{"secslo_sli_events_total", want.total},
			{"secslo_sli_bad_events_total", want.bad},
		}
		for _, c := range counts {
			got := counterValue(families, c.name, labels)
			switch {
			case got < 0:
				t.Errorf("%s is missing from /metrics", series(c.name, labels))
			case now.Before(eventsStableUntil) && got != c.want:
				t.Errorf("%s = %v, want %v", series(c.name, labels), got, c.want)
			case !now.Before(eventsStableUntil) && got > c.want:
				t.Errorf("%s = %v, want at most %v after %s", series(c.name, labels), got, c.want, eventsStableUntil.Format(time.DateOnly))
			}
		}
	}
}

// counterValue returns the value of the counter series of name whose labels
// include labels, or -1 when there is no such series.
func counterValue(families map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	family, ok := families[name]
	if !ok {
		return -1
	}
	for _, m := range family.GetMetric() {
		if hasLabels(m, labels) {
			return m.GetCounter().GetValue()
		}
	}
	return -1
}

// requirePromtool returns the path of promtool, or skips the test when it
// is missing, unless SECSLO_REQUIRE_TOOLS=1 makes that a failure.
func requirePromtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err == nil {
		return path
	}
	if os.Getenv("SECSLO_REQUIRE_TOOLS") == "1" {
		t.Fatal("promtool not found on PATH and SECSLO_REQUIRE_TOOLS=1: install Debian's prometheus package")
	}
	t.Skip("promtool not found on PATH: install Debian's prometheus package to run this test")
	return ""
}

// runPromtool runs promtool with args in dir and fails the test with
// promtool's output when promtool fails.
func runPromtool(t *testing.T, promtool, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command(promtool, args...)
	cmd.Dir = dir
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool %s failed: %v\n%s", strings.Join(args, " "), err, output)
	}
}

func globFiles(t *testing.T, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// pollReady polls /-/ready every 100ms until it returns 200. It fails when
// the timeout passes first or Run returns before the server is ready.
func pollReady(addr string, timeout time.Duration, exit <-chan int) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case code := <-exit:
			return fmt.Errorf("serve exited with %d before /-/ready returned 200", code)
		default:
		}
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("/-/ready did not return 200 within %s", timeout)
}

// scrapeMetrics fetches /metrics and parses it with the Prometheus text
// parser, so that values are compared as numbers, not as substrings.
func scrapeMetrics(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("failed to scrape /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics returned %s", resp.Status)
	}

	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("failed to parse /metrics: %v", err)
	}
	return families
}

// gaugeValue returns the value of the gauge series of name whose labels
// include labels, or -1, which no count can be, when there is no such series.
func gaugeValue(families map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	family, ok := families[name]
	if !ok {
		return -1
	}
	for _, m := range family.GetMetric() {
		if hasLabels(m, labels) {
			return m.GetGauge().GetValue()
		}
	}
	return -1
}

// series formats a metric name and labels as PromQL writes a selector.
func series(name string, labels map[string]string) string {
	pairs := make([]string, 0, len(labels))
	for k, v := range labels {
		pairs = append(pairs, fmt.Sprintf("%s=%q", k, v))
	}
	slices.Sort(pairs)
	return name + "{" + strings.Join(pairs, ",") + "}"
}

func hasLabels(m *dto.Metric, labels map[string]string) bool {
	matched := 0
	for _, pair := range m.GetLabel() {
		if want, ok := labels[pair.GetName()]; ok {
			if pair.GetValue() != want {
				return false
			}
			matched++
		}
	}
	return matched == len(labels)
}

// noncompliantIDs returns the sorted ids of the objects that the triage
// endpoint lists for source.
func noncompliantIDs(t *testing.T, addr, source string) []string {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://%s/api/v1/sources/%s/noncompliant", addr, source))
	if err != nil {
		t.Fatalf("failed to fetch the noncompliant objects of %s: %v", source, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/sources/%s/noncompliant returned %s", source, resp.Status)
	}

	var body struct {
		Objects []struct {
			ID string `json:"id"`
		} `json:"objects"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("failed to decode the noncompliant objects of %s: %v", source, err)
	}
	ids := make([]string, len(body.Objects))
	for i, o := range body.Objects {
		ids[i] = o.ID
	}
	return sorted(ids)
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
