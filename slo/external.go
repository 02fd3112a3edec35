package slo

import (
	"slices"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// ExternalMetrics returns the metrics that the SLI of s selects and the
// secslo exporter does not serve, sorted and without repeats. A misspelt
// secslo_ name is among them, because it would never have data. The embedded
// engine stores only the exporter's own metrics, so an SLO with any
// external metric is evaluated only by an external Prometheus. A selector
// without a fixed metric name is reported by its text, because it may
// select anything.
func (s *SLO) ExternalMetrics() []string {
	var external []string
	for _, query := range s.SLI.queries() {
		external = append(external, externalMetrics(query)...)
	}
	slices.Sort(external)
	return slices.Compact(external)
}

// queries returns the PromQL texts of the SLI, with the window placeholder
// replaced so that they parse.
func (sli *SLI) queries() []string {
	var queries []string
	for _, q := range []string{sli.Bad, sli.Good, sli.Total, sli.ErrorQuery, sli.TotalQuery, sli.ErrorRatioQuery} {
		if q != "" {
			queries = append(queries, strings.ReplaceAll(q, WindowPlaceholder, BaseWindowName))
		}
	}
	if sli.Histogram != "" {
		queries = append(queries, sli.Histogram)
	}
	return queries
}

// externalMetrics returns the names of the metrics that query selects and
// the exporter does not serve. A query that does not parse returns
// nothing: validation reports it.
func externalMetrics(query string) []string {
	expr, err := PromQL.ParseExpr(query)
	if err != nil {
		return nil
	}

	var external []string
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		selector, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := selectorMetricName(selector)
		switch {
		case name == "":
			external = append(external, selector.String())
		case !IsExporterMetric(name):
			external = append(external, name)
		}
		return nil
	})
	return external
}

// selectorMetricName returns the metric name that selector matches exactly,
// or "" when it matches a pattern or any name.
func selectorMetricName(selector *parser.VectorSelector) string {
	if selector.Name != "" {
		return selector.Name
	}
	for _, m := range selector.LabelMatchers {
		if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
			return m.Value
		}
	}
	return ""
}

// IsExporterMetric reports whether secslo serve serves a metric of this
// name. A histogram counts by its own name and by the names of its
// _bucket, _sum and _count series.
func IsExporterMetric(name string) bool {
	if slices.Contains(exporterMetrics, name) {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if ok && slices.Contains(exporterHistograms, base) {
			return true
		}
	}
	return false
}
