package sources

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/secslo/secslo/slo"
)

// evidenceTestNow is the fixed refresh time of the evidence adapter tests,
// so that freshness never depends on the day the tests run.
var evidenceTestNow = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

// evidenceTestSource builds a source of the given factory with options
// written as YAML, a clock fixed at now and a logger writing into the
// returned evidenceLog.
func evidenceTestSource(t *testing.T, factory Factory, typ string, paths []string, options string, now time.Time) (Source, *evidenceLog) {
	t.Helper()
	cfg := Config{Name: "evidence_test", Type: typ, Paths: paths, Options: evidenceOptionsNode(t, options)}

	logs := &evidenceLog{}
	src, err := factory(cfg, slog.New(slog.NewJSONHandler(&logs.buf, nil)))
	if err != nil {
		t.Fatalf("%s factory: %v", typ, err)
	}
	setEvidenceClock(t, src, now)
	return src, logs
}

// evidenceOptionsNode parses options written as YAML; empty text gives no
// options.
func evidenceOptionsNode(t *testing.T, options string) yaml.Node {
	t.Helper()
	if options == "" {
		return yaml.Node{}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(options), &doc); err != nil {
		t.Fatalf("invalid options in test: %v", err)
	}
	return *doc.Content[0]
}

// evidenceLog collects JSON log lines; String returns one line per record as
// "message: source=… file=… err=…" with the values unescaped, so that tests
// can match error text exactly.
type evidenceLog struct {
	buf bytes.Buffer
}

func (l *evidenceLog) String() string {
	var out strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(l.buf.String()), "\n") {
		var record map[string]any
		if err := json.Unmarshal([]byte(line), &record); err != nil {
			out.WriteString(line + "\n")
			continue
		}
		fmt.Fprintf(&out, "%v: source=%v file=%v err=%v\n", record["msg"], record["source"], record["file"], record["err"])
	}
	return out.String()
}

func setEvidenceClock(t *testing.T, src Source, now time.Time) {
	t.Helper()
	clock := func() time.Time { return now }
	switch s := src.(type) {
	case *controlRegister:
		s.now = clock
	case *prowler:
		s.now = clock
	case *oscalAssessment:
		s.now = clock
	default:
		t.Fatalf("no clock to set on %T", src)
	}
}

// refreshEvidence refreshes src and fails the test on error.
func refreshEvidence(t *testing.T, src Source) *Result {
	t.Helper()
	res, err := src.Refresh(context.Background())
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if len(res.Snapshots) != 1 || res.Snapshots[0].SLI != slo.SLIEvidenceAutomation {
		t.Fatalf("snapshots = %+v, want one %s snapshot", res.Snapshots, slo.SLIEvidenceAutomation)
	}
	if got := len(res.Noncompliant); got != res.Snapshots[0].Noncompliant {
		t.Fatalf("listed %d non-compliant objects, snapshot counts %d", got, res.Snapshots[0].Noncompliant)
	}
	return res
}

// evidenceReasons maps each non-compliant object id to its reason.
func evidenceReasons(res *Result) map[string]string {
	reasons := map[string]string{}
	for _, obj := range res.Noncompliant {
		reasons[obj.ID] = obj.Reason
	}
	return reasons
}

// writeEvidenceFile writes content into dir/name and returns the path.
func writeEvidenceFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func readEvidenceFixture(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// evidenceSample returns the path of a public sample file, or skips the
// test when the samples folder is absent.
func evidenceSample(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join("..", "..", "shared", "samples", name)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("sample %s not available (%v); the public samples folder is not checked out next to the project", name, err)
	}
	return path
}

func checkEvidenceSnapshot(t *testing.T, res *Result, objects, noncompliant int) {
	t.Helper()
	snap := res.Snapshots[0]
	if snap.Objects != objects {
		t.Errorf("objects = %d, want %d", snap.Objects, objects)
	}
	if snap.Noncompliant != noncompliant {
		t.Errorf("non-compliant = %d, want %d (%v)", snap.Noncompliant, noncompliant, evidenceReasons(res))
	}
}

func checkReasonContains(t *testing.T, reasons map[string]string, id, fragment string) {
	t.Helper()
	reason, ok := reasons[id]
	if !ok {
		t.Errorf("%s is compliant, want non-compliant with %q", id, fragment)
		return
	}
	if !strings.Contains(reason, fragment) {
		t.Errorf("reason of %s = %q, want it to contain %q", id, reason, fragment)
	}
}

