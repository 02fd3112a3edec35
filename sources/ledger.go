package sources

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DefaultLedgerRetention is how long the ledger remembers a record after it
// last appeared in an input. It is longer than the longest SLO period that
// secslo supports (a year) plus a month, so an export that still repeats a
// record within its period never meets a pruned entry. A closed event that
// ended before the retention window is skipped instead of counted, so a
// pruned record that comes back in an old export cannot count twice.
const DefaultLedgerRetention = 400 * 24 * time.Hour

// ledgerFormat and ledgerVersion mark a file as a secslo ledger. A file with
// another marker or version is rejected, never rewritten.
const (
	ledgerFormat  = "secslo-ledger"
	ledgerVersion = 1
)

// lastSeenResolution is how stale a record's last-seen time may get before a
// refresh writes it again. Rewriting every record on every refresh would cost
// a large export a disk write per record each time. A day is fine-grained
// enough for a retention of months.
const lastSeenResolution = 24 * time.Hour

// pruneInterval is how often a commit also prunes its source's old entries.
const pruneInterval = 24 * time.Hour

// EventDurationBuckets are the upper bounds, in seconds, of the event duration
// histogram. They include the default bounds of the built-in event SLIs (15
// minutes, 4 hours, 7 days and 90 days), so the histogram also gives
// the count within each bound and the medians. Changing them needs a new
// ledgerVersion, because the ledger stores one count per bucket.
var EventDurationBuckets = []float64{
	60, 300, 900, 1800, 3600, 4 * 3600, 8 * 3600, 24 * 3600,
	3 * 86400, 7 * 86400, 14 * 86400, 30 * 86400, 90 * 86400, 180 * 86400, 365 * 86400,
}

// Bucket names. The meta bucket holds the format marker and version; each
// source has a bucket under sources with the sub-buckets below.
var (
	bucketMeta     = []byte("meta")
	bucketSources  = []byte("sources")
	bucketEvents   = []byte("events")
	bucketScan     = []byte("scan_records")
	bucketScanTime = []byte("scan_times")
	bucketCounters = []byte("counters")
	keyFormat      = []byte("format")
	keyVersion     = []byte("version")
	keyPrunedAt    = []byte("pruned_at")
)

// Ledger is the durable memory of event records. It counts each event once,
// across refreshes, rolling exports and restarts, and keeps the counters on
// disk so that they never decrease. Every Commit is one bbolt transaction
// that marks records and adds to counters together, so a crash at any point
// leaves either all of a commit or none of it. A Ledger is safe for
// concurrent use.
type Ledger struct {
	db        *bolt.DB
	path      string
	retention time.Duration

	// mu guards counts, a copy of the persisted counters that scrapes read
	// without a disk transaction. It changes only after a commit succeeded.
	mu     sync.RWMutex
	counts map[string]map[string]*EventCounts

	// beforeCommit, when set by tests, runs at the end of each commit's
	// transaction. An error from it rolls the transaction back, as a crash
	// before the disk write would.
	beforeCommit func() error
}

// LedgerOptions configures OpenLedger.
type LedgerOptions struct {
	// Retention is how long a record is remembered after it was last seen;
	// zero means DefaultLedgerRetention.
	Retention time.Duration
}

// EventCounts are the persisted counters of one SLI of one source.
type EventCounts struct {
	SLI string
	// Total and Bad count closed events, each once.
	Total, Bad uint64
	// Buckets holds the non-cumulative count of closed events with a start
	// per bucket of EventDurationBuckets, with one more for durations above
	// the last bound. Pass/fail events without a start count in Total only.
	Buckets []uint64
	// Sum is the sum of the durations in seconds.
	Sum float64
}

// CommitStats describes what one Commit changed.
type CommitStats struct {
	// Counted and Bad are the events counted by this commit.
	Counted, Bad int
	// Opened is the number of new open records remembered.
	Opened int
	// Expired is the number of closed events skipped because they ended
	// before the retention window.
	Expired int
	// ScansSkipped is the number of scans not after the latest committed
	// scan of their scope.
	ScansSkipped int
	// Pruned is the number of records forgotten by this commit.
	Pruned int
}

