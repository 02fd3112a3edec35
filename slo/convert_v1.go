package slo

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
)

// convertV1 validates a decoded secslo/v1 spec and maps it to the model.
func convertV1(doc *document, spec *SpecV1) ([]*SLO, Problems) {
	problems := checkSpecHeader(doc, spec.Service, spec.Labels, len(spec.SLOs))

	var slos []*SLO
	for i := range spec.SLOs {
		s, sloProblems := convertSLOV1(doc, spec, i)
		problems = append(problems, sloProblems...)
		if s != nil {
			slos = append(slos, s)
		}
	}
	return slos, problems
}

// checkSpecHeader checks the fields that both spec formats share above the
// SLO list: the service name, the service labels and a non-empty list.
func checkSpecHeader(doc *document, service string, labels map[string]string, sloCount int) Problems {
	var problems Problems
	if msg := checkName(service, "service"); msg != "" {
		problems = append(problems, doc.problem("service", "%s", msg))
	}
	problems = append(problems, checkLabels(doc, "labels", labels)...)
	if sloCount == 0 {
		problems = append(problems, doc.problem("slos", "the spec has no SLOs; add at least one under slos"))
	}
	return problems
}

func convertSLOV1(doc *document, spec *SpecV1, index int) (*SLO, Problems) {
	in := &spec.SLOs[index]
	path := fmt.Sprintf("slos[%d]", index)
	at := func(field string) string { return joinPath(path, field) }

	var problems Problems
	add := func(field, msg string) {
		if msg != "" {
			problems = append(problems, doc.problem(at(field), "%s", msg))
		}
	}

	add("name", checkName(in.Name, "SLO"))
	sli, sliProblems := convertSLIV1(doc, &in.SLI, at("sli"))
	problems = append(problems, sliProblems...)
	builtin, _ := LookupBuiltin(sli.Builtin)

	objective := builtin.DefaultObjective
	if in.Objective != nil {
		objective = *in.Objective
	}
	if in.Objective == nil && sli.Builtin == "" {
		add("objective", "missing objective; set a percentage such as objective: 95")
	} else {
		add("objective", checkObjective(objective))
	}

	period, msg := parsePeriod(in.Period)
	add("period", msg)

	controls := in.Controls
	if len(controls) == 0 {
		controls = builtin.DefaultControls
	}
	problems = append(problems, checkControls(doc, at("controls"), controls)...)
	problems = append(problems, checkLabels(doc, at("labels"), in.Labels)...)

	alerting, alertProblems := convertAlertingV1(doc, &in.Alerting, at("alerting"), in.Name)
	problems = append(problems, alertProblems...)

	noData, msg := parseNoData(in.NoData.Policy)
	add("no_data.policy", msg)

	if len(problems) > 0 {
		return nil, problems
	}

	owner := in.Owner
	if owner == "" {
		owner = spec.Owner
	}
	description := in.Description
	if description == "" {
		description = builtin.Description
	}
	labels := maps.Clone(spec.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, in.Labels)

	return &SLO{
		Service:     spec.Service,
		Name:        in.Name,
		Description: description,
		Owner:       owner,
		Objective:   objective,
		Period:      period,
		Controls:    sortedControls(controls),
		Labels:      labels,
		SLI:         sli,
		Alerting:    alerting,
		NoData:      noData,
		Format:      FormatV1,
		Origin:      doc.position(path),
	}, nil
}

func checkControls(doc *document, path string, controls []string) Problems {
	if len(controls) == 0 {
		return Problems{doc.problem(path, "missing controls; list the ISO/IEC 27001:2022 controls that this SLO evidences, such as controls: [A.8.15]")}
	}
	var problems Problems
	seen := map[string]bool{}
	for i, id := range controls {
		itemPath := fmt.Sprintf("%s[%d]", path, i)
		if seen[id] {
			problems = append(problems, doc.problem(itemPath, "duplicate control id %q; list each control once", id))
		}
		seen[id] = true
		if msg := checkControl(id); msg != "" {
			problems = append(problems, doc.problem(itemPath, "%s", msg))
		}
	}
	return problems
}

func checkLabels(doc *document, path string, labels map[string]string) Problems {
	var problems Problems
	for _, name := range sortedKeys(labels) {
		if msg := checkLabelName(name); msg != "" {
			problems = append(problems, doc.problem(joinPath(path, name), "%s", msg))
		}
	}
	return problems
}

