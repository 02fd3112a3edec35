package sources

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/secslo/secslo/slo"
)

const (
	prowlerOutputFixture  = "testdata/prowler/output.ocsf.json"
	prowlerMappingFixture = "testdata/prowler/iso27001_2022_example.json"
)

// prowlerSampleNow lies one day after the Kubernetes sample scan of
// 2025-02-14T14:27:38Z, so the sample is fresh under the default 7d.
var prowlerSampleNow = time.Date(2025, 2, 15, 12, 0, 0, 0, time.UTC)

func newTestProwler(t *testing.T, paths []string, options string, now time.Time) (Source, *evidenceLog) {
	t.Helper()
	return evidenceTestSource(t, NewProwler, "prowler", paths, options, now)
}

// evidencedControls returns the ids in scope that are compliant, sorted.
func evidencedControls(res *Result, scope []string) []string {
	reasons := evidenceReasons(res)
	var good []string
	for _, id := range scope {
		if _, bad := reasons[id]; !bad {
			good = append(good, id)
		}
	}
	sort.Strings(good)
	return good
}

func TestProwlerKubernetesSample(t *testing.T) {
	output := evidenceSample(t, "prowler-example_output_kubernetes.ocsf.json")
	mapping := evidenceSample(t, "prowler-iso27001_2022_kubernetes.json")
	src, logs := newTestProwler(t, []string{output, mapping}, "", prowlerSampleNow)
	res := refreshEvidence(t, src)

	checkEvidenceSnapshot(t, res, 22, 22-11)
	if res.RecordsRead != 6+92 || res.RecordsRejected != 0 {
		t.Errorf("read %d, rejected %d; want 6 findings plus 92 requirements and none rejected (logs: %s)", res.RecordsRead, res.RecordsRejected, logs)
	}
	checkReasonContains(t, evidenceReasons(res), "A.8.5", "none of its 12 mapped checks appears in the OCSF output")

	// With every Annex A control in scope, the evidenced ones are exactly
	// those missing from the non-compliant list.
	src, _ = newTestProwler(t, []string{output, mapping}, "scope: all", prowlerSampleNow)
	res = refreshEvidence(t, src)
	checkEvidenceSnapshot(t, res, 93, 93-11)
	got := evidencedControls(res, annexAIDs())
	want := []string{"A.5.1", "A.5.15", "A.5.18", "A.8.10", "A.8.12", "A.8.13", "A.8.15", "A.8.2", "A.8.20", "A.8.21", "A.8.22"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("evidenced controls = %v, want %v", got, want)
	}
}

func annexAIDs() []string {
	var ids []string
	for _, ctrl := range slo.AnnexAControls() {
		ids = append(ids, ctrl.ID)
	}
	return ids
}

func TestProwlerKubernetesSampleWhenStale(t *testing.T) {
	output := evidenceSample(t, "prowler-example_output_kubernetes.ocsf.json")
	mapping := evidenceSample(t, "prowler-iso27001_2022_kubernetes.json")
	src, _ := newTestProwler(t, []string{output, mapping}, "", time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC))
	res := refreshEvidence(t, src)

	checkEvidenceSnapshot(t, res, 22, 22)
	checkReasonContains(t, evidenceReasons(res), "A.8.15", "newest finding of its")
	checkReasonContains(t, evidenceReasons(res), "A.8.15", "is from 2025-02-14T13:27:38Z, older than 1w; failing checks: apiserver_audit_log_maxage_set, apiserver_audit_log_maxbackup_set, apiserver_audit_log_maxsize_set and 1 more")
}

func TestProwlerSampleMappingsCountControls(t *testing.T) {
	tests := []struct {
		sample string
		mapped int
	}{
		{"prowler-iso27001_2022_aws.json", 37},
		{"prowler-iso27001_2022_kubernetes.json", 22},
	}
	for _, tt := range tests {
		t.Run(tt.sample, func(t *testing.T) {
			mapping := evidenceSample(t, tt.sample)
			empty := writeEvidenceFile(t, t.TempDir(), "empty.ocsf.json", "[]")

			src, _ := newTestProwler(t, []string{empty, mapping}, "", prowlerSampleNow)
			checkEvidenceSnapshot(t, refreshEvidence(t, src), tt.mapped, tt.mapped)

			src, _ = newTestProwler(t, []string{empty, mapping}, "scope: all", prowlerSampleNow)
			res := refreshEvidence(t, src)
			checkEvidenceSnapshot(t, res, 93, 93)
			// Prowler's mappings list 92 controls: A.8.28 is missing.
			checkReasonContains(t, evidenceReasons(res), "A.8.28", "not in the Prowler compliance mappings")
		})
	}
}

