package sources

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const oscalFixture = "testdata/oscal/assessment-results.json"

// oscalFixtureMapping maps the fixture's NIST SP 800-53 controls to Annex A.
const oscalFixtureMapping = `annex_a_mapping:
  ac-2: [A.5.16, A.5.18]
  AU-6: [A.8.15]
  ra-5: [A.8.8]
  cm-6: [A.8.9]
  ia-2: [A.8.5]
`

func newTestOSCAL(t *testing.T, paths []string, options string, now time.Time) (Source, *evidenceLog) {
	t.Helper()
	return evidenceTestSource(t, NewOSCALAssessment, "oscal_assessment", paths, options, now)
}

// oscalTestDocument wraps observations and findings, written as JSON list
// items, into one assessment-results document.
func oscalTestDocument(observations, findings string) string {
	return `{"assessment-results": {"uuid": "doc", "results": [{"uuid": "r1",
"observations": [
` + observations + `
],
"findings": [
` + findings + `
]}]}}`
}

const (
	oscalGoodObservation = `{"uuid": "obs-1", "methods": ["TEST"], "collected": "2025-05-31T00:00:00Z"}`
	oscalGoodFinding     = `{"uuid": "f-1", "target": {"type": "objective-id", "target-id": "ac-2_obj", "status": {"state": "satisfied"}}, "related-observations": [{"observation-uuid": "obs-1"}]}`
)

func TestOSCALSample(t *testing.T) {
	sample := evidenceSample(t, "oscal-ifa_assessment-results-example.json")
	tests := []struct {
		name         string
		now          time.Time
		options      string
		objects, bad int
		id, reason   string
	}{
		{"fresh TEST observations evidence ac-6.1", time.Date(2023, 6, 15, 0, 0, 0, 0, time.UTC), "", 1, 0, "", ""},
		{"observations expire on July 1st", time.Date(2023, 7, 2, 0, 0, 0, 0, time.UTC), "", 1, 1, "ac-6.1", "finding 45d8a6c2-1368-4bad-9ba0-7141f0a32889 (not-satisfied): observation 8807eb6e-0c05-43bc-8438-799739615e34 expired at 2023-07-01T04:00:00Z"},
		{"freshness shorter than the cycle", time.Date(2023, 6, 15, 0, 0, 0, 0, time.UTC), "freshness: 7d", 1, 1, "ac-6.1", "collected 2023-06-02T12:31:20Z is older than 1w"},
		{"mapping of the base control covers the enhancement", time.Date(2023, 6, 15, 0, 0, 0, 0, time.UTC), "annex_a_mapping: {ac-6: [A.8.2, A.5.15]}", 2, 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, logs := newTestOSCAL(t, []string{sample}, tt.options, tt.now)
			res := refreshEvidence(t, src)

			checkEvidenceSnapshot(t, res, tt.objects, tt.bad)
			// 2 observations gathered by TEST and 1 not-satisfied finding.
			if res.RecordsRead != 3 || res.RecordsRejected != 0 {
				t.Errorf("read %d, rejected %d; want 3 and 0 (logs: %s)", res.RecordsRead, res.RecordsRejected, logs)
			}
			if tt.id != "" {
				checkReasonContains(t, evidenceReasons(res), tt.id, tt.reason)
			}
		})
	}
}

func TestOSCALFixture(t *testing.T) {
	src, logs := newTestOSCAL(t, []string{oscalFixture}, "", evidenceTestNow)
	res := refreshEvidence(t, src)

	checkEvidenceSnapshot(t, res, 5, 4)
	if res.RecordsRead != 4+6 || res.RecordsRejected != 0 {
		t.Errorf("read %d, rejected %d; want 10 and 0 (logs: %s)", res.RecordsRead, res.RecordsRejected, logs)
	}
	reasons := evidenceReasons(res)
	if reason, bad := reasons["ac-2"]; bad {
		t.Errorf("ac-2 is non-compliant (%s); one of its findings has a fresh TEST observation", reason)
	}
	checkReasonContains(t, reasons, "au-6", "finding f-au-6 (satisfied): observation obs-test-stale collected 2025-03-01T00:00:00Z is older than 31d")
	checkReasonContains(t, reasons, "ra-5", "observation obs-test-expired expired at 2025-05-31T00:00:00Z")
	checkReasonContains(t, reasons, "cm-6", "observation obs-examine is manual (EXAMINE, INTERVIEW)")
	checkReasonContains(t, reasons, "ia-2.1", "finding f-ia-2.1 (satisfied) relates to no observation")
}

