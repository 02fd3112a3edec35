package sources

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

var ledgerT0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func openTestLedger(t testing.TB, path string) *Ledger {
	t.Helper()
	l, err := OpenLedger(path, LedgerOptions{})
	if err != nil {
		t.Fatalf("OpenLedger: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// incident returns a detection_time event that took minutes against a
// 15-minute bound, starting at ledgerT0 plus offset hours.
func incident(id string, offset int, minutes float64) Event {
	start := ledgerT0.Add(time.Duration(offset) * time.Hour)
	return Event{
		SLI: "detection_time", ID: id, Start: start,
		End:   start.Add(time.Duration(minutes * float64(time.Minute))),
		Bound: 15 * time.Minute,
	}
}

func commit(t testing.TB, l *Ledger, source string, events []Event, scans []Scan, now time.Time) CommitStats {
	t.Helper()
	stats, err := l.Commit(source, events, scans, now)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return stats
}

// wantCounts fails unless the ledger's counters of source and sli are total
// and bad.
func wantCounts(t testing.TB, l *Ledger, source, sli string, total, bad uint64) {
	t.Helper()
	for _, c := range l.Counts(source) {
		if c.SLI == sli {
			if c.Total != total || c.Bad != bad {
				t.Errorf("%s/%s: got total %d bad %d, want total %d bad %d", source, sli, c.Total, c.Bad, total, bad)
			}
			return
		}
	}
	t.Errorf("%s/%s: no counters, want total %d bad %d", source, sli, total, bad)
}

func TestLedgerCountsEachEventOnce(t *testing.T) {
	l := openTestLedger(t, filepath.Join(t.TempDir(), "ledger.db"))
	events := []Event{incident("a", 0, 5), incident("b", 1, 20), incident("c", 2, 15)}

	stats := commit(t, l, "gd", events, nil, ledgerT0.Add(3*time.Hour))
	if stats.Counted != 3 || stats.Bad != 1 {
		t.Errorf("first commit: got %d counted, %d bad, want 3 and 1", stats.Counted, stats.Bad)
	}
	wantCounts(t, l, "gd", "detection_time", 3, 1)

	stats = commit(t, l, "gd", events, nil, ledgerT0.Add(4*time.Hour))
	if stats.Counted != 0 {
		t.Errorf("second commit of the same export counted %d events, want 0", stats.Counted)
	}
	wantCounts(t, l, "gd", "detection_time", 3, 1)
}

func TestLedgerKeepsCountsAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	events := []Event{incident("a", 0, 5), incident("b", 1, 20)}

	l, err := OpenLedger(path, LedgerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	commit(t, l, "gd", events, nil, ledgerT0.Add(3*time.Hour))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l = openTestLedger(t, path)
	wantCounts(t, l, "gd", "detection_time", 2, 1)

	events = append(events, incident("c", 2, 30))
	stats := commit(t, l, "gd", events, nil, ledgerT0.Add(4*time.Hour))
	if stats.Counted != 1 {
		t.Errorf("after restart counted %d events, want only the new one", stats.Counted)
	}
	wantCounts(t, l, "gd", "detection_time", 3, 2)
}

func TestLedgerRollingExportKeepsCounts(t *testing.T) {
	l := openTestLedger(t, filepath.Join(t.TempDir(), "ledger.db"))
	commit(t, l, "gd", []Event{incident("a", 0, 5), incident("b", 1, 20), incident("c", 2, 5)}, nil, ledgerT0.Add(3*time.Hour))

	// The next export dropped a and b and added d.
	commit(t, l, "gd", []Event{incident("c", 2, 5), incident("d", 3, 5)}, nil, ledgerT0.Add(4*time.Hour))
	wantCounts(t, l, "gd", "detection_time", 4, 1)

	// An export without any record changes nothing either.
	commit(t, l, "gd", []Event{}, nil, ledgerT0.Add(5*time.Hour))
	wantCounts(t, l, "gd", "detection_time", 4, 1)
}

func TestLedgerCountsOpenEventWhenItCloses(t *testing.T) {
	l := openTestLedger(t, filepath.Join(t.TempDir(), "ledger.db"))
	open := incident("a", 0, 5)
	open.End = time.Time{}

	stats := commit(t, l, "jira", []Event{open}, nil, ledgerT0.Add(time.Hour))
	if stats.Counted != 0 || stats.Opened != 1 {
		t.Errorf("open event: got %d counted, %d opened, want 0 and 1", stats.Counted, stats.Opened)
	}
	wantCounts(t, l, "jira", "detection_time", 0, 0)

	commit(t, l, "jira", []Event{incident("a", 0, 50)}, nil, ledgerT0.Add(2*time.Hour))
	wantCounts(t, l, "jira", "detection_time", 1, 1)

	// Reopened and closed again, it still counts once.
	commit(t, l, "jira", []Event{open}, nil, ledgerT0.Add(3*time.Hour))
	commit(t, l, "jira", []Event{incident("a", 0, 5)}, nil, ledgerT0.Add(4*time.Hour))
	wantCounts(t, l, "jira", "detection_time", 1, 1)
}

func TestLedgerSeparatesSources(t *testing.T) {
	l := openTestLedger(t, filepath.Join(t.TempDir(), "ledger.db"))
	commit(t, l, "one", []Event{incident("a", 0, 5)}, nil, ledgerT0.Add(time.Hour))
	commit(t, l, "two", []Event{incident("a", 0, 50)}, nil, ledgerT0.Add(time.Hour))

	wantCounts(t, l, "one", "detection_time", 1, 0)
	wantCounts(t, l, "two", "detection_time", 1, 1)
}

func TestLedgerPassFailEvents(t *testing.T) {
	l := openTestLedger(t, filepath.Join(t.TempDir(), "ledger.db"))
	events := []Event{
		{SLI: "restore_tests", ID: "ok", End: ledgerT0},
		{SLI: "restore_tests", ID: "failed", End: ledgerT0, Failed: true},
		{SLI: "restore_tests", ID: "running"},
	}
	commit(t, l, "backup", events, nil, ledgerT0)
	wantCounts(t, l, "backup", "restore_tests", 2, 1)

	counts := l.Counts("backup")[0]
	var observed uint64
	for _, n := range counts.Buckets {
		observed += n
	}
	if observed != 0 {
		t.Errorf("events without a start added %d histogram observations, want 0", observed)
	}
}

func TestLedgerHistogramBuckets(t *testing.T) {
	l := openTestLedger(t, filepath.Join(t.TempDir(), "ledger.db"))
	commit(t, l, "gd", []Event{incident("a", 0, 15), incident("b", 1, 15.01), incident("c", 2, 1e6)}, nil, ledgerT0.Add(time.Hour))

	c := l.Counts("gd")[0]
	i900 := indexOf(EventDurationBuckets, 900)
	if c.Buckets[i900] != 1 {
		t.Errorf("bucket le=900 holds %d events, want 1 (exactly 15 minutes)", c.Buckets[i900])
	}
	if c.Buckets[i900+1] != 1 {
		t.Errorf("bucket above 900 holds %d events, want 1 (15.01 minutes)", c.Buckets[i900+1])
	}
	if last := c.Buckets[len(EventDurationBuckets)]; last != 1 {
		t.Errorf("overflow bucket holds %d events, want 1", last)
	}
	wantSum := (15 + 15.01 + 1e6) * 60
	if diff := c.Sum - wantSum; diff > 1e-3 || diff < -1e-3 {
		t.Errorf("sum: got %v, want %v", c.Sum, wantSum)
	}
}

func indexOf(values []float64, v float64) int {
	for i, x := range values {
		if x == v {
			return i
		}
	}
	return -1
}

func TestLedgerHistogramIncludesSLOBounds(t *testing.T) {
	for _, bound := range []float64{900, 4 * 3600, 7 * 86400, 90 * 86400} {
		if indexOf(EventDurationBuckets, bound) < 0 {
			t.Errorf("EventDurationBuckets lacks the bound %v s", bound)
		}
	}
}

func TestLedgerFailedCommitCountsNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	l := openTestLedger(t, path)
	commit(t, l, "gd", []Event{incident("a", 0, 5)}, nil, ledgerT0.Add(time.Hour))

	injected := errors.New("power cut")
	l.beforeCommit = func() error { return injected }
	events := []Event{incident("a", 0, 5), incident("b", 1, 50)}
	_, err := l.Commit("gd", events, nil, ledgerT0.Add(2*time.Hour))
	if !errors.Is(err, injected) {
		t.Fatalf("Commit: got %v, want the injected error", err)
	}
	wantCounts(t, l, "gd", "detection_time", 1, 0)

	// The refresh runs again after the failure: b counts once, a not again.
	l.beforeCommit = nil
	commit(t, l, "gd", events, nil, ledgerT0.Add(3*time.Hour))
	commit(t, l, "gd", events, nil, ledgerT0.Add(4*time.Hour))
	wantCounts(t, l, "gd", "detection_time", 2, 1)

	l.Close()
	reopened := openTestLedger(t, path)
	wantCounts(t, reopened, "gd", "detection_time", 2, 1)
}

func TestLedgerFailedCommitLeavesFileUnchanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	l := openTestLedger(t, path)
	commit(t, l, "gd", []Event{incident("a", 0, 5)}, nil, ledgerT0.Add(time.Hour))

	l.beforeCommit = func() error { return errors.New("crash") }
	if _, err := l.Commit("gd", []Event{incident("b", 1, 5)}, nil, ledgerT0.Add(2*time.Hour)); err == nil {
		t.Fatal("Commit succeeded, want the injected error")
	}
	l.Close()

	// Read the file with bbolt itself: b must not be remembered.
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		events := tx.Bucket(bucketSources).Bucket([]byte("gd")).Bucket(bucketEvents)
		if events.Get(appendKey(nil, "detection_time", "b")) != nil {
			t.Error("record b was stored by a failed commit")
		}
		if events.Get(appendKey(nil, "detection_time", "a")) == nil {
			t.Error("record a of the good commit is missing")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLedgerRejectsInvalidEvents(t *testing.T) {
	valid := incident("a", 0, 5)
	tests := []struct {
		name   string
		change func(*Event)
		want   string
	}{
		{"missing id", func(e *Event) { e.ID = "" }, `invalid SLI "detection_time" or id ""`},
		{"NUL in id", func(e *Event) { e.ID = "a\x00b" }, `id "a\x00b"`},
		{"end before start", func(e *Event) { e.End = e.Start.Add(-time.Second) }, "before it starts"},
		{"bound without start", func(e *Event) { e.Start = time.Time{} }, "with a bound but no start"},
		{"negative bound", func(e *Event) { e.Bound = -time.Second }, "negative bound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := openTestLedger(t, filepath.Join(t.TempDir(), "ledger.db"))
			e := valid
			tt.change(&e)
			_, err := l.Commit("gd", []Event{e}, nil, ledgerT0)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}

	t.Run("duplicate id", func(t *testing.T) {
		l := openTestLedger(t, filepath.Join(t.TempDir(), "ledger.db"))
		_, err := l.Commit("gd", []Event{valid, valid}, nil, ledgerT0)
		if err == nil || !strings.Contains(err.Error(), `event "a" of SLI "detection_time" twice`) {
			t.Errorf("got %v, want a duplicate error", err)
		}
	})
}

func TestLedgerRejectsForeignFiles(t *testing.T) {
	tests := []struct {
		name  string
		write func(t *testing.T, path string)
		want  string
	}{
		{"text file", func(t *testing.T, path string) {
			writeBytes(t, path, bytes.Repeat([]byte("not a database\n"), 1000))
		}, "is not a readable bbolt file"},
		{"truncated ledger", func(t *testing.T, path string) {
			good := filepath.Join(t.TempDir(), "good.db")
			l, err := OpenLedger(good, LedgerOptions{})
			if err != nil {
				t.Fatal(err)
			}
			l.Close()
			data, _ := os.ReadFile(good)
			writeBytes(t, path, data[:100])
		}, "is not a readable bbolt file"},
		{"corrupt meta pages", func(t *testing.T, path string) {
			good := filepath.Join(t.TempDir(), "good.db")
			l, err := OpenLedger(good, LedgerOptions{})
			if err != nil {
				t.Fatal(err)
			}
			l.Close()
			data, _ := os.ReadFile(good)
			pageSize := os.Getpagesize()
			for _, page := range []int{0, 1} {
				for i := 32; i < 64; i++ {
					data[page*pageSize+i] ^= 0xff
				}
			}
			writeBytes(t, path, data)
		}, "is not a readable bbolt file"},
		{"bbolt file of another program", func(t *testing.T, path string) {
			writeBoltBucket(t, path, "other", nil, nil)
		}, "bbolt file of another program"},
		{"wrong format marker", func(t *testing.T, path string) {
			writeBoltBucket(t, path, "meta", keyFormat, []byte("someone-else"))
		}, `has the format marker "someone-else"`},
		{"newer version", func(t *testing.T, path string) {
			l, err := OpenLedger(path, LedgerOptions{})
			if err != nil {
				t.Fatal(err)
			}
			l.Close()
			writeBoltBucket(t, path, "meta", keyVersion, []byte{0, 0, 0, 0, 0, 0, 0, 9})
		}, "unsupported version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ledger.db")
			tt.write(t, path)
			before, _ := os.ReadFile(path)

			l, err := OpenLedger(path, LedgerOptions{})
			if err == nil {
				l.Close()
				t.Fatal("OpenLedger succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "left untouched") {
				t.Errorf("got %q, want it to contain %q and say the file was left untouched", err, tt.want)
			}
			after, _ := os.ReadFile(path)
			if !bytes.Equal(before, after) {
				t.Error("OpenLedger changed the rejected file")
			}
		})
	}
}

func writeBytes(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// writeBoltBucket creates bucket in the bbolt file at path and, when key is
// set, stores value under it.
func writeBoltBucket(t *testing.T, path, bucket string, key, value []byte) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(bucket))
		if err != nil || key == nil {
			return err
		}
		return b.Put(key, value)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLedgerAcceptsEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	writeBytes(t, path, nil)
	l := openTestLedger(t, path)
	commit(t, l, "gd", []Event{incident("a", 0, 5)}, nil, ledgerT0)
	wantCounts(t, l, "gd", "detection_time", 1, 0)
}

func TestLedgerRejectsSecondProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	openTestLedger(t, path)
	_, err := OpenLedger(path, LedgerOptions{})
	if err == nil || !strings.Contains(err.Error(), "locked by another process") {
		t.Errorf("got %v, want a lock error", err)
	}
}

func TestLedgerPrunesOldRecords(t *testing.T) {
	l := openTestLedger(t, filepath.Join(t.TempDir(), "ledger.db"))
	commit(t, l, "gd", []Event{incident("old", 0, 5)}, nil, ledgerT0.Add(time.Hour))

	later := ledgerT0.Add(DefaultLedgerRetention + 48*time.Hour)
	stats := commit(t, l, "gd", []Event{incident("new", 0, 5)}, nil, later)
	if stats.Pruned != 1 {
		t.Errorf("pruned %d records, want 1", stats.Pruned)
	}
	if stats.Counted != 0 || stats.Expired != 1 {
		t.Errorf("an event that ended before the retention: got %d counted, %d expired, want 0 and 1", stats.Counted, stats.Expired)
	}
	wantCounts(t, l, "gd", "detection_time", 1, 0)

	// The pruned record comes back in an old export: it is too old to count.
	stats = commit(t, l, "gd", []Event{incident("old", 0, 5)}, nil, later.Add(pruneInterval))
	if stats.Counted != 0 {
		t.Errorf("a pruned record counted again: %d", stats.Counted)
	}
	wantCounts(t, l, "gd", "detection_time", 1, 0)
}

func TestLedgerKeepsRecentlySeenRecords(t *testing.T) {
	l := openTestLedger(t, filepath.Join(t.TempDir(), "ledger.db"))
	open := incident("a", 0, 5)
	open.End = time.Time{}

	// Seen every 300 days, the open record is never older than the retention.
	for i := range 3 {
		commit(t, l, "jira", []Event{open}, nil, ledgerT0.Add(time.Duration(i)*300*24*time.Hour))
	}
	closedAt := ledgerT0.Add(900 * 24 * time.Hour)
	closed := Event{SLI: open.SLI, ID: open.ID, Start: closedAt.Add(-time.Hour), End: closedAt, Bound: open.Bound}
	stats := commit(t, l, "jira", []Event{closed}, nil, closedAt)
	if stats.Counted != 1 || stats.Pruned != 0 {
		t.Errorf("got %d counted, %d pruned, want 1 and 0", stats.Counted, stats.Pruned)
	}
}

func TestLedgerScansDeriveFixTimes(t *testing.T) {
	l := openTestLedger(t, filepath.Join(t.TempDir(), "ledger.db"))
	scan := func(hours int, ids ...string) Scan {
		s := Scan{SLI: "vuln_remediation", Scope: "img", At: ledgerT0.Add(time.Duration(hours) * time.Hour), Bound: 7 * 24 * time.Hour}
		for _, id := range ids {
			s.Open = append(s.Open, ScanRecord{ID: id})
		}
		return s
	}

	commit(t, l, "trivy", nil, []Scan{scan(0, "x", "y")}, ledgerT0)
	wantCounts(t, l, "trivy", "vuln_remediation", 0, 0)

	// x is gone from the scan 5 days later, y from the one after 12 days.
	stats := commit(t, l, "trivy", nil, []Scan{scan(288), scan(120, "y")}, ledgerT0.Add(300*time.Hour))
	if stats.Counted != 2 || stats.Bad != 1 {
		t.Errorf("got %d counted, %d bad, want 2 and 1 (x fixed after 5 days, y after 12)", stats.Counted, stats.Bad)
	}
	c := l.Counts("trivy")[0]
	if want := float64(120+288) * 3600; c.Sum != want {
		t.Errorf("sum of fix times: got %v s, want %v s", c.Sum, want)
	}

	// The same report read again after a restart, and an older one, are skipped.
	stats = commit(t, l, "trivy", nil, []Scan{scan(288), scan(100, "x")}, ledgerT0.Add(301*time.Hour))
	if stats.ScansSkipped != 2 || stats.Counted != 0 || stats.Opened != 0 {
		t.Errorf("old scans: got %+v, want 2 skipped and nothing counted or opened", stats)
	}

	// x comes back: a new occurrence that counts when fixed again.
	commit(t, l, "trivy", nil, []Scan{scan(300, "x")}, ledgerT0.Add(302*time.Hour))
	commit(t, l, "trivy", nil, []Scan{scan(301)}, ledgerT0.Add(303*time.Hour))
	wantCounts(t, l, "trivy", "vuln_remediation", 3, 1)
}

func TestLedgerScansKeepScopesApart(t *testing.T) {
	l := openTestLedger(t, filepath.Join(t.TempDir(), "ledger.db"))
	bound := 7 * 24 * time.Hour
	commit(t, l, "trivy", nil, []Scan{
		{SLI: "vuln_remediation", Scope: "a", At: ledgerT0, Bound: bound, Open: []ScanRecord{{ID: "CVE-1"}}},
		{SLI: "vuln_remediation", Scope: "b", At: ledgerT0.Add(time.Hour), Bound: bound, Open: []ScanRecord{{ID: "CVE-1"}}},
	}, ledgerT0.Add(time.Hour))

	stats := commit(t, l, "trivy", nil, []Scan{
		{SLI: "vuln_remediation", Scope: "b", At: ledgerT0.Add(2 * time.Hour), Bound: bound},
	}, ledgerT0.Add(2*time.Hour))
	if stats.Counted != 1 {
		t.Errorf("a scan of scope b closed %d records, want only its own", stats.Counted)
	}
}

func TestLedgerScanUsesScannerFirstSeen(t *testing.T) {
	l := openTestLedger(t, filepath.Join(t.TempDir(), "ledger.db"))
	bound := 7 * 24 * time.Hour
	first := Scan{SLI: "vuln_remediation", Scope: "a", At: ledgerT0, Bound: bound,
		Open: []ScanRecord{{ID: "CVE-1", FirstSeen: ledgerT0.Add(-10 * 24 * time.Hour)}}}
	commit(t, l, "inspector", nil, []Scan{first}, ledgerT0)
	commit(t, l, "inspector", nil, []Scan{{SLI: "vuln_remediation", Scope: "a", At: ledgerT0.Add(time.Hour), Bound: bound}}, ledgerT0.Add(time.Hour))
	wantCounts(t, l, "inspector", "vuln_remediation", 1, 1)
}
