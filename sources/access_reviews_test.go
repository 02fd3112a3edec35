package sources

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secslo/secslo/slo"
)

// reviewTestNow is the refresh time of the access review tests.
var reviewTestNow = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// newTestAccessReviews builds an access_reviews source at a fixed clock.
func newTestAccessReviews(t testing.TB, opts string, now time.Time, paths ...string) (*accessReviews, *bytes.Buffer) {
	t.Helper()
	logger, logs := listTestLogger()
	src, err := NewAccessReviews(listTestConfig(t, "access_reviews", opts, paths...), logger)
	if err != nil {
		t.Fatalf("NewAccessReviews: %v", err)
	}
	r := src.(*accessReviews)
	r.now = func() time.Time { return now }
	return r, logs
}

func TestAccessReviewsReadsList(t *testing.T) {
	src, _ := newTestAccessReviews(t, "", reviewTestNow, "testdata/access_reviews/reviews.csv")
	result, err := src.Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	want := strings.Join([]string{
		"AR-2024-Q1-finance end=2024-03-28T10:00:00Z bad=false",
		"AR-2024-Q1-admins end=2024-04-03T09:00:00Z bad=true",
		"AR-2024-Q1-vpn end=2024-04-15T23:59:59Z bad=true",
		"AR-2024-Q2-finance open",
	}, "\n")
	if got := describeEvents(result.Events); got != want {
		t.Errorf("events:\n%s\nwant:\n%s", got, want)
	}
	for _, e := range result.Events {
		if e.SLI != slo.SLIAccessReviews {
			t.Errorf("event %s has SLI %q, want access_reviews", e.ID, e.SLI)
		}
	}
}

// TestAccessReviewsReadsEntra reads a synthetic export written from the
// accessReviewInstance and accessReviewInstanceDecisionItem fields that the
// Microsoft Graph v1.0 reference documents; no public sample exists.
func TestAccessReviewsReadsEntra(t *testing.T) {
	src, _ := newTestAccessReviews(t, "", reviewTestNow, "testdata/access_reviews/entra-instances-synthetic.json")
	result, err := src.Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	want := strings.Join([]string{
		"5a0c9e1f-0000-4000-8000-000000000001 end=2024-03-15T00:00:00Z bad=false",
		"5a0c9e1f-0000-4000-8000-000000000002 end=2024-04-15T00:00:00Z bad=true",
		"5a0c9e1f-0000-4000-8000-000000000003 end=2024-04-18T16:05:00Z bad=false",
		"5a0c9e1f-0000-4000-8000-000000000004 end=2024-04-25T00:00:00Z bad=true",
		"5a0c9e1f-0000-4000-8000-000000000005 open",
	}, "\n")
	if got := describeEvents(result.Events); got != want {
		t.Errorf("events:\n%s\nwant:\n%s", got, want)
	}
}

