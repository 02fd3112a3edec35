package sources

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// eventSourceConfig returns a Config of type typ reading paths with the
// options in YAML.
func eventSourceConfig(t testing.TB, typ, options string, paths ...string) Config {
	t.Helper()
	cfg := Config{Name: "test", Type: typ, Paths: paths}
	if options != "" {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(options), &doc); err != nil {
			t.Fatalf("options: %v", err)
		}
		cfg.Options = *doc.Content[0]
	}
	return cfg
}

func refreshIncidents(t testing.TB, options string, paths ...string) (*Result, error) {
	t.Helper()
	src, err := NewIncidents(eventSourceConfig(t, "incidents", options, paths...), discardLogger())
	if err != nil {
		t.Fatalf("NewIncidents: %v", err)
	}
	return src.Refresh(context.Background())
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// eventByID returns the event of sli with id, failing the test when absent.
func eventByID(t testing.TB, res *Result, sli, id string) Event {
	t.Helper()
	for _, e := range res.Events {
		if e.SLI == sli && e.ID == id {
			return e
		}
	}
	t.Fatalf("no %s event %q among %d events", sli, id, len(res.Events))
	return Event{}
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	ts, err := ParseTimestamp(s)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func TestIncidentsGuardDutySample(t *testing.T) {
	sample := filepath.Join("..", "..", "shared", "samples", "aws-guardduty-get-findings.json")
	if _, err := os.Stat(sample); err != nil {
		t.Skipf("GuardDuty sample not available (%v); it lives outside the repository", err)
	}

	res, err := refreshIncidents(t, "format: guardduty", sample)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Events) != 1 {
		t.Fatalf("got %d events, want 1 detection event (GuardDuty records no containment)", len(res.Events))
	}

	e := eventByID(t, res, "detection_time", "1ab92989eaf0e742df4a014d5example")
	want := 19*time.Minute + 24385*time.Millisecond
	if e.Duration() != want {
		t.Errorf("detection took %s, want %s", e.Duration(), want)
	}
	if !e.Bad() {
		t.Error("a 19-minute detection met the 15-minute objective, want it to miss")
	}

	l := openTestLedger(t, filepath.Join(t.TempDir(), "ledger.db"))
	commit(t, l, "guardduty", res.Events, nil, e.End.Add(time.Hour))
	wantCounts(t, l, "guardduty", "detection_time", 1, 1)
}

func TestIncidentsJiraSample(t *testing.T) {
	sample := filepath.Join("..", "..", "shared", "samples", "go-jira-issues_in_sprint_with_changelog.json")
	if _, err := os.Stat(sample); err != nil {
		t.Skipf("Jira sample not available (%v); it lives outside the repository", err)
	}

	res, err := refreshIncidents(t, "{format: jira, jira: {detected_statuses: [Triaged], contained_statuses: [Contained]}}", sample)
	if err != nil {
		t.Fatal(err)
	}
	// The sample's changelog changes summary and priority but no status,
	// so its issue opens a detection event that has not closed.
	e := eventByID(t, res, "detection_time", "AR-86")
	if e.Closed() {
		t.Errorf("AR-86 closed at %s, want it open: the sample has no status transition", e.End)
	}
	if want := mustTime(t, "2015-12-02T07:39:15.000-0800"); !e.Start.Equal(want) {
		t.Errorf("start: got %s, want fields.created %s", e.Start, want)
	}
	if len(res.Events) != 1 {
		t.Errorf("got %d events, want 1: no containment event without a detection", len(res.Events))
	}
}

func TestIncidentsFormats(t *testing.T) {
	type want struct {
		sli, id  string
		duration time.Duration // 0 for an open event
		bad      bool
	}
	tests := []struct {
		name    string
		options string
		file    string
		want    []want
	}{
		{"generic CSV", "format: csv", "synthetic-incidents.csv", []want{
			{"detection_time", "INC-1", 10 * time.Minute, false},
			{"containment_time", "INC-1", 110 * time.Minute, false},
			{"detection_time", "INC-2", 30 * time.Minute, true},
			{"containment_time", "INC-2", 330 * time.Minute, true},
			{"detection_time", "INC-3", 5 * time.Minute, false},
			{"containment_time", "INC-3", 0, false},
			{"containment_time", "INC-4", time.Hour + 500*time.Millisecond, false},
		}},
		{"PagerDuty incident list", "format: pagerduty", "synthetic-pagerduty-incidents.json", []want{
			{"containment_time", "PT4KHLK", 3 * time.Hour, false},
			{"containment_time", "PQ7XJ2A", 6 * time.Hour, true},
			{"containment_time", "PB2NC9D", 0, false},
		}},
		{"OCSF incident findings", "format: ocsf", "synthetic-ocsf-incident-findings.json", []want{
			{"detection_time", "ocsf-inc-1", 10 * time.Minute, false},
			{"containment_time", "ocsf-inc-1", 50 * time.Minute, false},
			{"detection_time", "ocsf-inc-2", time.Hour, true},
			{"containment_time", "ocsf-inc-2", 0, false},
		}},
		{"Jira with status transitions", "{format: jira, jira: {occurred_field: customfield_10042, detected_statuses: [triaged], contained_statuses: [Contained, Done]}}",
			"synthetic-jira-incidents.json", []want{
				{"detection_time", "SEC-1", 15 * time.Minute, false},
				{"containment_time", "SEC-1", 6 * time.Hour, true},
				{"detection_time", "SEC-2", 32 * time.Minute, true},
				{"containment_time", "SEC-2", 0, false},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := refreshIncidents(t, tt.options, filepath.Join("testdata", "incidents", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Events) != len(tt.want) {
				t.Errorf("got %d events, want %d", len(res.Events), len(tt.want))
			}
			for _, w := range tt.want {
				e := eventByID(t, res, w.sli, w.id)
				if e.Duration() != w.duration {
					t.Errorf("%s %s: duration %s, want %s", w.sli, w.id, e.Duration(), w.duration)
				}
				if e.Closed() && e.Bad() != w.bad {
					t.Errorf("%s %s: bad %v, want %v", w.sli, w.id, e.Bad(), w.bad)
				}
			}
			if err := checkEvents(res.Events, nil); err != nil {
				t.Errorf("events fail the manager's check: %v", err)
			}
		})
	}
}

func TestIncidentsCustomBoundsAndFields(t *testing.T) {
	path := writeTestFile(t, "custom.csv", "ticket,first,seen,done\nT-1,2024-05-01T10:00:00Z,2024-05-01T10:20:00Z,2024-05-01T11:00:00Z\n")

	res, err := refreshIncidents(t, "{format: csv, detection_bound: 30m, containment_bound: 30m, fields: {id: ticket, occurred: first, detected: seen, contained: done}}", path)
	if err != nil {
		t.Fatal(err)
	}
	if e := eventByID(t, res, "detection_time", "T-1"); e.Bad() {
		t.Error("a 20-minute detection missed a 30-minute bound")
	}
	if e := eventByID(t, res, "containment_time", "T-1"); !e.Bad() {
		t.Error("a 40-minute containment met a 30-minute bound")
	}
}

func TestIncidentsBadInput(t *testing.T) {
	const header = "id,occurred_at,detected_at,contained_at\n"
	const good = "INC-9,2024-05-01T10:00:00Z,2024-05-01T10:10:00Z,\n"
	tests := []struct {
		name     string
		options  string
		content  string
		wantErr  string // fragment of the refresh error, or "" for success
		rejected int
	}{
		{"truncated JSON", "format: guardduty", `{"Findings": [{"Id": "a", "CreatedAt": "2024-05-01T10:00:00Z"`, "input:1:62: invalid JSON: unexpected end of input: the file is truncated", 0},
		{"wrong top-level type", "format: pagerduty", `[1, 2]`, `"incidents"`, 0},
		{"wrong member type", "format: guardduty", `{"Findings": [{"Id": 5, "CreatedAt": "2024-05-01T10:00:00Z"}, {"Id": "b", "CreatedAt": "2024-05-01T10:05:00Z", "Service": {"EventFirstSeen": "2024-05-01T10:00:00Z"}}]}`, "", 1},
		{"empty file", "format: csv", "", "empty", 0},
		{"header only", "format: csv", header, "", 0},
		{"BOM and CRLF", "format: csv", "\ufeff" + strings.ReplaceAll(header+good, "\n", "\r\n"), "", 0},
		{"missing id", "format: csv", header + ",2024-05-01T10:00:00Z,,\n" + good, "", 1},
		{"duplicate id", "format: csv", header + good + good, "", 1},
		{"unknown timestamp", "format: csv", header + "INC-1,yesterday,,\n" + good, "", 1},
		{"detection before occurrence", "format: csv", header + "INC-1,2024-05-01T10:00:00Z,2024-05-01T09:00:00Z,\n" + good, "", 1},
		{"every record rejected", "format: csv", header + "INC-1,yesterday,,\n", `invalid timestamp "yesterday"`, 0},
		{"missing id column", "format: csv", "ticket,occurred_at\nX,2024-05-01T10:00:00Z\n", `missing required column "id" (found "ticket", "occurred_at")`, 0},
		{"no clock", "format: csv", header + "INC-1,,,\n" + good, "", 1},
		{"PagerDuty without id", "format: pagerduty", `{"incidents": [{"created_at": "2024-05-01T10:00:00Z"}, {"id": "P1", "created_at": "2024-05-01T10:00:00Z"}]}`, "", 1},
		{"OCSF of another class", "format: ocsf", `[{"class_uid": 2004, "finding_info_list": [{"uid": "x"}]}, {"class_uid": 2005, "finding_info_list": [{"uid": "y", "created_time": 1714558200000}]}]`, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeTestFile(t, "input", tt.content)
			res, err := refreshIncidents(t, tt.options, path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			if res.RecordsRejected != tt.rejected {
				t.Errorf("rejected %d records, want %d", res.RecordsRejected, tt.rejected)
			}
		})
	}
}

func TestIncidentsRejectionMessages(t *testing.T) {
	tests := []struct {
		name, line, want string
	}{
		{"missing id", ",2024-05-01T10:00:00Z,,", "missing record id"},
		{"unknown timestamp", "INC-1,2024-13-45,,", `field occurred_at: invalid timestamp "2024-13-45"`},
		{"detection before occurrence", "INC-1,2024-05-01T10:00:00Z,2024-05-01T09:00:00Z,", "detection 2024-05-01T09:00:00Z is before occurrence 2024-05-01T10:00:00Z"},
		{"no clock", "INC-1,,,", `incident "INC-1" has neither an occurrence nor a detection time`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Only the bad record: the file fails and the error carries its reason.
			path := writeTestFile(t, "in.csv", "id,occurred_at,detected_at,contained_at\n"+tt.line+"\n")
			_, err := refreshIncidents(t, "format: csv", path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}

	t.Run("duplicate id", func(t *testing.T) {
		set := newEventSet()
		e := Event{SLI: "detection_time", ID: "INC-1", Start: ledgerT0}
		if err := set.add("a.csv", e); err != nil {
			t.Fatal(err)
		}
		err := set.add("a.csv", e)
		want := `duplicate record id "INC-1" for detection_time`
		if err == nil || !isRecordError(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want a record rejection containing %q", err, want)
		}
	})
}

func TestIncidentsOverlappingExports(t *testing.T) {
	header := "id,occurred_at,detected_at,contained_at\n"
	older := writeTestFile(t, "older.csv", header+"INC-1,2024-05-01T10:00:00Z,2024-05-01T10:10:00Z,\n")
	newer := writeTestFile(t, "newer.csv", header+"INC-1,2024-05-01T10:00:00Z,2024-05-01T10:10:00Z,2024-05-01T11:00:00Z\n")

	res, err := refreshIncidents(t, "format: csv", older, newer)
	if err != nil {
		t.Fatal(err)
	}
	if e := eventByID(t, res, "containment_time", "INC-1"); !e.Closed() {
		t.Error("the closed copy of a record in a second export did not replace the open copy")
	}
}

func TestIncidentsMissingFile(t *testing.T) {
	_, err := refreshIncidents(t, "format: guardduty", filepath.Join(t.TempDir(), "absent.json"))
	if err == nil || !strings.Contains(err.Error(), "failed to read input") || !strings.Contains(err.Error(), "absent.json") {
		t.Errorf("got %v, want a read error naming the file", err)
	}
}

func TestNewIncidentsRejectsOptions(t *testing.T) {
	tests := []struct {
		name, options, want string
	}{
		{"missing format", "", `invalid options.format ""`},
		{"unknown format", "format: splunk", `invalid options.format "splunk"`},
		{"negative bound", "{format: csv, detection_bound: -5m}", `not a valid duration string: "-5m"`},
		{"jira without statuses", "format: jira", "options.jira.detected_statuses"},
		{"unknown option", "{format: csv, bound: 5m}", "field bound not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewIncidents(eventSourceConfig(t, "incidents", tt.options, "x.csv"), discardLogger())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}

	if _, err := NewIncidents(eventSourceConfig(t, "incidents", "format: csv"), discardLogger()); err == nil || !strings.Contains(err.Error(), "missing paths") {
		t.Errorf("without paths: got %v, want a missing paths error", err)
	}
}

// fuzzEventSource runs a source of typ with options over data and checks
// that it does not panic and that any result passes the ledger's checks.
func fuzzEventSource(t *testing.T, factory Factory, typ, options, name string, data []byte) {
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := factory(eventSourceConfig(t, typ, options, path), discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	res, err := src.Refresh(context.Background())
	if err != nil {
		return
	}
	if err := checkEvents(res.Events, res.Scans); err != nil {
		t.Errorf("result fails the ledger's checks: %v", err)
	}
	if res.RecordsRejected > res.RecordsRead {
		t.Errorf("%d rejected of %d read", res.RecordsRejected, res.RecordsRead)
	}
}

func addSeedFile(f *testing.F, path string) {
	data, err := os.ReadFile(path)
	if err == nil {
		f.Add(data)
	}
}

func FuzzIncidentsGuardDuty(f *testing.F) {
	addSeedFile(f, filepath.Join("..", "..", "shared", "samples", "aws-guardduty-get-findings.json"))
	f.Add([]byte(`{"Findings": [{"Id": "a", "CreatedAt": 1, "Service": {"EventFirstSeen": 0}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzEventSource(t, NewIncidents, "incidents", "format: guardduty", "in.json", data)
	})
}

func FuzzIncidentsOCSF(f *testing.F) {
	addSeedFile(f, filepath.Join("testdata", "incidents", "synthetic-ocsf-incident-findings.json"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzEventSource(t, NewIncidents, "incidents", "format: ocsf", "in.json", data)
	})
}

func FuzzIncidentsJira(f *testing.F) {
	addSeedFile(f, filepath.Join("testdata", "incidents", "synthetic-jira-incidents.json"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzEventSource(t, NewIncidents, "incidents", "{format: jira, jira: {detected_statuses: [Triaged], contained_statuses: [Contained]}}", "in.json", data)
	})
}

func FuzzIncidentsPagerDuty(f *testing.F) {
	addSeedFile(f, filepath.Join("testdata", "incidents", "synthetic-pagerduty-incidents.json"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzEventSource(t, NewIncidents, "incidents", "format: pagerduty", "in.json", data)
	})
}

func FuzzIncidentsCSV(f *testing.F) {
	addSeedFile(f, filepath.Join("testdata", "incidents", "synthetic-incidents.csv"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzEventSource(t, NewIncidents, "incidents", "format: csv", "in.csv", data)
	})
}
