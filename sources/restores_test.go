package sources

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func refreshRestores(t testing.TB, options string, paths ...string) (*Result, error) {
	t.Helper()
	src, err := NewRestores(eventSourceConfig(t, "restores", options, paths...), discardLogger())
	if err != nil {
		t.Fatalf("NewRestores: %v", err)
	}
	return src.Refresh(context.Background())
}

func TestRestoresFormats(t *testing.T) {
	type want struct {
		id       string
		open     bool
		failed   bool
		duration time.Duration
	}
	tests := []struct {
		name, options, file string
		want                []want
	}{
		{"AWS Backup restore jobs", "format: aws_backup", "synthetic-aws-backup-restore-jobs.json", []want{
			{"restore-1", false, false, 20 * time.Minute},
			{"restore-2", false, true, time.Hour + 250*time.Millisecond},
			{"restore-3", true, false, 0},
		}},
		{"Velero RestoreList", "format: velero", "synthetic-velero-restores.yaml", []want{
			{"velero/nightly-20240501", false, false, 12 * time.Minute},
			{"velero/nightly-20240502", false, true, 30 * time.Minute},
			{"velero/nightly-20240503", true, false, 0},
		}},
		{"generic CSV", "format: csv", "synthetic-restore-tests.csv", []want{
			{"db-restore-2024-05-01", false, false, 40 * time.Minute},
			{"db-restore-2024-05-02", false, true, 5 * time.Minute},
			{"db-restore-2024-05-03", true, false, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := refreshRestores(t, tt.options, filepath.Join("testdata", "restores", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Events) != len(tt.want) {
				t.Errorf("got %d events, want %d", len(res.Events), len(tt.want))
			}
			for _, w := range tt.want {
				e := eventByID(t, res, "restore_tests", w.id)
				if e.Closed() == w.open {
					t.Errorf("%s: closed %v, want %v", w.id, e.Closed(), !w.open)
				}
				if e.Bad() != w.failed {
					t.Errorf("%s: bad %v, want %v", w.id, e.Bad(), w.failed)
				}
				if e.Duration() != w.duration {
					t.Errorf("%s: duration %s, want %s", w.id, e.Duration(), w.duration)
				}
			}
		})
	}
}

func TestRestoresVeleroDocuments(t *testing.T) {
	single := `{"apiVersion": "velero.io/v1", "kind": "Restore", "metadata": {"name": "r1"},
  "status": {"phase": "Failed", "startTimestamp": "2024-05-01T03:00:00Z", "completionTimestamp": "2024-05-01T03:01:00Z"}}`
	multi := "kind: Restore\nmetadata: {name: a}\nstatus: {phase: Completed, completionTimestamp: 2024-05-01T03:00:00Z}\n---\n" +
		"kind: Restore\nmetadata: {name: b}\nstatus: {phase: FailedValidation, startTimestamp: \"2024-05-01T03:00:00Z\"}\n"

	res, err := refreshRestores(t, "format: velero", writeTestFile(t, "r.json", single))
	if err != nil {
		t.Fatal(err)
	}
	if e := eventByID(t, res, "restore_tests", "r1"); !e.Bad() {
		t.Error("phase Failed counted as passed")
	}

	res, err = refreshRestores(t, "format: velero", writeTestFile(t, "r.yaml", multi))
	if err != nil {
		t.Fatal(err)
	}
	if e := eventByID(t, res, "restore_tests", "a"); e.Bad() || !e.Closed() {
		t.Errorf("a: closed %v bad %v, want a passed event", e.Closed(), e.Bad())
	}
	// b failed validation without a completion time: it counts, closed at its start.
	if e := eventByID(t, res, "restore_tests", "b"); !e.Bad() || !e.Closed() || !e.Start.IsZero() {
		t.Errorf("b: closed %v bad %v start %s, want a failed event without a duration", e.Closed(), e.Bad(), e.Start)
	}
}

func TestRestoresBadInput(t *testing.T) {
	const header = "id,result,started_at,finished_at\n"
	const good = "t-9,passed,2024-05-01T01:00:00Z,2024-05-01T01:10:00Z\n"
	tests := []struct {
		name, options, content string
		wantErr                string
		rejected               int
	}{
		{"truncated JSON", "format: aws_backup", `{"RestoreJobs": [{"RestoreJobId": "a"`, "invalid JSON: unexpected end of input: the file is truncated", 0},
		{"wrong member type", "format: aws_backup", `{"RestoreJobs": [{"RestoreJobId": 1, "Status": "COMPLETED"}, {"RestoreJobId": "b", "Status": "COMPLETED", "CreationDate": 1714615200}]}`, "", 1},
		{"unknown AWS status", "format: aws_backup", `{"RestoreJobs": [{"RestoreJobId": "a", "Status": "EXPIRED", "CreationDate": 1714615200}]}`, `unknown Status "EXPIRED"`, 0},
		{"invalid YAML", "format: velero", "kind: Restore\nmetadata: [\n", "invalid YAML or JSON", 0},
		{"not a Restore", "format: velero", "kind: Backup\nmetadata: {name: x}\n", `found kind "Backup", expected a Velero Restore`, 0},
		{"empty file", "format: velero", "\n", "empty", 0},
		{"BOM and CRLF", "format: csv", "\ufeff" + strings.ReplaceAll(header+good, "\n", "\r\n"), "", 0},
		{"missing id", "format: csv", header + ",passed,,2024-05-01T01:00:00Z\n" + good, "", 1},
		{"duplicate id", "format: csv", header + good + good, "", 1},
		{"unknown result", "format: csv", header + "t-1,maybe,,\n", `field result: unknown result "maybe"`, 0},
		{"unknown timestamp", "format: csv", header + "t-1,passed,,05/01/2024\n", `field finished_at: invalid timestamp "05/01/2024"`, 0},
		{"final state without times", "format: csv", header + "t-1,failed,,\n", `restore "t-1" has a final state but neither a start nor a finish time`, 0},
		{"finish before start", "format: csv", header + "t-1,passed,2024-05-01T02:00:00Z,2024-05-01T01:00:00Z\n", "finish 2024-05-01T01:00:00Z is before start 2024-05-01T02:00:00Z", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeTestFile(t, "input", tt.content)
			res, err := refreshRestores(t, tt.options, path)
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

func TestNewRestoresRejectsOptions(t *testing.T) {
	_, err := NewRestores(eventSourceConfig(t, "restores", "format: bacula", "x"), discardLogger())
	if err == nil || !strings.Contains(err.Error(), `invalid options.format "bacula"; use one of aws_backup, velero, csv, json`) {
		t.Errorf("got %v, want an invalid format error", err)
	}
}

func FuzzRestoresAWSBackup(f *testing.F) {
	addSeedFile(f, filepath.Join("testdata", "restores", "synthetic-aws-backup-restore-jobs.json"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzEventSource(t, NewRestores, "restores", "format: aws_backup", "in.json", data)
	})
}

func FuzzRestoresVelero(f *testing.F) {
	addSeedFile(f, filepath.Join("testdata", "restores", "synthetic-velero-restores.yaml"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzEventSource(t, NewRestores, "restores", "format: velero", "in.yaml", data)
	})
}

func FuzzRestoresCSV(f *testing.F) {
	addSeedFile(f, filepath.Join("testdata", "restores", "synthetic-restore-tests.csv"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzEventSource(t, NewRestores, "restores", "format: csv", "in.csv", data)
	})
}
