package rules

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/secslo/secslo/slo"
)

// This file builds the PromQL of the generated rules. Each function returns
// one expression from one template; check.go parses every result.

// seriesSelector selects a recorded series of one SLO.
func seriesSelector(record string, s *slo.SLO) string {
	return fmt.Sprintf("%s{%s=%s,%s=%s}", record, slo.LabelService, quote(s.Service), slo.LabelSLO, quote(s.Name))
}

// quote quotes a label value as a PromQL string.
func quote(s string) string {
	return strconv.Quote(s)
}

// sumBy wraps inner in sum, keeping the SLI's group_by labels, after
// dropping replica labels with max when the SLI sets DedupeReplicas.
func sumBy(sli *slo.SLI, inner string) string {
	if sli.DedupeReplicas {
		inner = fmt.Sprintf("max without (%s) (%s)", strings.Join(slo.ReplicaLabels, ", "), inner)
	}
	if len(sli.GroupBy) == 0 {
		return fmt.Sprintf("sum(%s)", inner)
	}
	return fmt.Sprintf("sum by (%s) (%s)", strings.Join(sli.GroupBy, ", "), inner)
}

// baseFunction is increase for counters and sum_over_time for gauges, so
// that a snapshot SLI weighs every object by the time it spends out of
// compliance.
func baseFunction(kind slo.Kind) string {
	if kind == slo.KindSnapshot {
		return "sum_over_time"
	}
	return "increase"
}

// baseSums returns the expressions of the bad and total events in the base
// window. Bad falls back to zero where the total exists, so that a counter
// of bad events that was never created counts as no bad events.
func baseSums(s *slo.SLO) (bad, total string, err error) {
	sli := &s.SLI
	window := slo.FormatDuration(slo.BaseWindow)
	sum := func(selector string) string {
		return sumBy(sli, fmt.Sprintf("%s(%s[%s])", baseFunction(sli.Kind), selector, window))
	}

	switch sli.Kind {
	case slo.KindEvents, slo.KindSnapshot:
		total = sum(sli.Total)
		if sli.Bad != "" {
			bad = sum(sli.Bad)
		} else {
			bad = fmt.Sprintf("%s - (%s or %s * 0)", total, sum(sli.Good), total)
		}
	case slo.KindThreshold:
		total = sum(withSuffix(sli.Histogram, "_count", ""))
		bucket := sum(withSuffix(sli.Histogram, "_bucket", leMatcher(sli.Bound)))
		// NOTE: a bucket that does not exist counts as no good events, so
		// every event is bad and the alert makes the missing bucket visible.
		bad = fmt.Sprintf("%s - (%s or %s * 0)", total, bucket, total)
	case slo.KindCustom:
		if bad, err = slo.RenderWindow(sli.ErrorQuery, window); err != nil {
			return "", "", err
		}
		if total, err = slo.RenderWindow(sli.TotalQuery, window); err != nil {
			return "", "", err
		}
		bad = "(" + strings.TrimSpace(bad) + ")"
		total = "(" + strings.TrimSpace(total) + ")"
	default:
		return "", "", fmt.Errorf("SLI kind %q has no base sums", sli.Kind)
	}
	return fmt.Sprintf("%s or %s * 0", bad, total), total, nil
}

// withSuffix appends suffix to the metric name of a selector and adds an
// extra matcher, so that `h{job="a"}` becomes `h_bucket{job="a",le=~"..."}`.
func withSuffix(selector, suffix, extraMatcher string) string {
	name, matchers, _ := strings.Cut(selector, "{")
	matchers = strings.TrimSuffix(strings.TrimSpace(matchers), "}")
	if extraMatcher != "" {
		if strings.TrimSpace(matchers) != "" {
			matchers = strings.TrimRight(strings.TrimSpace(matchers), ",") + ","
		}
		matchers += extraMatcher
	}
	if matchers == "" {
		return strings.TrimSpace(name) + suffix
	}
	return strings.TrimSpace(name) + suffix + "{" + matchers + "}"
}

// leMatcher matches a bucket bound however it is spelled: Prometheus 2
// keeps the exposition's "900", Prometheus 3 normalises it to "900.0".
func leMatcher(bound float64) string {
	spellings := map[string]bool{strconv.FormatFloat(bound, 'g', -1, 64): true, strconv.FormatFloat(bound, 'f', -1, 64): true}
	for s := range spellings {
		if !strings.ContainsAny(s, ".eE") {
			spellings[s+".0"] = true
		}
	}
	alternatives := make([]string, 0, len(spellings))
	for s := range spellings {
		alternatives = append(alternatives, regexpQuote(s))
	}
	sort.Strings(alternatives)
	return "le=~" + quote(strings.Join(alternatives, "|"))
}

func regexpQuote(s string) string {
	r := strings.NewReplacer(".", `\.`, "+", `\+`)
	return r.Replace(s)
}

// windowRatio returns the error ratio over window as a ratio of sums of the
// recorded base sums. Overlapping base windows weigh bad and total alike,
// so the ratio is exact however often the rules are evaluated. A window
// without events has the ratio 0, never NaN.
func windowRatio(s *slo.SLO, window time.Duration) string {
	bad := seriesSelector(slo.RecordBadSum, s)
	total := seriesSelector(slo.RecordTotalSum, s)
	if window == slo.BaseWindow {
		return fmt.Sprintf("%s / (%s > 0) or %s * 0", bad, total, total)
	}
	w := slo.FormatDuration(window)
	return fmt.Sprintf("sum_over_time(%s[%s]) / (sum_over_time(%s[%s]) > 0) or %s * 0", bad, w, total, w, total)
}

// rawWindowRatio evaluates an error ratio query over window and drops NaN,
// which the query returns when there were no events.
func rawWindowRatio(s *slo.SLO, window time.Duration) (string, error) {
	q, err := slo.RenderWindow(s.SLI.ErrorRatioQuery, slo.FormatDuration(window))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("(%s) >= 0", strings.TrimSpace(q)), nil
}

// formatFloat prints a float for PromQL with no more digits than needed.
func formatFloat(f float64) string {
	return strconv.FormatFloat(f, 'g', -1, 64)
}
