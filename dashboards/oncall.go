package dashboards

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
	"github.com/prometheus/common/model"

	"github.com/secslo/secslo/slo"
)

// The series through which Prometheus exposes its alerts, as named by
// AlertMetricName and AlertStateLabel in Prometheus's rules package.
const (
	alertsMetric    = "ALERTS"
	alertStateLabel = "alertstate"
)

// defaultPageFactor colours burn rates red when no SLO has a burn-rate page
// tier: the page-slow factor of a 30-day period.
const defaultPageFactor = 6

// OnCall builds the dashboard for the on-call engineer: firing alerts with
// their runbooks, burn rates per objective and window, time to threshold,
// the sources out of compliance now and source health.
func OnCall(slos []*slo.SLO) *dashboard.DashboardBuilder {
	builder := newDashboard(UIDOnCall, "secslo: on-call",
		"Triage of security SLO alerts: what is firing, how fast each objective burns its error budget, which sources are out of compliance now and whether the sources refresh.",
		"now-6h", slos)

	builder.WithRow(dashboard.NewRowBuilder("Alerts"))
	builder.WithPanel(alertCountPanel("Page alerts firing", slo.TierPage, colorRed)).
		WithPanel(alertCountPanel("Ticket alerts firing", slo.TierTicket, colorOrange)).
		WithPanel(burningObjectivesPanel()).
		WithPanel(sourcesDownPanel()).
		WithPanel(firingAlertsTable()).
		WithPanel(otherAlertsTable())

	builder.WithRow(dashboard.NewRowBuilder("Burn rate"))
	builder.WithPanel(burnRateOverTimePanel(slos)).
		WithPanel(burnRateNowTable(slos))

	if panels := append(eventDurationPanels(slos), thresholdPanels(slos)...); len(panels) > 0 {
		builder.WithRow(dashboard.NewRowBuilder("Time to threshold"))
		for _, panel := range panels {
			builder.WithPanel(panel)
		}
	}

	builder.WithRow(dashboard.NewRowBuilder("Sources"))
	builder.WithPanel(noncompliantTable()).
		WithPanel(sourceHealthTable())
	return builder
}

// firingAlerts selects the firing alerts of kind with the given extra
// matchers, for the selected objectives.
func firingAlerts(kind string, extra ...string) string {
	matchers := append([]string{
		alertStateLabel + `="firing"`,
		slo.LabelAlertKind + `=` + kind,
		objectiveMatchers(),
	}, extra...)
	return alertsMetric + "{" + strings.Join(matchers, ",") + "}"
}

func alertCountPanel(title, tier, color string) *stat.PanelBuilder {
	alerts := firingAlerts(`"`+slo.AlertKindBurnRate+`"`, slo.LabelTier+`="`+tier+`"`)
	return stat.NewPanelBuilder().
		Title(title).
		Description(fmt.Sprintf("Burn-rate alerts of tier %s that fire now for the selected objectives.", tier)).
		WithTarget(instant("A", fmt.Sprintf("count(%s) or vector(0)", alerts), "")).
		Unit(unitCount).
		Decimals(0).
		Thresholds(thresholds(colorGreen, step(1, color))).
		ColorMode(common.BigValueColorModeBackground).
		GraphMode(common.BigValueGraphModeNone).
		Span(6).
		Height(4)
}

func burningObjectivesPanel() *stat.PanelBuilder {
	expr := fmt.Sprintf("count(%s) or vector(0)", inScope(fmt.Sprintf("max by (%s) (%s) > 1", byObjective, recorded(slo.RecordBurnRate))))
	return stat.NewPanelBuilder().
		Title("Objectives burning faster than 1x").
		Description("Selected objectives whose burn rate over the page tier's long window is above 1: at that pace they spend more than their error budget in one period.").
		WithTarget(instant("A", expr, "")).
		Unit(unitCount).
		Decimals(0).
		Thresholds(thresholds(colorGreen, step(1, colorOrange))).
		ColorMode(common.BigValueColorModeBackground).
		GraphMode(common.BigValueGraphModeNone).
		Span(6).
		Height(4)
}

func sourcesDownPanel() *stat.PanelBuilder {
	expr := fmt.Sprintf("count(min by (%s) (%s) == 0) or vector(0)", slo.LabelSource, slo.MetricSourceUp)
	return problemCountStat("Sources down",
		"Sources whose latest refresh failed on at least one secslo replica. Their SLI values are those of the last good refresh.",
		expr, 4)
}