func TestProwlerBothSampleMappingsJoin(t *testing.T) {
	output := evidenceSample(t, "prowler-example_output_kubernetes.ocsf.json")
	aws := evidenceSample(t, "prowler-iso27001_2022_aws.json")
	kubernetes := evidenceSample(t, "prowler-iso27001_2022_kubernetes.json")
	src, _ := newTestProwler(t, []string{aws, output, kubernetes}, "", prowlerSampleNow)
	res := refreshEvidence(t, src)

	// The union of mapped controls is at least the larger list; the
	// Kubernetes output still evidences its 11 controls.
	snap := res.Snapshots[0]
	if snap.Objects < 37 || snap.Objects-snap.Noncompliant != 11 {
		t.Errorf("objects %d, evidenced %d; want at least 37 objects and 11 evidenced", snap.Objects, snap.Objects-snap.Noncompliant)
	}
}

func TestProwlerFixtures(t *testing.T) {
	src, logs := newTestProwler(t, []string{prowlerOutputFixture, prowlerMappingFixture}, "", evidenceTestNow)
	res := refreshEvidence(t, src)

	// A.7.1 has no check and stays out of scope by default.
	checkEvidenceSnapshot(t, res, 5, 3)
	if res.RecordsRead != 6+6 || res.RecordsRejected != 0 {
		t.Errorf("read %d, rejected %d; want 12 and 0 (logs: %s)", res.RecordsRead, res.RecordsRejected, logs)
	}
	reasons := evidenceReasons(res)
	for _, id := range []string{"A.5.1", "A.5.15"} {
		if reason, bad := reasons[id]; bad {
			t.Errorf("%s is non-compliant (%s), want evidenced", id, reason)
		}
	}
	checkReasonContains(t, reasons, "A.8.15", "newest finding of its 2 mapped checks is from 2025-05-01T00:00:00Z, older than 1w")
	checkReasonContains(t, reasons, "A.8.24", "older than 1w; failing checks: kms_cmk_rotation_enabled")
	checkReasonContains(t, reasons, "A.8.16", "its mapped checks report only MANUAL in the OCSF output (securityhub_enabled)")
}

func TestProwlerOptions(t *testing.T) {
	tests := []struct {
		name         string
		options      string
		objects, bad int
	}{
		{"freshness of 31d makes the May scans fresh", "freshness: 31d", 5, 1},
		{"freshness of 1h leaves no control fresh", "freshness: 1h", 5, 5},
		{"scope all counts every Annex A control", "scope: all", 93, 91},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, _ := newTestProwler(t, []string{prowlerOutputFixture, prowlerMappingFixture}, tt.options, evidenceTestNow)
			res := refreshEvidence(t, src)
			checkEvidenceSnapshot(t, res, tt.objects, tt.bad)
		})
	}
}

