package dashboards

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/secslo/secslo/slo"
)

// healthThresholds colour the ISMS health score and the share of objectives
// met: green only when every objective is met, red below three quarters.
func healthThresholds() *dashboard.ThresholdsConfigBuilder {
	return thresholds(colorRed, step(0.75, colorOrange), step(1, colorGreen))
}

// healthScore is the share of the selected objectives that meet their
// objective over the period, each objective weighing the same.
func healthScore() string {
	met := inScope(objectiveMet())
	return fmt.Sprintf("sum(%s) / count(%s)", met, met)
}

// Executive builds the dashboard for management review: the ISMS health
// score, every objective with its budget, the top residual risks, coverage
// by Annex A theme and control, evidence automation and compliance over time.
func Executive(slos []*slo.SLO) *dashboard.DashboardBuilder {
	builder := newDashboard(UIDExecutive, "secslo: ISMS executive overview",
		"ISMS health at a glance for management review: objectives met, error budget left, the worst risks and Annex A coverage.",
		"now-30d", slos)

	builder.WithRow(dashboard.NewRowBuilder("ISMS health"))
	builder.WithPanel(healthScorePanel()).
		WithPanel(objectivesMissedPanel()).
		WithPanel(objectivesWithoutDataPanel()).
		WithPanel(evidenceAutomationPanel(slos))

	builder.WithRow(dashboard.NewRowBuilder("Objectives"))
	builder.WithPanel(objectivesTable()).
		WithPanel(leastBudgetPanel())

	builder.WithRow(dashboard.NewRowBuilder("Annex A coverage"))
	for _, panel := range coveragePanels(slos) {
		builder.WithPanel(panel)
	}

	builder.WithRow(dashboard.NewRowBuilder("Compliance over the period"))
	builder.WithPanel(healthOverTimePanel()).
		WithPanel(sliOverTimePanel(slos))
	return builder
}

func healthScorePanel() *stat.PanelBuilder {
	return stat.NewPanelBuilder().
		Title("ISMS health score").
		Description("Share of the selected objectives whose error ratio over their period is within the error budget, every objective weighing the same. A grouped SLO counts as met only if every label set meets it. Objectives without data are not counted.").
		WithTarget(instant("A", healthScore(), "")).
		Unit(unitRatio).
		Decimals(1).
		Min(0).
		Max(1).
		Thresholds(healthThresholds()).
		ColorMode(common.BigValueColorModeBackground).
		GraphMode(common.BigValueGraphModeNone).
		Span(6).
		Height(5)
}

func objectivesMissedPanel() *stat.PanelBuilder {
	return problemCountStat("Objectives missed",
		"Selected objectives whose error ratio over their period exceeds the error budget.",
		fmt.Sprintf("count((%s) == 0) or vector(0)", inScope(objectiveMet())), 5)
}

func objectivesWithoutDataPanel() *stat.PanelBuilder {
	expr := fmt.Sprintf("count(%s unless on (%s) %s) or vector(0)", infoInScope(), byObjective, recorded(slo.RecordErrorRatioPeriod))
	return stat.NewPanelBuilder().
		Title("Objectives without data").
		Description("Selected objectives that have no error ratio over their period: their SLI has no series, so the health score leaves them out.").
		WithTarget(instant("A", expr, "")).
		Unit(unitCount).
		Decimals(0).
		Thresholds(thresholds(colorGreen, step(1, colorOrange))).
		ColorMode(common.BigValueColorModeBackground).
		GraphMode(common.BigValueGraphModeNone).
		Span(6).
		Height(5)
}

// evidenceAutomationPanel shows the share of controls whose evidence is
// collected automatically and fresh, read from the exporter directly so
// that it shows even without an SLO on the built-in. The colour turns
// green at the objective of the first such SLO, or at the built-in default.
func evidenceAutomationPanel(slos []*slo.SLO) *stat.PanelBuilder {
	builtin, _ := slo.LookupBuiltin(slo.SLIEvidenceAutomation)
	objective := builtin.DefaultObjective / 100
	for _, s := range slos {
		if s.SLI.Builtin == slo.SLIEvidenceAutomation {
			objective = s.ObjectiveRatio()
			break
		}
	}

	return stat.NewPanelBuilder().
		Title("Evidence automation").
		Description(fmt.Sprintf("Share of in-scope controls whose evidence is collected automatically and is fresh, now (built-in SLI %s over every source that serves it). Green from %s.",
			slo.SLIEvidenceAutomation, formatPercent(objective))).
		WithTarget(instant("A", builtinShareCompliant(slo.SLIEvidenceAutomation), "")).
		Unit(unitRatio).
		Decimals(1).
		Min(0).
		Max(1).
		NoValue("no evidence source").
		Thresholds(thresholds(colorRed, step(objective, colorGreen))).
		ColorMode(common.BigValueColorModeBackground).
		GraphMode(common.BigValueGraphModeNone).
		Span(6).
		Height(5)
}