const registerCSVFixture = "testdata/controls/register.csv"
const registerYAMLFixture = "testdata/controls/register.yaml"

func TestControlRegisterFixtures(t *testing.T) {
	for _, path := range []string{registerCSVFixture, registerYAMLFixture} {
		t.Run(filepath.Ext(path), func(t *testing.T) {
			src, logs := evidenceTestSource(t, NewControlRegister, "control_register", []string{path}, "", evidenceTestNow)
			res := refreshEvidence(t, src)

			checkEvidenceSnapshot(t, res, 6, 3)
			if res.RecordsRead != 7 || res.RecordsRejected != 0 {
				t.Errorf("read %d, rejected %d; want 7 and 0 (logs: %s)", res.RecordsRead, res.RecordsRejected, logs)
			}
			reasons := evidenceReasons(res)
			checkReasonContains(t, reasons, "A.5.18", "evidence is collected manually; owner iam-team")
			checkReasonContains(t, reasons, "A.8.13", "last evidence 2025-04-01T00:00:00Z is older than its freshness 30d")
			checkReasonContains(t, reasons, "A.8.15", "no last evidence recorded")
			if res.Noncompliant[0].Name != "Access rights" {
				t.Errorf("name of %s = %q, want the catalog title", res.Noncompliant[0].ID, res.Noncompliant[0].Name)
			}
		})
	}
}

func TestControlRegisterFreshnessBoundary(t *testing.T) {
	// A.5.15 was evidenced on 2025-05-30 with freshness 7d.
	tests := []struct {
		name string
		now  time.Time
		want bool
	}{
		{"fresh one second before the bound", time.Date(2025, 6, 5, 23, 59, 59, 0, time.UTC), true},
		{"fresh exactly at the bound", time.Date(2025, 6, 6, 0, 0, 0, 0, time.UTC), true},
		{"stale one second after the bound", time.Date(2025, 6, 6, 0, 0, 1, 0, time.UTC), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, _ := evidenceTestSource(t, NewControlRegister, "control_register", []string{registerCSVFixture}, "", tt.now)
			_, stale := evidenceReasons(refreshEvidence(t, src))["A.5.15"]
			if fresh := !stale; fresh != tt.want {
				t.Errorf("A.5.15 fresh = %v, want %v", fresh, tt.want)
			}
		})
	}
}

func TestControlRegisterDefaultFreshnessOption(t *testing.T) {
	// A.8.16 has no freshness and was evidenced at 2025-06-01T00:00:00Z.
	now := evidenceTestNow.Add(36 * time.Hour)
	tests := []struct {
		name    string
		options string
		stale   bool
	}{
		{"default of 30d keeps it fresh", "", false},
		{"option of 1d makes it stale", "default_freshness: 1d", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, _ := evidenceTestSource(t, NewControlRegister, "control_register", []string{registerCSVFixture}, tt.options, now)
			_, stale := evidenceReasons(refreshEvidence(t, src))["A.8.16"]
			if stale != tt.stale {
				t.Errorf("A.8.16 stale = %v, want %v", stale, tt.stale)
			}
		})
	}
}

func TestControlRegisterScopeAll(t *testing.T) {
	src, _ := evidenceTestSource(t, NewControlRegister, "control_register", []string{registerCSVFixture}, "scope: all", evidenceTestNow)
	res := refreshEvidence(t, src)

	// 93 controls, of which A.7.4 is not applicable; 3 listed ones are good.
	checkEvidenceSnapshot(t, res, 92, 92-3)
	reasons := evidenceReasons(res)
	checkReasonContains(t, reasons, "A.8.28", "not in the control register")
	if _, listed := reasons["A.7.4"]; listed {
		t.Errorf("A.7.4 is not applicable and must stay out of scope, got reason %q", reasons["A.7.4"])
	}
}

