package sources

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/common/model"
)

// This file contains what the event adapters (incidents, restores) share:
// collecting the events of one refresh with their ids checked.

// eventSet collects the events of one refresh. An id repeated within one
// file is rejected, because nothing in the export shows which copy is right. The
// same id in two files of one source (overlapping exports) keeps the closed
// copy, or the first one when both are open or both closed.
type eventSet struct {
	events []Event
	index  map[eventKey]int
	// file remembers which file each event came from.
	file []string
}

func newEventSet() *eventSet {
	return &eventSet{index: map[eventKey]int{}}
}

// add adds e, read from file. It returns a *tableRecordError for a missing
// id or an id already read from the same file.
func (s *eventSet) add(file string, e Event) error {
	if e.ID == "" {
		return tableReject("missing record id; every record needs an id so that it counts once")
	}
	if !validEventText(e.ID) {
		return tableReject("invalid record id %q: it must be UTF-8 without NUL bytes", e.ID)
	}

	key := eventKey{e.SLI, e.ID}
	i, seen := s.index[key]
	switch {
	case !seen:
		s.index[key] = len(s.events)
		s.events = append(s.events, e)
		s.file = append(s.file, file)
	case s.file[i] == file:
		return tableReject("duplicate record id %q for %s; ids must be unique within one export", e.ID, e.SLI)
	case e.Closed() && !s.events[i].Closed():
		s.events[i], s.file[i] = e, file
	}
	return nil
}

// eventAdapter holds what every event adapter does around its parser: the
// paths, the logger and the bookkeeping of one refresh.
type eventAdapter struct {
	cfg    Config
	logger *slog.Logger
}

// refresh reads every path with read and returns the events as a Result.
func (a *eventAdapter) refresh(ctx context.Context, read func(ctx context.Context, file string, set *eventSet, rejected *tableRejects) (int, error)) (*Result, error) {
	set := newEventSet()
	rejected := newTableRejects(a.logger, a.cfg.Name)
	res := &Result{}

	for _, file := range a.cfg.Paths {
		n, err := read(ctx, file, set, rejected)
		if err != nil {
			return nil, err
		}
		res.RecordsRead += n
	}

	rejected.summarize()
	res.RecordsRejected = rejected.total
	res.Events = set.events
	return res, nil
}

// parseEventTime reads an optional timestamp field: empty gives the zero
// time, and an invalid one rejects the record with the field's name.
func parseEventTime(field, value string) (time.Time, error) {
	if value == "" {
		return time.Time{}, nil
	}
	t, err := ParseTimestamp(value)
	if err != nil {
		return time.Time{}, tableReject("field %s: %v", field, err)
	}
	return t, nil
}

// checkOrder rejects a record whose later time is before its earlier one.
func checkOrder(earlierField string, earlier time.Time, laterField string, later time.Time) error {
	if earlier.IsZero() || later.IsZero() || !later.Before(earlier) {
		return nil
	}
	return tableReject("%s %s is before %s %s; fix the export", laterField, later.Format(time.RFC3339), earlierField, earlier.Format(time.RFC3339))
}

// boundOption returns a positive duration option or its default.
func boundOption(name string, value model.Duration, fallback time.Duration) (time.Duration, error) {
	if value == 0 {
		return fallback, nil
	}
	if value < 0 {
		return 0, fmt.Errorf("options.%s is %s; use a positive duration such as 15m", name, value)
	}
	return time.Duration(value), nil
}

// requirePaths rejects a config without input files.
func requirePaths(cfg Config, what string) error {
	if len(cfg.Paths) == 0 {
		return fmt.Errorf("missing paths; list at least one %s", what)
	}
	return nil
}
