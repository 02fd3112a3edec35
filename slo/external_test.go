package slo

import (
	"slices"
	"testing"
)

func TestExternalMetrics(t *testing.T) {
	tests := []struct {
		name string
		sli  SLI
		want []string
	}{
		{"built-in selectors read only secslo metrics", SLI{Kind: KindSnapshot, Bad: `secslo_sli_noncompliant_objects{sli="log_coverage"}`, Total: `secslo_sli_objects{sli="log_coverage"}`}, nil},
		{"custom queries name their foreign metrics once", SLI{Kind: KindCustom, ErrorQuery: `sum(rate(http_requests_total{code="500"}[{{.window}}]))`, TotalQuery: `sum(rate(http_requests_total[{{.window}}]))`}, []string{"http_requests_total"}},
		{"a histogram reads its bucket and count series", SLI{Kind: KindThreshold, Histogram: `incident_detection_seconds`}, []string{"incident_detection_seconds"}},
		{"a name matched by a pattern is external", SLI{Kind: KindRatio, ErrorRatioQuery: `sum(rate({__name__=~"secslo_.+"}[{{.window}}]))`}, []string{`{__name__=~"secslo_.+"}`}},
		{"a name matched by __name__ equality counts as that name", SLI{Kind: KindRatio, ErrorRatioQuery: `sum(rate({__name__="secslo_sli_events_total"}[{{.window}}]))`}, nil},
		{"a misspelt secslo metric is external", SLI{Kind: KindSnapshot, Bad: `secslo_sli_noncompliant_objects`, Total: `secslo_sli_objcts`}, []string{"secslo_sli_objcts"}},
		{"histogram series of the exporter are served", SLI{Kind: KindRatio, ErrorRatioQuery: `sum(rate(secslo_sli_event_duration_seconds_bucket{le="900"}[{{.window}}])) / sum(rate(secslo_sli_event_duration_seconds_count[{{.window}}]))`}, nil},
		{"a suffix on a gauge is external", SLI{Kind: KindSnapshot, Bad: `secslo_sli_objects_count`, Total: `secslo_sli_objects`}, []string{"secslo_sli_objects_count"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &SLO{SLI: tt.sli}
			if got := s.ExternalMetrics(); !slices.Equal(got, tt.want) {
				t.Errorf("ExternalMetrics() = %q, want %q", got, tt.want)
			}
		})
	}
}