func TestProwlerRejectedFindings(t *testing.T) {
	tests := []struct {
		name    string
		finding string
		log     string
	}{
		{"missing event code", `{"metadata": {}, "status_code": "PASS", "time": 1748649600}`, "output.ocsf.json:3:3: finding without metadata.event_code"},
		{"status code of the wrong type", `{"metadata": {"event_code": "iam_root_mfa_enabled"}, "status_code": 1, "time": 1748649600}`, "output.ocsf.json:3:3: field status_code is a JSON number; expected a string"},
		{"event code of the wrong type", `{"metadata": {"event_code": ["x"]}, "status_code": "PASS", "time": 1}`, "field metadata.event_code is a JSON array; expected a string"},
		{"time as a string", `{"metadata": {"event_code": "iam_root_mfa_enabled"}, "status_code": "PASS", "time": "1748649600"}`, "field time is a JSON string; expected a number"},
		{"unknown status code", `{"metadata": {"event_code": "iam_root_mfa_enabled"}, "status_code": "MUTED", "time": 1748649600}`, `finding of check iam_root_mfa_enabled has status_code "MUTED"; expected PASS, FAIL or MANUAL`},
		{"unknown timestamp format", `{"metadata": {"event_code": "iam_root_mfa_enabled"}, "status_code": "PASS", "time_dt": "31.05.2025 10:00"}`, `invalid time_dt: invalid timestamp "31.05.2025 10:00"`},
		{"negative epoch time", `{"metadata": {"event_code": "iam_root_mfa_enabled"}, "status_code": "PASS", "time": -5}`, `invalid time: invalid timestamp "-5"`},
		{"no time at all", `{"metadata": {"event_code": "iam_root_mfa_enabled"}, "status_code": "PASS"}`, "missing time and time_dt"},
		{"a finding that is a string", `"PASS"`, "output.ocsf.json:3:3: field record is a JSON string; expected an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			good := `{"metadata": {"event_code": "iam_password_policy_minimum_length_14"}, "status_code": "FAIL", "time": 1748649600}`
			path := writeEvidenceFile(t, t.TempDir(), "output.ocsf.json", "[\n  "+good+",\n  "+tt.finding+"\n]\n")
			src, logs := newTestProwler(t, []string{path, prowlerMappingFixture}, "", evidenceTestNow)
			res := refreshEvidence(t, src)

			if res.RecordsRejected != 1 {
				t.Errorf("rejected = %d, want 1", res.RecordsRejected)
			}
			if !strings.Contains(logs.String(), tt.log) {
				t.Errorf("log does not contain %q:\n%s", tt.log, logs)
			}
			// Only A.5.1 is evidenced, by the good finding.
			checkEvidenceSnapshot(t, res, 5, 4)
		})
	}
}

func TestProwlerRejectedRequirement(t *testing.T) {
	mapping := `{"Framework": "ISO27001", "Version": "2022", "Requirements": [
  {"Id": "A.5.1", "Checks": ["iam_password_policy_minimum_length_14"]},
  {"Id": "5.15", "Checks": ["iam_root_mfa_enabled"]},
  {"Id": "A.8.15", "Checks": "cloudtrail_multi_region_enabled"}
]}`
	path := writeEvidenceFile(t, t.TempDir(), "mapping.json", mapping)
	src, logs := newTestProwler(t, []string{prowlerOutputFixture, path}, "", evidenceTestNow)
	res := refreshEvidence(t, src)

	checkEvidenceSnapshot(t, res, 1, 0)
	if res.RecordsRejected != 2 {
		t.Errorf("rejected = %d, want 2", res.RecordsRejected)
	}
	for _, want := range []string{
		`mapping.json:3:3: requirement: unknown Annex A control "5.15"; did you mean "A.5.15"?`,
		"mapping.json:4:3: field Checks is a JSON string; expected an array",
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log does not contain %q:\n%s", want, logs)
		}
	}
}

func TestProwlerAcceptsBOMAndCRLF(t *testing.T) {
	want := refreshEvidence(t, mustProwler(t, prowlerOutputFixture, prowlerMappingFixture))
	dir := t.TempDir()
	output := writeEvidenceFile(t, dir, "output.ocsf.json", "\uFEFF"+strings.ReplaceAll(readEvidenceFixture(t, prowlerOutputFixture), "\n", "\r\n"))
	mapping := writeEvidenceFile(t, dir, "mapping.json", "\uFEFF"+strings.ReplaceAll(readEvidenceFixture(t, prowlerMappingFixture), "\n", "\r\n"))
	got := refreshEvidence(t, mustProwler(t, output, mapping))

	if !reflect.DeepEqual(got.Snapshots, want.Snapshots) || !reflect.DeepEqual(evidenceReasons(got), evidenceReasons(want)) {
		t.Errorf("got %+v %v, want %+v %v", got.Snapshots, evidenceReasons(got), want.Snapshots, evidenceReasons(want))
	}
}

func mustProwler(t *testing.T, paths ...string) Source {
	t.Helper()
	src, _ := newTestProwler(t, paths, "", evidenceTestNow)
	return src
}