// firingAlertsTable lists the firing burn-rate alerts with the owner and
// runbook of their objective. Each cell of the runbook column is a link.
func firingAlertsTable() *table.PanelBuilder {
	expr := fmt.Sprintf("%s * on (%s) group_left (%s, %s) max by (%s, %s, %s) (%s)",
		firingAlerts(`"`+slo.AlertKindBurnRate+`"`), byObjective, slo.LabelRunbook, slo.LabelOwner,
		byObjective, slo.LabelRunbook, slo.LabelOwner, infoInScope())

	return table.NewPanelBuilder().
		Title("Firing burn-rate alerts").
		Description("Burn-rate alerts that fire now, with the owner and runbook of their objective (runbook_url in the spec). Grouped SLOs show one row per label set.").
		WithTarget(tableRows("A", expr)).
		WithTransformation(hideColumns("Time", "Value", alertStateLabel, slo.LabelAlertKind)).
		OverrideByName(slo.LabelRunbook, []dashboard.DynamicConfigValue{runbookLink()}).
		OverrideByName(slo.LabelTier, []dashboard.DynamicConfigValue{
			{Id: "mappings", Value: []dashboard.ValueMapping{tierMapping()}},
			{Id: "custom.cellOptions", Value: map[string]any{"type": string(common.TableCellDisplayModeColorBackground)}},
		}).
		NoValue("No burn-rate alert fires.").
		Span(24).
		Height(8)
}

func otherAlertsTable() *table.PanelBuilder {
	kinds := fmt.Sprintf(`~"%s|%s"`, slo.AlertKindNoData, slo.AlertKindSource)
	return table.NewPanelBuilder().
		Title("No-data and source alerts").
		Description("Alerts that fire because an SLI has no data or a source stopped refreshing: while they fire, the burn rates above cannot be trusted.").
		WithTarget(tableRows("A", firingAlerts(kinds))).
		WithTransformation(hideColumns("Time", "Value", alertStateLabel)).
		NoValue("No no-data or source alert fires.").
		Span(24).
		Height(5)
}

// burnRateOverTimePanel shows the burn rate of every label set over every
// window that the rules record.
func burnRateOverTimePanel(slos []*slo.SLO) *timeseries.PanelBuilder {
	panel := timeseries.NewPanelBuilder().
		Title("Burn rate by window").
		Description("Error ratio over each alert window ÷ error budget. At 1x the objective spends exactly its budget in one period. An alert fires while both windows of a tier exceed its factor. Zero-tolerance objectives have no budget and are not shown.").
		Unit(unitBurn).
		Min(0).
		Thresholds(burnThresholds(slos)).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed)).
		Legend(common.NewVizLegendOptionsBuilder().DisplayMode(common.LegendDisplayModeTable).Placement(common.LegendPlacementRight).ShowLegend(true).Calcs([]string{"max", "lastNotNull"})).
		Span(24).
		Height(9)
	for i, window := range windows(slos) {
		panel.WithTarget(series(refID(i), burnRate(window), legend(slos, "over "+window)))
	}
	return panel
}

// burnRateNowTable shows the burn rate now, one row per label set and one
// column per window.
func burnRateNowTable(slos []*slo.SLO) *table.PanelBuilder {
	columns := map[string]column{}
	var order []string
	panel := table.NewPanelBuilder().
		Title("Burn rate now").
		Description("Burn rate per objective (and label set) and window now. Orange from 1x; red from the lowest page-tier factor of the specs, a burn that pages if both windows of that tier keep it.").
		Span(24).
		Height(8)
	for i, window := range windows(slos) {
		id := refID(i)
		order = append(order, id)
		columns[id] = column{name: window, unit: unitBurn, decimals: cog.ToPtr(2.0), colored: true, thresholds: burnThresholds(slos)}
		panel.WithTarget(tableRows(id, burnRate(window)))
	}

	panel.Transformations(mergeColumns(order, columns))
	for _, id := range order {
		panel.OverrideByName(columns[id].name, columns[id].properties())
	}
	return panel
}

// burnThresholds colour a burn rate: orange from 1x, red from the lowest
// page-tier burn factor of slos.
func burnThresholds(slos []*slo.SLO) *dashboard.ThresholdsConfigBuilder {
	page := 0.0
	for _, s := range slos {
		for _, w := range s.AlertWindows() {
			if w.Tier == slo.TierPage && (page == 0 || w.BurnFactor < page) {
				page = w.BurnFactor
			}
		}
	}
	if page <= 1 {
		page = defaultPageFactor
	}
	return thresholds(colorGreen, step(1, colorOrange), step(page, colorRed))
}

