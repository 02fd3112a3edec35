package dashboards

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/secslo/secslo/slo"
)

// This file builds the PromQL of the panels. Every query narrows the
// objectives to the dashboard variables and aggregates to one series per
// objective, or keeps the group_by labels where a panel shows label sets.

// Grafana variables that every dashboard defines.
const (
	varDatasource = "datasource"
	varService    = "service"
	varSLO        = "slo"
	varControl    = "control"
)

// byObjective is the grouping clause of one series per objective.
var byObjective = fmt.Sprintf("%s, %s", slo.LabelService, slo.LabelSLO)

// objectiveMatchers narrows a recorded series to the selected services and
// SLOs. Multi-value variables expand to a regular expression in Grafana.
func objectiveMatchers() string {
	return fmt.Sprintf(`%s=~"$%s",%s=~"$%s"`, slo.LabelService, varService, slo.LabelSLO, varSLO)
}

// recorded selects a recorded series of the selected objectives.
func recorded(name string) string {
	return name + "{" + objectiveMatchers() + "}"
}

// controlsMatching matches a comma-separated controls label that contains
// one id matched by the regular expression re.
func controlsMatching(re string) string {
	return "(.*,)?(" + re + ")(,.*)?"
}

// infoInScope selects the info series of the objectives that the service,
// SLO and control variables select.
func infoInScope() string {
	return fmt.Sprintf(`%s{%s,%s=~"%s"}`, slo.RecordInfo, objectiveMatchers(), slo.LabelControls, controlsMatching("$"+varControl))
}

// inScope keeps the series of expr whose objective the variables select.
// Recorded series carry no controls label, so the control variable applies
// through the info series.
func inScope(expr string) string {
	return fmt.Sprintf("(%s) and on (%s) %s", expr, byObjective, infoInScope())
}

// withMetadata adds the owner and controls labels of the info series to
// every series of expr and keeps only the objectives in scope. The info
// series has the value 1, so the values of expr stay unchanged.
func withMetadata(expr string) string {
	return fmt.Sprintf("(%s) * on (%s) group_left (%s, %s) max by (%s, %s, %s) (%s)",
		expr, byObjective, slo.LabelOwner, slo.LabelControls, byObjective, slo.LabelOwner, slo.LabelControls, infoInScope())
}

// worstErrorRatio is the period error ratio of each objective; for a
// grouped SLO, that of its worst label set.
func worstErrorRatio() string {
	return fmt.Sprintf("max by (%s) (%s)", byObjective, recorded(slo.RecordErrorRatioPeriod))
}

// objectiveMet is 1 for each objective whose period error ratio is within
// its error budget, and 0 otherwise. A grouped SLO is met only if every
// label set is. For zero tolerance the budget is 0, so one bad event fails it.
func objectiveMet() string {
	return fmt.Sprintf("%s <= bool max by (%s) (%s)", worstErrorRatio(), byObjective, recorded(slo.RecordErrorBudget))
}

// leastBudgetRemaining is the error budget left of each objective; for a
// grouped SLO, that of its worst label set.
func leastBudgetRemaining() string {
	return fmt.Sprintf("min by (%s) (%s)", byObjective, recorded(slo.RecordBudgetRemaining))
}

// burnRate is the burn rate of every label set over window: the error ratio
// over window divided by the error budget. Zero-tolerance objectives have
// no budget to divide by and are left out.
func burnRate(window string) string {
	return inScope(fmt.Sprintf("%s / on (%s) group_left () (max by (%s) (%s) > 0)",
		recorded(slo.RecordErrorRatioPrefix+window), byObjective, byObjective, recorded(slo.RecordErrorBudget)))
}

// withoutReplicas drops the replica labels of an exporter metric, so that
// two secslo replicas scraped at once show one series.
func withoutReplicas(selector string) string {
	return fmt.Sprintf("max without (%s) (%s)", strings.Join(slo.ReplicaLabels, ", "), selector)
}

// builtinShareCompliant is the share of a built-in snapshot SLI's objects in
// compliance now, over every source that serves it.
func builtinShareCompliant(sli string) string {
	matcher := fmt.Sprintf(`{%s=%s}`, slo.LabelSLI, strconv.Quote(sli))
	return fmt.Sprintf("1 - sum(%s) / (sum(%s) > 0)",
		withoutReplicas(slo.MetricNoncompliantObjects+matcher), withoutReplicas(slo.MetricObjects+matcher))
}

// refID names the i-th query of a panel: A to Z, then AA, AB and so on.
func refID(i int) string {
	name := ""
	for n := i + 1; n > 0; n = (n - 1) / 26 {
		name = string(rune('A'+(n-1)%26)) + name
	}
	return name
}

// formatPercent prints a ratio as a percentage, such as 0.955 as "95.5 %".
func formatPercent(ratio float64) string {
	return strconv.FormatFloat(math.Round(ratio*1e6)/1e4, 'f', -1, 64) + " %"
}

// windows returns every error-ratio window that the rules of slos record,
// shortest first, as the suffixes of slo.RecordErrorRatioPrefix. The
// period is not among them.
func windows(slos []*slo.SLO) []string {
	var all []time.Duration
	for _, s := range slos {
		all = append(all, recordedWindows(s)...)
	}
	slices.Sort(all)
	all = slices.Compact(all)

	names := make([]string, len(all))
	for i, w := range all {
		names[i] = slo.FormatDuration(w)
	}
	return names
}

// recordedWindows returns the windows whose error ratio the rules of s
// record: the base window and every alert window.
func recordedWindows(s *slo.SLO) []time.Duration {
	windows := []time.Duration{slo.BaseWindow}
	if s.ZeroTolerance() {
		page, ticket := s.ZeroToleranceWindows()
		return append(windows, page, ticket)
	}
	for _, w := range s.AlertWindows() {
		windows = append(windows, w.LongWindow, w.ShortWindow)
	}
	return windows
}

// groupLabels returns the group_by labels of every SLO in slos, sorted.
func groupLabels(slos []*slo.SLO) []string {
	var names []string
	for _, s := range slos {
		names = append(names, s.SLI.GroupBy...)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// legend names a series by its objective and, for grouped SLOs, by its
// group_by labels; labels that a series lacks print as nothing.
func legend(slos []*slo.SLO, suffix string) string {
	parts := []string{"{{" + slo.LabelService + "}}/{{" + slo.LabelSLO + "}}"}
	for _, name := range groupLabels(slos) {
		parts = append(parts, name+"={{"+name+"}}")
	}
	if suffix != "" {
		parts = append(parts, suffix)
	}
	return strings.Join(parts, " ")
}

// withMetricSuffix returns the vector selector with suffix appended to its
// metric name, such as the _bucket series of a histogram's base name.
func withMetricSuffix(selector, suffix string) (string, error) {
	expr, err := slo.PromQL.ParseExpr(selector)
	if err != nil {
		return "", fmt.Errorf("invalid selector %q: %w", selector, err)
	}
	vs, ok := expr.(*parser.VectorSelector)
	if !ok {
		return "", fmt.Errorf("%q is not a vector selector", selector)
	}

	vs.Name += suffix
	for _, m := range vs.LabelMatchers {
		if m.Name == labels.MetricName {
			m.Value = vs.Name
		}
	}
	return vs.String(), nil
}
