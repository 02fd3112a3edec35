package sources

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secslo/secslo/slo"
)

// newTestPatches builds a patches source with the inventory tests' clock.
func newTestPatches(t testing.TB, opts string, paths ...string) (*patches, *bytes.Buffer) {
	t.Helper()
	logger, logs := listTestLogger()
	src, err := NewPatches(listTestConfig(t, "patches", opts, paths...), logger)
	if err != nil {
		t.Fatalf("NewPatches: %v", err)
	}
	p := src.(*patches)
	p.now = func() time.Time { return inventoryTestNow }
	return p, logs
}

func TestPatchesReadsHostLists(t *testing.T) {
	for _, file := range []string{"testdata/patches/hosts.csv", "testdata/patches/hosts.json"} {
		t.Run(filepath.Ext(file), func(t *testing.T) {
			src, _ := newTestPatches(t, "", file)

			result, err := src.Refresh(context.Background())
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}

			want := Snapshot{SLI: slo.SLIPatchCompliance, Objects: 4, Noncompliant: 2}
			if len(result.Snapshots) != 1 || result.Snapshots[0] != want {
				t.Errorf("snapshots = %+v, want [%+v]", result.Snapshots, want)
			}
			if result.RecordsRead != 6 || result.RecordsRejected != 0 {
				t.Errorf("records read, rejected = %d, %d, want 6, 0", result.RecordsRead, result.RecordsRejected)
			}
			reasons := objectReasons(result.Noncompliant)
			wantReasons := map[string]string{
				"h-02": "critical patch missing for 11d12h, beyond the 1w SLA for criticality critical",
				"h-06": "critical patch missing for 10d, beyond the 1w SLA for criticality critical",
			}
			for id, want := range wantReasons {
				if reasons[id] != want {
					t.Errorf("reason for %s = %q, want %q", id, reasons[id], want)
				}
			}
			if len(reasons) != len(wantReasons) {
				t.Errorf("non-compliant hosts = %v, want only %v", reasons, wantReasons)
			}
		})
	}
}

