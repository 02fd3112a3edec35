package sources

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// This file reads the vendor formats of the incidents source: AWS GuardDuty
// findings, OCSF Incident Findings, Jira issue searches and PagerDuty
// incident lists. Each reader turns a record into incidentTimes.

// jsonTime reads a timestamp member that may be a string or an epoch number.
func jsonTime(field string, value tableJSONText) (time.Time, error) {
	return parseEventTime(field, value.text)
}

// guardDutyFinding is the part of a GuardDuty finding, as `aws guardduty
// get-findings` prints it, that dates an incident.
type guardDutyFinding struct {
	ID        string        `json:"Id"`
	CreatedAt tableJSONText `json:"CreatedAt"`
	Service   struct {
		EventFirstSeen tableJSONText `json:"EventFirstSeen"`
	} `json:"Service"`
}

// readGuardDuty reads `aws guardduty get-findings` output. The first
// activity is Service.EventFirstSeen and the detection is CreatedAt, when
// GuardDuty generated the finding. GuardDuty does not record containment.
func readGuardDuty(ctx context.Context, file string, rejected *tableRejects, add func(incidentTimes) error) (int, error) {
	return readJSONRecords(ctx, file, "Findings", rejected, func(f *guardDutyFinding, _ int) error {
		if f.ID == "" {
			return &tableRecordError{fmt.Errorf("%w: the finding has no Id", errNoIncidentID)}
		}
		t := incidentTimes{id: f.ID, noContainment: true}
		var err error
		if t.occurred, err = jsonTime("Service.EventFirstSeen", f.Service.EventFirstSeen); err != nil {
			return err
		}
		if t.detected, err = jsonTime("CreatedAt", f.CreatedAt); err != nil {
			return err
		}
		if t.occurred.IsZero() || t.detected.IsZero() {
			return tableReject("finding %q lacks Service.EventFirstSeen or CreatedAt", f.ID)
		}
		return add(t)
	})
}

// ocsfIncident is the part of an OCSF Incident Finding (class_uid 2005) that
// dates an incident.
type ocsfIncident struct {
	ClassUID  *int          `json:"class_uid"`
	StatusID  int           `json:"status_id"`
	Time      tableJSONText `json:"time"`
	StartTime tableJSONText `json:"start_time"`
	Findings  []struct {
		UID           string        `json:"uid"`
		CreatedTime   tableJSONText `json:"created_time"`
		FirstSeenTime tableJSONText `json:"first_seen_time"`
	} `json:"finding_info_list"`
}

// OCSF Incident Finding status_id values that mean the incident is over.
const (
	ocsfStatusResolved = 4
	ocsfStatusClosed   = 5
)

// readOCSFIncidents reads a JSON array of OCSF Incident Findings, one per
// incident in its latest state. The id is finding_info_list[0].uid, and the
// first activity is its first_seen_time or else start_time. The detection is
// its created_time. The containment is the record's time once status_id is
// Resolved (4) or Closed (5).
func readOCSFIncidents(ctx context.Context, file string, rejected *tableRejects, add func(incidentTimes) error) (int, error) {
	return readJSONRecords(ctx, file, "", rejected, func(r *ocsfIncident, _ int) error {
		if r.ClassUID == nil || *r.ClassUID != 2005 {
			return tableReject("record is not an OCSF Incident Finding (class_uid 2005); filter the export to incident findings")
		}
		if len(r.Findings) == 0 || r.Findings[0].UID == "" {
			return &tableRecordError{fmt.Errorf("%w: finding_info_list[0].uid is missing", errNoIncidentID)}
		}
		info := r.Findings[0]

		t := incidentTimes{id: info.UID}
		occurred := info.FirstSeenTime
		if !occurred.set {
			occurred = r.StartTime
		}
		var err error
		if t.occurred, err = jsonTime("first_seen_time", occurred); err != nil {
			return err
		}
		if t.detected, err = jsonTime("finding_info_list[0].created_time", info.CreatedTime); err != nil {
			return err
		}
		if r.StatusID == ocsfStatusResolved || r.StatusID == ocsfStatusClosed {
			if t.contained, err = jsonTime("time", r.Time); err != nil {
				return err
			}
		}
		return add(t)
	})
}

// jiraOptions map Jira workflow statuses to incident moments.
type jiraOptions struct {
	// OccurredField is the issue field with the first malicious activity,
	// often a custom field such as customfield_10042. Empty means the issue
	// has none, and then the issue's creation is the start of detection.
	OccurredField string `yaml:"occurred_field"`
	// DetectedStatuses and ContainedStatuses are the statuses whose first
	// transition marks detection and containment, matched without regard to
	// case.
	DetectedStatuses  []string `yaml:"detected_statuses"`
	ContainedStatuses []string `yaml:"contained_statuses"`
}