func TestOSCALFixtureWithMapping(t *testing.T) {
	src, _ := newTestOSCAL(t, []string{oscalFixture}, oscalFixtureMapping, evidenceTestNow)
	res := refreshEvidence(t, src)

	checkEvidenceSnapshot(t, res, 6, 4)
	reasons := evidenceReasons(res)
	for _, id := range []string{"A.5.16", "A.5.18"} {
		if _, bad := reasons[id]; bad {
			t.Errorf("%s is non-compliant, want evidenced through ac-2", id)
		}
	}
	checkReasonContains(t, reasons, "A.8.15", "older than 31d")
	checkReasonContains(t, reasons, "A.8.5", "relates to no observation")
	if got := res.Noncompliant[0].Name; got != "Secure authentication" {
		t.Errorf("name of %s = %q, want the Annex A title", res.Noncompliant[0].ID, got)
	}
}

func TestOSCALRejectedRecords(t *testing.T) {
	tests := []struct {
		name         string
		observations string
		findings     string
		log          string
		objects, bad int
	}{
		{"unknown method", `{"uuid": "obs-2", "methods": ["AUTOMATED"], "collected": "2025-05-31T00:00:00Z"}`, "",
			`observation obs-2 has unknown method "AUTOMATED"; OSCAL allows TEST`, 1, 0},
		{"no methods", `{"uuid": "obs-2", "methods": [], "collected": "2025-05-31T00:00:00Z"}`, "", "observation obs-2 has no methods", 1, 0},
		{"methods as a string", `{"uuid": "obs-2", "methods": "TEST", "collected": "2025-05-31T00:00:00Z"}`, "",
			"doc.json:4:1: observation: field methods is a JSON string; expected an array", 1, 0},
		{"missing collected time", `{"uuid": "obs-2", "methods": ["TEST"]}`, "", "observation obs-2: invalid collected: empty timestamp", 1, 0},
		{"unknown timestamp format", `{"uuid": "obs-2", "methods": ["TEST"], "collected": "June 2nd, 2023"}`, "",
			`observation obs-2: invalid collected: invalid timestamp "June 2nd, 2023"`, 1, 0},
		{"duplicate observation uuid", `{"uuid": "obs-1", "methods": ["EXAMINE"], "collected": "2025-05-31T00:00:00Z"}`, "",
			"observation uuid obs-1 is used 2 times; give each observation its own uuid", 1, 1},
		{"finding without target id", "", `{"uuid": "f-2", "target": {"type": "objective-id", "status": {"state": "satisfied"}}}`,
			"finding f-2 has no target.target-id", 1, 0},
		{"finding with an unknown state", "", `{"uuid": "f-2", "target": {"type": "objective-id", "target-id": "au-2_obj", "status": {"state": "passed"}}, "related-observations": [{"observation-uuid": "obs-1"}]}`,
			`finding f-2 has target.status.state "passed"; expected satisfied or not-satisfied`, 2, 1},
		{"finding with an unknown target type", "", `{"uuid": "f-2", "target": {"type": "control", "target-id": "au-2", "status": {"state": "satisfied"}}}`,
			`finding f-2 has target.type "control"; expected objective-id or statement-id`, 2, 1},
		{"finding with a target array", "", `{"uuid": "f-2", "target": []}`,
			"doc.json:7:1: finding: field target is a JSON array; expected an object", 1, 0},
		{"duplicate finding uuid", "", `{"uuid": "f-1", "target": {"type": "objective-id", "target-id": "au-2_obj", "status": {"state": "satisfied"}}}`,
			"finding uuid f-1 is used 2 times", 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			observations, findings := oscalGoodObservation, oscalGoodFinding
			if tt.observations != "" {
				observations += ",\n" + tt.observations
			}
			if tt.findings != "" {
				findings += ",\n" + tt.findings
			}
			path := writeEvidenceFile(t, t.TempDir(), "doc.json", oscalTestDocument(observations, findings))
			src, logs := newTestOSCAL(t, []string{path}, "", evidenceTestNow)
			res := refreshEvidence(t, src)

			wantRejected := 1
			if strings.HasPrefix(tt.name, "duplicate") {
				wantRejected = 2
			}
			if res.RecordsRead != 3 || res.RecordsRejected != wantRejected {
				t.Errorf("read %d, rejected %d; want 3 and %d", res.RecordsRead, res.RecordsRejected, wantRejected)
			}
			if !strings.Contains(logs.String(), tt.log) {
				t.Errorf("log does not contain %q:\n%s", tt.log, logs)
			}
			checkEvidenceSnapshot(t, res, tt.objects, tt.bad)
		})
	}
}