func TestPatchesSLAOptions(t *testing.T) {
	cases := []struct {
		name        string
		opts        string
		wantObjects int
		wantBad     int
	}{
		{"default SLA covers critical only", "", 4, 2},
		{"high hosts within 30 days", "sla: {critical: 7d, high: 30d}", 5, 2},
		{"high hosts within 14 days", "sla: {critical: 7d, High: 14d}", 5, 3},
		{"longer critical SLA", "sla: {critical: 12d}", 4, 0},
		{"shorter critical SLA", "sla: {critical: 2d}", 4, 3},
		{"low hosts only", "sla: {low: 90d}", 1, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src, _ := newTestPatches(t, tc.opts, "testdata/patches/hosts.csv")

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

func TestPatchesReadsSSMSample(t *testing.T) {
	sample := filepath.Join(sharedSamples, "aws-ssm-describe-instance-patch-states-for-patch-group.json")
	if _, err := os.Stat(sample); err != nil {
		t.Skipf("shared sample %s not available (%v); the SSM reader is still covered by testdata/patches", sample, err)
	}
	src, _ := newTestPatches(t, "", sample)

	result, err := src.Refresh(context.Background())
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}

	want := Snapshot{SLI: slo.SLIPatchCompliance, Objects: 2, Noncompliant: 2}
	if result.Snapshots[0] != want {
		t.Errorf("snapshot = %+v, want %+v", result.Snapshots[0], want)
	}
	wantReason := "SSM reports 2 missing and 0 failed patches (the export has no patch age, so any counts)"
	for _, id := range []string{"i-02573cafcfEXAMPLE", "i-0471e04240EXAMPLE"} {
		if reason := objectReasons(result.Noncompliant)[id]; reason != wantReason {
			t.Errorf("reason for %s = %q, want %q", id, reason, wantReason)
		}
	}
}

func TestPatchesReadsSSMFixture(t *testing.T) {
	cases := []struct {
		name       string
		opts       string
		wantBad    int
		wantReason map[string]string
	}{
		{
			name:    "missing or failed patches",
			wantBad: 2,
			wantReason: map[string]string{
				"i-0b2": "SSM reports 3 missing and 0 failed patches (the export has no patch age, so any counts)",
				"i-0c3": "SSM reports 0 missing and 1 failed patches (the export has no patch age, so any counts)",
			},
		},
		{
			name:    "stale scans count when max_scan_age is set",
			opts:    "max_scan_age: 1d",
			wantBad: 3,
			wantReason: map[string]string{
				"i-0a1": "last patch operation ended 1d9h56m ago, beyond max_scan_age 1d",
			},
		},
		{
			name:    "recent scans pass max_scan_age",
			opts:    "max_scan_age: 2d",
			wantBad: 2,
			wantReason: map[string]string{
				"i-0c3": "SSM reports 0 missing and 1 failed patches (the export has no patch age, so any counts); last patch operation ended 30d9h50m ago, beyond max_scan_age 2d",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src, _ := newTestPatches(t, tc.opts, "testdata/patches/ssm-patch-states.json")

			result, err := src.Refresh(context.Background())
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}

			want := Snapshot{SLI: slo.SLIPatchCompliance, Objects: 3, Noncompliant: tc.wantBad}
			if result.Snapshots[0] != want {
				t.Errorf("snapshot = %+v, want %+v (%v)", result.Snapshots[0], want, objectReasons(result.Noncompliant))
			}
			reasons := objectReasons(result.Noncompliant)
			for id, want := range tc.wantReason {
				if reasons[id] != want {
					t.Errorf("reason for %s = %q, want %q", id, reasons[id], want)
				}
			}
		})
	}
}

func TestPatchesFormatOption(t *testing.T) {
	ssm := readFixture(t, "testdata/patches/ssm-patch-states.json")
	cases := []struct {
		name    string
		opts    string
		file    string
		content string
		wantErr string
		wantObj int
	}{
		{name: "JSON object read as SSM", file: "export.json", content: ssm, wantObj: 3},
		{name: "SSM export of any extension", opts: "format: ssm", file: "export.txt", content: ssm, wantObj: 3},
		{name: "JSON host list given as SSM", opts: "format: ssm", file: "hosts.json", content: readFixture(t, "testdata/patches/hosts.json"),
			wantErr: `expected a JSON object with the member "InstancePatchStates", found an array`},
		{name: "SSM export given as a host list", opts: "format: json", file: "export.json", content: ssm,
			wantErr: "expected a JSON array of objects at the top level, found an object"},
		{name: "unknown extension", file: "export.txt", content: ssm, wantErr: "set options.format to csv or json, or ssm for AWS SSM patch states"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTestFile(t, tc.file, tc.content)
			src, _ := newTestPatches(t, tc.opts, path)

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
			if result.Snapshots[0].Objects != tc.wantObj {
				t.Errorf("objects = %d, want %d", result.Snapshots[0].Objects, tc.wantObj)
			}
		})
	}
}

