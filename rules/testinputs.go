package rules

import (
	"fmt"
	"regexp/syntax"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/secslo/secslo/slo"
)

// This file works out which raw series feed an SLI, so that generated
// tests can drive the SLI from its real inputs rather than from the
// recorded series that the rules under test write.

// ErrNoTestInputs is returned for SLIs whose inputs cannot be synthesized,
// such as a raw error ratio query or a custom query with several selectors.
type ErrNoTestInputs struct{ Reason string }

func (e *ErrNoTestInputs) Error() string { return "no generated test: " + e.Reason }

// role defines how the value of an input series follows from a minute's bad
// and total events.
type role int

const (
	roleBad         role = iota // the bad events
	roleTotal                   // all events
	roleGood                    // total minus bad
	roleTotalNoBad              // all events but not counted as bad: total minus bad
	roleTotalNoGood             // all events not counted as good: the bad events
)

// inputSeries is one synthesized raw series.
type inputSeries struct {
	labels labels.Labels
	role   role
}

// sliInputs returns the raw series that feed s, and whether they are
// counters (true) or gauges.
func sliInputs(s *slo.SLO) ([]inputSeries, bool, error) {
	sli := &s.SLI
	switch sli.Kind {
	case slo.KindEvents, slo.KindSnapshot:
		series, err := countInputs(sli.Bad, sli.Good, sli.Total, sli.GroupBy)
		return series, sli.Kind == slo.KindEvents, err
	case slo.KindThreshold:
		series, err := histogramInputs(sli)
		return series, true, err
	case slo.KindCustom:
		bad, err := linearSelector(sli.ErrorQuery)
		if err != nil {
			return nil, false, err
		}
		total, err := linearSelector(sli.TotalQuery)
		if err != nil {
			return nil, false, err
		}
		series, err := countInputs(bad, "", total, nil)
		return series, true, err
	default:
		return nil, false, &ErrNoTestInputs{Reason: "an error ratio query has no separate bad and total series to drive"}
	}
}

// countInputs builds one series for the bad (or good) selector and, where
// that series is not also counted by the total selector, one for the rest.
func countInputs(bad, good, total string, groupBy []string) ([]inputSeries, error) {
	partSelector, partRole, restRole := bad, roleBad, roleTotalNoBad
	if bad == "" {
		partSelector, partRole, restRole = good, roleGood, roleTotalNoGood
	}
	partMatchers, err := slo.PromQL.ParseMetricSelector(partSelector)
	if err != nil {
		return nil, err
	}
	totalMatchers, err := slo.PromQL.ParseMetricSelector(total)
	if err != nil {
		return nil, err
	}

	part, err := satisfy(partMatchers, nil, groupBy)
	if err != nil {
		return nil, err
	}
	rest, err := satisfy(totalMatchers, partMatchers, groupBy)
	if err != nil {
		return nil, err
	}
	if !matchesAll(totalMatchers, part) {
		// Separate metrics: the total series counts every event.
		restRole = roleTotal
	}
	return []inputSeries{{part, partRole}, {rest, restRole}}, nil
}

func histogramInputs(sli *slo.SLI) ([]inputSeries, error) {
	matchers, err := slo.PromQL.ParseMetricSelector(sli.Histogram)
	if err != nil {
		return nil, err
	}
	base, err := satisfy(matchers, nil, sli.GroupBy)
	if err != nil {
		return nil, err
	}
	name := base.Get(labels.MetricName)
	bucket := labels.NewBuilder(base).Set(labels.MetricName, name+"_bucket").Set("le", formatFloat(sli.Bound)).Labels()
	count := labels.NewBuilder(base).Set(labels.MetricName, name+"_count").Labels()
	return []inputSeries{{bucket, roleGood}, {count, roleTotal}}, nil
}

