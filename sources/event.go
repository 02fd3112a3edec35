package sources

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Event is one record of an event SLI, such as an incident for
// detection_time or a restore job for restore_tests. Adapters return every
// record of their inputs on every refresh, old ones included, and the ledger
// makes each event count once.
//
// The adapter decides what an event is: its ID, its SLI, when its clock
// starts and ends, and its outcome inputs (a Bound, or Failed). The ledger
// decides when it counts: an event counts exactly once, at the first commit
// in which it is closed (End is set), as good or bad. An open event counts
// nothing, and repeating a closed event in later refreshes, or dropping it
// from a rolling export, changes no counter.
type Event struct {
	// SLI is the built-in SLI id, such as slo.SLIDetectionTime.
	SLI string
	// ID identifies the record within its source and SLI, for example a
	// GuardDuty finding id or a Jira issue key. Adapters reject records
	// without an id and ids repeated within one export; they never make one
	// up, because a made-up id cannot match the same record next time.
	ID string
	// Start is when the event's clock starts: the first malicious activity
	// for detection_time, the detection for containment_time.
	Start time.Time
	// End is when the clock stops, or zero while the event is open. For a
	// pass/fail event it is when the outcome became known.
	End time.Time
	// Bound is the longest End-Start that is good, for "within N" SLIs.
	// Zero means a pass/fail event whose outcome is Failed.
	Bound time.Duration
	// Failed marks a pass/fail event as bad. It is ignored when Bound is set.
	Failed bool
}

// Closed reports whether the event's outcome is known.
func (e Event) Closed() bool { return !e.End.IsZero() }

// Duration returns End-Start, or zero for an open event or an unknown Start.
func (e Event) Duration() time.Duration {
	if !e.Closed() || e.Start.IsZero() {
		return 0
	}
	return e.End.Sub(e.Start)
}

// Bad reports whether a closed event missed its objective: it took longer
// than its Bound, or, without a Bound, it Failed.
func (e Event) Bad() bool {
	if e.Bound > 0 {
		return e.Duration() > e.Bound
	}
	return e.Failed
}

// Scan is one scanner snapshot: the ids of the records open in one scope at
// one time, such as the vulnerabilities of one image that one Trivy run
// found. Scanner-style adapters return Scans instead of Events because a
// scanner reports only what is open now, never when a record was fixed.
//
// The adapter decides the scope, the scan time and the open ids. The ledger
// derives the events: an id seen for the first time opens an event that
// starts at FirstSeen when the scanner reports it, or else at the scan's At;
// an id that a later scan of the same scope no longer lists closes at that
// scan's At and counts once against Bound. A Scan whose At is not after the
// latest committed scan of its SLI and scope is skipped, so re-reading the
// same report after a restart changes nothing. An id that reappears after it
// was closed opens a new event. Scan records and Events of one source live
// apart in the ledger, so their ids never collide.
type Scan struct {
	// SLI is the built-in SLI id, such as slo.SLIVulnRemediation.
	SLI string
	// Scope names what the scan covered, such as an image or a host. A
	// record closes only when a later scan of the same scope lacks it, so
	// that two targets in one refresh do not close each other's records.
	Scope string
	// At is the scan time.
	At time.Time
	// Bound is the longest time from first seen to fixed that is good.
	Bound time.Duration
	// Open lists the records open at At, each id once. The ledger keeps
	// scan records by SLI, scope and id, so an id need only be unique
	// within its scope.
	Open []ScanRecord
}

// ScanRecord is one record that a scan lists as open.
type ScanRecord struct {
	ID string
	// FirstSeen is when the scanner reports that the record first appeared,
	// or zero when it reports no such time. The ledger keeps the earliest
	// first-seen time it has stored for an open record.
	FirstSeen time.Time
}

// checkEvents rejects events and scans that would make the ledger count
// wrongly. Adapters reject bad records themselves, so a failure here is an
// adapter bug and fails the whole refresh.
func checkEvents(events []Event, scans []Scan) error {
	seen := make(map[eventKey]bool, len(events))
	for _, e := range events {
		key := eventKey{e.SLI, e.ID}
		switch {
		case !validEventText(e.SLI) || !validEventText(e.ID):
			return fmt.Errorf("adapter returned an event with the invalid SLI %q or id %q", e.SLI, e.ID)
		case seen[key]:
			return fmt.Errorf("adapter returned event %q of SLI %q twice", e.ID, e.SLI)
		case e.Bound < 0:
			return fmt.Errorf("adapter returned event %q with the negative bound %s", e.ID, e.Bound)
		case e.Closed() && !e.Start.IsZero() && e.End.Before(e.Start):
			return fmt.Errorf("adapter returned event %q that ends at %s, before it starts at %s", e.ID, e.End.Format(time.RFC3339), e.Start.Format(time.RFC3339))
		case e.Bound > 0 && e.Start.IsZero():
			return fmt.Errorf("adapter returned event %q with a bound but no start", e.ID)
		}
		seen[key] = true
	}

	for _, s := range scans {
		if err := checkScan(s); err != nil {
			return err
		}
	}
	return nil
}

func checkScan(s Scan) error {
	switch {
	case !validEventText(s.SLI) || !utf8.ValidString(s.Scope):
		return fmt.Errorf("adapter returned a scan with the invalid SLI %q or scope %q", s.SLI, s.Scope)
	case s.At.IsZero():
		return fmt.Errorf("adapter returned a scan of scope %q without a scan time", s.Scope)
	case s.Bound <= 0:
		return fmt.Errorf("adapter returned a scan of scope %q without a bound", s.Scope)
	}

	seen := make(map[string]bool, len(s.Open))
	for _, r := range s.Open {
		if !validEventText(r.ID) {
			return fmt.Errorf("adapter returned a scan of scope %q with the invalid id %q", s.Scope, r.ID)
		}
		if seen[r.ID] {
			return fmt.Errorf("adapter returned record %q twice in one scan of scope %q", r.ID, s.Scope)
		}
		seen[r.ID] = true
	}
	return nil
}

// eventKey identifies an event within one source.
type eventKey struct {
	sli, id string
}

// validEventText accepts the SLI ids, scopes and record ids that the ledger
// stores: non-empty UTF-8 without NUL, which the ledger uses as a separator.
func validEventText(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return false
		}
	}
	return true
}

// errNoLedger fails the refresh of a source that returns events when serve
// runs without a ledger.
var errNoLedger = errors.New("source returned events but no ledger is open; set --ledger.path")