// TestPatchesRejectsBadFiles changes the known-good inputs one problem at a
// time; each problem fails the whole refresh.
func TestPatchesRejectsBadFiles(t *testing.T) {
	goodCSV := readFixture(t, "testdata/patches/hosts.csv")
	goodSSM := readFixture(t, "testdata/patches/ssm-patch-states.json")
	cases := []struct {
		name    string
		file    string
		content string
		wantErr string
	}{
		{"truncated SSM export", "ssm.json", goodSSM[:300], "ssm.json:11:18: invalid JSON: unexpected end of input: the file is truncated"},
		{"SSM export without its list", "ssm.json", `{"NextToken": "x"}`, `missing member "InstancePatchStates" in the top-level object`},
		{"SSM list of the wrong type", "ssm.json", `{"InstancePatchStates": "none"}`, `expected "InstancePatchStates" to be an array, found a string`},
		{"empty JSON file", "ssm.json", "", "ssm.json: file is empty"},
		{"empty CSV file", "hosts.csv", "", "hosts.csv: file is empty"},
		{"missing criticality column", "hosts.csv", strings.Replace(goodCSV, "criticality", "tier", 1),
			`hosts.csv:1: missing required column "criticality" (found "id", "name", "tier", "released", "age"): set options.columns.criticality`},
		{"missing release and age columns", "hosts.csv", "id,criticality\nh-01,critical\n",
			`hosts.csv:1: missing required column "released" or "age" (found "id", "criticality"): set options.columns.released`},
		{"every record rejected", "hosts.csv", "id,criticality,released\nh-01,critical,last week\n",
			`every record of`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTestFile(t, tc.file, tc.content)
			src, _ := newTestPatches(t, "", path)

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

func TestPatchesMissingFile(t *testing.T) {
	for _, name := range []string{"absent.csv", "absent.json"} {
		t.Run(name, func(t *testing.T) {
			missing := filepath.Join(t.TempDir(), name)
			src, _ := newTestPatches(t, "", missing)

			_, err := src.Refresh(context.Background())

			if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("error = %v, want one that wraps fs.ErrNotExist", err)
			}
			if err != nil && !strings.Contains(err.Error(), missing) {
				t.Errorf("error = %q, want it to name %s", err, missing)
			}
		})
	}
}

func TestPatchesAcceptsBOMAndCRLF(t *testing.T) {
	cases := []struct{ name, fixture, file string }{
		{"CSV host list", "testdata/patches/hosts.csv", "hosts.csv"},
		{"JSON host list", "testdata/patches/hosts.json", "hosts.json"},
		{"SSM export", "testdata/patches/ssm-patch-states.json", "ssm.json"},
	}
	for _, tc := range cases {
		good := readFixture(t, tc.fixture)
		for _, variant := range []struct{ name, content string }{
			{"with byte-order mark", "\xef\xbb\xbf" + good},
			{"with CRLF lines", strings.ReplaceAll(good, "\n", "\r\n")},
		} {
			t.Run(tc.name+" "+variant.name, func(t *testing.T) {
				path := writeTestFile(t, tc.file, variant.content)
				src, _ := newTestPatches(t, "", path)
				want, _ := newTestPatches(t, "", tc.fixture)

				got, err := src.Refresh(context.Background())
				if err != nil {
					t.Fatalf("Refresh: %v", err)
				}
				wantResult, err := want.Refresh(context.Background())
				if err != nil {
					t.Fatalf("Refresh of the fixture: %v", err)
				}

				if got.Snapshots[0] != wantResult.Snapshots[0] {
					t.Errorf("snapshot = %+v, want %+v as for the fixture", got.Snapshots[0], wantResult.Snapshots[0])
				}
				if got.RecordsRejected != 0 {
					t.Errorf("records rejected = %d, want 0", got.RecordsRejected)
				}
			})
		}
	}
}

// TestPatchesRejectsBadRecords changes one record of a known-good input;
// the record is rejected, counted and logged, and the refresh goes on.
func TestPatchesRejectsBadRecords(t *testing.T) {
	goodCSV := readFixture(t, "testdata/patches/hosts.csv")
	goodJSON := readFixture(t, "testdata/patches/hosts.json")
	goodSSM := readFixture(t, "testdata/patches/ssm-patch-states.json")
	cases := []struct {
		name    string
		file    string
		content string
		wantLog string
		wantBad int
	}{
		{
			name:    "duplicate host id",
			file:    "hosts.csv",
			content: goodCSV + "h-01,pay-api-1,critical,,\n",
			wantLog: `duplicate host id \"h-01\", first at `,
			wantBad: 3,
		},
		{
			name:    "duplicate SSM instance",
			file:    "ssm.json",
			content: strings.Replace(goodSSM, `"InstanceId": "i-0c3"`, `"InstanceId": "i-0a1"`, 1),
			wantLog: `duplicate host id \"i-0a1\"`,
			wantBad: 2,
		},
		{
			name:    "unknown timestamp format",
			file:    "hosts.csv",
			content: strings.Replace(goodCSV, "2024-04-20T00:00:00Z", "20/04/2024", 1),
			wantLog: `host \"h-02\": release time: invalid timestamp \"20/04/2024\"`,
			wantBad: 1,
		},
		{
			name:    "invalid age",
			file:    "hosts.csv",
			content: strings.Replace(goodCSV, ",3d", ",three days", 1),
			wantLog: `host \"h-03\": invalid age \"three days\": expected a duration such as 12d or 36h, or a number of days`,
			wantBad: 2,
		},
		{
			name:    "negative age",
			file:    "hosts.csv",
			content: strings.Replace(goodCSV, ",3d", ",-3", 1),
			wantLog: `invalid age \"-3\": expected a number of days between 0 and 100000`,
			wantBad: 2,
		},
		{
			name:    "wrong type of release time",
			file:    "hosts.json",
			content: strings.Replace(goodJSON, `"released": "2024-04-20T00:00:00Z"`, `"released": ["2024-04-20T00:00:00Z"]`, 1),
			wantLog: `field \"released\": found an array, expected a string or a number`,
			wantBad: 1,
		},
		{
			name:    "wrong type of MissingCount",
			file:    "ssm.json",
			content: strings.Replace(goodSSM, `"MissingCount": 3`, `"MissingCount": "3"`, 1),
			wantLog: `field \"MissingCount\" is a JSON string, expected a number`,
			wantBad: 1,
		},
		{
			name:    "SSM state without counts",
			file:    "ssm.json",
			content: strings.Replace(goodSSM, `"MissingCount": 3,`, ``, 1),
			wantLog: `instance \"i-0b2\" has no MissingCount or FailedCount`,
			wantBad: 1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTestFile(t, tc.file, tc.content)
			src, logs := newTestPatches(t, "", path)

			result, err := src.Refresh(context.Background())
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}

			if result.RecordsRejected != 1 {
				t.Errorf("records rejected = %d, want 1", result.RecordsRejected)
			}
			if result.Snapshots[0].Noncompliant != tc.wantBad {
				t.Errorf("non-compliant = %d, want %d (%v)", result.Snapshots[0].Noncompliant, tc.wantBad, objectReasons(result.Noncompliant))
			}
			if !strings.Contains(logs.String(), tc.wantLog) {
				t.Errorf("log does not contain %q:\n%s", tc.wantLog, logs)
			}
			if !strings.Contains(logs.String(), "file="+path+" line=") {
				t.Errorf("log does not name the file and line:\n%s", logs)
			}
		})
	}
}

