package status

import (
	"context"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"

	"github.com/secslo/secslo/slo"
)

// objectiveKey identifies an objective, as the service and slo labels of
// its recorded series do.
type objectiveKey struct {
	service, name string
}

func keyOf(s *slo.SLO) objectiveKey {
	return objectiveKey{service: s.Service, name: s.Name}
}

// reading is the engine's values for the objectives at one time, indexed
// by objective and by group.
type reading struct {
	// groups maps an objective to its groups, keyed by the text of the
	// group's labels ("{}" for an SLO without group_by).
	groups map[objectiveKey]map[string]*groupReading
	errors []queryError
}

// groupReading is the latest value of each series of one group of an
// objective. An objective without group_by has one group with no labels.
type groupReading struct {
	labels labels.Labels
	// ratios maps a window, such as "5m", "1h30m" or "period", to the
	// recorded error ratio over it.
	ratios map[string]float64
	// budgetRemaining is NaN when the series is absent.
	budgetRemaining float64
	alerts          []alertReading
}

// alertReading is one pending or firing alert, from the rules manager or
// from an ALERTS series.
type alertReading struct {
	Name, State, Tier, Kind, Severity string
}

// Firing reports whether the alert is firing, not only pending.
func (a alertReading) Firing() bool { return a.State == slo.AlertStateFiring }

// Summary returns the tier, the state and, unless the alert is a burn-rate
// alert, its kind: "ticket, firing" or "page, pending, no data".
func (a alertReading) Summary() string {
	summary := a.Tier + ", " + a.State
	if a.Kind != "" && a.Kind != slo.AlertKindBurnRate {
		summary += ", " + strings.ReplaceAll(a.Kind, "_", " ")
	}
	return summary
}

// queryError is a query that failed, shown on the page and in the JSON.
type queryError struct {
	Query string
	Err   error
}

// instantQuery is one bulk query of the overview and the function that
// stores each of its samples in the group it belongs to.
type instantQuery struct {
	text  string
	store func(g *groupReading, sample promql.Sample)
}

// instantQueries returns the queries that read every objective at once:
// all error ratio series, the remaining budgets and, when withAlerts is
// true, the alerts. filter narrows them, for the detail view, to one
// objective.
func instantQueries(filter []*labels.Matcher, withAlerts bool) []instantQuery {
	ratioName := labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, regexp.QuoteMeta(slo.RecordErrorRatioPrefix)+".+")
	queries := []instantQuery{
		{text: selector("", filter, ratioName), store: storeRatio},
		{text: selector(slo.RecordBudgetRemaining, filter), store: storeBudget},
	}
	if withAlerts {
		hasService := labels.MustNewMatcher(labels.MatchNotEqual, slo.LabelService, "")
		queries = append(queries, instantQuery{text: selector(slo.MetricAlerts, filter, hasService), store: storeAlert})
	}
	return queries
}

func storeRatio(g *groupReading, sample promql.Sample) {
	window := strings.TrimPrefix(sample.Metric.Get(labels.MetricName), slo.RecordErrorRatioPrefix)
	g.ratios[window] = sample.F
}

func storeBudget(g *groupReading, sample promql.Sample) {
	g.budgetRemaining = sample.F
}

func storeAlert(g *groupReading, sample promql.Sample) {
	g.alerts = append(g.alerts, newAlertReading(sample.Metric, sample.Metric.Get(slo.LabelAlertState)))
}

// newAlertReading reads an alert from its labels, which carry the same
// names in an ALERTS series and in an alert of the rules manager.
func newAlertReading(lbls labels.Labels, state string) alertReading {
	return alertReading{
		Name:     lbls.Get(slo.LabelAlertName),
		State:    state,
		Tier:     lbls.Get(slo.LabelTier),
		Kind:     lbls.Get(slo.LabelAlertKind),
		Severity: lbls.Get(slo.LabelSeverity),
	}
}

