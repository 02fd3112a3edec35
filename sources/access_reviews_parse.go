package sources

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Input formats of the access_reviews source.
const (
	reviewFormatCSV   = "csv"
	reviewFormatJSON  = "json"
	reviewFormatEntra = "entra"
)

// reviewRecord is one scheduled access review.
type reviewRecord struct {
	id        string
	name      string
	due       time.Time
	completed time.Time // zero while the review is not completed
	line      int
}

func (r reviewRecord) recordID() string   { return r.id }
func (r reviewRecord) recordLine() int    { return r.line }
func (r reviewRecord) recordClosed() bool { return !r.completed.IsZero() }

// reviewColumns names the columns (CSV) or fields (JSON) of a review list.
type reviewColumns struct {
	ID        string `yaml:"id"`
	Due       string `yaml:"due"`
	Completed string `yaml:"completed"`
	Name      string `yaml:"name"`
}

// parseReviewTable reads a list of scheduled reviews: CSV with a header
// row, or a JSON array of objects, with an id, a due time and, once done, a
// completion time.
func parseReviewTable(file string, data []byte, format string, c reviewColumns) (*recordExport[reviewRecord], error) {
	columns := []tableColumn{
		{name: c.ID, fallback: "id", option: "options.columns.id", content: "the review id", required: true},
		{name: c.Due, fallback: "due", option: "options.columns.due", content: "the due time", required: true},
		{name: c.Completed, fallback: "completed", option: "options.columns.completed", content: "the completion time"},
		{name: c.Name, fallback: "name", option: "options.columns.name", content: "the review name"},
	}
	export := &recordExport[reviewRecord]{}
	visit := func(values []string, line int) {
		record, err := reviewTableRecord(values, line)
		if err != nil {
			export.rejected = append(export.rejected, recordReject{line: line, err: err})
			return
		}
		export.records = append(export.records, record)
	}

	var err error
	if format == reviewFormatCSV {
		err = exportReadCSV(file, data, columns, &export.rejected, visit)
	} else {
		err = exportReadJSON(file, data, columns, &export.rejected, visit)
	}
	if err != nil {
		return nil, err
	}
	return export, nil
}

// reviewTableRecord checks one row: id, due, completed and name.
func reviewTableRecord(values []string, line int) (reviewRecord, error) {
	record := reviewRecord{id: strings.TrimSpace(values[0]), name: strings.TrimSpace(values[3]), line: line}
	if record.id == "" {
		return record, errors.New("missing review id: every review needs an id so that it counts once")
	}

	var err error
	if record.due, err = reviewTime(record.id, "due", values[1], true); err != nil {
		return record, err
	}
	record.completed, err = reviewTime(record.id, "completed", values[2], false)
	return record, err
}

// reviewTime parses one timestamp of a review. An empty required time is an
// error; an empty optional one is the zero time.
func reviewTime(id, field, value string, required bool) (time.Time, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		if required {
			return time.Time{}, fmt.Errorf("review %q: missing %s time", id, field)
		}
		return time.Time{}, nil
	}
	at, err := ParseTimestamp(value)
	if err != nil {
		return time.Time{}, fmt.Errorf("review %q: %s: %w", id, field, err)
	}
	return at, nil
}

// entraInstance holds the members of a Microsoft Graph accessReviewInstance
// that secslo uses, with its decisions when the export nests them.
type entraInstance struct {
	ID            string          `json:"id"`
	StartDateTime tableJSONText   `json:"startDateTime"`
	EndDateTime   tableJSONText   `json:"endDateTime"`
	Status        string          `json:"status"`
	Decisions     []entraDecision `json:"decisions"`
}

// entraDecision holds the members of an accessReviewInstanceDecisionItem
// that secslo uses.
type entraDecision struct {
	ID               string        `json:"id"`
	Decision         string        `json:"decision"`
	ReviewedDateTime tableJSONText `json:"reviewedDateTime"`
}

// parseReviewEntra reads Microsoft Entra ID access review instances as
// Microsoft Graph lists them: an object with a value array, or a bare array.
// endDateTime is the due time.
//
// An instance whose export nests its decisions is completed when no decision
// is NotReviewed, at the latest reviewedDateTime. Without decisions, the
// status decides. Completed counts as completed at endDateTime, because an
// instance records no completion time and Entra completes it at its end, or
// earlier when it is stopped. Every other status counts as not completed,
// AutoReviewed included, in which the system decided for reviewers who did
// not.
func parseReviewEntra(file string, data []byte) (*recordExport[reviewRecord], error) {
	return readExportArray(file, data, "value", func(export *recordExport[reviewRecord], instance entraInstance, line int) {
		record, err := entraRecord(instance, line)
		if err != nil {
			export.rejected = append(export.rejected, recordReject{line: line, err: err})
			return
		}
		export.records = append(export.records, record)
	})
}

// entraRecord turns one instance into a review record.
func entraRecord(instance entraInstance, line int) (reviewRecord, error) {
	record := reviewRecord{id: strings.TrimSpace(instance.ID), line: line}
	if record.id == "" {
		return record, errors.New("access review instance without id: every instance needs an id so that it counts once")
	}
	due, err := reviewTime(record.id, "endDateTime", instance.EndDateTime.text, true)
	if err != nil {
		return record, err
	}
	record.due = due

	if len(instance.Decisions) > 0 {
		record.completed, err = entraDecisionsCompleted(record.id, instance.Decisions)
		return record, err
	}
	if strings.EqualFold(instance.Status, "Completed") {
		record.completed = due
	}
	return record, nil
}

// entraDecisionsCompleted returns the latest reviewedDateTime of the
// decisions, or zero when any decision is still NotReviewed.
func entraDecisionsCompleted(id string, decisions []entraDecision) (time.Time, error) {
	var latest time.Time
	for _, d := range decisions {
		if d.Decision == "" || strings.EqualFold(d.Decision, "NotReviewed") {
			return time.Time{}, nil
		}
		at, err := reviewTime(id, fmt.Sprintf("decision %q reviewedDateTime", d.ID), d.ReviewedDateTime.text, true)
		if err != nil {
			return time.Time{}, err
		}
		if at.After(latest) {
			latest = at
		}
	}
	return latest, nil
}
