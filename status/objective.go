package status

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/secslo/secslo/slo"
	"github.com/secslo/secslo/sources"
)

// States of an objective, as the page and the JSON API name them.
const (
	// StateBurning means at least one alert of the objective is firing.
	StateBurning = "burning"
	// StateOK means the engine has data and no alert fires.
	StateOK = "ok"
	// StateNoData means the engine has no error budget series yet.
	StateNoData = "no_data"
	// StateExternal means the SLI reads metrics that secslo does not
	// export, so only an external Prometheus evaluates the objective.
	StateExternal = "external"
	// StateNotEvaluated means the embedded engine is disabled.
	StateNotEvaluated = "not_evaluated"
)

// periodWindow is the window suffix of the error ratio over the period.
var periodWindow = strings.TrimPrefix(slo.RecordErrorRatioPeriod, slo.RecordErrorRatioPrefix)

// objectiveStatus is one objective with its values at one time.
type objectiveStatus struct {
	SLO *slo.SLO
	// External lists the metrics that the SLI needs and secslo does not
	// export. When it is not empty, only an external Prometheus evaluates it.
	External []string
	// Evaluated is false when the embedded engine is disabled.
	Evaluated bool
	// Groups holds one entry per group_by label set that the engine has
	// series for, the lowest remaining budget first. It is empty without data.
	Groups []*groupStatus
	// Sources are the sources whose latest result feeds the built-in SLI.
	Sources []*sources.SourceStatus
}

// groupStatus holds the values of one group of an objective.
type groupStatus struct {
	Labels labels.Labels
	// SLI is 1 minus the error ratio over the period, NaN without data.
	SLI float64
	// BudgetRemaining is NaN without data.
	BudgetRemaining float64
	Windows         []windowStatus
	// Alerts are firing ones first, then by tier (page first) and name.
	Alerts []alertReading
}

// windowStatus is one burn-rate condition with the current burn rates
// over its long and short windows, NaN where a ratio series is absent.
type windowStatus struct {
	slo.AlertWindow
	LongBurnRate  float64
	ShortBurnRate float64
}

// Firing reports whether both burn rates exceed the factor, so that this
// condition fires or is pending.
func (w windowStatus) Firing() bool {
	return w.LongBurnRate > w.BurnFactor && w.ShortBurnRate > w.BurnFactor
}

func newObjectiveStatus(s *slo.SLO, groups map[string]*groupReading, feeding sourceIndex, evaluated bool) *objectiveStatus {
	o := &objectiveStatus{SLO: s, External: s.ExternalMetrics(), Evaluated: evaluated, Sources: feeding.feeding(s)}

	for _, g := range groups {
		o.Groups = append(o.Groups, newGroupStatus(s, g))
	}
	slices.SortFunc(o.Groups, compareGroups)
	return o
}

func newGroupStatus(s *slo.SLO, g *groupReading) *groupStatus {
	gs := &groupStatus{
		Labels:          g.labels,
		SLI:             1 - ratioOrNaN(g.ratios, periodWindow),
		BudgetRemaining: g.budgetRemaining,
		Windows:         windowStatuses(s, g.ratios),
		Alerts:          slices.Clone(g.alerts),
	}
	slices.SortFunc(gs.Alerts, compareAlerts)
	return gs
}

// windowStatuses returns the burn-rate conditions of s with the burn rates
// that ratios give: each window's error ratio divided by the error budget.
// A nil ratios map gives NaN burn rates.
func windowStatuses(s *slo.SLO, ratios map[string]float64) []windowStatus {
	windows := s.AlertWindows()
	budget := s.ErrorBudget()

	out := make([]windowStatus, 0, len(windows))
	for _, w := range windows {
		out = append(out, windowStatus{
			AlertWindow:   w,
			LongBurnRate:  ratioOrNaN(ratios, slo.FormatDuration(w.LongWindow)) / budget,
			ShortBurnRate: ratioOrNaN(ratios, slo.FormatDuration(w.ShortWindow)) / budget,
		})
	}
	return out
}

func ratioOrNaN(ratios map[string]float64, window string) float64 {
	if r, ok := ratios[window]; ok {
		return r
	}
	return math.NaN()
}

// Worst returns the group with the lowest remaining budget, or nil
// without data.
func (o *objectiveStatus) Worst() *groupStatus {
	if len(o.Groups) == 0 {
		return nil
	}
	return o.Groups[0]
}