func TestProwlerFileErrors(t *testing.T) {
	output := readEvidenceFixture(t, prowlerOutputFixture)
	tests := []struct {
		name    string
		output  string
		mapping string
		want    string
	}{
		{"truncated output", output[:len(output)/2], "", "output.ocsf.json:14:3: truncated JSON: the file ends inside the value that starts here"},
		{"output cut after a finding", "[{\"metadata\": {\"event_code\": \"x\"}, \"status_code\": \"PASS\", \"time\": 1},\n", "", "truncated JSON"},
		{"invalid JSON inside a finding", "[\n{\"metadata\": {\"event_code\": \"x\"} \"status_code\": \"PASS\"}\n]", "", "output.ocsf.json:2:34: invalid JSON: invalid character '\"' after object key:value pair"},
		{"empty output", "", "", "output.ocsf.json: empty file"},
		{"output of white space", " \r\n\t", "", "output.ocsf.json: empty file"},
		{"output that is a string", `"findings"`, "", "output.ocsf.json:1:1: not a Prowler file: expected a JSON array of OCSF findings"},
		{"two documents in one output", "[]\n[]", "", "output.ocsf.json:2:1: unexpected data after the end of the JSON document"},
		{"mapping of another framework", "", `{"Framework": "CIS", "Version": "1.10", "Requirements": []}`, `compliance mapping is Framework "CIS" Version "1.10"; use Prowler's ISO27001 2022 mapping`},
		{"mapping with a numeric version", "", `{"Framework": "ISO27001", "Version": 2022, "Requirements": []}`, "mapping.json:1:38: field Version is not a string"},
		{"mapping with requirements as an object", "", `{"Framework": "ISO27001", "Version": "2022", "Requirements": {}}`, "mapping.json:1:62: Requirements is an object; expected an array"},
		{"mapping with a duplicate requirement", "", "{\"Framework\": \"ISO27001\", \"Version\": \"2022\", \"Requirements\": [\n{\"Id\": \"A.5.1\", \"Checks\": [\"a\"]},\n{\"Id\": \"A.5.1\", \"Checks\": [\"b\"]}]}", `mapping.json:3:1: requirement "A.5.1" is listed twice`},
		{"output whose every finding is rejected", `[{"event_code": "x", "status_code": "PASS"}]`, "", "output.ocsf.json: every one of the 1 findings was rejected"},
		{"mapping whose every requirement is rejected", "", `{"Framework": "ISO27001", "Version": "2022", "Requirements": [{"Id": "CC6.1", "Checks": ["a"]}]}`, `mapping.json: every one of the 1 requirements was rejected, so the file is not in the expected format; the first: `},
		{"truncated mapping", "", `{"Framework": "ISO27001", "Version": "2022", "Requirements": [{"Id": "A.5.1", "Che`, "mapping.json:1:63: truncated JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			outputPath, mappingPath := prowlerOutputFixture, prowlerMappingFixture
			if tt.output != "" || tt.mapping == "" {
				outputPath = writeEvidenceFile(t, dir, "output.ocsf.json", tt.output)
			}
			if tt.mapping != "" {
				mappingPath = writeEvidenceFile(t, dir, "mapping.json", tt.mapping)
			}
			src, _ := newTestProwler(t, []string{outputPath, mappingPath}, "", evidenceTestNow)
			res, err := src.Refresh(context.Background())

			if err == nil {
				t.Fatalf("Refresh returned %+v, want an error containing %q", res, tt.want)
			}
			var inputErr *InputError
			if !errors.As(err, &inputErr) {
				t.Errorf("error %v is not an *InputError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestProwlerMissingInputs(t *testing.T) {
	absent := filepath.Join(t.TempDir(), "absent.ocsf.json")
	tests := []struct {
		name  string
		paths []string
		want  string
	}{
		{"missing file", []string{absent, prowlerMappingFixture}, "absent.ocsf.json: no such file"},
		{"no mapping among paths", []string{prowlerOutputFixture}, "no Prowler compliance mapping among paths"},
		{"no output among paths", []string{prowlerMappingFixture}, "no Prowler OCSF output among paths"},
		{"mapping without checks", []string{prowlerOutputFixture, writeEvidenceFile(t, t.TempDir(), "m.json", `{"Framework": "ISO27001", "Version": "2022", "Requirements": [{"Id": "A.5.1", "Checks": []}]}`)}, "the compliance mappings map no Annex A control to a check"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, _ := newTestProwler(t, tt.paths, "", evidenceTestNow)
			_, err := src.Refresh(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}

	src, _ := newTestProwler(t, []string{absent, prowlerMappingFixture}, "", evidenceTestNow)
	if _, err := src.Refresh(context.Background()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error = %v, want fs.ErrNotExist", err)
	}
}

func TestNewProwlerRejectsOptions(t *testing.T) {
	tests := []struct {
		name    string
		options string
		want    string
	}{
		{"unknown scope", "scope: listed", `invalid options.scope "listed"; use "mapped" or "all"`},
		{"zero freshness", "freshness: 0s", "invalid options.freshness 0s"},
		{"unknown option", "mapping: x.json", "field mapping not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Name: "p", Type: "prowler", Paths: []string{prowlerOutputFixture}}
			cfg.Options = evidenceOptionsNode(t, tt.options)
			_, err := NewProwler(cfg, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func FuzzProwlerOutput(f *testing.F) {
	f.Add([]byte(readEvidenceFixtureForFuzz(f, prowlerOutputFixture)))
	f.Add([]byte(`[{"metadata":{"event_code":"kms_cmk_rotation_enabled"},"status_code":"FAIL","time":1e300}]`))
	f.Add([]byte("\uFEFF[{\"metadata\":null,\"time_dt\":\"\"},1,[],{}]"))
	fuzzEvidenceSource(f, NewProwler, "prowler", "output.ocsf.json", prowlerMappingFixture)
}

func FuzzProwlerMapping(f *testing.F) {
	f.Add([]byte(readEvidenceFixtureForFuzz(f, prowlerMappingFixture)))
	f.Add([]byte(`{"Framework":"ISO27001","Version":"2022","Requirements":[{"Id":"A.8.28","Checks":null},{"Id":"","Checks":[""]}]}`))
	fuzzEvidenceSource(f, NewProwler, "prowler", "mapping.json", prowlerOutputFixture)
}

// BenchmarkProwlerRefresh measures one refresh over a generated OCSF output
// of 100,000 findings, about the size of a scan of a large AWS organization,
// joined with the test mapping.
func BenchmarkProwlerRefresh(b *testing.B) {
	const findings = 100_000
	checks := []string{"iam_password_policy_minimum_length_14", "iam_root_mfa_enabled", "cloudtrail_multi_region_enabled", "kms_cmk_rotation_enabled", "s3_bucket_public_access"}
	var out strings.Builder
	out.WriteString("[\n")
	for i := range findings {
		if i > 0 {
			out.WriteString(",\n")
		}
		fmt.Fprintf(&out, `{"message": "finding %d", "metadata": {"event_code": %q, "product": {"name": "Prowler", "version": "5.4.0"}}, "severity": "Medium", "status_code": "FAIL", "time": %d, "time_dt": "2025-05-31T00:00:00", "resources": [{"uid": "arn:aws:s3:::bucket-%d", "region": "eu-west-1"}]}`,
			i, checks[i%len(checks)], 1748649600+i%3600, i)
	}
	out.WriteString("\n]\n")
	path := filepath.Join(b.TempDir(), "large.ocsf.json")
	if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
		b.Fatal(err)
	}

	src, err := NewProwler(Config{Name: "bench", Type: "prowler", Paths: []string{path, prowlerMappingFixture}}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	src.(*prowler).now = func() time.Time { return evidenceTestNow }
	b.SetBytes(int64(out.Len()))
	b.ReportAllocs()
	for b.Loop() {
		res, err := src.Refresh(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if res.RecordsRead != findings+6 {
			b.Fatalf("read %d records, want %d", res.RecordsRead, findings+6)
		}
	}
}

func TestProwlerRefreshStopsWhenCancelled(t *testing.T) {
	var out strings.Builder
	out.WriteString("[")
	for i := range 2 * prowlerCancelCheckInterval {
		if i > 0 {
			out.WriteString(",")
		}
		out.WriteString(`{"metadata": {"event_code": "iam_root_mfa_enabled"}, "status_code": "PASS", "time": 1748649600}`)
	}
	out.WriteString("]")
	path := writeEvidenceFile(t, t.TempDir(), "large.ocsf.json", out.String())
	src, _ := newTestProwler(t, []string{prowlerMappingFixture, path}, "", evidenceTestNow)

	// The context passes the two checks before each file and is cancelled
	// by the time the output is half read.
	ctx := &cancelAfterContext{Context: context.Background(), allowed: 2}
	if _, err := src.Refresh(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
	if ctx.calls != 3 {
		t.Errorf("Err called %d times, want 3: once per file and once inside the output", ctx.calls)
	}
}

// cancelAfterContext reports no error from its first allowed calls of Err
// and context.Canceled after them.
type cancelAfterContext struct {
	context.Context
	allowed int
	calls   int
}

func (c *cancelAfterContext) Err() error {
	c.calls++
	if c.calls > c.allowed {
		return context.Canceled
	}
	return nil
}