// objectivesTable lists every selected objective with its SLI over the
// period, objective, error budget remaining and status. Grouped SLOs show
// their worst label set.
func objectivesTable() *table.PanelBuilder {
	columns := map[string]column{
		"A": {name: "SLI", unit: unitRatio, decimals: cog.ToPtr(3.0)},
		"B": {name: "Objective", unit: unitRatio, decimals: cog.ToPtr(3.0)},
		"C": {name: "Error budget remaining", unit: unitRatio, decimals: cog.ToPtr(1.0), colored: true, thresholds: budgetThresholds()},
		"D": {name: "Status", unit: unitCount, colored: true, mappings: []dashboard.ValueMapping{metMapping()}},
	}
	order := []string{"A", "B", "C", "D"}

	panel := table.NewPanelBuilder().
		Title("Objectives").
		Description("Every selected objective over its period: SLI is 1 − the period error ratio; error budget remaining is 1 when untouched, 0 when spent and negative when overspent. A grouped SLO shows its worst label set.").
		WithTarget(tableRows("A", withMetadata("1 - "+worstErrorRatio()))).
		WithTarget(tableRows("B", withMetadata(fmt.Sprintf("max by (%s) (%s)", byObjective, recorded(slo.RecordObjective))))).
		WithTarget(tableRows("C", withMetadata(leastBudgetRemaining()))).
		WithTarget(tableRows("D", withMetadata(objectiveMet()))).
		Transformations(mergeColumns(order, columns)).
		Span(16).
		Height(10)
	for _, refID := range order {
		panel.OverrideByName(columns[refID].name, columns[refID].properties())
	}
	return panel
}

func leastBudgetPanel() *bargauge.PanelBuilder {
	expr := fmt.Sprintf("sort(bottomk(5, %s))", inScope(leastBudgetRemaining()))
	return bargauge.NewPanelBuilder().
		Title("Least error budget left").
		Description("The five selected objectives with the least error budget left over their period: the top residual risks. Below 0 the objective is missed.").
		WithTarget(instant("A", expr, "{{"+slo.LabelService+"}}/{{"+slo.LabelSLO+"}}")).
		Unit(unitRatio).
		Decimals(1).
		Min(-1).
		Max(1).
		Thresholds(budgetThresholds()).
		DisplayMode(common.BarGaugeDisplayModeBasic).
		Orientation(common.VizOrientationHorizontal).
		Span(8).
		Height(10)
}

// coveragePanels show the share of objectives met per Annex A theme and per
// control that the specs name.
func coveragePanels(slos []*slo.SLO) []cog.Builder[dashboard.Panel] {
	themes := themes(slos)
	if len(themes) == 0 {
		return []cog.Builder[dashboard.Panel]{
			note("Annex A coverage", "The specs name no ISO/IEC 27001 control, so there is no coverage to show. Add `controls` to the SLOs.", 24, 4),
		}
	}

	byTheme := coverageBarGauge("Objectives met by theme",
		"Share of the selected objectives met over their period, per Annex A theme (and the ISMS clauses) of the controls they evidence. The legend counts the controls that the specs name in each theme.",
		8)
	for i, t := range themes {
		label := fmt.Sprintf("%s: %d of the specs' controls", t.name, len(t.controls))
		byTheme.WithTarget(instant(refID(i), metForControls(t.controls), label))
	}

	byControl := coverageBarGauge("Objectives met by control",
		"Share of the selected objectives met over their period, per control that the specs name. An objective counts for every control it evidences.",
		16)
	for i, id := range controlIDs(slos) {
		label := id
		if control, ok := slo.LookupControl(id); ok {
			label = id + " " + control.Title
		}
		byControl.WithTarget(instant(refID(i), metForControls([]string{id}), label))
	}
	return []cog.Builder[dashboard.Panel]{byTheme, byControl}
}

func coverageBarGauge(title, description string, width uint32) *bargauge.PanelBuilder {
	return bargauge.NewPanelBuilder().
		Title(title).
		Description(description).
		Unit(unitRatio).
		Decimals(0).
		Min(0).
		Max(1).
		Thresholds(healthThresholds()).
		DisplayMode(common.BarGaugeDisplayModeBasic).
		Orientation(common.VizOrientationHorizontal).
		Span(width).
		Height(8)
}

// metForControls is the share of the selected objectives met among those
// that evidence one of ids.
func metForControls(ids []string) string {
	quoted := make([]string, len(ids))
	for i, id := range ids {
		quoted[i] = regexp.QuoteMeta(id)
	}
	matcher := fmt.Sprintf("%s=~%q", slo.LabelControls, controlsMatching(strings.Join(quoted, "|")))
	return fmt.Sprintf("avg((%s) and on (%s) %s{%s})", inScope(objectiveMet()), byObjective, slo.RecordInfo, matcher)
}

func healthOverTimePanel() *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Title("ISMS health score over time").
		Description("The ISMS health score at each point in time: the share of the selected objectives met over the period that ends there.").
		WithTarget(series("A", healthScore(), "ISMS health score")).
		Unit(unitRatio).
		Min(0).
		Max(1).
		Thresholds(healthThresholds()).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed)).
		Span(12).
		Height(8)
}

func sliOverTimePanel(slos []*slo.SLO) *timeseries.PanelBuilder {
	expr := inScope("1 - " + recorded(slo.RecordErrorRatioPeriod))
	return timeseries.NewPanelBuilder().
		Title("SLI over the period").
		Description("1 − the error ratio over each objective's period, at each point in time; grouped SLOs show one line per label set. Compare with the objectives in the table above.").
		WithTarget(series("A", expr, legend(slos, ""))).
		Unit(unitRatio).
		Decimals(2).
		Max(1).
		Legend(common.NewVizLegendOptionsBuilder().DisplayMode(common.LegendDisplayModeTable).Placement(common.LegendPlacementRight).ShowLegend(true).Calcs([]string{"min", "lastNotNull"})).
		Span(12).
		Height(8)
}