func TestOSCALDuplicateObservationGivesNoEvidence(t *testing.T) {
	duplicate := `{"uuid": "obs-1", "methods": ["TEST"], "collected": "2025-05-31T00:00:00Z"}`
	path := writeEvidenceFile(t, t.TempDir(), "doc.json", oscalTestDocument(oscalGoodObservation+",\n"+duplicate, oscalGoodFinding))
	src, _ := newTestOSCAL(t, []string{path}, "", evidenceTestNow)
	res := refreshEvidence(t, src)

	checkEvidenceSnapshot(t, res, 1, 1)
	checkReasonContains(t, evidenceReasons(res), "ac-2", "observation obs-1 was rejected")
}

func TestOSCALMissingObservation(t *testing.T) {
	finding := `{"uuid": "f-1", "target": {"type": "objective-id", "target-id": "ac-2_obj", "status": {"state": "satisfied"}}, "related-observations": [{"observation-uuid": "obs-9"}]}`
	path := writeEvidenceFile(t, t.TempDir(), "doc.json", oscalTestDocument(oscalGoodObservation, finding))
	src, _ := newTestOSCAL(t, []string{path}, "", evidenceTestNow)
	res := refreshEvidence(t, src)

	checkEvidenceSnapshot(t, res, 1, 1)
	checkReasonContains(t, evidenceReasons(res), "ac-2", "observation obs-9 not found")
}

func TestOSCALUnmappedControlIsRejected(t *testing.T) {
	finding := `{"uuid": "f-2", "target": {"type": "objective-id", "target-id": "sc-7_obj", "status": {"state": "satisfied"}}, "related-observations": [{"observation-uuid": "obs-1"}]}`
	path := writeEvidenceFile(t, t.TempDir(), "doc.json", oscalTestDocument(oscalGoodObservation, oscalGoodFinding+",\n"+finding))
	src, logs := newTestOSCAL(t, []string{path}, oscalFixtureMapping, evidenceTestNow)
	res := refreshEvidence(t, src)

	checkEvidenceSnapshot(t, res, 2, 0)
	if res.RecordsRejected != 1 {
		t.Errorf("rejected = %d, want 1", res.RecordsRejected)
	}
	if want := "finding f-2: control sc-7 has no entry in options.annex_a_mapping"; !strings.Contains(logs.String(), want) {
		t.Errorf("log does not contain %q:\n%s", want, logs)
	}
}

func TestOSCALAcceptsBOMAndCRLF(t *testing.T) {
	want := refreshEvidence(t, mustOSCAL(t, oscalFixture))
	content := "\uFEFF" + strings.ReplaceAll(readEvidenceFixture(t, oscalFixture), "\n", "\r\n")
	path := writeEvidenceFile(t, t.TempDir(), "doc.json", content)
	got := refreshEvidence(t, mustOSCAL(t, path))

	if !reflect.DeepEqual(got.Snapshots, want.Snapshots) || !reflect.DeepEqual(evidenceReasons(got), evidenceReasons(want)) {
		t.Errorf("got %+v %v, want %+v %v", got.Snapshots, evidenceReasons(got), want.Snapshots, evidenceReasons(want))
	}
}

func mustOSCAL(t *testing.T, path string) Source {
	t.Helper()
	src, _ := newTestOSCAL(t, []string{path}, "", evidenceTestNow)
	return src
}