// checkAnnotations checks annotation names, and parses each value as the
// Prometheus template it becomes, so that validate reports a broken
// template where the spec has it rather than when the rules load.
func checkAnnotations(doc *document, path string, annotations map[string]string) Problems {
	var problems Problems
	for _, name := range sortedKeys(annotations) {
		if !alertNameRE.MatchString(name) {
			problems = append(problems, doc.problem(joinPath(path, name), "invalid annotation name %q; use letters, digits and '_'", name))
			continue
		}
		if msg := checkAlertTemplate(annotations[name]); msg != "" {
			problems = append(problems, doc.problem(joinPath(path, name), "%s", msg))
		}
	}
	return problems
}

// checkAlertLabels checks label names like checkLabels and rejects
// templates in values: an alert label identifies the alert, so a value
// that changed with every evaluation would start a new alert each time.
func checkAlertLabels(doc *document, path string, labels map[string]string) Problems {
	problems := checkLabels(doc, path, labels)
	for _, name := range sortedKeys(labels) {
		if strings.Contains(labels[name], "{{") {
			problems = append(problems, doc.problem(joinPath(path, name), "label %q contains a template; alert labels identify the alert and must be fixed text, so put templates in annotations", name))
		}
	}
	return problems
}

func parseNoData(policy string) (NoDataPolicy, string) {
	switch p := NoDataPolicy(policy); p {
	case "":
		return NoDataTicket, ""
	case NoDataTicket, NoDataPage, NoDataIgnore:
		return p, ""
	default:
		return "", fmt.Sprintf("invalid no-data policy %q; use %q, %q or %q", policy, NoDataTicket, NoDataPage, NoDataIgnore)
	}
}

// convertSLIV1 checks that exactly one SLI kind is set and maps it.
func convertSLIV1(doc *document, in *SLIV1, path string) (SLI, Problems) {
	var set []string
	for name, isSet := range map[string]bool{
		"builtin": in.Builtin != "", "events": in.Events != nil, "snapshot": in.Snapshot != nil,
		"threshold": in.Threshold != nil, "custom": in.Custom != nil,
	} {
		if isSet {
			set = append(set, name)
		}
	}
	if len(set) != 1 {
		found := "none"
		if len(set) > 0 {
			found = strings.Join(slices.Sorted(slices.Values(set)), ", ")
		}
		return SLI{}, Problems{doc.problem(path, "an SLI needs exactly one of builtin, events, snapshot, threshold or custom; found %s", found)}
	}

	switch {
	case in.Builtin != "":
		return convertBuiltin(doc, in.Builtin, joinPath(path, "builtin"))
	case in.Events != nil:
		return convertCounts(doc, in.Events, KindEvents, joinPath(path, "events"))
	case in.Snapshot != nil:
		return convertCounts(doc, in.Snapshot, KindSnapshot, joinPath(path, "snapshot"))
	case in.Threshold != nil:
		return convertThreshold(doc, in.Threshold, joinPath(path, "threshold"))
	default:
		return convertCustom(doc, in.Custom, joinPath(path, "custom"))
	}
}

func convertBuiltin(doc *document, id, path string) (SLI, Problems) {
	b, ok := LookupBuiltin(id)
	if !ok {
		return SLI{}, Problems{doc.problem(path, "unknown built-in SLI %q; use one of %s", id, strings.Join(BuiltinIDs(), ", "))}
	}
	return builtinSLI(b), nil
}

func convertCounts(doc *document, in *EventsV1, kind Kind, path string) (SLI, Problems) {
	var problems Problems
	add := func(field, msg string) {
		if msg != "" {
			problems = append(problems, doc.problem(joinPath(path, field), "%s", msg))
		}
	}

	if in.Total == "" {
		add("total", "missing total; set the selector of all events or objects")
	} else {
		add("total", checkSelector(in.Total))
	}
	switch {
	case (in.Bad == "") == (in.Good == ""):
		problems = append(problems, doc.problem(path, "set exactly one of bad and good"))
	case in.Bad != "":
		add("bad", checkSelector(in.Bad))
	default:
		add("good", checkSelector(in.Good))
	}
	problems = append(problems, checkGroupBy(doc, joinPath(path, "group_by"), in.GroupBy)...)

	return SLI{Kind: kind, Bad: in.Bad, Good: in.Good, Total: in.Total, GroupBy: in.GroupBy}, problems
}

