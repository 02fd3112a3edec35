package sources

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Input formats of the findings source.
const (
	findingFormatCSV   = "csv"
	findingFormatJSON  = "json"
	findingFormatPOAM  = "oscal_poam"
	findingFormatJira  = "jira"
	findingOSCALClosed = "closed"
)

// findingRecord is one audit finding as an export states it.
type findingRecord struct {
	id       string
	title    string
	opened   time.Time
	closed   time.Time // zero while the finding is open
	severity string
	status   string
	line     int
}

func (r findingRecord) recordID() string   { return r.id }
func (r findingRecord) recordLine() int    { return r.line }
func (r findingRecord) recordClosed() bool { return !r.closed.IsZero() }

// findingColumns names the columns (CSV) or fields (JSON) of a findings
// register.
type findingColumns struct {
	ID       string `yaml:"id"`
	Opened   string `yaml:"opened"`
	Closed   string `yaml:"closed"`
	Severity string `yaml:"severity"`
	Status   string `yaml:"status"`
}

// findingRegisterColumns returns the table columns of a register, in the
// order findingRegisterRecord expects.
func findingRegisterColumns(c findingColumns) []tableColumn {
	return []tableColumn{
		{name: c.ID, fallback: "id", option: "options.columns.id", content: "the finding id", required: true},
		{name: c.Opened, fallback: "opened", option: "options.columns.opened", content: "the time the finding was opened", required: true},
		{name: c.Closed, fallback: "closed", option: "options.columns.closed", content: "the time the finding was closed"},
		{name: c.Severity, fallback: "severity", option: "options.columns.severity", content: "the finding severity"},
		{name: c.Status, fallback: "status", option: "options.columns.status", content: "the finding status"},
	}
}

// parseFindingRegister reads a findings register: CSV with a header row, or
// a JSON array of objects. closedStatuses lists the status values that mean
// closed, in lower case.
func parseFindingRegister(file string, data []byte, format string, columns findingColumns, closedStatuses []string) (*recordExport[findingRecord], error) {
	export := &recordExport[findingRecord]{}
	visit := func(values []string, line int) {
		record, err := findingRegisterRecord(values, line, closedStatuses)
		if err != nil {
			export.rejected = append(export.rejected, recordReject{line: line, err: err})
			return
		}
		export.records = append(export.records, record)
	}

	var err error
	if format == findingFormatCSV {
		err = exportReadCSV(file, data, findingRegisterColumns(columns), &export.rejected, visit)
	} else {
		err = exportReadJSON(file, data, findingRegisterColumns(columns), &export.rejected, visit)
	}
	if err != nil {
		return nil, err
	}
	return export, nil
}

// findingRegisterRecord checks one register row: id, opened, closed,
// severity and status, in that order.
func findingRegisterRecord(values []string, line int, closedStatuses []string) (findingRecord, error) {
	record := findingRecord{
		id:       strings.TrimSpace(values[0]),
		severity: strings.ToLower(strings.TrimSpace(values[3])),
		status:   strings.TrimSpace(values[4]),
		line:     line,
	}
	if record.id == "" {
		return record, errors.New("missing finding id: every finding needs an id so that it counts once")
	}

	var err error
	if record.opened, err = findingTime(record.id, "opened", values[1], true); err != nil {
		return record, err
	}
	if record.closed, err = findingTime(record.id, "closed", values[2], false); err != nil {
		return record, err
	}
	if err := findingCheckClosed(record); err != nil {
		return record, err
	}
	return record, findingCheckStatus(record, closedStatuses)
}

// findingTime parses one timestamp of a finding. An empty required time is
// an error; an empty optional one is the zero time.
func findingTime(id, field, value string, required bool) (time.Time, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		if required {
			return time.Time{}, fmt.Errorf("finding %q: missing %s time", id, field)
		}
		return time.Time{}, nil
	}
	at, err := ParseTimestamp(value)
	if err != nil {
		return time.Time{}, fmt.Errorf("finding %q: %s: %w", id, field, err)
	}
	return at, nil
}

// findingCheckClosed rejects a finding that closes before it opens.
func findingCheckClosed(record findingRecord) error {
	if record.closed.IsZero() || !record.closed.Before(record.opened) {
		return nil
	}
	return fmt.Errorf("finding %q: closed %s is before opened %s: fix the export",
		record.id, record.closed.Format(time.RFC3339), record.opened.Format(time.RFC3339))
}

// findingCheckStatus rejects a register row whose status and closed time
// disagree, because either one may be the mistake. An empty status is not
// checked.
func findingCheckStatus(record findingRecord, closedStatuses []string) error {
	if record.status == "" {
		return nil
	}
	closedStatus := slices.Contains(closedStatuses, strings.ToLower(record.status))
	switch {
	case closedStatus && record.closed.IsZero():
		return fmt.Errorf("finding %q: status %q means closed, but the closed time is empty: fill it in", record.id, record.status)
	case !closedStatus && !record.closed.IsZero():
		return fmt.Errorf("finding %q: has a closed time but status %q, which is not one of options.closed_statuses %v: fix the status or the option",
			record.id, record.status, closedStatuses)
	}
	return nil
}

// findingJiraIssue holds the members of a Jira issue that secslo uses.
type findingJiraIssue struct {
	Key    string `json:"key"`
	Fields struct {
		Summary        string        `json:"summary"`
		Created        tableJSONText `json:"created"`
		ResolutionDate tableJSONText `json:"resolutiondate"`
		Status         struct {
			Name string `json:"name"`
		} `json:"status"`
		Priority struct {
			Name string `json:"name"`
		} `json:"priority"`
	} `json:"fields"`
}

// parseFindingJira reads a Jira issue search export: an object with an
// issues array, as the REST search API returns it, or a bare array of
// issues. created opens a finding and resolutiondate closes it, because
// Jira sets resolutiondate when an issue gets a resolution whatever its
// workflow's status names are.
func parseFindingJira(file string, data []byte) (*recordExport[findingRecord], error) {
	return readExportArray(file, data, "issues", findingAddJiraIssue)
}

func findingAddJiraIssue(export *recordExport[findingRecord], issue findingJiraIssue, line int) {
	record := findingRecord{
		id:       strings.TrimSpace(issue.Key),
		title:    issue.Fields.Summary,
		severity: strings.ToLower(issue.Fields.Priority.Name),
		status:   issue.Fields.Status.Name,
		line:     line,
	}
	if record.id == "" {
		export.reject(line, "missing issue key: every issue needs a key so that it counts once")
		return
	}

	var err error
	if record.opened, err = findingTime(record.id, "fields.created", issue.Fields.Created.text, true); err != nil {
		export.rejected = append(export.rejected, recordReject{line: line, err: err})
		return
	}
	if record.closed, err = findingTime(record.id, "fields.resolutiondate", issue.Fields.ResolutionDate.text, false); err != nil {
		export.rejected = append(export.rejected, recordReject{line: line, err: err})
		return
	}
	if err := findingCheckClosed(record); err != nil {
		export.rejected = append(export.rejected, recordReject{line: line, err: err})
		return
	}
	export.records = append(export.records, record)
}