func TestControlRegisterRejectedRows(t *testing.T) {
	header := "control,owner,collection,last_evidence,freshness,applicable\r\n"
	good := "A.5.1,ciso,automated,2025-05-20T08:00:00Z,30d,yes\r\n"
	tests := []struct {
		name  string
		row   string
		log   string
		scope int    // objects in scope, counting the good row
		id    string // control kept in scope as non-compliant, if any
	}{
		{"unknown id with a suggestion", "8.15,sre,automated,2025-05-20T08:00:00Z,30d,yes", `register.csv:3:1: unknown Annex A control "8.15"; did you mean "A.8.15"?`, 1, ""},
		{"unknown id without a suggestion", "A.9.9,sre,automated,2025-05-20T08:00:00Z,30d,yes", `unknown Annex A control "A.9.9"; use an ISO/IEC 27001:2022 id`, 1, ""},
		{"clause instead of a control", "9.1,sre,automated,2025-05-20T08:00:00Z,30d,yes", `"9.1" is a clause of ISO/IEC 27001, not an Annex A control`, 1, ""},
		{"missing id", ",sre,automated,2025-05-20T08:00:00Z,30d,yes", "register.csv:3:1: missing control id", 1, ""},
		{"unknown collection", "A.8.15,sre,scripted,2025-05-20T08:00:00Z,30d,yes", `register.csv:3:12: invalid collection "scripted"; use automated or manual`, 2, "A.8.15"},
		{"unknown timestamp format", "A.8.15,sre,automated,20/05/2025,30d,yes", `register.csv:3:22: invalid last_evidence: invalid timestamp "20/05/2025"`, 2, "A.8.15"},
		{"timestamp in the future", "A.8.15,sre,automated,2026-05-20T08:00:00Z,30d,yes", "is in the future (now 2025-06-01T00:00:00Z); check the year", 2, "A.8.15"},
		{"invalid freshness", "A.8.15,sre,automated,2025-05-20T08:00:00Z,30 days,yes", `invalid freshness "30 days"; use a positive duration`, 2, "A.8.15"},
		{"zero freshness", "A.8.15,sre,automated,2025-05-20T08:00:00Z,0,yes", `invalid freshness "0"`, 2, "A.8.15"},
		{"row with an extra field", "A.8.15,sre,automated,2025-05-20T08:00:00Z,30d,yes,extra", "register.csv:3: row has 7 fields, the header has 6; check for a missing or extra comma", 2, "A.8.15"},
		{"row with a missing field", "A.8.15,sre,automated", "register.csv:3: row has 3 fields, the header has 6", 2, "A.8.15"},
		{"invalid applicable", "A.8.15,sre,automated,2025-05-20T08:00:00Z,30d,maybe", `invalid applicable "maybe"; use yes or no`, 2, "A.8.15"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeEvidenceFile(t, t.TempDir(), "register.csv", header+good+tt.row+"\r\n")
			src, logs := evidenceTestSource(t, NewControlRegister, "control_register", []string{path}, "", evidenceTestNow)
			res := refreshEvidence(t, src)

			if res.RecordsRead != 2 || res.RecordsRejected != 1 {
				t.Errorf("read %d, rejected %d; want 2 and 1", res.RecordsRead, res.RecordsRejected)
			}
			if !strings.Contains(logs.String(), tt.log) {
				t.Errorf("log does not contain %q:\n%s", tt.log, logs)
			}
			checkEvidenceSnapshot(t, res, tt.scope, tt.scope-1)
			if tt.id != "" {
				checkReasonContains(t, evidenceReasons(res), tt.id, "register row rejected")
			}
		})
	}
}

func TestControlRegisterDuplicateIDs(t *testing.T) {
	dir := t.TempDir()
	first := writeEvidenceFile(t, dir, "a.csv", "control,collection,last_evidence\nA.5.1,automated,2025-05-31T00:00:00Z\nA.8.15,automated,2025-05-31T00:00:00Z\n")
	second := writeEvidenceFile(t, dir, "b.yaml", "- control: A.8.15\n  collection: manual\n")
	src, logs := evidenceTestSource(t, NewControlRegister, "control_register", []string{first, second}, "", evidenceTestNow)
	res := refreshEvidence(t, src)

	checkEvidenceSnapshot(t, res, 2, 1)
	checkReasonContains(t, evidenceReasons(res), "A.8.15", "listed 2 times ("+first+":3, "+second+":1); keep one row")
	if res.RecordsRejected != 2 {
		t.Errorf("rejected = %d, want both duplicate rows", res.RecordsRejected)
	}
	if !strings.Contains(logs.String(), "duplicate control in register") {
		t.Errorf("duplicate not logged:\n%s", logs)
	}
}

