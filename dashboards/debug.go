package dashboards

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/statushistory"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/secslo/secslo/rules"
	"github.com/secslo/secslo/slo"
)

// Debug builds the dashboard for debugging the exporter and the rules:
// source refreshes, the SLI at every window, recorded sums against the raw
// metrics of built-in SLIs, and the evaluation of secslo's rule groups.
func Debug(slos []*slo.SLO) *dashboard.DashboardBuilder {
	builder := newDashboard(UIDDebug, "secslo: debug",
		"For debugging secslo itself: source refreshes, the SLI at every window, recorded sums against raw metrics and rule evaluation.",
		"now-24h", slos)

	builder.WithRow(dashboard.NewRowBuilder("Source refreshes"))
	builder.WithPanel(refreshStatePanel()).
		WithPanel(lastSuccessAgePanel()).
		WithPanel(refreshDurationPanel()).
		WithPanel(recordsPanel()).
		WithPanel(refreshFailuresPanel())

	builder.WithRow(dashboard.NewRowBuilder("SLI by window"))
	builder.WithPanel(sliByWindowPanel(slos))

	builder.WithRow(dashboard.NewRowBuilder("Recorded sums against raw metrics"))
	for _, panel := range recordedAgainstRawPanels(slos) {
		builder.WithPanel(panel)
	}

	builder.WithRow(dashboard.NewRowBuilder("Rule evaluation"))
	builder.WithPanel(ruleDurationPanel()).
		WithPanel(ruleFailuresPanel())
	return builder
}

// sourceLegend names a source series by source and secslo replica.
const sourceLegend = "{{" + slo.LabelSource + "}} {{instance}}"

func refreshStatePanel() *statushistory.PanelBuilder {
	return statushistory.NewPanelBuilder().
		Title("Refresh state").
		Description("Whether each source's latest refresh succeeded, per secslo replica. A failed refresh keeps the last good SLI values.").
		WithTarget(series("A", slo.MetricSourceUp, sourceLegend)).
		Mappings([]dashboard.ValueMapping{upMapping()}).
		Thresholds(thresholds(colorRed, step(1, colorGreen))).
		ShowValue(common.VisibilityModeNever).
		Span(12).
		Height(7)
}

func lastSuccessAgePanel() *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Title("Time since last success").
		Description("Seconds since each source's latest successful refresh. It grows by one second per second while refreshes fail; before the first success it is the time since 1970.").
		WithTarget(series("A", fmt.Sprintf("time() - %s", slo.MetricSourceLastSuccess), sourceLegend)).
		Unit(unitSeconds).
		Min(0).
		Span(12).
		Height(7)
}

func refreshDurationPanel() *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Title("Refresh duration").
		Description("Duration of each source's latest refresh, successful or not. A refresh that exceeds the source's interval fails.").
		WithTarget(series("A", slo.MetricSourceRefreshDuration, sourceLegend)).
		Unit(unitSeconds).
		Min(0).
		Span(8).
		Height(7)
}

func recordsPanel() *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Title("Records read and rejected").
		Description("Records parsed by each source's latest successful refresh, and those rejected as invalid. The exporter logs every rejected record with its file and line.").
		WithTarget(series("A", slo.MetricSourceRecordsRead, "read "+sourceLegend)).
		WithTarget(series("B", slo.MetricSourceRecordsRejected, "rejected "+sourceLegend)).
		Unit(unitCount).
		Min(0).
		OverrideByRegexp("^rejected .*", []dashboard.DynamicConfigValue{
			{Id: "color", Value: map[string]any{"mode": "fixed", "fixedColor": colorRed}},
		}).
		Span(8).
		Height(7)
}

func refreshFailuresPanel() *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Title("Refreshes and failures").
		Description("Refreshes attempted and refreshes failed per source in each interval. The exporter logs each failure with the source, file and position.").
		WithTarget(series("A", fmt.Sprintf("increase(%s[$__rate_interval])", slo.MetricSourceRefreshes), "refreshes "+sourceLegend)).
		WithTarget(series("B", fmt.Sprintf("increase(%s[$__rate_interval])", slo.MetricSourceRefreshFailures), "failures "+sourceLegend)).
		Unit(unitCount).
		Min(0).
		OverrideByRegexp("^failures .*", []dashboard.DynamicConfigValue{
			{Id: "color", Value: map[string]any{"mode": "fixed", "fixedColor": colorRed}},
		}).
		Span(8).
		Height(7)
}

// sliByWindowPanel shows 1 − the error ratio over every window that the
// rules record and over the period, repeated for each selected SLO.
func sliByWindowPanel(slos []*slo.SLO) *timeseries.PanelBuilder {
	panel := timeseries.NewPanelBuilder().
		Title("SLI by window: $" + varSLO).
		Description("1 − the recorded error ratio over every alert window and over the period, one panel per selected SLO. A window with no events reads 1: it burns no budget.").
		Repeat(varSLO).
		RepeatDirection(dashboard.PanelRepeatDirectionH).
		MaxPerRow(2).
		Unit(unitRatio).
		Decimals(3).
		Max(1).
		Legend(common.NewVizLegendOptionsBuilder().DisplayMode(common.LegendDisplayModeTable).Placement(common.LegendPlacementBottom).ShowLegend(true).Calcs([]string{"min", "lastNotNull"})).
		Span(12).
		Height(8)

	names := append(windows(slos), "period")
	for i, window := range names {
		expr := inScope("1 - " + recorded(slo.RecordErrorRatioPrefix+window))
		panel.WithTarget(series(refID(i), expr, legend(slos, "over "+window)))
	}
	return panel
}