func TestPatchesDuplicateReason(t *testing.T) {
	path := writeTestFile(t, "hosts.csv", "id,criticality,age\na,low,1\nb,critical,\na,critical,\n")
	src, _ := newTestPatches(t, "", path)

	result, err := src.Refresh(context.Background())
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}

	want := Snapshot{SLI: slo.SLIPatchCompliance, Objects: 2, Noncompliant: 1}
	if result.Snapshots[0] != want {
		t.Errorf("snapshot = %+v, want %+v", result.Snapshots[0], want)
	}
	wantReason := "duplicate host id at " + path + ":2, " + path + ":4"
	if reason := objectReasons(result.Noncompliant)["a"]; reason != wantReason {
		t.Errorf("reason = %q, want %q", reason, wantReason)
	}
}

func TestNewPatchesRejectsBadOptions(t *testing.T) {
	cases := []struct {
		name    string
		opts    string
		paths   []string
		wantErr string
	}{
		{"no input files", "", nil, "paths is empty"},
		{"empty SLA", "sla: {}", []string{"h.csv"}, "options.sla is empty"},
		{"zero SLA", "sla: {critical: 0s}", []string{"h.csv"}, "invalid options.sla.critical 0s"},
		{"SLA key twice", "sla: {critical: 7d, Critical: 3d}", []string{"h.csv"}, `names criticality "critical" twice`},
		{"invalid SLA duration", "sla: {critical: 7 days}", []string{"h.csv"}, `unknown unit " days"`},
		{"unknown format", "format: xml", []string{"h.csv"}, `invalid options.format "xml"`},
		{"unknown option", "slas: {critical: 7d}", []string{"h.csv"}, "field slas not found"},
		{"empty id column", "columns: {id: ''}", []string{"h.csv"}, "options.columns.id and options.columns.criticality must not be empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logger, _ := listTestLogger()

			_, err := NewPatches(listTestConfig(t, "patches", tc.opts, tc.paths...), logger)

			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

// fuzzPatches feeds arbitrary bytes to the patches source as one file: it
// must return an error or a consistent result, never panic.
func fuzzPatches(f *testing.F, name, opts string) {
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		src, _ := newTestPatches(t, opts, path)

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

func FuzzPatchesHostCSV(f *testing.F) {
	f.Add([]byte(readFixture(f, "testdata/patches/hosts.csv")))
	f.Add([]byte("id,criticality,age\na,critical,1e308\nb,critical,9999999d\n"))
	f.Add([]byte("id,criticality,released\na,critical,99999999999999\n"))
	fuzzPatches(f, "hosts.csv", "sla: {critical: 7d, high: 30d}")
}

func FuzzPatchesHostJSON(f *testing.F) {
	f.Add([]byte(readFixture(f, "testdata/patches/hosts.json")))
	f.Add([]byte(`[{"id": "a", "criticality": "critical", "age": -1e400}]`))
	fuzzPatches(f, "hosts.json", "format: json")
}

func FuzzPatchesSSM(f *testing.F) {
	f.Add([]byte(readFixture(f, "testdata/patches/ssm-patch-states.json")))
	f.Add([]byte(`{"InstancePatchStates": [{"InstanceId": "i", "MissingCount": 1e3, "FailedCount": -1, "OperationEndTime": "x"}]}`))
	fuzzPatches(f, "ssm.json", "{format: ssm, max_scan_age: 1d}")
}
