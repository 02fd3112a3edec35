package status

import (
	"time"

	"github.com/secslo/secslo/engine"
)

// Ingest states, as the page and the JSON API name them.
const (
	// IngestStarting means the engine has not tried to store samples yet:
	// it waits for the first refresh of every source.
	IngestStarting = "starting"
	// IngestCurrent means the latest attempt stored samples, within the
	// last staleIntervals intervals.
	IngestCurrent = "current"
	// IngestFailed means the latest attempt to store samples failed.
	IngestFailed = "failed"
	// IngestLate means no attempt has stored samples for more than
	// staleIntervals intervals, and none has failed either.
	IngestLate = "late"
)

// staleIntervals is how many engine intervals may pass after the latest
// stored samples before the page warns that its values are stale. One
// late attempt on a busy machine is not worth a warning.
const staleIntervals = 3

// ingestHealth is the engine's latest attempt to store samples, judged at
// the evaluation time of the page.
type ingestHealth struct {
	State       string
	LastSuccess time.Time
	LastError   error
	Interval    time.Duration
	// Age is the time since LastSuccess in whole seconds, zero before the
	// first success.
	Age time.Duration
}

func newIngestHealth(st engine.IngestStatus, interval time.Duration, at time.Time) *ingestHealth {
	h := &ingestHealth{LastSuccess: st.LastSuccess, LastError: st.LastError, Interval: interval}
	if !st.LastSuccess.IsZero() {
		h.Age = max(at.Sub(st.LastSuccess).Truncate(time.Second), 0)
	}

	switch {
	case st.LastError != nil:
		h.State = IngestFailed
	case st.LastSuccess.IsZero():
		h.State = IngestStarting
	case at.Sub(st.LastSuccess) > staleIntervals*interval:
		h.State = IngestLate
	default:
		h.State = IngestCurrent
	}
	return h
}

// Stale reports whether the values on the page may be out of date,
// because the engine failed to store samples or stopped storing them.
func (h *ingestHealth) Stale() bool {
	return h.State == IngestFailed || h.State == IngestLate
}

// Failed reports whether the latest attempt to store samples failed.
func (h *ingestHealth) Failed() bool { return h.State == IngestFailed }

// Starting reports whether the engine has not tried to store samples yet.
func (h *ingestHealth) Starting() bool { return h.State == IngestStarting }

// StaleAfter returns how long the engine may go without storing samples
// before the page calls its values stale.
func (h *ingestHealth) StaleAfter() time.Duration {
	return staleIntervals * h.Interval
}

// ingestHealth returns the engine's ingest at the time at, or nil when the
// Evaluator does not report it.
func (p *Page) ingestHealth(at time.Time) *ingestHealth {
	if p.ingest == nil {
		return nil
	}
	st, interval := p.ingest.Ingest()
	return newIngestHealth(st, interval, at)
}
