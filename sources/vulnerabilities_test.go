package sources

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secslo/secslo/slo"
)

// vulnTestDay1 is the scan time of the first Trivy fixture.
var vulnTestDay1 = time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)

// readSample returns a shared sample, or skips the test when the samples
// folder is absent.
func readSample(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(sharedSamples, name))
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("sample %s not found in %s; the shared samples folder is not checked out", name, sharedSamples)
	}
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// vulnSeverityCounts counts the findings of a report by severity.
func vulnSeverityCounts(report *vulnReport) map[string]int {
	counts := map[string]int{}
	for _, scan := range report.scans {
		for _, f := range scan.findings {
			counts[f.severity]++
		}
	}
	return counts
}

func TestVulnReportReadsTrivySample(t *testing.T) {
	report, err := parseVulnReport("trivy.json", readSample(t, "defectdojo-trivy-scheme_2_many_vulns.json"))
	if err != nil {
		t.Fatal(err)
	}

	if report.format != vulnFormatTrivy {
		t.Errorf("format = %q, want trivy", report.format)
	}
	got := vulnSeverityCounts(report)
	want := map[string]int{"critical": 1, "high": 1, "medium": 3}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("severities = %v, want %v", got, want)
	}
	if len(report.scans) != 1 || report.scans[0].target != "teamdojo:latest" {
		t.Fatalf("scans = %+v, want one scan of teamdojo:latest", report.scans)
	}
	if !report.scans[0].scannedAt.IsZero() {
		t.Errorf("scan time = %s, want none: the sample has no CreatedAt", report.scans[0].scannedAt)
	}
	if len(report.rejected) != 0 {
		t.Errorf("rejected = %v, want none", report.rejected)
	}
}

func TestVulnReportReadsGrypeSample(t *testing.T) {
	report, err := parseVulnReport("grype.json", readSample(t, "defectdojo-grype-fix_available.json"))
	if err != nil {
		t.Fatal(err)
	}

	if report.format != vulnFormatGrype {
		t.Errorf("format = %q, want grype", report.format)
	}
	if got := vulnSeverityCounts(report); fmt.Sprint(got) != "map[high:1]" {
		t.Errorf("severities = %v, want one high", got)
	}
	scan := report.scans[0]
	wantTime := time.Date(2024, 4, 10, 11, 5, 22, 636338786, time.UTC)
	if !scan.scannedAt.Equal(wantTime) {
		t.Errorf("scan time = %s, want %s from descriptor.timestamp", scan.scannedAt, wantTime)
	}
	if scan.findings[0].vulnID != "CVE-2009-3882" || scan.findings[0].id != "java|/opt/java/openjdk/bin/java|CVE-2009-3882" {
		t.Errorf("finding = %+v, want CVE-2009-3882 of java at /opt/java/openjdk/bin/java", scan.findings[0])
	}
}

