package slo

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	prometheustemplate "github.com/prometheus/prometheus/template"
)

// PromQL is the parser that checks every query in specs and generated rules.
var PromQL = parser.NewParser(parser.Options{})

// MaxPeriodDays is the longest SLO period accepted.
const MaxPeriodDays = 400

var (
	nameRE      = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)
	alertNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	periodRE    = regexp.MustCompile(`^([0-9]+)d$`)
)

// reservedLabels are set by secslo on recorded series and alerts; a spec
// that sets them would break routing, joins or dashboards.
var reservedLabels = []string{LabelService, LabelSLO, LabelTier, LabelAlertKind, LabelControls, model.AlertNameLabel, labels.MetricName}

// checkName returns a message when name cannot be used as a service or SLO
// name, which appear in rule group names, file names and label values.
func checkName(name, what string) string {
	switch {
	case name == "":
		return fmt.Sprintf("missing %s name; set a name such as \"log-coverage\"", what)
	case !nameRE.MatchString(name):
		return fmt.Sprintf("invalid %s name %q; use letters, digits, '.', '_' and '-', starting with a letter or digit", what, name)
	}
	return ""
}

func checkObjective(objective float64) string {
	if math.IsNaN(objective) || objective <= 0 || objective > 100 {
		return fmt.Sprintf("objective %v is outside (0, 100]; write it as a percentage, such as 99.9 or 95", objective)
	}
	return ""
}

// parsePeriod reads a period of whole days, from 1 to MaxPeriodDays.
func parsePeriod(s string) (time.Duration, string) {
	if s == "" {
		return DefaultPeriod, ""
	}
	m := periodRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Sprintf("invalid period %q; write a whole number of days, such as 30d or 28d", s)
	}
	days, err := strconv.Atoi(m[1])
	if err != nil || days < 1 || days > MaxPeriodDays {
		return 0, fmt.Sprintf("period %q is outside 1d to %dd", s, MaxPeriodDays)
	}
	return time.Duration(days) * 24 * time.Hour, ""
}

// checkControl returns a message when id is not an ISO/IEC 27001:2022
// Annex A control or clause.
func checkControl(id string) string {
	if _, ok := LookupControl(id); ok {
		return ""
	}
	if s := SuggestControl(id); s != "" {
		return fmt.Sprintf("unknown control id %q; did you mean %q?", id, s)
	}
	return fmt.Sprintf("unknown control id %q; use an ISO/IEC 27001:2022 Annex A id such as \"A.8.15\" or a clause such as \"9.1\"", id)
}

func checkLabelName(name string) string {
	if !model.LegacyValidation.IsValidLabelName(name) {
		return fmt.Sprintf("invalid label name %q; use letters, digits and '_', not starting with a digit", name)
	}
	if slices.Contains(reservedLabels, name) {
		return fmt.Sprintf("label %q is set by secslo and cannot be overridden; choose another name", name)
	}
	return ""
}

func checkAlertName(name string) string {
	if !alertNameRE.MatchString(name) {
		return fmt.Sprintf("invalid alert name %q; use letters, digits and '_', starting with a letter, such as LogCoverageBudgetBurn", name)
	}
	return ""
}

func checkRunbookURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Sprintf("invalid runbook URL %q; use an absolute http or https URL", s)
	}
	return ""
}

// alertTemplateDefs are the variables that Prometheus defines before it
// expands an alert's annotations.
const alertTemplateDefs = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"

// checkAlertTemplate returns a message when text does not parse as a
// Prometheus alert template.
func checkAlertTemplate(text string) string {
	expander := prometheustemplate.NewTemplateExpander(context.Background(), alertTemplateDefs+text, "annotation", nil, 0, nil, nil, nil)
	if err := expander.ParseTest(); err != nil {
		return fmt.Sprintf("invalid template: %v; see the Prometheus alerting template reference", err)
	}
	return ""
}

// checkSelector returns a message unless expr is a plain vector selector:
// a metric name with optional label matchers, no range, offset or @.
func checkSelector(expr string) string {
	parsed, err := PromQL.ParseExpr(expr)
	if err != nil {
		return fmt.Sprintf("invalid PromQL selector %q: %v", expr, err)
	}
	vs, ok := parsed.(*parser.VectorSelector)
	if !ok || vs.OriginalOffset != 0 || vs.Timestamp != nil || vs.StartOrEnd != 0 {
		return fmt.Sprintf("%q is not a plain selector; write a metric name with label matchers, such as http_requests_total{job=\"api\"}, and put functions in a custom SLI", expr)
	}
	return ""
}

// RenderWindow replaces the {{.window}} placeholder of a custom query with
// a Prometheus duration.
func RenderWindow(query, window string) (string, error) {
	tmpl, err := template.New("query").Option("missingkey=error").Parse(query)
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, map[string]string{"window": window}); err != nil {
		return "", err
	}
	return out.String(), nil
}

// checkWindowQuery returns a message unless query contains the window
// placeholder and, rendered, parses as PromQL that returns an instant vector.
func checkWindowQuery(query string) string {
	if strings.TrimSpace(query) == "" {
		return "missing query; write PromQL with a {{.window}} placeholder, such as sum(rate(errors_total[{{.window}}]))"
	}
	short, err := RenderWindow(query, "5m")
	if err != nil {
		return fmt.Sprintf("invalid template in query: %v; the only placeholder is {{.window}}", err)
	}
	long, _ := RenderWindow(query, "1h")
	if short == long {
		return "the query has no {{.window}} placeholder; write the range as [{{.window}}] so that each alert window can use it"
	}
	parsed, err := PromQL.ParseExpr(short)
	if err != nil {
		return fmt.Sprintf("invalid PromQL: %v", err)
	}
	if t := parsed.Type(); t != parser.ValueTypeVector && t != parser.ValueTypeScalar {
		return fmt.Sprintf("the query returns a %s; it must return an instant vector", t)
	}
	return ""
}

// validateSet reports problems that span files, such as two SLOs with the
// same name in one service.
func validateSet(slos []*SLO) Problems {
	var problems Problems
	seen := map[string]*SLO{}
	generated := map[string]*SLO{}
	for _, s := range slos {
		key := s.Service + "\x00" + s.Name
		if first, ok := seen[key]; ok {
			problems = append(problems, Problem{
				Position: s.Origin,
				Message: fmt.Sprintf("duplicate SLO name %q in service %q, first defined at %s:%d; rename one of them",
					s.Name, s.Service, first.Origin.File, first.Origin.Line),
			})
			continue
		}
		seen[key] = s

		// Rule groups and test files are named service-slo, so "a-b"/"c"
		// and "a"/"b-c" would share them, and so would "A" and "a" on a
		// case-insensitive file system.
		name := strings.ToLower(s.Service + "-" + s.Name)
		if first, ok := generated[name]; ok {
			problems = append(problems, Problem{
				Position: s.Origin,
				Message: fmt.Sprintf("SLO %q of service %q and SLO %q of service %q (%s:%d) would both generate the rule group and test file %q; rename one of them",
					s.Name, s.Service, first.Name, first.Service, first.Origin.File, first.Origin.Line, name),
			})
			continue
		}
		generated[name] = s
	}
	return problems
}
