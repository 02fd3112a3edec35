package status

import (
	"context"
	"slices"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"

	"github.com/secslo/secslo/slo"
	"github.com/secslo/secslo/sources"
)

// chartPoints is about how many steps the error budget chart spans.
const chartPoints = 240

// overview is everything the overview and the list API show, read at one
// time.
type overview struct {
	At time.Time
	// Evaluated is false when the embedded engine is disabled.
	Evaluated bool
	// Ingest is nil when the engine is disabled or does not report its
	// ingest.
	Ingest     *ingestHealth
	Objectives []*objectiveStatus
	Sources    []*sources.SourceStatus
	Errors     []queryError
}

// detail is one objective with its error budget history.
type detail struct {
	At        time.Time
	Evaluated bool
	Ingest    *ingestHealth
	Objective *objectiveStatus
	// History is nil when the engine is disabled.
	History *budgetHistory
	Errors  []queryError
}

// budgetHistory is the remaining error budget over the whole period, one
// series per group.
type budgetHistory struct {
	Start, End time.Time
	Step       time.Duration
	Series     []budgetSeries
}

// budgetSeries is the history of one group.
type budgetSeries struct {
	Labels labels.Labels
	Points []promql.FPoint
}

// overview reads every objective with two or three bulk queries, whatever
// their number, and sorts them worst error budget first.
func (p *Page) overview(ctx context.Context) *overview {
	at := p.now()
	slos := p.opts.SLOs()
	state := p.opts.Sources()
	feeding := p.feeding.get(state)

	objectives := make(map[objectiveKey]*slo.SLO, len(slos))
	for _, s := range slos {
		objectives[keyOf(s)] = s
	}
	rd := p.readIfEnabled(ctx, objectives, at, nil)

	ov := &overview{At: at, Evaluated: p.opts.Evaluator != nil, Ingest: p.ingestHealth(at), Sources: state.Sources, Errors: rd.errors}
	ov.Objectives = make([]*objectiveStatus, 0, len(slos))
	for _, s := range slos {
		ov.Objectives = append(ov.Objectives, newObjectiveStatus(s, rd.groups[keyOf(s)], feeding, ov.Evaluated))
	}
	slices.SortFunc(ov.Objectives, compareObjectives)
	return ov
}

// detail reads one objective and its history. It returns false when no
// configured objective has that service and name.
func (p *Page) detail(ctx context.Context, service, name string) (*detail, bool) {
	at := p.now()
	slos := p.opts.SLOs()
	i := slices.IndexFunc(slos, func(s *slo.SLO) bool { return s.Service == service && s.Name == name })
	if i < 0 {
		return nil, false
	}
	s := slos[i]

	key := keyOf(s)
	rd := p.readIfEnabled(ctx, map[objectiveKey]*slo.SLO{key: s}, at, objectiveFilter(key))
	feeding := p.feeding.get(p.opts.Sources())

	d := &detail{At: at, Evaluated: p.opts.Evaluator != nil, Ingest: p.ingestHealth(at), Errors: rd.errors}
	d.Objective = newObjectiveStatus(s, rd.groups[key], feeding, d.Evaluated)
	if d.Evaluated {
		d.History = p.history(ctx, s, at, d)
	}
	return d, true
}

// readIfEnabled reads the engine, or returns an empty reading when the
// engine is disabled.
func (p *Page) readIfEnabled(ctx context.Context, objectives map[objectiveKey]*slo.SLO, at time.Time, filter []*labels.Matcher) *reading {
	if p.opts.Evaluator == nil {
		return &reading{}
	}
	return p.read(ctx, objectives, at, filter)
}

// history reads the remaining budget of s over the period that ends at
// end with one range query. A failed query is logged and added to d's
// errors, and the history stays empty.
func (p *Page) history(ctx context.Context, s *slo.SLO, end time.Time, d *detail) *budgetHistory {
	h := &budgetHistory{Start: end.Add(-s.Period), End: end, Step: chartStep(s.Period, p.opts.EvaluationInterval)}
	query := selector(slo.RecordBudgetRemaining, objectiveFilter(keyOf(s)))

	matrix, err := p.opts.Evaluator.QueryRange(ctx, query, h.Start, h.End, h.Step)
	if err != nil {
		p.logger.Error("failed to query the engine for the error budget history", "query", query, "slo", s.Service+"/"+s.Name, "err", err)
		d.Errors = append(d.Errors, queryError{Query: query, Err: err})
		return h
	}

	for _, series := range matrix {
		h.Series = append(h.Series, budgetSeries{Labels: groupLabelsOf(s, series.Metric), Points: series.Floats})
	}
	slices.SortFunc(h.Series, func(a, b budgetSeries) int { return labels.Compare(a.Labels, b.Labels) })
	return h
}

// chartStep returns the step of the history query: a chartPoints-th of the
// period in whole seconds, and never shorter than the evaluation interval,
// below which the engine stores nothing new.
func chartStep(period, evaluationInterval time.Duration) time.Duration {
	step := (period / chartPoints).Truncate(time.Second)
	return max(step, evaluationInterval, time.Second)
}