func TestVulnReportReadsSARIF(t *testing.T) {
	data, err := os.ReadFile("testdata/vulnerabilities/codeql.sarif")
	if err != nil {
		t.Fatal(err)
	}
	report, err := parseVulnReport("codeql.sarif", data)
	if err != nil {
		t.Fatal(err)
	}

	scan := report.scans[0]
	if scan.target != "shop-api/codeql/" || !scan.scannedAt.Equal(vulnTestDay1) {
		t.Errorf("scan = %q at %s, want shop-api/codeql/ at %s", scan.target, scan.scannedAt, vulnTestDay1)
	}
	want := []string{
		"java/sql-injection|primaryLocationLineHash=3f2a9c1e:1 high",
		"java/unsafe-deserialization|src/main/java/shop/CartCodec.java:17 critical",
		"java/unused-variable|src/main/java/shop/Util.java:5 note",
	}
	var got []string
	for _, f := range scan.findings {
		got = append(got, f.id+" "+f.severity)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant (pass and absent results skipped):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSARIFScoreSeverity(t *testing.T) {
	cases := []struct {
		score, want string
	}{
		{"10", "critical"}, {"9.0", "critical"}, {"8.9", "high"}, {"7.0", "high"},
		{"6.9", "medium"}, {"4.0", "medium"}, {"3.9", "low"}, {"0.1", "low"}, {"0", "none"},
	}
	for _, tc := range cases {
		got, err := sarifScoreSeverity(tc.score)
		if err != nil || got != tc.want {
			t.Errorf("sarifScoreSeverity(%q) = %q, %v; want %q", tc.score, got, err, tc.want)
		}
	}
	if _, err := sarifScoreSeverity("11"); err == nil || !strings.Contains(err.Error(), `invalid security-severity "11"`) {
		t.Errorf("score 11: err = %v, want invalid security-severity", err)
	}
}

// vulnTrivyDoc returns a minimal Trivy report that lists the given
// vulnerability objects, with CreatedAt when createdAt is not empty.
func vulnTrivyDoc(createdAt string, vulns ...string) string {
	created := ""
	if createdAt != "" {
		created = fmt.Sprintf(`"CreatedAt": %q,`, createdAt)
	}
	return fmt.Sprintf(`{"SchemaVersion": 2, %s "ArtifactName": "img:1",
 "Results": [{"Target": "img:1 (debian 12)", "Vulnerabilities": [%s]}]}`, created, strings.Join(vulns, ",\n"))
}

func TestVulnReportRejectsBadInput(t *testing.T) {
	good := `{"VulnerabilityID": "CVE-1", "PkgName": "a", "Severity": "CRITICAL"}`
	cases := []struct {
		name string
		doc  string
		// wantErr is a fragment of the file-level error; empty means the
		// file is read.
		wantErr string
		// wantRejects are fragments of the rejected records' messages.
		wantRejects []string
		incomplete  bool
	}{
		{name: "empty file", doc: "", wantErr: "empty.json: file is empty: expected a JSON document"},
		{name: "blank file with BOM", doc: "\xEF\xBB\xBF \n", wantErr: "file is empty"},
		{name: "truncated JSON", doc: vulnTrivyDoc("2024-05-01T08:00:00Z", good)[:60], wantErr: "invalid JSON: unexpected end of input: the file is truncated"},
		{name: "syntax error at its line", doc: "{\n\"SchemaVersion\": 2,\n\"Results\": [}\n", wantErr: "bad.json:3:13: invalid JSON: invalid character '}'"},
		{name: "array at top level", doc: `[1]`, wantErr: "the document is an array, expected an object"},
		{name: "no scanner members", doc: `{"issues": []}`, wantErr: "not a scanner report"},
		{name: "trivy schema 1", doc: `{"SchemaVersion": 1, "Results": []}`, wantErr: "unsupported Trivy SchemaVersion 1: expected 2"},
		{name: "schema version as string", doc: `{"SchemaVersion": "2", "Results": []}`, wantErr: `member "SchemaVersion" is a JSON string, expected a number`},
		{name: "mixed formats", doc: `{"SchemaVersion": 2, "matches": []}`, wantErr: "mixes trivy and grype members"},
		{name: "unknown scan time", doc: vulnTrivyDoc("yesterday", good), wantErr: `member "CreatedAt": invalid timestamp "yesterday"`},
		{name: "data after the document", doc: vulnTrivyDoc("", good) + " {}", wantErr: "unexpected data after the end of the JSON document"},
		{name: "sarif version 2.0", doc: `{"version": "2.0.0", "runs": []}`, wantErr: `unsupported SARIF version "2.0.0": expected "2.1.0"`},
		{name: "grype target of wrong type", doc: `{"matches": [], "source": {"target": 5}}`, wantErr: `member "source.target" is neither a string nor an object`},
		{
			name: "severity of wrong type", doc: vulnTrivyDoc("", good, `{"VulnerabilityID": "CVE-2", "PkgName": "b", "Severity": 9}`),
			wantRejects: []string{`field "Severity" is a JSON number, expected a string`}, incomplete: true,
		},
		{
			name: "missing vulnerability id", doc: vulnTrivyDoc("", good, `{"PkgName": "b", "Severity": "HIGH"}`),
			wantRejects: []string{`vulnerability of package "b" in "img:1 (debian 12)" has no VulnerabilityID`}, incomplete: true,
		},
		{
			name: "duplicate finding", doc: vulnTrivyDoc("", good, good),
			wantRejects: []string{`duplicate finding "img:1 (debian 12)|a|CVE-1" of target "img:1", first at line 2`},
		},
		{
			name: "grype match without id", doc: `{"matches": [{"vulnerability": {"severity": "High"}, "artifact": {"name": "java"}}, {"vulnerability": {"id": "CVE-9"}}]}`,
			wantRejects: []string{`match of package "java" has no vulnerability.id`}, incomplete: true,
		},
		{
			name: "sarif result without rule", doc: `{"version": "2.1.0", "runs": [{"results": [{"message": {"text": "x"}}, {"ruleId": "r1"}]}]}`,
			wantRejects: []string{"result names no rule: set ruleId, rule.id or ruleIndex"}, incomplete: true,
		},
		{
			name: "sarif severity of wrong type", doc: `{"version": "2.1.0", "runs": [{"results": [{"ruleId": "r0", "properties": {"security-severity": {}}}, {"ruleId": "r1"}]}]}`,
			wantRejects: []string{"found an object, expected a string or a number"}, incomplete: true,
		},
		{
			name: "NUL in an id", doc: vulnTrivyDoc("", good, `{"VulnerabilityID": "CVE-\u0000", "PkgName": "b"}`),
			wantRejects: []string{"contains a NUL character, which the ledger cannot store"}, incomplete: true,
		},
		{name: "BOM and CRLF", doc: "\xEF\xBB\xBF" + strings.ReplaceAll(vulnTrivyDoc("2024-05-01T08:00:00Z", good), "\n", "\r\n")},
		{name: "clean target with null vulnerabilities", doc: `{"SchemaVersion": 2, "ArtifactName": "img", "Results": [{"Target": "t", "Vulnerabilities": null}]}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := "bad.json"
			if tc.doc == "" {
				file = "empty.json"
			}
			report, err := parseVulnReport(file, []byte(tc.doc))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				var inputErr *InputError
				if !errors.As(err, &inputErr) {
					t.Errorf("err is a %T, want an *InputError", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v, want none", err)
			}

			if len(report.rejected) != len(tc.wantRejects) {
				t.Fatalf("rejected = %v, want %d", report.rejected, len(tc.wantRejects))
			}
			for i, fragment := range tc.wantRejects {
				if !strings.Contains(report.rejected[i].err.Error(), fragment) {
					t.Errorf("rejected[%d] = %v, want it to contain %q", i, report.rejected[i].err, fragment)
				}
			}
			if report.scans[0].incomplete != tc.incomplete {
				t.Errorf("incomplete = %v, want %v", report.scans[0].incomplete, tc.incomplete)
			}
		})
	}
}

// newTestVulnerabilities builds a vulnerabilities source at a fixed clock.
func newTestVulnerabilities(t testing.TB, opts string, now time.Time, paths ...string) (*vulnerabilities, *bytes.Buffer) {
	t.Helper()
	logger, logs := listTestLogger()
	src, err := NewVulnerabilities(listTestConfig(t, "vulnerabilities", opts, paths...), logger)
	if err != nil {
		t.Fatalf("NewVulnerabilities: %v", err)
	}
	v := src.(*vulnerabilities)
	v.now = func() time.Time { return now }
	return v, logs
}

func TestVulnerabilitiesScanTimeFallback(t *testing.T) {
	data := readSample(t, "defectdojo-trivy-scheme_2_many_vulns.json")
	file := filepath.Join(t.TempDir(), "trivy.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	if err := os.Chtimes(file, mtime, mtime); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name, opts, wantTime, wantFrom string
	}{
		{"file modification time", "", "2024-06-01T12:00:00Z", `from="file modification time"`},
		{"scan_time option", "scan_time: 2024-06-02T00:00:00Z", "2024-06-02T00:00:00Z", "from=options.scan_time"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src, logs := newTestVulnerabilities(t, tc.opts, mtime, file)
			result, err := src.Refresh(context.Background())
			if err != nil {
				t.Fatal(err)
			}

			if len(result.Scans) != 1 || result.Scans[0].At.Format(time.RFC3339) != tc.wantTime {
				t.Fatalf("scans = %+v, want one at %s", result.Scans, tc.wantTime)
			}
			if got := len(result.Scans[0].Open); got != 1 {
				t.Errorf("open critical findings = %d, want 1", got)
			}
			if !strings.Contains(logs.String(), "scanner report states no scan time") || !strings.Contains(logs.String(), tc.wantFrom) {
				t.Errorf("log = %s, want the fallback with %s", logs, tc.wantFrom)
			}

			logs.Reset()
			if _, err := src.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(logs.String(), "states no scan time") {
				t.Errorf("second refresh logged the fallback again: %s", logs)
			}
		})
	}
}

func TestVulnerabilitiesSLAOptions(t *testing.T) {
	src, _ := newTestVulnerabilities(t, "sla: {CRITICAL: 7d, high: 30d, medium: 90d}", vulnTestDay1, "testdata/vulnerabilities/trivy-day1.json")
	result, err := src.Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	got := map[string]string{}
	for _, s := range result.Scans {
		got[s.Scope] = fmt.Sprintf("%s %d", s.Bound, len(s.Open))
	}
	want := map[string]string{
		"registry.example.com/shop/api:1.4|critical": "168h0m0s 2",
		"registry.example.com/shop/api:1.4|high":     "720h0m0s 1",
		"registry.example.com/shop/api:1.4|medium":   "2160h0m0s 1",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("scans = %v, want %v", got, want)
	}
}

func TestNewVulnerabilitiesRejectsBadOptions(t *testing.T) {
	cases := []struct {
		name, opts, want string
	}{
		{"unknown option", "slas: {critical: 7d}", "field slas not found"},
		{"empty SLA map", "sla: {}", "options.sla is empty"},
		{"zero SLA", "sla: {critical: 0s}", "invalid options.sla.critical 0s: expected a positive duration"},
		{"SLA key twice", "sla: {critical: 7d, CRITICAL: 3d}", `options.sla lists severity "critical" twice`},
		{"bad scan time", "scan_time: soon", `invalid options.scan_time: invalid timestamp "soon"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewVulnerabilities(listTestConfig(t, "vulnerabilities", tc.opts, "x.json"), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	if _, err := NewVulnerabilities(listTestConfig(t, "vulnerabilities", ""), nil); err == nil || !strings.Contains(err.Error(), "paths is empty") {
		t.Errorf("no paths: err = %v, want paths is empty", err)
	}
}

func TestVulnerabilitiesFailsOnBadFiles(t *testing.T) {
	dir := t.TempDir()
	allRejected := filepath.Join(dir, "rejected.json")
	if err := os.WriteFile(allRejected, []byte(vulnTrivyDoc("", `{"PkgName": "a"}`)), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, path, want string
	}{
		{"missing file", filepath.Join(dir, "absent.json"), "failed to read scanner report: open " + filepath.Join(dir, "absent.json")},
		{"every finding rejected", allRejected, "every finding of " + allRejected + " was rejected (1)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src, _ := newTestVulnerabilities(t, "", vulnTestDay1, tc.path)
			if _, err := src.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// openVulnTestLedger opens a ledger in a test folder.
func openVulnTestLedger(t testing.TB, path string) *Ledger {
	t.Helper()
	ledger, err := OpenLedger(path, LedgerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ledger
}

// vulnCounts returns the vuln_remediation counters of source as "total bad".
func vulnCounts(ledger *Ledger, source, sli string) string {
	for _, c := range ledger.Counts(source) {
		if c.SLI == sli {
			return fmt.Sprintf("%d %d", c.Total, c.Bad)
		}
	}
	return "none"
}

func TestVulnerabilitiesSuccessiveScans(t *testing.T) {
	dir := t.TempDir()
	report := filepath.Join(dir, "trivy.json")
	ledgerPath := filepath.Join(dir, "ledger.db")
	ledger := openVulnTestLedger(t, ledgerPath)

	// Each step writes the next report to the same path, as a CI job does,
	// refreshes and commits. Day 1 lists criticals A and B; day 4 lacks A,
	// fixed within 7 days; day 11 lacks B, fixed after 10 days.
	steps := []struct {
		fixture   string
		restart   bool
		want      string
		wantFixed int
	}{
		{"trivy-day1.json", false, "0 0", 0},
		{"trivy-day4.json", false, "1 0", 1},
		{"trivy-day4.json", true, "1 0", 0},
		{"trivy-day11.json", false, "2 1", 1},
		{"trivy-day11.json", true, "2 1", 0},
	}
	for i, step := range steps {
		if step.restart {
			if err := ledger.Close(); err != nil {
				t.Fatal(err)
			}
			ledger = openVulnTestLedger(t, ledgerPath)
		}
		data, err := os.ReadFile(filepath.Join("testdata/vulnerabilities", step.fixture))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(report, data, 0o600); err != nil {
			t.Fatal(err)
		}

		src, _ := newTestVulnerabilities(t, "", vulnTestDay1.AddDate(0, 0, 12), report)
		result, err := src.Refresh(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		stats, err := ledger.Commit("vulns", result.Events, result.Scans, vulnTestDay1.AddDate(0, 0, 12))
		if err != nil {
			t.Fatal(err)
		}
		if got := vulnCounts(ledger, "vulns", slo.SLIVulnRemediation); got != step.want {
			t.Errorf("step %d (%s): total and bad = %s, want %s", i, step.fixture, got, step.want)
		}
		if stats.Counted != step.wantFixed {
			t.Errorf("step %d (%s): counted %d fixes, want %d", i, step.fixture, stats.Counted, step.wantFixed)
		}
	}

	// A was open from day 1 to day 4 and B from day 1 to day 11: the
	// durations are 3 and 10 days from first seen to fixed.
	counts := ledger.Counts("vulns")
	if len(counts) != 1 || counts[0].Sum != (3+10)*86400 {
		t.Errorf("counters = %+v, want a duration sum of 13 days in seconds", counts)
	}
	ledger.Close()
}

func TestVulnerabilitiesPastSLASnapshot(t *testing.T) {
	day8 := vulnTestDay1.Add(8 * 24 * time.Hour)
	src, _ := newTestVulnerabilities(t, "sla: {critical: 7d, high: 30d}", day8,
		"testdata/vulnerabilities/trivy-day1.json", "testdata/vulnerabilities/trivy-day4.json")
	result, err := src.Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	// A is fixed on day 4; B (critical) is open since day 1, 8 days, past
	// 7d; C (high) is open 8 days, within 30d.
	want := Snapshot{SLI: slo.SLIVulnRemediation, Objects: 2, Noncompliant: 1}
	if len(result.Snapshots) != 1 || result.Snapshots[0] != want {
		t.Fatalf("snapshots = %+v, want %+v", result.Snapshots, want)
	}
	reason := result.Noncompliant[0].Reason
	if !strings.Contains(reason, "critical finding CVE-2024-0002 in zlib1g|1:1.2.13 open since 2024-05-01T08:00:00Z, 8d, past its 1w SLA") {
		t.Errorf("reason = %q", reason)
	}

	src.now = func() time.Time { return vulnTestDay1.Add(6 * 24 * time.Hour) }
	result, err = src.Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if result.Snapshots[0].Noncompliant != 0 {
		t.Errorf("on day 7 noncompliant = %d, want 0", result.Snapshots[0].Noncompliant)
	}
}

func TestVulnerabilitiesSkipsIncompleteScans(t *testing.T) {
	file := filepath.Join(t.TempDir(), "trivy.json")
	doc := vulnTrivyDoc("2024-05-02T00:00:00Z", `{"VulnerabilityID": "CVE-1", "PkgName": "a", "Severity": "CRITICAL"}`, `{"PkgName": "b"}`)
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}

	src, logs := newTestVulnerabilities(t, "", vulnTestDay1, file)
	result, err := src.Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(result.Scans) != 0 {
		t.Errorf("scans = %+v, want none from a report with a rejected finding", result.Scans)
	}
	if result.RecordsRead != 2 || result.RecordsRejected != 1 {
		t.Errorf("records read %d, rejected %d; want 2 and 1", result.RecordsRead, result.RecordsRejected)
	}
	if !strings.Contains(logs.String(), "findings missing from it are not marked fixed") {
		t.Errorf("log = %s, want the skipped scan", logs)
	}
}

func TestVulnerabilitiesIgnoresRepeatedScan(t *testing.T) {
	src, logs := newTestVulnerabilities(t, "", vulnTestDay1,
		"testdata/vulnerabilities/trivy-day1.json", "testdata/vulnerabilities/trivy-day1.json")
	result, err := src.Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(result.Scans) != 1 {
		t.Errorf("scans = %d, want 1", len(result.Scans))
	}
	if !strings.Contains(logs.String(), "two reports scan the same target at the same time") {
		t.Errorf("log = %s, want the repeated scan reported", logs)
	}
}

func FuzzParseVulnReport(f *testing.F) {
	for _, file := range []string{"trivy-day1.json", "codeql.sarif"} {
		data, err := os.ReadFile(filepath.Join("testdata/vulnerabilities", file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"matches": [{"vulnerability": {"id": "CVE-1"}}], "descriptor": {"timestamp": "1700000000"}}`))

	f.Fuzz(func(t *testing.T, data []byte) {
		report, err := parseVulnReport("fuzz.json", data)
		if err != nil {
			var inputErr *InputError
			if !errors.As(err, &inputErr) {
				t.Fatalf("error %v is a %T, want an *InputError", err, err)
			}
			return
		}
		for _, scan := range report.scans {
			seen := map[string]bool{}
			for _, finding := range scan.findings {
				if !validEventText(finding.id) || seen[finding.id] {
					t.Fatalf("finding id %q is invalid or repeated", finding.id)
				}
				seen[finding.id] = true
			}
		}
	})
}

// writeVulnBenchReport writes a Trivy report of n findings, as scanning an
// image with many packages would produce, and returns its path.
func writeVulnBenchReport(b *testing.B, n int) string {
	b.Helper()
	var buf bytes.Buffer
	buf.WriteString(`{"SchemaVersion": 2, "CreatedAt": "2024-05-01T08:00:00Z", "ArtifactName": "bench:1", "Results": [{"Target": "bench:1 (debian 12)", "Vulnerabilities": [`)
	severities := []string{"CRITICAL", "HIGH", "MEDIUM", "LOW"}
	for i := range n {
		if i > 0 {
			buf.WriteString(",\n")
		}
		v := map[string]any{
			"VulnerabilityID": fmt.Sprintf("CVE-2024-%05d", i), "PkgName": fmt.Sprintf("pkg%d", i%5000),
			"InstalledVersion": "1.0.0", "FixedVersion": "1.0.1", "Severity": severities[i%4],
			"Title": "A vulnerability in a package", "PrimaryURL": fmt.Sprintf("https://avd.aquasec.com/nvd/cve-2024-%05d", i),
		}
		data, _ := json.Marshal(v)
		buf.Write(data)
	}
	buf.WriteString("]}]}\n")

	file := filepath.Join(b.TempDir(), "trivy.json")
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	return file
}

// BenchmarkVulnerabilitiesRefresh100k measures one refresh of a Trivy report
// with 100,000 findings, from reading the file to the ledger scans and the
// past-SLA snapshot.
func BenchmarkVulnerabilitiesRefresh100k(b *testing.B) {
	file := writeVulnBenchReport(b, 100_000)
	info, _ := os.Stat(file)
	b.SetBytes(info.Size())

	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		src, _ := newTestVulnerabilities(b, "sla: {critical: 7d, high: 30d, medium: 90d, low: 180d}", vulnTestDay1, file)
		result, err := src.Refresh(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if len(result.Scans) != 4 || result.Snapshots[0].Objects != 100_000 {
			b.Fatalf("scans = %d, objects = %d; want 4 and 100000", len(result.Scans), result.Snapshots[0].Objects)
		}
	}
}

// BenchmarkVulnerabilitiesCommit100k measures the ledger commits of two
// successive 100,000-finding scans: the first remembers every finding, the
// second lists half of them, so the other half closes and counts.
func BenchmarkVulnerabilitiesCommit100k(b *testing.B) {
	file := writeVulnBenchReport(b, 100_000)
	src, _ := newTestVulnerabilities(b, "sla: {critical: 7d, high: 30d, medium: 90d, low: 180d}", vulnTestDay1, file)
	first, err := src.Refresh(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	second := make([]Scan, len(first.Scans))
	for i, scan := range first.Scans {
		second[i] = scan
		second[i].At = scan.At.Add(24 * time.Hour)
		second[i].Open = scan.Open[:len(scan.Open)/2]
	}

	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ledger := openVulnTestLedger(b, filepath.Join(b.TempDir(), "ledger.db"))
		b.StartTimer()

		if _, err := ledger.Commit("bench", nil, first.Scans, vulnTestDay1); err != nil {
			b.Fatal(err)
		}
		stats, err := ledger.Commit("bench", nil, second, vulnTestDay1.Add(24*time.Hour))
		if err != nil {
			b.Fatal(err)
		}
		if stats.Counted != 50_000 {
			b.Fatalf("counted %d fixes, want 50000", stats.Counted)
		}

		b.StopTimer()
		ledger.Close()
		b.StartTimer()
	}
}