func TestAccessReviewsBadRecords(t *testing.T) {
	header := "id,due,completed\n"
	good := "R-9,2024-06-01T00:00:00Z,\n"
	cases := []struct {
		name, file, content string
		wantRejects         []string
	}{
		{"missing id", "r.csv", header + good + ",2024-06-01T00:00:00Z,\n", []string{"line=3", "missing review id"}},
		{"missing due time", "r.csv", header + good + "R-1,,\n", []string{`review \"R-1\": missing due time`}},
		{"unknown timestamp", "r.csv", header + good + "R-1,2024-06-01T00:00:00Z,done\n", []string{`review \"R-1\": completed: invalid timestamp \"done\"`}},
		{"duplicate id", "r.csv", header + good + "R-1,2024-06-01T00:00:00Z,\nR-1,2024-06-01T00:00:00Z,2024-05-01T00:00:00Z\n", []string{`duplicate id \"R-1\" at lines 3, 4`}},
		{"due of wrong type", "r.json", `[{"id": "R-9", "due": "2024-06-01T00:00:00Z"}, {"id": "R-1", "due": [1]}]`, []string{`field \"due\": found an array, expected a string or a number`}},
		{"entra instance without id", "e.json", `{"value": [{"id": "i-9", "endDateTime": "2024-06-01T00:00:00Z"}, {"endDateTime": "2024-06-01T00:00:00Z"}]}`, []string{"access review instance without id"}},
		{"entra status of wrong type", "e.json", `{"value": [{"id": "i-9", "endDateTime": "2024-06-01T00:00:00Z"}, {"id": "i-1", "status": 3}]}`, []string{`field \"status\" is a JSON number, expected a string`}},
		{"entra decision without time", "e.json", `{"value": [{"id": "i-9", "endDateTime": "2024-06-01T00:00:00Z"}, {"id": "i-1", "endDateTime": "2024-04-01T00:00:00Z", "decisions": [{"id": "d-1", "decision": "Approve"}]}]}`, []string{`review \"i-1\": missing decision \"d-1\" reviewedDateTime time`}},
		{"BOM and CRLF", "r.csv", "\xEF\xBB\xBF" + strings.ReplaceAll(header+good, "\n", "\r\n"), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := writeFindingFile(t, tc.file, tc.content)
			src, logs := newTestAccessReviews(t, "", reviewTestNow, file)
			result, err := src.Refresh(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(result.Events) != 1 {
				t.Errorf("events = %s, want only the good record", describeEvents(result.Events))
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

func TestAccessReviewsFailOnBadFiles(t *testing.T) {
	cases := []struct {
		name, file, content, want string
	}{
		{"empty file", "r.csv", "", "r.csv: file is empty"},
		{"truncated Entra export", "e.json", `{"value": [{"id": "i-1", "endDateTime": "2024-04-01T00:00:00Z"`, "e.json:1:63: invalid JSON: unexpected end of input"},
		{"Entra export without value", "e.json", `{"@odata.context": "x"}`, `missing member "value" in the top-level object`},
		{"missing column", "r.csv", "id,completed\nR-1,\n", `missing required column "due"`},
		{"every record rejected", "r.csv", "id,due\nR-1,soon\n", "every record of"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := writeFindingFile(t, tc.file, tc.content)
			src, _ := newTestAccessReviews(t, "", reviewTestNow, file)
			_, err := src.Refresh(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}

	src, _ := newTestAccessReviews(t, "", reviewTestNow, filepath.Join(t.TempDir(), "absent.json"))
	if _, err := src.Refresh(context.Background()); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v, want a not-exist error", err)
	}
}

func TestNewAccessReviewsRejectsBadOptions(t *testing.T) {
	cases := []struct {
		name, opts, want string
	}{
		{"unknown option", "deadline: 1d", "field deadline not found"},
		{"bad format", "format: xml", `invalid options.format "xml"`},
		{"empty due column", "columns: {due: ''}", "options.columns.id and options.columns.due must not be empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewAccessReviews(listTestConfig(t, "access_reviews", tc.opts, "r.csv"), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestAccessReviewsCountOnceThroughLedger(t *testing.T) {
	dir := t.TempDir()
	ledgerPath := filepath.Join(dir, "ledger.db")
	export := filepath.Join(dir, "reviews.csv")

	// R-1 is open until its due time passes, then counts as bad once; its
	// late completion and a restart change nothing. R-2 completes in time.
	steps := []struct {
		now     time.Time
		content string
		restart bool
		want    string
	}{
		{reviewTestNow, "id,due,completed\nR-1,2024-05-10T00:00:00Z,\n", false, "0 0"},
		{reviewTestNow.AddDate(0, 0, 10), "id,due,completed\nR-1,2024-05-10T00:00:00Z,\n", false, "1 1"},
		{reviewTestNow.AddDate(0, 0, 12), "id,due,completed\nR-1,2024-05-10T00:00:00Z,2024-05-12T00:00:00Z\nR-2,2024-05-20T00:00:00Z,2024-05-12T00:00:00Z\n", true, "2 1"},
		{reviewTestNow.AddDate(0, 0, 13), "id,due,completed\nR-2,2024-05-20T00:00:00Z,2024-05-12T00:00:00Z\n", true, "2 1"},
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
		src, _ := newTestAccessReviews(t, "", step.now, export)
		result, err := src.Refresh(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ledger.Commit("reviews", result.Events, nil, step.now); err != nil {
			t.Fatal(err)
		}
		if got := vulnCounts(ledger, "reviews", slo.SLIAccessReviews); got != step.want {
			t.Errorf("step %d: total and bad = %s, want %s", i, got, step.want)
		}
	}
	ledger.Close()
}

func FuzzParseReviewTable(f *testing.F) {
	data, err := os.ReadFile("testdata/access_reviews/reviews.csv")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data, true)
	f.Add([]byte(`[{"id": "R-1", "due": 1714564800, "completed": "2024-05-01T00:00:00Z"}]`), false)
	columns := reviewColumns{ID: "id", Due: "due", Completed: "completed", Name: "name"}

	f.Fuzz(func(t *testing.T, data []byte, csv bool) {
		format := reviewFormatJSON
		if csv {
			format = reviewFormatCSV
		}
		export, err := parseReviewTable("fuzz", data, format, columns)
		checkFuzzedReviews(t, export, err)
	})
}

func FuzzParseReviewEntra(f *testing.F) {
	data, err := os.ReadFile("testdata/access_reviews/entra-instances-synthetic.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		export, err := parseReviewEntra("fuzz.json", data)
		checkFuzzedReviews(t, export, err)
	})
}

// checkFuzzedReviews checks what every review parser promises: an error is
// an *InputError, and every record has an id and a due time.
func checkFuzzedReviews(t *testing.T, export *recordExport[reviewRecord], err error) {
	t.Helper()
	if err != nil {
		var inputErr *InputError
		if !errors.As(err, &inputErr) {
			t.Fatalf("error %v is a %T, want an *InputError", err, err)
		}
		return
	}
	for _, r := range export.records {
		if r.id == "" || r.due.IsZero() {
			t.Fatalf("invalid record %+v", r)
		}
	}
}
