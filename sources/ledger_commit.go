package sources

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Record values in the events bucket are first-seen and last-seen as Unix
// nanoseconds and one outcome byte; scan records leave out the outcome,
// because a scan record is deleted when it closes. Keys are the SLI and the
// id, or the SLI, scope and id, joined by NUL.
const (
	outcomeOpen byte = iota
	outcomeGood
	outcomeBad
)

// ledgerCommit is the state of one Commit inside its transaction.
type ledgerCommit struct {
	ledger   *Ledger
	bucket   *bolt.Bucket
	now      time.Time
	stats    CommitStats
	counters map[string]*EventCounts
	// dirty lists the SLIs whose counters this commit changed or created.
	dirty map[string]bool
}

func newLedgerCommit(tx *bolt.Tx, l *Ledger, source string, now time.Time) (*ledgerCommit, error) {
	bucket, err := tx.Bucket(bucketSources).CreateBucketIfNotExists([]byte(source))
	if err != nil {
		return nil, fmt.Errorf("failed to create the bucket of source %q: %w", source, err)
	}
	for _, name := range [][]byte{bucketEvents, bucketScan, bucketScanTime, bucketCounters} {
		if _, err := bucket.CreateBucketIfNotExists(name); err != nil {
			return nil, fmt.Errorf("failed to create bucket %s of source %q: %w", name, source, err)
		}
	}

	c := &ledgerCommit{ledger: l, bucket: bucket, now: now, counters: map[string]*EventCounts{}, dirty: map[string]bool{}}
	err = bucket.Bucket(bucketCounters).ForEach(func(k, v []byte) error {
		counts, err := decodeCounts(string(k), v)
		c.counters[string(k)] = counts
		return err
	})
	return c, err
}

// run applies events and scans, prunes when due and writes the counters.
func (c *ledgerCommit) run(events []Event, scans []Scan) error {
	if err := c.applyEvents(events); err != nil {
		return err
	}
	if err := c.applyScans(scans); err != nil {
		return err
	}
	if err := c.pruneIfDue(); err != nil {
		return err
	}
	return c.writeCounters()
}

// counter returns the counters of sli, creating zero ones so that a series
// exists from the first commit that mentions the SLI.
func (c *ledgerCommit) counter(sli string) *EventCounts {
	counts := c.counters[sli]
	if counts == nil {
		counts = newEventCounts(sli)
		c.counters[sli] = counts
		c.dirty[sli] = true
	}
	return counts
}

// count adds a closed event to its SLI's counters.
func (c *ledgerCommit) count(e Event) {
	c.counter(e.SLI).observe(e)
	c.dirty[e.SLI] = true
	c.stats.Counted++
	if e.Bad() {
		c.stats.Bad++
	}
}

// applyEvents remembers every event and counts those that closed since the
// ledger last saw them. Keys are written in sorted order, which keeps bbolt's
// page splits cheap.
func (c *ledgerCommit) applyEvents(events []Event) error {
	sorted := slices.Clone(events)
	slices.SortFunc(sorted, func(a, b Event) int {
		return cmp.Or(strings.Compare(a.SLI, b.SLI), strings.Compare(a.ID, b.ID))
	})

	bucket := c.bucket.Bucket(bucketEvents)
	key := make([]byte, 0, 64)
	for _, e := range sorted {
		c.counter(e.SLI)
		key = appendKey(key[:0], e.SLI, e.ID)
		if err := c.applyEvent(bucket, key, e); err != nil {
			return err
		}
	}
	return nil
}

func (c *ledgerCommit) applyEvent(bucket *bolt.Bucket, key []byte, e Event) error {
	old := bucket.Get(key)
	if old == nil {
		return c.insertEvent(bucket, key, e)
	}
	if len(old) != 17 {
		return fmt.Errorf("record %q of SLI %q has %d bytes, want 17; restore a backup", e.ID, e.SLI, len(old))
	}

	firstSeen, lastSeen, outcome := decodeTime(old), decodeTime(old[8:]), old[16]
	// NOTE: an event that reopens after it was counted (a Jira issue moved
	// back to "In Progress") keeps its first outcome, so it never counts twice.
	if outcome != outcomeOpen || !e.Closed() {
		if c.now.Sub(lastSeen) < lastSeenResolution {
			return nil
		}
		return bucket.Put(key, encodeRecord(firstSeen, c.now, outcome))
	}

	c.count(e)
	return bucket.Put(key, encodeRecord(firstSeen, c.now, eventOutcome(e)))
}

// insertEvent remembers a record that the ledger has not seen, counting it
// when it is already closed, unless it ended before the retention window.
func (c *ledgerCommit) insertEvent(bucket *bolt.Bucket, key []byte, e Event) error {
	if e.Closed() && e.End.Before(c.now.Add(-c.ledger.retention)) {
		c.stats.Expired++
		return nil
	}

	outcome := outcomeOpen
	if e.Closed() {
		c.count(e)
		outcome = eventOutcome(e)
	} else {
		c.stats.Opened++
	}
	return bucket.Put(slices.Clone(key), encodeRecord(c.now, c.now, outcome))
}

func eventOutcome(e Event) byte {
	if e.Bad() {
		return outcomeBad
	}
	return outcomeGood
}

// applyScans applies the scans of each SLI and scope in time order.
func (c *ledgerCommit) applyScans(scans []Scan) error {
	sorted := slices.Clone(scans)
	slices.SortStableFunc(sorted, func(a, b Scan) int {
		return cmp.Or(strings.Compare(a.SLI, b.SLI), strings.Compare(a.Scope, b.Scope), a.At.Compare(b.At))
	})

	for _, s := range sorted {
		c.counter(s.SLI)
		if err := c.applyScan(s); err != nil {
			return err
		}
	}
	return nil
}