func TestControlRegisterAcceptsBOMAndCRLF(t *testing.T) {
	want := refreshEvidence(t, mustRegister(t, registerCSVFixture))
	for _, format := range []string{"csv", "yaml"} {
		t.Run(format, func(t *testing.T) {
			fixture := map[string]string{"csv": registerCSVFixture, "yaml": registerYAMLFixture}[format]
			content := "\uFEFF" + strings.ReplaceAll(readEvidenceFixture(t, fixture), "\n", "\r\n")
			path := writeEvidenceFile(t, t.TempDir(), "register."+format, content)
			got := refreshEvidence(t, mustRegister(t, path))

			if !reflect.DeepEqual(got.Snapshots, want.Snapshots) {
				t.Errorf("snapshots = %+v, want %+v", got.Snapshots, want.Snapshots)
			}
			if !reflect.DeepEqual(evidenceReasons(got), evidenceReasons(want)) {
				t.Errorf("reasons = %v, want %v", evidenceReasons(got), evidenceReasons(want))
			}
		})
	}
}

func mustRegister(t *testing.T, path string) Source {
	t.Helper()
	src, _ := evidenceTestSource(t, NewControlRegister, "control_register", []string{path}, "", evidenceTestNow)
	return src
}

func TestControlRegisterFileErrors(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		content string
		want    string
	}{
		{"empty CSV file", "r.csv", "", "r.csv: empty file"},
		{"CSV file with only a byte-order mark", "r.csv", "\uFEFF\r\n", "r.csv: empty file"},
		{"empty YAML file", "r.yaml", "# nothing yet\n", "r.yaml: empty file"},
		{"CSV header without a required column", "r.csv", "control,owner,collection\nA.5.1,ciso,manual\n", `r.csv:1: missing column "last_evidence"`},
		{"CSV header with a repeated column", "r.csv", "control,collection,last_evidence,Control\n", `r.csv:1: duplicate column "control" (columns 1 and 4)`},
		{"CSV row with an unclosed quote", "r.csv", "control,collection,last_evidence\nA.5.1,\"manual,\n", `r.csv:2:16: invalid CSV: extraneous or missing " in quoted-field`},
		{"YAML mapping at the top level", "r.yaml", "control: A.5.1\n", "r.yaml:1:1: top level is a mapping; a control register is a YAML sequence"},
		{"YAML item that is a scalar", "r.yaml", "- A.5.1\n", "r.yaml:1:3: list item is a scalar"},
		{"YAML unknown key", "r.yaml", "- control: A.5.1\n  colection: manual\n", `r.yaml:2:3: unknown key "colection"`},
		{"YAML list value", "r.yaml", "- control: [A.5.1, A.5.2]\n  collection: manual\n", `r.yaml:1:12: key "control" has a sequence value`},
		{"CSV header without rows", "r.csv", "control,collection,last_evidence\r\n", "r.csv: no control rows"},
		{"YAML empty list", "r.yaml", "[]\n", "r.yaml: no control rows"},
		{"YAML syntax error", "r.yaml", "- control: A.5.1\n collection: [\n", "r.yaml: invalid YAML"},
		{"CSV whose every row is rejected", "r.csv", "control,collection,last_evidence\nAC-2,automated,\nAC-3,automated,\n", `r.csv: every one of the 2 rows was rejected, so the file is not in the expected format; the first: `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeEvidenceFile(t, t.TempDir(), tt.file, tt.content)
			src, _ := evidenceTestSource(t, NewControlRegister, "control_register", []string{path}, "", evidenceTestNow)
			res, err := src.Refresh(context.Background())

			if err == nil {
				t.Fatalf("Refresh returned %+v, want an error containing %q", res, tt.want)
			}
			if res != nil {
				t.Errorf("Refresh returned a result with its error: %+v", res)
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

func TestControlRegisterMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.csv")
	src, _ := evidenceTestSource(t, NewControlRegister, "control_register", []string{path}, "", evidenceTestNow)
	_, err := src.Refresh(context.Background())

	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("error = %v, want fs.ErrNotExist", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file", err)
	}
}

func TestNewControlRegisterRejectsConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		options string
		want    string
	}{
		{"no paths", Config{Name: "r", Type: "control_register"}, "", "missing paths"},
		{"a URL", Config{Name: "r", Type: "control_register", URL: "http://127.0.0.1/", Paths: []string{"r.csv"}}, "", "url is not supported"},
		{"unknown extension", Config{Name: "r", Type: "control_register", Paths: []string{"r.txt"}}, "", "cannot tell the format of r.txt"},
		{"unknown format", Config{Name: "r", Type: "control_register", Paths: []string{"r.csv"}}, "format: xlsx", `invalid options.format "xlsx"`},
		{"unknown scope", Config{Name: "r", Type: "control_register", Paths: []string{"r.csv"}}, "scope: some", `invalid options.scope "some"`},
		{"zero default freshness", Config{Name: "r", Type: "control_register", Paths: []string{"r.csv"}}, "default_freshness: 0s", "invalid options.default_freshness 0s"},
		{"unknown option", Config{Name: "r", Type: "control_register", Paths: []string{"r.csv"}}, "freshness: 1d", "field freshness not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Options = evidenceOptionsNode(t, tt.options)
			_, err := NewControlRegister(cfg, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestControlRegisterFormatOption(t *testing.T) {
	path := writeEvidenceFile(t, t.TempDir(), "register.txt", readEvidenceFixture(t, registerYAMLFixture))
	src, _ := evidenceTestSource(t, NewControlRegister, "control_register", []string{path}, "format: yaml", evidenceTestNow)
	checkEvidenceSnapshot(t, refreshEvidence(t, src), 6, 3)
}

// checkEvidenceInvariants fails when a result breaks what every evidence
// refresh must keep, whatever the input.
func checkEvidenceInvariants(t *testing.T, res *Result) {
	t.Helper()
	snap := res.Snapshots[0]
	if snap.Noncompliant < 0 || snap.Noncompliant > snap.Objects {
		t.Fatalf("non-compliant %d outside [0, %d]", snap.Noncompliant, snap.Objects)
	}
	if res.RecordsRejected < 0 || res.RecordsRejected > res.RecordsRead {
		t.Fatalf("rejected %d outside [0, read %d]", res.RecordsRejected, res.RecordsRead)
	}
	for _, obj := range res.Noncompliant {
		if obj.Reason == "" || obj.ID == "" {
			t.Fatalf("non-compliant object without id or reason: %+v", obj)
		}
	}
}

func FuzzControlRegisterCSV(f *testing.F) {
	f.Add([]byte(readEvidenceFixtureForFuzz(f, registerCSVFixture)))
	f.Add([]byte("control,collection,last_evidence\nA.5.1,manual,\nA.5.1,automated,1\n"))
	f.Add([]byte("\uFEFFcontrol,collection,last_evidence\r\n\"A.5.1\",automated,\"2025-05-31T00:00:00Z\"\r\n"))
	fuzzEvidenceSource(f, NewControlRegister, "control_register", "register.csv")
}

func FuzzControlRegisterYAML(f *testing.F) {
	f.Add([]byte(readEvidenceFixtureForFuzz(f, registerYAMLFixture)))
	f.Add([]byte("- control: A.5.1\n  collection: automated\n  last_evidence: &a 1\n- control: *a\n"))
	f.Add([]byte("- {control: A.8.15, collection: manual, applicable: no}\n"))
	fuzzEvidenceSource(f, NewControlRegister, "control_register", "register.yaml")
}

func readEvidenceFixtureForFuzz(f *testing.F, path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	return string(data)
}

// fuzzEvidenceSource refreshes a source over each fuzz input written to one
// file; extra paths are added after it. A refresh either fails or returns a
// result that keeps checkEvidenceInvariants.
func fuzzEvidenceSource(f *testing.F, factory Factory, typ, name string, extra ...string) {
	path := filepath.Join(f.TempDir(), name)
	cfg := Config{Name: "fuzz", Type: typ, Paths: append([]string{path}, extra...)}
	src, err := factory(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		setEvidenceClock(t, src, evidenceTestNow)
		res, err := src.Refresh(context.Background())
		if err != nil {
			if res != nil {
				t.Fatalf("Refresh returned a result with its error %v", err)
			}
			return
		}
		if len(res.Snapshots) != 1 {
			t.Fatalf("snapshots = %+v, want one", res.Snapshots)
		}
		checkEvidenceInvariants(t, res)
	})
}
