package rules

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/secslo/secslo/slo"
)

// ratioRecord names the recorded error ratio over a window.
func ratioRecord(window time.Duration) string {
	return slo.RecordErrorRatioPrefix + slo.FormatDuration(window)
}

// ruleLabels are the labels of every recorded series of s: its service,
// name and spec labels. Mutable metadata is kept off them, on the info
// series, so that editing it never starts new series.
func ruleLabels(s *slo.SLO) map[string]string {
	labels := maps.Clone(s.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[slo.LabelService] = s.Service
	labels[slo.LabelSLO] = s.Name
	return labels
}

// ratioWindows returns every window whose error ratio the alerts of s read,
// shortest first, without the period.
func ratioWindows(s *slo.SLO) []time.Duration {
	windows := []time.Duration{slo.BaseWindow}
	if s.ZeroTolerance() {
		page, ticket := s.ZeroToleranceWindows()
		windows = append(windows, page, ticket)
	}
	for _, w := range s.AlertWindows() {
		windows = append(windows, w.LongWindow, w.ShortWindow)
	}
	slices.Sort(windows)
	return slices.Compact(windows)
}

// recordingRules returns the SLI and metadata rules of s, in evaluation order.
func recordingRules(s *slo.SLO) ([]Rule, error) {
	labels := ruleLabels(s)
	var rules []Rule

	if s.SLI.Kind != slo.KindRatio {
		bad, total, err := baseSums(s)
		if err != nil {
			return nil, err
		}
		rules = append(rules,
			Rule{Record: slo.RecordTotalSum, Expr: total, Labels: labels},
			Rule{Record: slo.RecordBadSum, Expr: bad, Labels: labels},
		)
	}

	ratios, err := ratioRules(s, labels)
	if err != nil {
		return nil, err
	}
	rules = append(rules, ratios...)
	return append(rules, metadataRules(s, labels)...), nil
}

func ratioRules(s *slo.SLO, labels map[string]string) ([]Rule, error) {
	var rules []Rule
	for _, w := range ratioWindows(s) {
		expr := windowRatio(s, w)
		if s.SLI.Kind == slo.KindRatio {
			var err error
			if expr, err = rawWindowRatio(s, w); err != nil {
				return nil, err
			}
		}
		rules = append(rules, Rule{Record: ratioRecord(w), Expr: expr, Labels: labels})
	}
	return append(rules, Rule{Record: slo.RecordErrorRatioPeriod, Expr: periodRatio(s), Labels: labels}), nil
}

// periodRatio is the error ratio over the whole period. For a raw error
// ratio query it can only average the base-window ratios, which weighs a
// quiet hour like a busy one.
func periodRatio(s *slo.SLO) string {
	if s.SLI.Kind == slo.KindRatio {
		return fmt.Sprintf("avg_over_time(%s[%s])", seriesSelector(ratioRecord(slo.BaseWindow), s), slo.FormatDuration(s.Period))
	}
	return windowRatio(s, s.Period)
}

func metadataRules(s *slo.SLO, labels map[string]string) []Rule {
	budget := s.ErrorBudget()
	period := seriesSelector(slo.RecordErrorRatioPeriod, s)
	remaining := fmt.Sprintf("1 - %s / %s", period, formatFloat(budget))
	if s.ZeroTolerance() {
		remaining = fmt.Sprintf("%s == bool 0", period)
	}

	rules := []Rule{
		{Record: slo.RecordObjective, Expr: fmt.Sprintf("vector(%s)", formatFloat(s.ObjectiveRatio())), Labels: labels},
		{Record: slo.RecordErrorBudget, Expr: fmt.Sprintf("vector(%s)", formatFloat(budget)), Labels: labels},
		{Record: slo.RecordPeriodSeconds, Expr: fmt.Sprintf("vector(%d)", int64(s.Period.Seconds())), Labels: labels},
		{Record: slo.RecordBudgetRemaining, Expr: remaining, Labels: labels},
	}
	if !s.ZeroTolerance() {
		burn := fmt.Sprintf("%s / %s", seriesSelector(ratioRecord(s.AlertWindows()[0].LongWindow), s), formatFloat(budget))
		rules = append(rules, Rule{Record: slo.RecordBurnRate, Expr: burn, Labels: labels})
	}
	return append(rules, Rule{Record: slo.RecordInfo, Expr: "vector(1)", Labels: infoLabels(s)})
}

// infoLabels carry the metadata that may change without changing what the
// SLO measures: owner, description, controls, runbook, objective.
func infoLabels(s *slo.SLO) map[string]string {
	labels := map[string]string{
		slo.LabelService:   s.Service,
		slo.LabelSLO:       s.Name,
		slo.LabelObjective: formatFloat(s.Objective),
		slo.LabelPeriod:    slo.FormatDuration(s.Period),
		slo.LabelSLIKind:   string(s.SLI.Kind),
	}
	optional := map[string]string{
		slo.LabelOwner:       s.Owner,
		slo.LabelDescription: s.Description,
		slo.LabelControls:    strings.Join(s.Controls, ","),
		slo.LabelRunbook:     s.Alerting.RunbookURL,
		slo.LabelSLI:         s.SLI.Builtin,
	}
	for k, v := range optional {
		if v != "" {
			labels[k] = v
		}
	}
	return labels
}