// noncompliantTable lists the sources of built-in snapshot SLIs that have
// objects out of compliance now.
func noncompliantTable() *table.PanelBuilder {
	noncompliant := fmt.Sprintf("(%s > 0) and on (%s) %s", withoutReplicas(slo.MetricNoncompliantObjects), slo.LabelSLI, infoInScope())
	columns := map[string]column{
		"A": {name: "Noncompliant objects", unit: unitCount, decimals: cog.ToPtr(0.0)},
		"B": {name: "Objects", unit: unitCount, decimals: cog.ToPtr(0.0)},
		"C": {name: "Share noncompliant", unit: unitRatio, decimals: cog.ToPtr(1.0), colored: true, thresholds: thresholds(colorGreen, step(0.0001, colorOrange), step(0.1, colorRed))},
	}
	order := []string{"A", "B", "C"}

	panel := table.NewPanelBuilder().
		Title("Out of compliance now").
		Description("Sources of the selected built-in snapshot SLIs with objects out of compliance at their latest successful refresh. The exporter lists the objects and the reason for each at /api/v1/sources/<source>/noncompliant.").
		WithTarget(tableRows("A", noncompliant)).
		WithTarget(tableRows("B", fmt.Sprintf("%s and on (%s, %s) (%s)", withoutReplicas(slo.MetricObjects), slo.LabelSLI, slo.LabelSource, noncompliant))).
		WithTarget(tableRows("C", fmt.Sprintf("(%s) / %s", noncompliant, withoutReplicas(slo.MetricObjects)))).
		Transformations(mergeColumns(order, columns)).
		NoValue("Every selected snapshot source is in compliance.").
		Span(12).
		Height(8)
	for _, id := range order {
		panel.OverrideByName(columns[id].name, columns[id].properties())
	}
	return panel
}

// sourceHealthTable shows, per source and secslo replica, whether the
// latest refresh succeeded and how long ago the latest success was.
func sourceHealthTable() *table.PanelBuilder {
	columns := map[string]column{
		"A": {name: "State", unit: unitCount, colored: true, mappings: []dashboard.ValueMapping{upMapping()}},
		"B": {name: "Last success", unit: unitSeconds, decimals: cog.ToPtr(0.0), colored: true, thresholds: thresholds(colorGreen, step(3600, colorOrange), step(86400, colorRed))},
		"C": {name: "Refresh duration", unit: unitSeconds, decimals: cog.ToPtr(2.0)},
		"D": {name: "Failures in 1h", unit: unitCount, decimals: cog.ToPtr(0.0), colored: true, thresholds: thresholds(colorGreen, step(1, colorRed))},
	}
	order := []string{"A", "B", "C", "D"}

	panel := table.NewPanelBuilder().
		Title("Source health").
		Description("Per source and secslo replica: the latest refresh state, the time since the latest successful refresh (empty if none succeeded yet; orange after 1 h, red after 1 d, whatever the source's interval), the latest refresh duration and the failed refreshes of the last hour.").
		WithTarget(tableRows("A", slo.MetricSourceUp)).
		WithTarget(tableRows("B", fmt.Sprintf("time() - (%s > 0)", slo.MetricSourceLastSuccess))).
		WithTarget(tableRows("C", slo.MetricSourceRefreshDuration)).
		WithTarget(tableRows("D", fmt.Sprintf("increase(%s[1h])", slo.MetricSourceRefreshFailures))).
		Transformations(mergeColumns(order, columns)).
		Span(12).
		Height(8)
	for _, id := range order {
		panel.OverrideByName(columns[id].name, columns[id].properties())
	}
	return panel
}

// thresholdPanels show, for every threshold SLI, the median and the 90th
// percentile of its histogram over the dashboard's time range against the
// SLI's bound.
func thresholdPanels(slos []*slo.SLO) []cog.Builder[dashboard.Panel] {
	var panels []cog.Builder[dashboard.Panel]
	for _, s := range slos {
		if s.SLI.Kind != slo.KindThreshold {
			continue
		}
		bucket, err := withMetricSuffix(s.SLI.Histogram, "_bucket")
		if err != nil {
			panels = append(panels, note(s.Service+"/"+s.Name, fmt.Sprintf("No quantiles: %v.", err), 12, 5))
			continue
		}
		panels = append(panels, thresholdPanel(s, bucket))
	}
	return panels
}