// selector prints a vector selector of the metric name (none when empty)
// with the given matchers, quoting every value as PromQL requires.
func selector(name string, filter []*labels.Matcher, extra ...*labels.Matcher) string {
	matchers := append(append([]*labels.Matcher(nil), filter...), extra...)
	if name != "" {
		matchers = append(matchers, labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, name))
	}
	return (&parser.VectorSelector{Name: name, LabelMatchers: matchers}).String()
}

// objectiveFilter returns the matchers that select the series of one
// objective.
func objectiveFilter(key objectiveKey) []*labels.Matcher {
	return []*labels.Matcher{
		labels.MustNewMatcher(labels.MatchEqual, slo.LabelService, key.service),
		labels.MustNewMatcher(labels.MatchEqual, slo.LabelSLO, key.name),
	}
}

// read runs the instant queries at the time at and indexes their samples.
// With an AlertLister it takes the alerts from there instead of the ALERTS
// series. A failed query is logged and recorded, and the others still run,
// so the page shows what it can.
func (p *Page) read(ctx context.Context, objectives map[objectiveKey]*slo.SLO, at time.Time, filter []*labels.Matcher) *reading {
	rd := &reading{groups: make(map[objectiveKey]map[string]*groupReading, len(objectives))}

	for _, q := range instantQueries(filter, p.alerts == nil) {
		vector, err := p.opts.Evaluator.Query(ctx, q.text, at)
		if err != nil {
			p.logger.Error("failed to query the engine for the status page", "query", q.text, "err", err)
			rd.errors = append(rd.errors, queryError{Query: q.text, Err: err})
			continue
		}

		for _, sample := range vector {
			if sample.H != nil {
				continue
			}
			if g := rd.group(objectives, sample.Metric); g != nil {
				q.store(g, sample)
			}
		}
	}

	if p.alerts != nil {
		rd.storeActiveAlerts(objectives, p.alerts.ActiveAlerts())
	}
	return rd
}

// storeActiveAlerts adds each pending or firing alert to the group that
// its labels name, as read does with the ALERTS series.
func (rd *reading) storeActiveAlerts(objectives map[objectiveKey]*slo.SLO, alerts []*rules.Alert) {
	for _, a := range alerts {
		if a.State != rules.StatePending && a.State != rules.StateFiring {
			continue
		}
		if g := rd.group(objectives, a.Labels); g != nil {
			g.alerts = append(g.alerts, newAlertReading(a.Labels, a.State.String()))
		}
	}
}

// group returns the group that a series belongs to, creating it on first
// use, or nil when the series belongs to no configured objective.
func (rd *reading) group(objectives map[objectiveKey]*slo.SLO, metric labels.Labels) *groupReading {
	key := objectiveKey{service: metric.Get(slo.LabelService), name: metric.Get(slo.LabelSLO)}
	s, ok := objectives[key]
	if !ok {
		return nil
	}

	groupLabels := groupLabelsOf(s, metric)
	groupKey := groupLabels.String()
	groups := rd.groups[key]
	if groups == nil {
		groups = map[string]*groupReading{}
		rd.groups[key] = groups
	}

	g := groups[groupKey]
	if g == nil {
		g = &groupReading{labels: groupLabels, ratios: map[string]float64{}, budgetRemaining: math.NaN()}
		groups[groupKey] = g
	}
	return g
}

// groupLabelsOf returns the group_by labels of s that metric carries.
func groupLabelsOf(s *slo.SLO, metric labels.Labels) labels.Labels {
	if len(s.SLI.GroupBy) == 0 {
		return labels.EmptyLabels()
	}

	b := labels.NewScratchBuilder(len(s.SLI.GroupBy))
	for _, name := range s.SLI.GroupBy {
		if value := metric.Get(name); value != "" {
			b.Add(name, value)
		}
	}
	b.Sort()
	return b.Labels()
}