func convertThreshold(doc *document, in *ThresholdV1, path string) (SLI, Problems) {
	var problems Problems
	switch {
	case in.Histogram == "":
		problems = append(problems, doc.problem(joinPath(path, "histogram"), "missing histogram; set the histogram's base name, such as incident_detection_seconds"))
	default:
		if msg := checkHistogram(in.Histogram); msg != "" {
			problems = append(problems, doc.problem(joinPath(path, "histogram"), "%s", msg))
		}
	}
	bound := 0.0
	switch {
	case in.LE == nil:
		problems = append(problems, doc.problem(joinPath(path, "le"), "missing le; set the upper bound of a good event, which must be a bucket of the histogram"))
	case math.IsNaN(*in.LE) || math.IsInf(*in.LE, 0):
		problems = append(problems, doc.problem(joinPath(path, "le"), "le must be a finite bucket bound"))
	default:
		bound = *in.LE
	}
	problems = append(problems, checkGroupBy(doc, joinPath(path, "group_by"), in.GroupBy)...)

	return SLI{Kind: KindThreshold, Histogram: in.Histogram, Bound: bound, GroupBy: in.GroupBy}, problems
}

func checkHistogram(selector string) string {
	if msg := checkSelector(selector); msg != "" {
		return msg
	}
	matchers, _ := PromQL.ParseMetricSelector(selector)
	for _, m := range matchers {
		if m.Name == "le" {
			return "remove the le matcher from the histogram selector; set the bound in le"
		}
		if m.Name == "__name__" {
			for _, suffix := range []string{"_bucket", "_count", "_sum"} {
				if strings.HasSuffix(m.Value, suffix) {
					return fmt.Sprintf("write the histogram's base name without %s, such as %s", suffix, strings.TrimSuffix(m.Value, suffix))
				}
			}
		}
	}
	return ""
}

func checkGroupBy(doc *document, path string, groupBy []string) Problems {
	var problems Problems
	for i, name := range groupBy {
		if msg := checkLabelName(name); msg != "" {
			problems = append(problems, doc.problem(fmt.Sprintf("%s[%d]", path, i), "%s", msg))
		}
	}
	return problems
}

func convertCustom(doc *document, in *CustomV1, path string) (SLI, Problems) {
	var problems Problems
	add := func(field, msg string) {
		if msg != "" {
			problems = append(problems, doc.problem(joinPath(path, field), "%s", msg))
		}
	}

	if in.ErrorRatioQuery != "" {
		if in.ErrorQuery != "" || in.TotalQuery != "" {
			problems = append(problems, doc.problem(path, "set either error_ratio_query or error_query with total_query, not both"))
		}
		add("error_ratio_query", checkWindowQuery(in.ErrorRatioQuery))
		return SLI{Kind: KindRatio, ErrorRatioQuery: in.ErrorRatioQuery}, problems
	}

	add("error_query", checkWindowQuery(in.ErrorQuery))
	add("total_query", checkWindowQuery(in.TotalQuery))
	return SLI{Kind: KindCustom, ErrorQuery: in.ErrorQuery, TotalQuery: in.TotalQuery}, problems
}

func convertAlertingV1(doc *document, in *AlertingV1, path, sloName string) (Alerting, Problems) {
	var problems Problems
	name := in.Name
	if name == "" {
		name = DefaultAlertName(sloName)
	} else if msg := checkAlertName(name); msg != "" {
		problems = append(problems, doc.problem(joinPath(path, "name"), "%s", msg))
	}
	if in.RunbookURL != "" {
		if msg := checkRunbookURL(in.RunbookURL); msg != "" {
			problems = append(problems, doc.problem(joinPath(path, "runbook_url"), "%s", msg))
		}
	}
	problems = append(problems, checkAlertLabels(doc, joinPath(path, "labels"), in.Labels)...)
	problems = append(problems, checkAnnotations(doc, joinPath(path, "annotations"), in.Annotations)...)
	for _, tier := range []struct {
		field string
		in    AlertTierV1
	}{{"page", in.Page}, {"ticket", in.Ticket}} {
		problems = append(problems, checkAlertLabels(doc, joinPath(path, tier.field+".labels"), tier.in.Labels)...)
		problems = append(problems, checkAnnotations(doc, joinPath(path, tier.field+".annotations"), tier.in.Annotations)...)
	}

	return Alerting{
		Name:        name,
		Labels:      in.Labels,
		Annotations: in.Annotations,
		RunbookURL:  in.RunbookURL,
		Page:        AlertTier(in.Page),
		Ticket:      AlertTier(in.Ticket),
	}, problems
}

// DefaultAlertName derives an alert name from an SLO name:
// "log-coverage" becomes "LogCoverageBudgetBurn".
func DefaultAlertName(sloName string) string {
	var b strings.Builder
	upper := true
	for _, r := range sloName {
		switch {
		case r == '-' || r == '_' || r == '.':
			upper = true
		case upper:
			b.WriteString(strings.ToUpper(string(r)))
			upper = false
		default:
			b.WriteRune(r)
		}
	}
	name := b.String()
	if name == "" || name[0] >= '0' && name[0] <= '9' {
		name = "SLO" + name
	}
	return name + "BudgetBurn"
}