// OpenLedger opens the ledger file at path, creating it and its folder when
// missing. A file that is not a bbolt database, is corrupt, or is a bbolt
// database without the secslo marker or of another version is rejected with
// an error and left untouched. bbolt locks the file, so a second process
// fails after a second instead of sharing it.
func OpenLedger(path string, opts LedgerOptions) (*Ledger, error) {
	if opts.Retention <= 0 {
		opts.Retention = DefaultLedgerRetention
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("failed to create the ledger folder: %w", err)
	}

	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("ledger %s is locked by another process; stop it or set another --ledger.path", path)
	}
	if err != nil {
		return nil, fmt.Errorf("ledger %s is not a readable bbolt file (%w); it was left untouched: move it away or restore a backup", path, err)
	}

	l := &Ledger{db: db, path: path, retention: opts.Retention}
	if err := l.init(); err != nil {
		db.Close()
		return nil, err
	}
	return l, nil
}

// init marks a new file as a ledger, checks the marker of an existing one
// and loads the counters.
func (l *Ledger) init() error {
	return l.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			if err := tx.ForEach(func([]byte, *bolt.Bucket) error { return errForeignLedger }); err != nil {
				return fmt.Errorf("ledger %s is a bbolt file of another program; it was left untouched: set another --ledger.path", l.path)
			}
			if err := createLedgerBuckets(tx); err != nil {
				return fmt.Errorf("failed to create ledger %s: %w", l.path, err)
			}
			meta = tx.Bucket(bucketMeta)
		}

		if format := meta.Get(keyFormat); !bytes.Equal(format, []byte(ledgerFormat)) {
			return fmt.Errorf("ledger %s has the format marker %q, want %q; it was left untouched: set another --ledger.path", l.path, format, ledgerFormat)
		}
		version := meta.Get(keyVersion)
		if len(version) != 8 || binary.BigEndian.Uint64(version) != ledgerVersion {
			return fmt.Errorf("ledger %s has an unsupported version %x, want %d; it was left untouched: use the secslo release that wrote it", l.path, version, ledgerVersion)
		}
		return l.loadCounts(tx)
	})
}

var errForeignLedger = errors.New("foreign bucket")

func createLedgerBuckets(tx *bolt.Tx) error {
	meta, err := tx.CreateBucket(bucketMeta)
	if err != nil {
		return err
	}
	if _, err := tx.CreateBucket(bucketSources); err != nil {
		return err
	}
	if err := meta.Put(keyFormat, []byte(ledgerFormat)); err != nil {
		return err
	}
	return meta.Put(keyVersion, binary.BigEndian.AppendUint64(nil, ledgerVersion))
}

// loadCounts fills the in-memory copy of every source's counters.
func (l *Ledger) loadCounts(tx *bolt.Tx) error {
	l.counts = map[string]map[string]*EventCounts{}
	sourcesBucket := tx.Bucket(bucketSources)
	if sourcesBucket == nil {
		return fmt.Errorf("ledger %s has no sources bucket; it is damaged and was left untouched: restore a backup", l.path)
	}

	return sourcesBucket.ForEachBucket(func(name []byte) error {
		counters := sourcesBucket.Bucket(name).Bucket(bucketCounters)
		if counters == nil {
			return nil
		}
		perSLI := map[string]*EventCounts{}
		err := counters.ForEach(func(k, v []byte) error {
			c, err := decodeCounts(string(k), v)
			if err != nil {
				return fmt.Errorf("ledger %s: counters of source %q: %w; restore a backup", l.path, name, err)
			}
			perSLI[c.SLI] = c
			return nil
		})
		l.counts[string(name)] = perSLI
		return err
	})
}

// Close closes the file. Counts stay readable afterwards.
func (l *Ledger) Close() error {
	return l.db.Close()
}

// Path returns the file the ledger was opened from.
func (l *Ledger) Path() string { return l.path }

// Counts returns a copy of the persisted counters of source, sorted by SLI.
func (l *Ledger) Counts(source string) []EventCounts {
	l.mu.RLock()
	defer l.mu.RUnlock()

	out := make([]EventCounts, 0, len(l.counts[source]))
	for _, c := range l.counts[source] {
		copied := *c
		copied.Buckets = slices.Clone(c.Buckets)
		out = append(out, copied)
	}
	slices.SortFunc(out, func(a, b EventCounts) int { return strings.Compare(a.SLI, b.SLI) })
	return out
}