func TestOSCALFileErrors(t *testing.T) {
	fixture := readEvidenceFixture(t, oscalFixture)
	tests := []struct {
		name    string
		content string
		want    string
	}{
		{"truncated document", fixture[:len(fixture)/2], "doc.json:19:11: truncated JSON"},
		{"empty document", "", "doc.json: empty file"},
		{"document that is an array", "[]", "doc.json:1:1: the document is an array; expected an object"},
		{"results that are an object", `{"assessment-results": {"results": {}}}`, "doc.json:1:36: results is an object; expected an array"},
		{"observations that are a string", `{"assessment-results": {"results": [{"observations": "none"}]}}`, "doc.json:1:54: observations is a string; expected an array"},
		{"plan of action and milestones", `{"plan-of-action-and-milestones": {"poam-items": []}}`, "doc.json: no assessment-results with results; is this an OSCAL assessment-results document"},
		{"assessment results without results", `{"assessment-results": {"uuid": "x"}}`, "no assessment-results with results"},
		{"document whose every record is rejected", `{"assessment-results": {"results": [{"observations": [{"uuid": "o", "methods": ["PHONE"], "collected": "2025-05-31T00:00:00Z"}]}]}}`, `doc.json: every one of the 1 observations and findings was rejected`},
		{"trailing garbage", `{"assessment-results": {"results": [{}]}} x`, "doc.json:1:43: unexpected data after the end of the JSON document"},
		{"invalid JSON", "{\"assessment-results\": {\"results\": [{\"findings\": [{\"uuid\": 'f'}]}]}}", "doc.json:1:60: invalid JSON: invalid character '\\''"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeEvidenceFile(t, t.TempDir(), "doc.json", tt.content)
			src, _ := newTestOSCAL(t, []string{path}, "", evidenceTestNow)
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

func TestOSCALWithoutFindingsFails(t *testing.T) {
	path := writeEvidenceFile(t, t.TempDir(), "doc.json", oscalTestDocument(oscalGoodObservation, ""))
	src, _ := newTestOSCAL(t, []string{path}, "", evidenceTestNow)
	res, err := src.Refresh(context.Background())

	if want := "no finding targets a control"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error = %v, want it to contain %q", err, want)
	}
	if res != nil {
		t.Errorf("Refresh returned a result with its error: %+v", res)
	}
}

func TestOSCALPOAMSampleIsRejected(t *testing.T) {
	sample := evidenceSample(t, "oscal-ifa_plan-of-action-and-milestones.json")
	src, _ := newTestOSCAL(t, []string{sample}, "", evidenceTestNow)
	_, err := src.Refresh(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no assessment-results with results") {
		t.Errorf("error = %v, want the POA&M rejected as not assessment results", err)
	}
}

func TestOSCALMissingFile(t *testing.T) {
	src, _ := newTestOSCAL(t, []string{filepath.Join(t.TempDir(), "absent.json"), oscalFixture}, "", evidenceTestNow)
	_, err := src.Refresh(context.Background())
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "absent.json") {
		t.Errorf("error = %v, want fs.ErrNotExist naming absent.json", err)
	}
}

func TestNewOSCALAssessmentRejectsOptions(t *testing.T) {
	tests := []struct {
		name    string
		options string
		want    string
	}{
		{"mistyped Annex A id", "annex_a_mapping: {ac-2: [A5.18]}", `options.annex_a_mapping.ac-2: unknown Annex A control "A5.18"; did you mean "A.5.18"?`},
		{"clause as a target", "annex_a_mapping: {ca-7: ['9.1']}", `"9.1" is a clause of ISO/IEC 27001`},
		{"empty list", "annex_a_mapping: {ac-2: []}", "options.annex_a_mapping.ac-2 is empty"},
		{"the same key in two cases", "annex_a_mapping: {ac-2: [A.5.18], AC-2: [A.5.16]}", `lists "ac-2" twice in different case`},
		{"zero freshness", "freshness: 0s", "invalid options.freshness 0s"},
		{"unknown option", "mapping: {}", "field mapping not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Name: "o", Type: "oscal_assessment", Paths: []string{oscalFixture}, Options: evidenceOptionsNode(t, tt.options)}
			_, err := NewOSCALAssessment(cfg, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func FuzzOSCALAssessment(f *testing.F) {
	f.Add([]byte(readEvidenceFixtureForFuzz(f, oscalFixture)))
	f.Add([]byte(oscalTestDocument(oscalGoodObservation+","+oscalGoodObservation, oscalGoodFinding+",{}")))
	f.Add([]byte(`{"assessment-results":{"results":[{"findings":[{"uuid":"x","target":{"target-id":"_"}}]}]}}`))
	fuzzEvidenceSource(f, NewOSCALAssessment, "oscal_assessment", "doc.json")
}