// applyScan closes the open records of the scan's scope that it no longer
// lists, and remembers the ones it lists.
func (c *ledgerCommit) applyScan(s Scan) error {
	times := c.bucket.Bucket(bucketScanTime)
	scopeKey := appendKey(nil, s.SLI, s.Scope)
	if last := times.Get(scopeKey); last != nil && !s.At.After(decodeTime(last)) {
		c.stats.ScansSkipped++
		return nil
	}

	open := make(map[string]ScanRecord, len(s.Open))
	for _, r := range s.Open {
		open[r.ID] = r
	}

	records := c.bucket.Bucket(bucketScan)
	prefix := append(slices.Clone(scopeKey), 0)
	if err := c.closeMissing(records, prefix, s, open); err != nil {
		return err
	}
	if err := c.rememberOpen(records, prefix, s, open); err != nil {
		return err
	}
	return times.Put(scopeKey, encodeTimeBytes(s.At))
}

// closeMissing counts and deletes the open records under prefix that the
// scan does not list, fixed at the scan's time. Records that it lists are
// updated and removed from open, which then holds only new records.
func (c *ledgerCommit) closeMissing(records *bolt.Bucket, prefix []byte, s Scan, open map[string]ScanRecord) error {
	cursor := records.Cursor()
	for k, v := cursor.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); {
		k = slices.Clone(k)
		id := string(k[len(prefix):])
		if len(v) != 16 {
			return fmt.Errorf("scan record %q of SLI %q has %d bytes, want 16; restore a backup", id, s.SLI, len(v))
		}
		firstSeen, lastSeen := decodeTime(v), decodeTime(v[8:])
		r, listed := open[id]
		if !listed {
			c.count(Event{SLI: s.SLI, ID: id, Start: firstSeen, End: laterOf(s.At, firstSeen), Bound: s.Bound})
			if err := cursor.Delete(); err != nil {
				return err
			}
			k, v = cursor.Seek(k)
			continue
		}

		delete(open, id)
		if !r.FirstSeen.IsZero() && r.FirstSeen.Before(firstSeen) {
			firstSeen, lastSeen = r.FirstSeen, time.Time{}
		}
		if c.now.Sub(lastSeen) >= lastSeenResolution {
			if err := records.Put(k, encodeScanRecord(firstSeen, c.now)); err != nil {
				return err
			}
			k, v = cursor.Seek(k)
		}
		k, v = cursor.Next()
	}
	return nil
}

// rememberOpen stores the records that the scan lists for the first time.
func (c *ledgerCommit) rememberOpen(records *bolt.Bucket, prefix []byte, s Scan, open map[string]ScanRecord) error {
	ids := make([]string, 0, len(open))
	for id := range open {
		ids = append(ids, id)
	}
	slices.Sort(ids)

	for _, id := range ids {
		firstSeen := s.At
		if r := open[id]; !r.FirstSeen.IsZero() && r.FirstSeen.Before(firstSeen) {
			firstSeen = r.FirstSeen
		}
		key := append(slices.Clone(prefix), id...)
		if err := records.Put(key, encodeScanRecord(firstSeen, c.now)); err != nil {
			return err
		}
		c.stats.Opened++
	}
	return nil
}

// pruneIfDue deletes, at most once per pruneInterval, the records of the
// source that no input has listed within the retention. Counters stay.
func (c *ledgerCommit) pruneIfDue() error {
	last := c.bucket.Get(keyPrunedAt)
	if last != nil && c.now.Sub(decodeTime(last)) < pruneInterval {
		return nil
	}

	cutoff := c.now.Add(-c.ledger.retention)
	for _, name := range [][]byte{bucketEvents, bucketScan} {
		n, err := pruneBucket(c.bucket.Bucket(name), cutoff)
		if err != nil {
			return err
		}
		c.stats.Pruned += n
	}
	return c.bucket.Put(keyPrunedAt, encodeTimeBytes(c.now))
}

// pruneBucket deletes the records last seen before cutoff.
func pruneBucket(bucket *bolt.Bucket, cutoff time.Time) (int, error) {
	pruned := 0
	cursor := bucket.Cursor()
	for k, v := cursor.First(); k != nil; {
		if len(v) < 16 || !decodeTime(v[8:]).Before(cutoff) {
			k, v = cursor.Next()
			continue
		}
		k = slices.Clone(k)
		if err := cursor.Delete(); err != nil {
			return pruned, err
		}
		pruned++
		k, v = cursor.Seek(k)
	}
	return pruned, nil
}

// writeCounters stores the counters that this commit changed.
func (c *ledgerCommit) writeCounters() error {
	bucket := c.bucket.Bucket(bucketCounters)
	for sli := range c.dirty {
		if err := bucket.Put([]byte(sli), encodeCounts(c.counters[sli])); err != nil {
			return err
		}
	}
	return nil
}

func appendKey(buf []byte, parts ...string) []byte {
	for i, p := range parts {
		if i > 0 {
			buf = append(buf, 0)
		}
		buf = append(buf, p...)
	}
	return buf
}

func encodeRecord(firstSeen, lastSeen time.Time, outcome byte) []byte {
	return append(encodeScanRecord(firstSeen, lastSeen), outcome)
}

func encodeScanRecord(firstSeen, lastSeen time.Time) []byte {
	buf := make([]byte, 0, 17)
	buf = binary.BigEndian.AppendUint64(buf, uint64(firstSeen.UnixNano()))
	return binary.BigEndian.AppendUint64(buf, uint64(lastSeen.UnixNano()))
}

func encodeTimeBytes(t time.Time) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano()))
}

func decodeTime(b []byte) time.Time {
	return time.Unix(0, int64(binary.BigEndian.Uint64(b))).UTC()
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
