package sources

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// poamObservation holds the members of an OSCAL observation that the
// findings source uses.
type poamObservation struct {
	UUID      string `json:"uuid"`
	Collected string `json:"collected"`
}

// poamRisk holds the members of an OSCAL risk that the findings source uses.
type poamRisk struct {
	UUID                string               `json:"uuid"`
	Status              string               `json:"status"`
	RelatedObservations []poamObservationRef `json:"related-observations"`
	RiskLog             struct {
		Entries []struct {
			Start        string `json:"start"`
			StatusChange string `json:"status-change"`
		} `json:"entries"`
	} `json:"risk-log"`
}

// poamItem holds the members of an OSCAL poam-item that the findings source
// uses.
type poamItem struct {
	UUID                string               `json:"uuid"`
	Title               string               `json:"title"`
	RelatedObservations []poamObservationRef `json:"related-observations"`
	RelatedRisks        []struct {
		RiskUUID string `json:"risk-uuid"`
	} `json:"related-risks"`
}

type poamObservationRef struct {
	ObservationUUID string `json:"observation-uuid"`
}

// poamDocument is the part of an OSCAL plan-of-action-and-milestones
// document that the findings source uses, with the line of each item.
type poamDocument struct {
	found        bool
	observations map[string]poamObservation
	risks        map[string]poamRisk
	items        []poamItem
	lines        []int
}

// parseFindingPOAM reads an OSCAL plan of action and milestones (JSON). Each
// poam-item is a finding. It opens at the earliest collected time of its
// related observations (or of its risks' observations), and it is closed when
// every related risk has status closed, at the latest risk-log entry whose
// status-change is closed. A related risk that the document does not contain
// leaves the item open, with a warning, since nothing shows that it closed.
func parseFindingPOAM(file string, data []byte) (*recordExport[findingRecord], error) {
	walk, err := newRecordJSON(file, data)
	if err != nil {
		return nil, err
	}
	doc := &poamDocument{observations: map[string]poamObservation{}, risks: map[string]poamRisk{}}
	export := &recordExport[findingRecord]{}

	err = walk.object("the document", map[string]func() error{
		"plan-of-action-and-milestones": func() error {
			doc.found = true
			return walk.object("plan-of-action-and-milestones", doc.handlers(walk, export))
		},
	})
	if err == nil {
		err = walk.end()
	}
	if err != nil {
		return nil, err
	}
	if !doc.found {
		return nil, &InputError{File: file, Line: 1, Err: errors.New("missing member \"plan-of-action-and-milestones\": is this an OSCAL POA&M in JSON?")}
	}

	for i, item := range doc.items {
		doc.addItem(export, item, doc.lines[i])
	}
	return export, nil
}

// handlers returns the readers of the members of the plan.
func (doc *poamDocument) handlers(walk *recordJSON, export *recordExport[findingRecord]) map[string]func() error {
	return map[string]func() error{
		"observations": func() error {
			return walk.array("observations", func(int) error {
				var o poamObservation
				line, recordErr, err := walk.record(&o)
				if recordErr != nil {
					export.warnings = append(export.warnings, fmt.Sprintf("line %d: observation left out: %v", line, recordErr))
				} else if o.UUID != "" {
					doc.observations[o.UUID] = o
				}
				return err
			})
		},
		"risks": func() error {
			return walk.array("risks", func(int) error {
				var r poamRisk
				line, recordErr, err := walk.record(&r)
				if recordErr != nil {
					export.warnings = append(export.warnings, fmt.Sprintf("line %d: risk left out: %v", line, recordErr))
				} else if r.UUID != "" {
					doc.risks[r.UUID] = r
				}
				return err
			})
		},
		"poam-items": func() error {
			return walk.array("poam-items", func(int) error {
				var item poamItem
				line, recordErr, err := walk.record(&item)
				if recordErr != nil {
					export.rejected = append(export.rejected, recordReject{line: line, err: recordErr})
				} else {
					doc.items, doc.lines = append(doc.items, item), append(doc.lines, line)
				}
				return err
			})
		},
	}
}