// recordedAgainstRawPanels compare, for every SLO on a built-in SLI, the
// recorded 5-minute sums with the same sums computed from the exporter's
// metrics at query time. The lines differ while a rule group lags or fails.
func recordedAgainstRawPanels(slos []*slo.SLO) []cog.Builder[dashboard.Panel] {
	var panels []cog.Builder[dashboard.Panel]
	for _, s := range slos {
		if s.SLI.Builtin != "" {
			panels = append(panels, recordedAgainstRawPanel(s))
		}
	}
	if len(panels) == 0 {
		panels = append(panels, note("Recorded sums against raw metrics",
			"No SLO of the specs uses a built-in SLI, so there is no exporter metric to compare the recorded sums with.", 24, 3))
	}
	return panels
}

func recordedAgainstRawPanel(s *slo.SLO) *timeseries.PanelBuilder {
	objective := fmt.Sprintf(`{%s=%s,%s=%s}`, slo.LabelService, strconv.Quote(s.Service), slo.LabelSLO, strconv.Quote(s.Name))
	legendLabels := ""
	if len(s.SLI.GroupBy) > 0 {
		legendLabels = " {{" + strings.Join(s.SLI.GroupBy, "}} {{") + "}}"
	}

	panel := timeseries.NewPanelBuilder().
		Title(fmt.Sprintf("%s/%s: recorded against raw", s.Service, s.Name)).
		Description(fmt.Sprintf("Recorded %s and %s of SLO %s against the same 5-minute sums computed now from the exporter's metrics of the built-in SLI %s. The lines should overlap.",
			slo.RecordTotalSum, slo.RecordBadSum, s.Name, s.SLI.Builtin)).
		WithTarget(series("A", slo.RecordTotalSum+objective, "recorded total"+legendLabels)).
		WithTarget(series("B", rawBaseSum(s, s.SLI.Total), "raw total"+legendLabels)).
		Unit(unitCount).
		Min(0).
		Span(12).
		Height(7)
	if s.SLI.Bad != "" {
		panel.WithTarget(series("C", slo.RecordBadSum+objective, "recorded bad"+legendLabels)).
			WithTarget(series("D", rawBaseSum(s, s.SLI.Bad), "raw bad"+legendLabels))
	}
	return panel
}

// rawBaseSum is the base-window sum of selector as the rules compute it:
// an increase for counters and a sum over time for snapshot gauges, with
// replicas dropped, summed by the SLI's group_by labels.
func rawBaseSum(s *slo.SLO, selector string) string {
	function := "increase"
	if s.SLI.Kind == slo.KindSnapshot {
		function = "sum_over_time"
	}
	inner := fmt.Sprintf("%s(%s[%s])", function, selector, slo.FormatDuration(slo.BaseWindow))
	if s.SLI.DedupeReplicas {
		inner = withoutReplicas(inner)
	}
	if len(s.SLI.GroupBy) == 0 {
		return fmt.Sprintf("sum(%s)", inner)
	}
	return fmt.Sprintf("sum by (%s) (%s)", strings.Join(s.SLI.GroupBy, ", "), inner)
}

// ruleGroupMatcher selects the rule groups of the selected objectives. The
// rule_group label of Prometheus's rule metrics is "<file>;<group>".
func ruleGroupMatcher() string {
	group := rules.GroupName(&slo.SLO{Service: "$" + varService, Name: "$" + varSLO})
	return fmt.Sprintf(`{rule_group=~".*;%s"}`, group)
}

func ruleDurationPanel() *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Title("Rule group evaluation duration").
		Description("Duration of the latest evaluation of each selected secslo rule group, against the group's interval (dashed). A group that takes longer than its interval misses evaluations.").
		WithTarget(series("A", "prometheus_rule_group_last_duration_seconds"+ruleGroupMatcher(), "{{rule_group}}")).
		WithTarget(series("B", "max(prometheus_rule_group_interval_seconds"+ruleGroupMatcher()+")", "interval")).
		Unit(unitSeconds).
		Min(0).
		OverrideByName("interval", []dashboard.DynamicConfigValue{
			{Id: "custom.lineStyle", Value: map[string]any{"fill": "dash", "dash": []int{10, 10}}},
			{Id: "color", Value: map[string]any{"mode": "fixed", "fixedColor": colorBlue}},
		}).
		Span(12).
		Height(8)
}

func ruleFailuresPanel() *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Title("Rule evaluation failures").
		Description("Failed rule evaluations and missed group iterations of the selected secslo rule groups in each interval. Prometheus logs the failing rule and its error.").
		WithTarget(series("A", "sum by (rule_group) (increase(prometheus_rule_evaluation_failures_total"+ruleGroupMatcher()+"[$__rate_interval]))", "failures {{rule_group}}")).
		WithTarget(series("B", "sum by (rule_group) (increase(prometheus_rule_group_iterations_missed_total"+ruleGroupMatcher()+"[$__rate_interval]))", "missed {{rule_group}}")).
		Unit(unitCount).
		Min(0).
		Thresholds(thresholds(colorGreen, step(1, colorRed))).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeArea)).
		Span(12).
		Height(8)
}
