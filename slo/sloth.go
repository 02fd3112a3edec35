package slo

import (
	"fmt"
	"maps"
	"reflect"
	"time"

	slothv1 "github.com/slok/sloth/pkg/prometheus/api/v1"
)

// parseSloth reads a Sloth prometheus/v1 spec through Sloth's own spec
// types, so that a file that Sloth accepts is read unchanged. Sloth specs
// have no period and no control ids: the period comes from the caller and
// the controls stay empty.
func parseSloth(doc *document, period time.Duration) ([]*SLO, Problems) {
	if msg := checkSlothPeriod(period); msg != "" {
		return nil, Problems{doc.problem("", "%s", msg)}
	}
	shape := doc.checkShape(doc.root, reflect.TypeOf(slothv1.Spec{}), "", "json")

	var spec slothv1.Spec
	if err := decodeJSONTagged(doc.root, &spec); err != nil {
		if len(shape) > 0 {
			return nil, shape
		}
		return nil, Problems{doc.problem("", "failed to decode the Sloth spec: %v", err)}
	}
	slos, problems := convertSloth(doc, &spec, period)
	return mergeShapeProblems(slos, shape, problems)
}

// checkSlothPeriod returns a message unless period, which secslo's
// --sloth.period flag sets, is a whole number of days from 1 to
// MaxPeriodDays, as the period of a secslo/v1 spec must be.
func checkSlothPeriod(period time.Duration) string {
	const day = 24 * time.Hour
	if period%day == 0 && period >= day && period <= MaxPeriodDays*day {
		return ""
	}
	return fmt.Sprintf("invalid --sloth.period %s for this Sloth spec, which has no period of its own; set a whole number of days from 1d to %dd, such as 30d",
		FormatDuration(period), MaxPeriodDays)
}

func convertSloth(doc *document, spec *slothv1.Spec, period time.Duration) ([]*SLO, Problems) {

	problems := checkSpecHeader(doc, spec.Service, spec.Labels, len(spec.SLOs))

	var slos []*SLO
	for i := range spec.SLOs {
		s, sloProblems := convertSlothSLO(doc, spec, i, period)
		problems = append(problems, sloProblems...)
		if s != nil {
			slos = append(slos, s)
		}
	}
	return slos, problems
}

func convertSlothSLO(doc *document, spec *slothv1.Spec, index int, period time.Duration) (*SLO, Problems) {
	in := &spec.SLOs[index]
	path := fmt.Sprintf("slos[%d]", index)
	var problems Problems
	add := func(field, msg string) {
		if msg != "" {
			problems = append(problems, doc.problem(joinPath(path, field), "%s", msg))
		}
	}

	add("name", checkName(in.Name, "SLO"))
	add("objective", checkObjective(in.Objective))
	problems = append(problems, checkLabels(doc, joinPath(path, "labels"), in.Labels)...)

	sli, sliProblems := convertSlothSLI(doc, &in.SLI, joinPath(path, "sli"))
	problems = append(problems, sliProblems...)

	alerting, alertProblems := convertSlothAlerting(doc, &in.Alerting, joinPath(path, "alerting"))
	problems = append(problems, alertProblems...)

	if len(problems) > 0 {
		return nil, problems
	}

	labels := maps.Clone(spec.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, in.Labels)

	return &SLO{
		Service:     spec.Service,
		Name:        in.Name,
		Description: in.Description,
		Objective:   in.Objective,
		Period:      period,
		Labels:      labels,
		SLI:         sli,
		Alerting:    alerting,
		NoData:      NoDataIgnore,
		Format:      FormatSloth,
		Origin:      doc.position(path),
	}, nil
}

func convertSlothSLI(doc *document, in *slothv1.SLI, path string) (SLI, Problems) {
	switch {
	case in.Plugin != nil:
		return SLI{}, Problems{doc.problem(joinPath(path, "plugin"), "SLI plugins run Sloth's Go interpreter and are not supported; rewrite the SLI as events or raw queries")}
	case in.Events != nil && in.Raw != nil:
		return SLI{}, Problems{doc.problem(path, "set exactly one of events and raw")}
	case in.Events != nil:
		var problems Problems
		if msg := checkWindowQuery(in.Events.ErrorQuery); msg != "" {
			problems = append(problems, doc.problem(joinPath(path, "events.error_query"), "%s", msg))
		}
		if msg := checkWindowQuery(in.Events.TotalQuery); msg != "" {
			problems = append(problems, doc.problem(joinPath(path, "events.total_query"), "%s", msg))
		}
		return SLI{Kind: KindCustom, ErrorQuery: in.Events.ErrorQuery, TotalQuery: in.Events.TotalQuery}, problems
	case in.Raw != nil:
		if msg := checkWindowQuery(in.Raw.ErrorRatioQuery); msg != "" {
			return SLI{}, Problems{doc.problem(joinPath(path, "raw.error_ratio_query"), "%s", msg)}
		}
		return SLI{Kind: KindRatio, ErrorRatioQuery: in.Raw.ErrorRatioQuery}, nil
	default:
		return SLI{}, Problems{doc.problem(path, "missing SLI; set events (error_query and total_query) or raw (error_ratio_query)")}
	}
}

func convertSlothAlerting(doc *document, in *slothv1.Alerting, path string) (Alerting, Problems) {
	var problems Problems
	if in.Name == "" {
		problems = append(problems, doc.problem(joinPath(path, "name"), "missing alert name; Sloth requires alerting.name"))
	} else if msg := checkAlertName(in.Name); msg != "" {
		problems = append(problems, doc.problem(joinPath(path, "name"), "%s", msg))
	}
	problems = append(problems, checkAlertLabels(doc, joinPath(path, "labels"), in.Labels)...)
	problems = append(problems, checkAlertLabels(doc, joinPath(path, "page_alert.labels"), in.PageAlert.Labels)...)
	problems = append(problems, checkAlertLabels(doc, joinPath(path, "ticket_alert.labels"), in.TicketAlert.Labels)...)
	problems = append(problems, checkAnnotations(doc, joinPath(path, "annotations"), in.Annotations)...)
	problems = append(problems, checkAnnotations(doc, joinPath(path, "page_alert.annotations"), in.PageAlert.Annotations)...)
	problems = append(problems, checkAnnotations(doc, joinPath(path, "ticket_alert.annotations"), in.TicketAlert.Annotations)...)

	return Alerting{
		Name:        in.Name,
		Labels:      in.Labels,
		Annotations: in.Annotations,
		Page:        AlertTier{Disabled: in.PageAlert.Disable, Labels: in.PageAlert.Labels, Annotations: in.PageAlert.Annotations},
		Ticket:      AlertTier{Disabled: in.TicketAlert.Disable, Labels: in.TicketAlert.Labels, Annotations: in.TicketAlert.Annotations},
	}, problems
}