// addItem turns one poam-item into a finding record.
func (doc *poamDocument) addItem(export *recordExport[findingRecord], item poamItem, line int) {
	if item.UUID == "" {
		export.reject(line, "poam-item without uuid: every item needs a uuid so that it counts once")
		return
	}
	record := findingRecord{id: item.UUID, title: item.Title, line: line}

	risks, statuses, allClosed := doc.itemRisks(export, item, line)
	record.status = strings.Join(statuses, ", ")
	opened, err := doc.openedTime(item, risks)
	if err != nil {
		export.reject(line, "poam-item %q: %v", item.UUID, err)
		return
	}
	record.opened = opened

	if allClosed {
		closed, err := poamClosedTime(risks)
		if err != nil {
			export.reject(line, "poam-item %q: %v", item.UUID, err)
			return
		}
		record.closed = closed
	}
	if err := findingCheckClosed(record); err != nil {
		export.rejected = append(export.rejected, recordReject{line: line, err: err})
		return
	}
	export.records = append(export.records, record)
}

// itemRisks resolves the related risks of an item. allClosed is true when
// the item names at least one risk, every one of them is in the document,
// and every one is closed.
func (doc *poamDocument) itemRisks(export *recordExport[findingRecord], item poamItem, line int) (risks []poamRisk, statuses []string, allClosed bool) {
	allClosed = len(item.RelatedRisks) > 0
	for _, ref := range item.RelatedRisks {
		risk, ok := doc.risks[ref.RiskUUID]
		if !ok {
			export.warnings = append(export.warnings, fmt.Sprintf(
				"line %d: poam-item %q names risk %q, which is not among the document's risks; the item counts as open", line, item.UUID, ref.RiskUUID))
			allClosed = false
			continue
		}
		risks = append(risks, risk)
		statuses = append(statuses, risk.Status)
		if risk.Status != findingOSCALClosed {
			allClosed = false
		}
	}
	return risks, statuses, allClosed
}

// openedTime returns the earliest collected time of the item's
// observations, or else of its risks' observations.
func (doc *poamDocument) openedTime(item poamItem, risks []poamRisk) (time.Time, error) {
	refs := item.RelatedObservations
	if len(refs) == 0 {
		for _, risk := range risks {
			refs = append(refs, risk.RelatedObservations...)
		}
	}

	var earliest time.Time
	for _, ref := range refs {
		o, ok := doc.observations[ref.ObservationUUID]
		if !ok || o.Collected == "" {
			continue
		}
		at, err := ParseTimestamp(o.Collected)
		if err != nil {
			return time.Time{}, fmt.Errorf("observation %q: collected: %w", o.UUID, err)
		}
		if earliest.IsZero() || at.Before(earliest) {
			earliest = at
		}
	}
	if earliest.IsZero() {
		return time.Time{}, errors.New("no related observation with a collected time, so the time the finding opened is unknown: relate the observation that found it")
	}
	return earliest, nil
}

// poamClosedTime returns when the last of the closed risks closed, from
// their risk-log entries whose status-change is closed.
func poamClosedTime(risks []poamRisk) (time.Time, error) {
	var latest time.Time
	for _, risk := range risks {
		var closed time.Time
		for _, entry := range risk.RiskLog.Entries {
			if entry.StatusChange != findingOSCALClosed || entry.Start == "" {
				continue
			}
			at, err := ParseTimestamp(entry.Start)
			if err != nil {
				return time.Time{}, fmt.Errorf("risk %q: risk-log entry start: %w", risk.UUID, err)
			}
			if at.After(closed) {
				closed = at
			}
		}
		if closed.IsZero() {
			return time.Time{}, fmt.Errorf("risk %q is closed, but its risk-log has no entry with status-change closed and a start time, so the closing time is unknown", risk.UUID)
		}
		if closed.After(latest) {
			latest = closed
		}
	}
	return latest, nil
}
