package sources

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secslo/secslo/slo"
)

// findingTestNow is the refresh time of the findings tests.
var findingTestNow = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// newTestFindings builds a findings source at a fixed clock.
func newTestFindings(t testing.TB, opts string, now time.Time, paths ...string) (*findings, *bytes.Buffer) {
	t.Helper()
	logger, logs := listTestLogger()
	src, err := NewFindings(listTestConfig(t, "findings", opts, paths...), logger)
	if err != nil {
		t.Fatalf("NewFindings: %v", err)
	}
	f := src.(*findings)
	f.now = func() time.Time { return now }
	return f, logs
}

// describeEvents prints events one per line, for comparisons.
func describeEvents(events []Event) string {
	var lines []string
	for _, e := range events {
		line := e.ID
		if !e.Start.IsZero() {
			line += " start=" + e.Start.Format(time.RFC3339)
		}
		if e.Closed() {
			line += " end=" + e.End.Format(time.RFC3339)
			line += fmt.Sprintf(" bad=%v", e.Bad())
		} else {
			line += " open"
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

func TestFindingsReadRegisters(t *testing.T) {
	want := strings.Join([]string{
		"F-1 start=2024-01-10T09:00:00Z end=2024-02-20T09:00:00Z bad=false",
		"F-2 start=2024-01-15T09:00:00Z end=2024-06-01T09:00:00Z bad=true",
		"F-3 start=2024-04-01T09:00:00Z open",
		"F-4 end=2024-04-01T09:00:00Z bad=true",
	}, "\n")
	for _, file := range []string{"register.csv", "register.json"} {
		t.Run(file, func(t *testing.T) {
			src, _ := newTestFindings(t, `closed_statuses: [closed]`, findingTestNow, filepath.Join("testdata/findings", file))
			result, err := src.Refresh(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := describeEvents(result.Events); got != want {
				t.Errorf("events:\n%s\nwant:\n%s", got, want)
			}
			if result.RecordsRead != 4 || result.RecordsRejected != 0 {
				t.Errorf("read %d, rejected %d; want 4 and 0", result.RecordsRead, result.RecordsRejected)
			}
			for _, e := range result.Events {
				if e.SLI != slo.SLIFindingClosure {
					t.Errorf("event %s has SLI %q, want finding_closure", e.ID, e.SLI)
				}
			}
		})
	}
}

func TestFindingsSeverityScope(t *testing.T) {
	src, _ := newTestFindings(t, `{severities: [MAJOR], closed_statuses: [closed], deadline: 180d}`, findingTestNow, "testdata/findings/register.csv")
	result, err := src.Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := "F-1 start=2024-01-10T09:00:00Z end=2024-02-20T09:00:00Z bad=false\nF-2 start=2024-01-15T09:00:00Z end=2024-06-01T09:00:00Z bad=false"
	if got := describeEvents(result.Events); got != want {
		t.Errorf("events:\n%s\nwant:\n%s", got, want)
	}
}

func TestFindingPOAMReadsSample(t *testing.T) {
	export, err := parseFindingPOAM("poam.json", readSample(t, "oscal-ifa_plan-of-action-and-milestones.json"))
	if err != nil {
		t.Fatal(err)
	}

	if len(export.records) != 2 || len(export.rejected) != 0 {
		t.Fatalf("records %d, rejected %v; want 2 and none", len(export.records), export.rejected)
	}
	wantOpened := []time.Time{
		time.Date(2023, 5, 19, 16, 14, 16, 0, time.UTC),
		time.Date(2023, 6, 2, 12, 31, 20, 0, time.UTC),
	}
	for i, record := range export.records {
		if !record.closed.IsZero() {
			t.Errorf("item %s closed at %s, want open", record.id, record.closed)
		}
		if !record.opened.Equal(wantOpened[i]) {
			t.Errorf("item %s opened %s, want %s", record.id, record.opened, wantOpened[i])
		}
	}
	if export.records[1].status != "open" {
		t.Errorf("second item status = %q, want open", export.records[1].status)
	}

	// The first item's related risk is the uuid of a mitigating factor of
	// the deviation-approved risk, not of a risk, so it stays open with a
	// warning.
	if len(export.warnings) != 1 || !strings.Contains(export.warnings[0], `names risk "401c15c9-ad6b-4d4a-a591-7d53a3abb3b6", which is not among the document's risks`) {
		t.Errorf("warnings = %q, want the unknown risk reported", export.warnings)
	}

	statuses := poamSampleRiskStatuses(t)
	if statuses != "deviation-approved, open" {
		t.Errorf("risk statuses = %q, want deviation-approved, open", statuses)
	}
}

// poamSampleRiskStatuses reads the statuses of the sample's risks through
// the POA&M reader's types.
func poamSampleRiskStatuses(t *testing.T) string {
	t.Helper()
	walk, err := newRecordJSON("poam.json", readSample(t, "oscal-ifa_plan-of-action-and-milestones.json"))
	if err != nil {
		t.Fatal(err)
	}
	doc := &poamDocument{observations: map[string]poamObservation{}, risks: map[string]poamRisk{}}
	err = walk.object("the document", map[string]func() error{
		"plan-of-action-and-milestones": func() error {
			return walk.object("plan", doc.handlers(walk, &recordExport[findingRecord]{}))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var statuses []string
	for _, uuid := range []string{"8b8bae66-b28c-4fa5-9a20-b79e7322fc00", "1c65d2d3-7735-47fa-8f68-a236744beab7"} {
		statuses = append(statuses, doc.risks[uuid].Status)
	}
	return strings.Join(statuses, ", ")
}

func TestFindingsPOAMSampleEvents(t *testing.T) {
	readSample(t, "oscal-ifa_plan-of-action-and-milestones.json")
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	src, _ := newTestFindings(t, "", now, filepath.Join(sharedSamples, "oscal-ifa_plan-of-action-and-milestones.json"))
	result, err := src.Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	// Both items were open for more than 90 days on 2024-01-01, so both
	// count as bad at their deadline.
	want := "e174dfb9-0ae3-4a8f-8e7c-081527b84337 end=2023-08-17T16:14:16Z bad=true\n" +
		"48c8368d-43ff-4736-9b28-64b1b1284c03 end=2023-08-31T12:31:20Z bad=true"
	if got := describeEvents(result.Events); got != want {
		t.Errorf("events:\n%s\nwant:\n%s", got, want)
	}
}

func TestFindingPOAMClosesByRiskLog(t *testing.T) {
	data, err := os.ReadFile("testdata/findings/poam-closed.json")
	if err != nil {
		t.Fatal(err)
	}
	export, err := parseFindingPOAM("poam-closed.json", data)
	if err != nil {
		t.Fatal(err)
	}

	want := "c4e8a2f0-0000-4000-8000-000000000001 opened 2024-01-10T09:00:00Z closed 2024-02-20T09:00:00Z closed\n" +
		"c4e8a2f0-0000-4000-8000-000000000002 opened 2024-03-01T09:00:00Z closed 0001-01-01T00:00:00Z remediating"
	var got []string
	for _, r := range export.records {
		got = append(got, fmt.Sprintf("%s opened %s closed %s %s", r.id, r.opened.Format(time.RFC3339), r.closed.Format(time.RFC3339), r.status))
	}
	if strings.Join(got, "\n") != want {
		t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), want)
	}
}

func TestFindingJiraReadsSample(t *testing.T) {
	export, err := parseFindingJira("jira.json", readSample(t, "go-jira-issues_in_sprint_with_changelog.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(export.records) != 1 {
		t.Fatalf("records = %+v, want 1", export.records)
	}

	r := export.records[0]
	want := "AR-86 opened 2015-12-02T15:39:15Z closed 2015-12-07T22:19:13Z severity major status Ready"
	got := fmt.Sprintf("%s opened %s closed %s severity %s status %s", r.id, r.opened.Format(time.RFC3339), r.closed.Format(time.RFC3339), r.severity, r.status)
	if got != want {
		t.Errorf("record = %s, want %s", got, want)
	}
	if e := findingEvent(r, 90*24*time.Hour, findingTestNow); e.Bad() || !e.Closed() {
		t.Errorf("event %+v: want closed and good, 5 days against 90", e)
	}
}

func TestFindingJiraReadsBareArray(t *testing.T) {
	data := []byte(`[{"key": "AUD-1", "fields": {"created": "2024-03-01T10:00:00.000+0100", "resolutiondate": null}}]`)
	export, err := parseFindingJira("jira.json", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(export.records) != 1 || export.records[0].id != "AUD-1" || !export.records[0].closed.IsZero() {
		t.Errorf("records = %+v, want AUD-1 open", export.records)
	}
}

func TestFindingsJiraExport(t *testing.T) {
	src, _ := newTestFindings(t, "", findingTestNow, "testdata/findings/jira-open.json")
	result, err := src.Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := "AUD-7 start=2024-03-01T09:00:00Z open\nAUD-8 start=2024-01-05T09:00:00Z end=2024-03-01T09:00:00Z bad=false"
	if got := describeEvents(result.Events); got != want {
		t.Errorf("events:\n%s\nwant:\n%s", got, want)
	}
}

// writeFindingFile writes content to a file named name in a test folder.
func writeFindingFile(t testing.TB, name, content string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestFindingsRejectBadRecords(t *testing.T) {
	header := "id,opened,closed,severity,status\n"
	good := "F-9,2024-04-01T00:00:00Z,,minor,open\n"
	cases := []struct {
		name, file, content string
		wantRejects         []string
		wantEvents          int
	}{
		{"missing id", "r.csv", header + good + ",2024-04-01T00:00:00Z,,minor,open\n", []string{"r.csv line=3", "missing finding id"}, 1},
		{"unknown timestamp", "r.csv", header + good + "F-1,last tuesday,,minor,open\n", []string{`finding \"F-1\": opened: invalid timestamp \"last tuesday\"`}, 1},
		{"missing opened time", "r.csv", header + good + "F-1,,,minor,open\n", []string{`finding \"F-1\": missing opened time`}, 1},
		{"closed before opened", "r.csv", header + good + "F-1,2024-04-02T00:00:00Z,2024-04-01T00:00:00Z,minor,closed\n", []string{"closed 2024-04-01T00:00:00Z is before opened 2024-04-02T00:00:00Z"}, 1},
		{"closed status without time", "r.csv", header + good + "F-1,2024-04-01T00:00:00Z,,minor,Closed\n", []string{`status \"Closed\" means closed, but the closed time is empty`}, 1},
		{"closed time with open status", "r.csv", header + good + "F-1,2024-04-01T00:00:00Z,2024-04-03T00:00:00Z,minor,open\n", []string{`has a closed time but status \"open\"`}, 1},
		{"row of wrong width", "r.csv", header + good + "F-1,2024-04-01T00:00:00Z\n", []string{"row has 2 fields, the header has 5"}, 1},
		{
			"duplicate id", "r.csv", header + good + "F-1,2024-04-01T00:00:00Z,,minor,open\nF-1,2024-04-01T00:00:00Z,2024-04-02T00:00:00Z,minor,closed\n",
			[]string{`duplicate id \"F-1\" at lines 3, 4: every record of it is left out`, "line=3", "line=4"}, 1,
		},
		{"id of wrong type", "r.json", `[{"id": "F-9", "opened": "2024-04-01T00:00:00Z"}, {"id": {"n": 1}, "opened": "2024-04-01T00:00:00Z"}]`, []string{`field \"id\": found an object, expected a string or a number`}, 1},
		{"element of wrong type", "r.json", `[{"id": "F-9", "opened": "2024-04-01T00:00:00Z"}, 7]`, []string{"element is a JSON number, expected an object"}, 1},
		{"NUL in an id", "r.csv", header + good + "F-\x001,2024-04-01T00:00:00Z,,minor,open\n", []string{"contains a NUL character or invalid UTF-8"}, 1},
		{"invalid UTF-8 in an id", "r.csv", header + good + "F-\xff,2024-04-01T00:00:00Z,,minor,open\n", []string{"contains a NUL character or invalid UTF-8"}, 1},
		{"BOM and CRLF", "r.csv", "\xEF\xBB\xBF" + strings.ReplaceAll(header+good, "\n", "\r\n"), nil, 1},
		{"jira issue without key", "j.json", `{"issues": [{"key": "A-1", "fields": {"created": "2024-04-01T00:00:00Z"}}, {"fields": {"created": "2024-04-01T00:00:00Z"}}]}`, []string{"missing issue key"}, 1},
		{"jira created of wrong type", "j.json", `{"issues": [{"key": "A-1", "fields": {"created": "2024-04-01T00:00:00Z"}}, {"key": "A-2", "fields": {"created": true}}]}`, []string{"found a boolean, expected a string or a number"}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := writeFindingFile(t, tc.file, tc.content)
			src, logs := newTestFindings(t, "", findingTestNow, file)
			result, err := src.Refresh(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(result.Events) != tc.wantEvents {
				t.Errorf("events = %d, want %d", len(result.Events), tc.wantEvents)
			}
			if tc.wantRejects == nil && result.RecordsRejected != 0 {
				t.Errorf("rejected = %d, want 0; log:\n%s", result.RecordsRejected, logs)
			}
			for _, fragment := range tc.wantRejects {
				if !strings.Contains(logs.String(), fragment) {
					t.Errorf("log does not contain %q:\n%s", fragment, logs)
				}
			}
		})
	}
}

func TestFindingsFailOnBadFiles(t *testing.T) {
	cases := []struct {
		name, file, content, want string
	}{
		{"empty CSV", "r.csv", "", "r.csv: file is empty"},
		{"empty JSON", "r.json", "", "r.json: file is empty"},
		{"truncated register", "r.json", `[{"id": "F-1", "opened": "2024-04-01T00:00:00Z"}, {"id": "F-2"`, "r.json:1:63: invalid JSON: unexpected end of input"},
		{"truncated POA&M", "p.json", `{"plan-of-action-and-milestones": {"poam-items": [{"uuid": "x"`, "p.json:1:63: invalid JSON: unexpected end of input"},
		{"unknown JSON document", "x.json", `{"items": []}`, "unknown findings format"},
		{"POA&M member of wrong type", "p.json", `{"plan-of-action-and-milestones": []}`, "plan-of-action-and-milestones is an array, expected an object"},
		{"missing column", "r.csv", "id,closed\nF-1,\n", `missing required column "opened" (found "id", "closed")`},
		{"unknown extension", "r.txt", "id,opened\n", "cannot tell the format of"},
		{"every record rejected", "r.csv", "id,opened\nF-1,never\nF-2,\n", "every record of"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := writeFindingFile(t, tc.file, tc.content)
			src, _ := newTestFindings(t, "", findingTestNow, file)
			_, err := src.Refresh(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}

	src, _ := newTestFindings(t, "", findingTestNow, filepath.Join(t.TempDir(), "absent.csv"))
	if _, err := src.Refresh(context.Background()); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v, want a not-exist error", err)
	}
}

func TestNewFindingsRejectsBadOptions(t *testing.T) {
	cases := []struct {
		name, opts, want string
	}{
		{"unknown option", "deadlines: 90d", "field deadlines not found"},
		{"bad format", "format: xlsx", `invalid options.format "xlsx"`},
		{"zero deadline", "deadline: 0s", "invalid options.deadline 0s"},
		{"no closed statuses", "closed_statuses: []", "options.closed_statuses is empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewFindings(listTestConfig(t, "findings", tc.opts, "r.csv"), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestFindingsCountOnceThroughLedger(t *testing.T) {
	dir := t.TempDir()
	ledgerPath := filepath.Join(dir, "ledger.db")
	export := filepath.Join(dir, "register.csv")
	header := "id,opened,closed,status\n"

	// Day 1: F-1 closed in time, F-2 open and not yet due. Day 2, after a
	// restart: the export repeats F-1 and closes F-2 late. Day 3: a rolling
	// export drops F-1 and F-2. Day 4: F-3 is overdue while still open and
	// counts once; it closes later and does not count again.
	steps := []struct {
		now     time.Time
		content string
		restart bool
		want    string
	}{
		{findingTestNow, header + "F-1,2024-04-01T00:00:00Z,2024-04-10T00:00:00Z,closed\nF-2,2024-03-01T00:00:00Z,,open\n", false, "1 0"},
		{findingTestNow.AddDate(0, 2, 0), header + "F-1,2024-04-01T00:00:00Z,2024-04-10T00:00:00Z,closed\nF-2,2024-03-01T00:00:00Z,2024-06-20T00:00:00Z,closed\n", true, "2 1"},
		{findingTestNow.AddDate(0, 2, 1), header + "F-3,2024-06-01T00:00:00Z,,open\n", false, "2 1"},
		{findingTestNow.AddDate(0, 4, 0), header + "F-3,2024-06-01T00:00:00Z,,open\n", true, "3 2"},
		{findingTestNow.AddDate(0, 5, 0), header + "F-3,2024-06-01T00:00:00Z,2024-09-20T00:00:00Z,closed\n", false, "3 2"},
	}
	ledger := openVulnTestLedger(t, ledgerPath)
	for i, step := range steps {
		if step.restart {
			if err := ledger.Close(); err != nil {
				t.Fatal(err)
			}
			ledger = openVulnTestLedger(t, ledgerPath)
		}
		if err := os.WriteFile(export, []byte(step.content), 0o600); err != nil {
			t.Fatal(err)
		}
		src, _ := newTestFindings(t, "", step.now, export)
		result, err := src.Refresh(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ledger.Commit("findings", result.Events, nil, step.now); err != nil {
			t.Fatal(err)
		}
		if got := vulnCounts(ledger, "findings", slo.SLIFindingClosure); got != step.want {
			t.Errorf("step %d: total and bad = %s, want %s", i, got, step.want)
		}
	}
	ledger.Close()
}

func TestFindingsKeepClosedCopyAcrossFiles(t *testing.T) {
	older := writeFindingFile(t, "older.csv", "id,opened,closed\nF-1,2024-04-01T00:00:00Z,\n")
	newer := writeFindingFile(t, "newer.csv", "id,opened,closed\nF-1,2024-04-01T00:00:00Z,2024-04-05T00:00:00Z\n")
	src, _ := newTestFindings(t, "", findingTestNow, older, newer)
	result, err := src.Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := describeEvents(result.Events); got != "F-1 start=2024-04-01T00:00:00Z end=2024-04-05T00:00:00Z bad=false" {
		t.Errorf("events = %s, want the closed copy of F-1", got)
	}
}

func FuzzParseFindingRegister(f *testing.F) {
	for _, file := range []string{"register.csv", "register.json"} {
		data, err := os.ReadFile(filepath.Join("testdata/findings", file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, strings.HasSuffix(file, ".csv"))
	}
	columns := findingColumns{ID: "id", Opened: "opened", Closed: "closed", Severity: "severity", Status: "status"}

	f.Fuzz(func(t *testing.T, data []byte, csv bool) {
		format := findingFormatJSON
		if csv {
			format = findingFormatCSV
		}
		export, err := parseFindingRegister("fuzz", data, format, columns, findingDefaultClosedStatuses)
		checkFuzzedFindings(t, export, err)
	})
}

func FuzzParseFindingPOAM(f *testing.F) {
	data, err := os.ReadFile("testdata/findings/poam-closed.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		export, err := parseFindingPOAM("fuzz.json", data)
		checkFuzzedFindings(t, export, err)
	})
}

func FuzzParseFindingJira(f *testing.F) {
	data, err := os.ReadFile("testdata/findings/jira-open.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		export, err := parseFindingJira("fuzz.json", data)
		checkFuzzedFindings(t, export, err)
	})
}

// checkFuzzedFindings checks what every findings parser promises: an error
// is an *InputError, and every record has an id, an opened time, and no
// closed time before it.
func checkFuzzedFindings(t *testing.T, export *recordExport[findingRecord], err error) {
	t.Helper()
	if err != nil {
		var inputErr *InputError
		if !errors.As(err, &inputErr) {
			t.Fatalf("error %v is a %T, want an *InputError", err, err)
		}
		return
	}
	for _, r := range export.records {
		if r.id == "" || r.opened.IsZero() || (!r.closed.IsZero() && r.closed.Before(r.opened)) {
			t.Fatalf("invalid record %+v", r)
		}
	}
}
