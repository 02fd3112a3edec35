package rules

import (
	"fmt"
	"maps"
	"strings"

	"github.com/secslo/secslo/slo"
)

// alertRules returns the page and ticket alerts of s and its no-data alert.
func alertRules(s *slo.SLO) []Rule {
	var rules []Rule
	for _, tier := range []string{slo.TierPage, slo.TierTicket} {
		if tierConfig(s, tier).Disabled {
			continue
		}
		var expr, description string
		if s.ZeroTolerance() {
			expr, description = zeroToleranceCondition(s, tier)
		} else {
			expr, description = burnRateCondition(s, tier)
		}
		rules = append(rules, Rule{
			Alert:       s.Alerting.Name,
			Expr:        expr,
			Labels:      alertLabels(s, tier, slo.AlertKindBurnRate),
			Annotations: alertAnnotations(s, tier, burnSummary(s, tier), description),
		})
	}
	if s.NoData != slo.NoDataIgnore {
		rules = append(rules, noDataRule(s))
	}
	return rules
}

func tierConfig(s *slo.SLO, tier string) slo.AlertTier {
	if tier == slo.TierPage {
		return s.Alerting.Page
	}
	return s.Alerting.Ticket
}

// burnRateCondition joins the tier's windows with or: each fires when the
// burn rate over its long and its short window both exceed its factor. The
// value of the alert is the burn rate over the long window.
func burnRateCondition(s *slo.SLO, tier string) (expr, description string) {
	budget := formatFloat(s.ErrorBudget())
	var conditions, clauses []string
	for _, w := range s.AlertWindows() {
		if w.Tier != tier {
			continue
		}
		factor := formatFloat(w.BurnFactor)
		conditions = append(conditions, fmt.Sprintf("(%s / %s > %s and %s / %s > %s)",
			seriesSelector(ratioRecord(w.LongWindow), s), budget, factor,
			seriesSelector(ratioRecord(w.ShortWindow), s), budget, factor))
		clauses = append(clauses, fmt.Sprintf("%sx over %s and %s", factor, slo.FormatDuration(w.LongWindow), slo.FormatDuration(w.ShortWindow)))
	}
	description = fmt.Sprintf("The error budget of %s (objective %s %% over %s) is burning at {{ $value | humanize }} times the rate that would spend it in exactly one period. This alert fires above %s.",
		s.Name, formatFloat(s.Objective), slo.FormatDuration(s.Period), strings.Join(clauses, ", or "))
	return strings.Join(conditions, "\nor\n"), description
}

// zeroToleranceCondition fires on any bad event within the tier's window:
// an objective of 100 % has no budget to divide by.
func zeroToleranceCondition(s *slo.SLO, tier string) (expr, description string) {
	page, ticket := s.ZeroToleranceWindows()
	window := page
	if tier == slo.TierTicket {
		window = ticket
	}
	expr = fmt.Sprintf("%s > 0", seriesSelector(ratioRecord(window), s))
	description = fmt.Sprintf("Bad events occurred within the last %s, and the objective of %s allows none.", slo.FormatDuration(window), s.Name)
	return expr, description
}

func burnSummary(s *slo.SLO, tier string) string {
	if s.ZeroTolerance() {
		return fmt.Sprintf("SLO %s of %s missed its zero-tolerance objective.", s.Name, s.Service)
	}
	pace := "fast"
	if tier == slo.TierTicket {
		pace = "steadily"
	}
	return fmt.Sprintf("SLO %s of %s is burning its error budget %s.", s.Name, s.Service, pace)
}

func noDataRule(s *slo.SLO) Rule {
	series := seriesSelector(slo.RecordTotalSum, s)
	if s.SLI.Kind == slo.KindRatio {
		series = seriesSelector(ratioRecord(slo.BaseWindow), s)
	}
	tier := slo.TierTicket
	if s.NoData == slo.NoDataPage {
		tier = slo.TierPage
	}
	delay := slo.FormatDuration(s.NoDataDelay())
	return Rule{
		Alert:  NoDataAlertName(s),
		Expr:   fmt.Sprintf("absent(%s)", series),
		For:    delay,
		Labels: alertLabels(s, tier, slo.AlertKindNoData),
		Annotations: alertAnnotations(s, tier,
			fmt.Sprintf("SLO %s of %s has no SLI data.", s.Name, s.Service),
			fmt.Sprintf("No SLI data for %s, so its error budget cannot be computed. Check that the metrics of the SLI are scraped and that their source refreshes (%s).", delay, slo.MetricSourceUp)),
	}
}

// NoDataAlertName is the name of the alert that fires when the SLI of s is
// absent.
func NoDataAlertName(s *slo.SLO) string {
	return s.Alerting.Name + "NoData"
}

// alertLabels merges, from weakest to strongest: the default severity, the
// spec's alert labels, the tier's labels, then the labels no spec overrides.
func alertLabels(s *slo.SLO, tier, kind string) map[string]string {
	labels := map[string]string{slo.LabelSeverity: tier}
	maps.Copy(labels, s.Alerting.Labels)
	maps.Copy(labels, tierConfig(s, tier).Labels)
	labels[slo.LabelTier] = tier
	labels[slo.LabelAlertKind] = kind
	if len(s.Controls) > 0 {
		labels[slo.LabelControls] = strings.Join(s.Controls, ",")
	}
	return labels
}

func alertAnnotations(s *slo.SLO, tier, summary, description string) map[string]string {
	annotations := map[string]string{
		slo.AnnotationSummary:     summary,
		slo.AnnotationDescription: description,
	}
	if s.Alerting.RunbookURL != "" {
		annotations[slo.AnnotationRunbook] = s.Alerting.RunbookURL
	}
	maps.Copy(annotations, s.Alerting.Annotations)
	maps.Copy(annotations, tierConfig(s, tier).Annotations)
	return annotations
}