func thresholdPanel(s *slo.SLO, bucket string) *stat.PanelBuilder {
	by := strings.Join(append([]string{model.BucketLabel}, s.SLI.GroupBy...), ", ")
	quantile := func(q string) string {
		return fmt.Sprintf("histogram_quantile(%s, sum by (%s) (increase(%s[$__range])))", q, by, bucket)
	}
	label := "{{" + strings.Join(s.SLI.GroupBy, "}} {{") + "}}"
	if len(s.SLI.GroupBy) == 0 {
		label = ""
	}

	return stat.NewPanelBuilder().
		Title(fmt.Sprintf("%s/%s: time to threshold", s.Service, s.Name)).
		Description(fmt.Sprintf("Median and 90th percentile of %s over the dashboard's time range, in seconds, red above the SLI's bound le=%s. On Mimir, time ranges longer than 768 h fail.",
			s.SLI.Histogram, strconv.FormatFloat(s.SLI.Bound, 'g', -1, 64))).
		WithTarget(instant("A", quantile("0.5"), strings.TrimSpace("median "+label))).
		WithTarget(instant("B", quantile("0.9"), strings.TrimSpace("90th percentile "+label))).
		Unit(unitSeconds).
		Decimals(0).
		Thresholds(thresholds(colorGreen, step(s.SLI.Bound, colorRed))).
		ColorMode(common.BigValueColorModeValue).
		GraphMode(common.BigValueGraphModeNone).
		Span(12).
		Height(5)
}

// eventBounds are the bounds of the built-in event SLIs whose events have a
// duration; pass/fail SLIs such as restore_tests have none to show.
var eventBounds = map[string]float64{
	slo.SLIDetectionTime:   15 * 60,
	slo.SLIContainmentTime: 4 * 3600,
	slo.SLIVulnRemediation: 7 * 24 * 3600,
	slo.SLIFindingClosure:  90 * 24 * 3600,
}

// eventDurationPanels show, for every built-in event SLI with durations
// that the specs use, the median and the 90th percentile of the exporter's
// duration histogram over the dashboard's time range against the bound.
func eventDurationPanels(slos []*slo.SLO) []cog.Builder[dashboard.Panel] {
	var panels []cog.Builder[dashboard.Panel]
	seen := map[string]bool{}
	for _, s := range slos {
		bound, ok := eventBounds[s.SLI.Builtin]
		if !ok || seen[s.SLI.Builtin] {
			continue
		}
		seen[s.SLI.Builtin] = true
		panels = append(panels, eventDurationPanel(s.SLI.Builtin, bound))
	}
	return panels
}

func eventDurationPanel(sli string, bound float64) *stat.PanelBuilder {
	bucket := fmt.Sprintf("%s_bucket{%s=%q}", slo.MetricEventDuration, slo.LabelSLI, sli)
	quantile := func(q string) string {
		return fmt.Sprintf("histogram_quantile(%s, sum by (%s) (max without (%s) (increase(%s[$__range]))))",
			q, model.BucketLabel, strings.Join(slo.ReplicaLabels, ", "), bucket)
	}
	return stat.NewPanelBuilder().
		Title(fmt.Sprintf("%s: event durations", sli)).
		Description(fmt.Sprintf("Median and 90th percentile of the durations of %s events closed in the dashboard's time range, from the exporter's %s histogram, red above the default bound of %s. On Mimir, time ranges longer than 768 h fail.",
			sli, slo.MetricEventDuration, slo.FormatDuration(time.Duration(bound)*time.Second))).
		WithTarget(instant("A", quantile("0.5"), "median")).
		WithTarget(instant("B", quantile("0.9"), "90th percentile")).
		Unit(unitSeconds).
		Decimals(0).
		Thresholds(thresholds(colorGreen, step(bound, colorRed))).
		ColorMode(common.BigValueColorModeValue).
		GraphMode(common.BigValueGraphModeNone).
		Span(12).
		Height(5)
}

// runbookLink makes each cell of the runbook column a link to its URL.
func runbookLink() dashboard.DynamicConfigValue {
	return dashboard.DynamicConfigValue{Id: "links", Value: []map[string]any{
		{"title": "Open the runbook", "url": "${__value.raw}", "targetBlank": true},
	}}
}

// tierMapping colours the page tier red and the ticket tier orange.
func tierMapping() dashboard.ValueMapping {
	return valueText(
		map[string]string{slo.TierPage: slo.TierPage, slo.TierTicket: slo.TierTicket},
		map[string]string{slo.TierPage: colorRed, slo.TierTicket: colorOrange})
}

// hideColumns hides table columns by name.
func hideColumns(names ...string) dashboard.DataTransformerConfig {
	exclude := map[string]any{}
	for _, name := range names {
		exclude[name] = true
	}
	return dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{"excludeByName": exclude}}
}