// Commit remembers the events and scans of one successful refresh of source
// at now, and counts every event whose outcome became known, in one
// transaction. On error nothing of it is stored or counted, so the same
// refresh can simply run again.
func (l *Ledger) Commit(source string, events []Event, scans []Scan, now time.Time) (CommitStats, error) {
	if err := checkEvents(events, scans); err != nil {
		return CommitStats{}, err
	}

	var stats CommitStats
	var counters map[string]*EventCounts
	err := l.db.Update(func(tx *bolt.Tx) error {
		c, err := newLedgerCommit(tx, l, source, now)
		if err != nil {
			return err
		}
		if err := c.run(events, scans); err != nil {
			return err
		}
		if l.beforeCommit != nil {
			if err := l.beforeCommit(); err != nil {
				return err
			}
		}
		stats, counters = c.stats, c.counters
		return nil
	})
	if err != nil {
		return CommitStats{}, fmt.Errorf("failed to commit to ledger %s, nothing of this refresh was counted: %w", l.path, err)
	}

	l.mu.Lock()
	l.counts[source] = counters
	l.mu.Unlock()
	return stats, nil
}

// encodeCounts stores total, bad, the sum's bits and one count per bucket.
func encodeCounts(c *EventCounts) []byte {
	buf := make([]byte, 0, 8*(3+len(c.Buckets)))
	buf = binary.BigEndian.AppendUint64(buf, c.Total)
	buf = binary.BigEndian.AppendUint64(buf, c.Bad)
	buf = binary.BigEndian.AppendUint64(buf, math.Float64bits(c.Sum))
	for _, n := range c.Buckets {
		buf = binary.BigEndian.AppendUint64(buf, n)
	}
	return buf
}

func decodeCounts(sli string, v []byte) (*EventCounts, error) {
	want := 8 * (3 + len(EventDurationBuckets) + 1)
	if len(v) != want {
		return nil, fmt.Errorf("SLI %q has %d bytes of counters, want %d", sli, len(v), want)
	}
	c := &EventCounts{
		SLI:     sli,
		Total:   binary.BigEndian.Uint64(v),
		Bad:     binary.BigEndian.Uint64(v[8:]),
		Sum:     math.Float64frombits(binary.BigEndian.Uint64(v[16:])),
		Buckets: make([]uint64, len(EventDurationBuckets)+1),
	}
	for i := range c.Buckets {
		c.Buckets[i] = binary.BigEndian.Uint64(v[24+8*i:])
	}
	return c, nil
}

// newEventCounts returns zero counters for sli.
func newEventCounts(sli string) *EventCounts {
	return &EventCounts{SLI: sli, Buckets: make([]uint64, len(EventDurationBuckets)+1)}
}

// observe counts one closed event, and its duration when it has a start.
func (c *EventCounts) observe(e Event) {
	c.Total++
	if e.Bad() {
		c.Bad++
	}
	if e.Start.IsZero() {
		return
	}
	seconds := e.Duration().Seconds()
	c.Sum += seconds
	i, _ := slices.BinarySearch(EventDurationBuckets, seconds)
	c.Buckets[i]++
}

// ledgerHandle opens a ledger on first use, so that serve creates no file
// for a config whose sources return no events. An existing file is opened
// at once by openLedgerHandle, so that a foreign or corrupt file stops serve
// at start.
type ledgerHandle struct {
	path string
	opts LedgerOptions

	mu     sync.Mutex
	ledger *Ledger
}

func openLedgerHandle(path string, opts LedgerOptions) (*ledgerHandle, error) {
	h := &ledgerHandle{path: path, opts: opts}
	if _, err := os.Stat(path); err == nil {
		if _, err := h.get(); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// get returns the open ledger, opening it first if needed. A failed open is
// retried on the next call.
func (h *ledgerHandle) get() (*Ledger, error) {
	h.mu.Lock()
	defer h.mu.Unlock()

	if h.ledger != nil {
		return h.ledger, nil
	}
	l, err := OpenLedger(h.path, h.opts)
	if err != nil {
		return nil, err
	}
	h.ledger = l
	return l, nil
}

// opened returns the ledger if it is open, or nil.
func (h *ledgerHandle) opened() *Ledger {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ledger
}

func (h *ledgerHandle) close() error {
	if l := h.opened(); l != nil {
		return l.Close()
	}
	return nil
}