// linearSelector returns the one selector of a custom query whose value is
// proportional to its events, such as sum(rate(x{a="b"}[{{.window}}])).
func linearSelector(query string) (string, error) {
	rendered, err := slo.RenderWindow(query, slo.BaseWindowName)
	if err != nil {
		return "", err
	}
	expr, err := slo.PromQL.ParseExpr(rendered)
	if err != nil {
		return "", err
	}
	for {
		switch e := expr.(type) {
		case *parser.ParenExpr:
			expr = e.Expr
			continue
		case *parser.AggregateExpr:
			if e.Op != parser.SUM {
				return "", &ErrNoTestInputs{Reason: fmt.Sprintf("the query %q aggregates with %s; generated tests drive queries of the form sum(rate(selector[{{.window}}]))", query, e.Op)}
			}
			expr = e.Expr
			continue
		case *parser.Call:
			if name := e.Func.Name; name == "rate" || name == "increase" {
				if m, ok := e.Args[0].(*parser.MatrixSelector); ok {
					return m.VectorSelector.String(), nil
				}
			}
		}
		return "", &ErrNoTestInputs{Reason: fmt.Sprintf("the query %q is not of the form sum(rate(selector[{{.window}}])), so its inputs cannot be synthesized", query)}
	}
}

// satisfy returns labels that every matcher in want matches and, when
// avoid is given, that at least one matcher of avoid rejects. Group labels
// get the value "example" so that grouped SLIs are tested per group.
func satisfy(want, avoid []*labels.Matcher, groupBy []string) (labels.Labels, error) {
	b := labels.NewBuilder(labels.EmptyLabels())
	for _, g := range groupBy {
		b.Set(g, "example")
	}
	for _, m := range want {
		value, ok := matchingValue(m)
		if !ok {
			return labels.EmptyLabels(), &ErrNoTestInputs{Reason: fmt.Sprintf("no label value found that matches %s", m)}
		}
		if value != "" {
			b.Set(m.Name, value)
		}
	}
	if len(avoid) == 0 {
		return b.Labels(), nil
	}

	for _, m := range avoid {
		if constrained(want, m.Name) {
			continue
		}
		for _, candidate := range []string{"", "secslo_test_other", "0"} {
			trial := labels.NewBuilder(b.Labels()).Set(m.Name, candidate).Labels()
			if !m.Matches(trial.Get(m.Name)) && matchesAll(want, trial) {
				return trial, nil
			}
		}
	}
	if ls := b.Labels(); !matchesAll(avoid, ls) {
		return ls, nil
	}
	return labels.EmptyLabels(), &ErrNoTestInputs{Reason: "every series of the total selector also matches the bad or good selector, so good and bad events cannot be told apart"}
}

func constrained(matchers []*labels.Matcher, name string) bool {
	for _, m := range matchers {
		if m.Name == name {
			return true
		}
	}
	return false
}

func matchesAll(matchers []*labels.Matcher, ls labels.Labels) bool {
	for _, m := range matchers {
		if !m.Matches(ls.Get(m.Name)) {
			return false
		}
	}
	return true
}

// matchingValue returns a label value that m matches; "" means the label
// is left out.
func matchingValue(m *labels.Matcher) (string, bool) {
	candidates := []string{""}
	switch m.Type {
	case labels.MatchEqual:
		candidates = []string{m.Value}
	case labels.MatchRegexp:
		candidates = append(regexpExamples(m.Value), "")
	case labels.MatchNotEqual, labels.MatchNotRegexp:
		candidates = append(candidates, "secslo_test_other", "x")
	}
	for _, c := range candidates {
		if m.Matches(c) {
			return c, true
		}
	}
	return "", false
}

// regexpExamples returns strings that a regular expression probably
// matches, built from its syntax tree; callers check them with the matcher.
func regexpExamples(expr string) []string {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	var b strings.Builder
	exampleOf(re.Simplify(), &b)
	return []string{b.String()}
}

func exampleOf(re *syntax.Regexp, b *strings.Builder) {
	switch re.Op {
	case syntax.OpLiteral:
		b.WriteString(string(re.Rune))
	case syntax.OpCharClass:
		if len(re.Rune) > 0 {
			b.WriteRune(re.Rune[0])
		}
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		b.WriteByte('a')
	case syntax.OpCapture, syntax.OpPlus:
		exampleOf(re.Sub[0], b)
	case syntax.OpRepeat:
		for i := 0; i < re.Min; i++ {
			exampleOf(re.Sub[0], b)
		}
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			exampleOf(sub, b)
		}
	case syntax.OpAlternate:
		exampleOf(re.Sub[0], b)
	}
}