func (o jiraOptions) check() error {
	if len(o.DetectedStatuses) == 0 || len(o.ContainedStatuses) == 0 {
		return errors.New("format jira needs options.jira.detected_statuses and options.jira.contained_statuses, for example [Triaged] and [Contained, Done]")
	}
	return nil
}

// jiraIssue is the part of a Jira issue, from a search with
// expand=changelog, that dates an incident.
type jiraIssue struct {
	Key       string                     `json:"key"`
	Fields    map[string]json.RawMessage `json:"fields"`
	Changelog struct {
		Histories []struct {
			Created tableJSONText `json:"created"`
			Items   []struct {
				Field    string `json:"field"`
				ToString string `json:"toString"`
			} `json:"items"`
		} `json:"histories"`
	} `json:"changelog"`
}

// readJiraIncidents reads the "issues" of a Jira search export. The first
// activity is options.jira.occurred_field, or else fields.created; detection
// and containment are the first status transitions into the configured
// statuses. An issue that went straight to a contained status is taken as
// detected at that moment too.
func readJiraIncidents(ctx context.Context, file string, opts jiraOptions, rejected *tableRejects, add func(incidentTimes) error) (int, error) {
	return readJSONRecords(ctx, file, "issues", rejected, func(issue *jiraIssue, _ int) error {
		if issue.Key == "" {
			return &tableRecordError{fmt.Errorf("%w: the issue has no key", errNoIncidentID)}
		}
		t := incidentTimes{id: issue.Key}

		occurredField := opts.OccurredField
		if occurredField == "" {
			occurredField = "created"
		}
		value, err := tableJSONField(issue.Fields, occurredField)
		if err != nil {
			return &tableRecordError{fmt.Errorf("issue %s: %w", issue.Key, err)}
		}
		if t.occurred, err = jsonTime("fields."+occurredField, value); err != nil {
			return err
		}

		if t.detected, t.contained, err = issue.transitions(opts); err != nil {
			return err
		}
		return add(t)
	})
}

// transitions returns the first transitions into a detected and into a
// contained status.
func (issue *jiraIssue) transitions(opts jiraOptions) (detected, contained time.Time, err error) {
	matches := func(list []string, status string) bool {
		return slices.ContainsFunc(list, func(s string) bool { return strings.EqualFold(s, status) })
	}

	for _, h := range issue.Changelog.Histories {
		for _, item := range h.Items {
			if item.Field != "status" {
				continue
			}
			at, err := jsonTime("changelog.histories.created", h.Created)
			if err != nil {
				return time.Time{}, time.Time{}, err
			}
			if matches(opts.DetectedStatuses, item.ToString) && (detected.IsZero() || at.Before(detected)) {
				detected = at
			}
			if matches(opts.ContainedStatuses, item.ToString) && (contained.IsZero() || at.Before(contained)) {
				contained = at
			}
		}
	}

	if !contained.IsZero() && (detected.IsZero() || contained.Before(detected)) {
		detected = contained
	}
	return detected, contained, nil
}

// pagerDutyIncident is the part of a PagerDuty incident, as the REST API's
// GET /incidents lists it, that dates an incident.
type pagerDutyIncident struct {
	ID                 string        `json:"id"`
	Status             string        `json:"status"`
	CreatedAt          tableJSONText `json:"created_at"`
	ResolvedAt         tableJSONText `json:"resolved_at"`
	LastStatusChangeAt tableJSONText `json:"last_status_change_at"`
}

// readPagerDuty reads the "incidents" of a PagerDuty incident list. An
// incident is created when an alert triggers it, so created_at is the
// detection. PagerDuty has no containment status, so resolution replaces
// it: resolved_at, or last_status_change_at of a resolved incident.
// PagerDuty does not know when the activity began, so it gives no
// detection_time events.
func readPagerDuty(ctx context.Context, file string, rejected *tableRejects, add func(incidentTimes) error) (int, error) {
	return readJSONRecords(ctx, file, "incidents", rejected, func(inc *pagerDutyIncident, _ int) error {
		if inc.ID == "" {
			return &tableRecordError{fmt.Errorf("%w: the incident has no id", errNoIncidentID)}
		}
		t := incidentTimes{id: inc.ID}
		var err error
		if t.detected, err = jsonTime("created_at", inc.CreatedAt); err != nil {
			return err
		}

		resolved := inc.ResolvedAt
		if !resolved.set && inc.Status == "resolved" {
			resolved = inc.LastStatusChangeAt
		}
		if t.contained, err = jsonTime("resolved_at", resolved); err != nil {
			return err
		}
		if t.detected.IsZero() {
			return tableReject("incident %q has no created_at", inc.ID)
		}
		return add(t)
	})
}