// HasData reports whether the engine has a remaining budget for the
// objective.
func (o *objectiveStatus) HasData() bool {
	worst := o.Worst()
	return worst != nil && !math.IsNaN(worst.BudgetRemaining)
}

// Burning reports whether any alert of the objective is firing.
func (o *objectiveStatus) Burning() bool {
	for _, g := range o.Groups {
		for _, a := range g.Alerts {
			if a.Firing() {
				return true
			}
		}
	}
	return false
}

// State returns one of the State constants. A firing alert wins over
// every other state, because it needs attention whatever the data shows.
func (o *objectiveStatus) State() string {
	switch {
	case o.Burning():
		return StateBurning
	case len(o.External) > 0:
		return StateExternal
	case !o.Evaluated:
		return StateNotEvaluated
	case !o.HasData():
		return StateNoData
	default:
		return StateOK
	}
}

// Windows returns the burn-rate conditions of the worst group, or those
// of the spec with NaN burn rates without data.
func (o *objectiveStatus) Windows() []windowStatus {
	if worst := o.Worst(); worst != nil {
		return worst.Windows
	}
	return windowStatuses(o.SLO, nil)
}

// Alerts returns the pending and firing alerts of every group, firing
// ones first.
func (o *objectiveStatus) Alerts() []groupAlert {
	var out []groupAlert
	for _, g := range o.Groups {
		for _, a := range g.Alerts {
			out = append(out, groupAlert{alertReading: a, Group: g.Labels})
		}
	}
	slices.SortStableFunc(out, func(a, b groupAlert) int { return compareAlerts(a.alertReading, b.alertReading) })
	return out
}

// groupAlert is an alert with the labels of the group it fires for.
type groupAlert struct {
	alertReading
	Group labels.Labels
}

// Grouped reports whether the SLI is split by group_by labels.
func (o *objectiveStatus) Grouped() bool {
	return len(o.SLO.SLI.GroupBy) > 0
}

// PageWindow returns the window in which any bad event of a
// zero-tolerance objective raises the page alert.
func (o *objectiveStatus) PageWindow() time.Duration {
	page, _ := o.SLO.ZeroToleranceWindows()
	return page
}

// TicketWindow returns the window in which any bad event of a
// zero-tolerance objective raises the ticket alert.
func (o *objectiveStatus) TicketWindow() time.Duration {
	_, ticket := o.SLO.ZeroToleranceWindows()
	return ticket
}

// Sort categories: objectives with data first, then those without, then
// those that only an external Prometheus evaluates.
const (
	categoryData = iota
	categoryNoData
	categoryExternal
)

func (o *objectiveStatus) category() int {
	switch {
	case len(o.External) > 0:
		return categoryExternal
	case o.HasData():
		return categoryData
	default:
		return categoryNoData
	}
}

// compareObjectives orders objectives worst error budget first, then
// those without data, then the external ones, each by service and name.
func compareObjectives(a, b *objectiveStatus) int {
	if c := cmp.Compare(a.category(), b.category()); c != 0 {
		return c
	}
	if a.category() == categoryData {
		if c := compareBudgets(a.Worst().BudgetRemaining, b.Worst().BudgetRemaining); c != 0 {
			return c
		}
	}
	if c := cmp.Compare(a.SLO.Service, b.SLO.Service); c != 0 {
		return c
	}
	return cmp.Compare(a.SLO.Name, b.SLO.Name)
}

func compareGroups(a, b *groupStatus) int {
	if c := compareBudgets(a.BudgetRemaining, b.BudgetRemaining); c != 0 {
		return c
	}
	return labels.Compare(a.Labels, b.Labels)
}

// compareBudgets orders remaining budgets lowest first and NaN last,
// where cmp.Compare would put NaN first.
func compareBudgets(a, b float64) int {
	switch aNaN, bNaN := math.IsNaN(a), math.IsNaN(b); {
	case aNaN && bNaN:
		return 0
	case aNaN:
		return 1
	case bNaN:
		return -1
	}
	return cmp.Compare(a, b)
}

func compareAlerts(a, b alertReading) int {
	if a.Firing() != b.Firing() {
		if a.Firing() {
			return -1
		}
		return 1
	}
	if c := cmp.Compare(tierRank(a.Tier), tierRank(b.Tier)); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	return cmp.Compare(a.Kind, b.Kind)
}

func tierRank(tier string) int {
	switch tier {
	case slo.TierPage:
		return 0
	case slo.TierTicket:
		return 1
	default:
		return 2
	}
}
