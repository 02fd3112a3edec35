package sources

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// benchEvents returns n closed detection events with distinct ids.
func benchEvents(n int) []Event {
	events := make([]Event, n)
	for i := range events {
		start := ledgerT0.Add(time.Duration(i) * time.Second)
		events[i] = Event{SLI: "detection_time", ID: fmt.Sprintf("INC-%07d", i), Start: start, End: start.Add(time.Duration(i%30) * time.Minute), Bound: 15 * time.Minute}
	}
	return events
}

// BenchmarkLedgerCommitNew commits 100,000 events that the ledger has not
// seen: the first refresh of a large export. It reports the file size per
// remembered record.
func BenchmarkLedgerCommitNew(b *testing.B) {
	events := benchEvents(100_000)
	for b.Loop() {
		b.StopTimer()
		path := filepath.Join(b.TempDir(), "ledger.db")
		l, err := OpenLedger(path, LedgerOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()

		if _, err := l.Commit("bench", events, nil, ledgerT0.Add(time.Hour)); err != nil {
			b.Fatal(err)
		}

		b.StopTimer()
		l.Close()
		info, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(info.Size())/float64(len(events)), "file-bytes/record")
		b.StartTimer()
	}
}

// BenchmarkLedgerCommitRepeated commits the same 100,000 events again: every
// later refresh of an export that has not changed.
func BenchmarkLedgerCommitRepeated(b *testing.B) {
	events := benchEvents(100_000)
	l := openTestLedger(b, filepath.Join(b.TempDir(), "ledger.db"))
	if _, err := l.Commit("bench", events, nil, ledgerT0.Add(time.Hour)); err != nil {
		b.Fatal(err)
	}

	for b.Loop() {
		if _, err := l.Commit("bench", events, nil, ledgerT0.Add(2*time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIncidentsRefreshAndCommit reads a CSV export of 100,000 incidents
// and commits its 200,000 events to a ledger that already holds them, as
// every refresh after the first does.
func BenchmarkIncidentsRefreshAndCommit(b *testing.B) {
	path := filepath.Join(b.TempDir(), "incidents.csv")
	rows := []byte(incidentsHeader)
	for i := range 100_000 {
		start := ledgerT0.Add(time.Duration(i) * time.Second)
		rows = fmt.Appendf(rows, "INC-%07d,%s,%s,%s\n", i, start.Format(time.RFC3339),
			start.Add(10*time.Minute).Format(time.RFC3339), start.Add(3*time.Hour).Format(time.RFC3339))
	}
	if err := os.WriteFile(path, rows, 0o600); err != nil {
		b.Fatal(err)
	}
	src, err := NewIncidents(eventSourceConfig(b, "incidents", "format: csv", path), discardLogger())
	if err != nil {
		b.Fatal(err)
	}
	l := openTestLedger(b, filepath.Join(b.TempDir(), "ledger.db"))
	now := ledgerT0.Add(48 * time.Hour)

	refresh := func() {
		res, err := src.Refresh(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := l.Commit("inc", res.Events, nil, now); err != nil {
			b.Fatal(err)
		}
	}
	refresh()

	for b.Loop() {
		refresh()
	}
}
