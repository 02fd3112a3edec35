package dashboards

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"

	"github.com/secslo/secslo/rules"
	"github.com/secslo/secslo/slo"
)

// maxRange is the longest range or subquery that a query may read: 768 h,
// Grafana Mimir's default query-length limit.
const maxRange = 768 * time.Hour

// sampleValues replace Grafana's variables in queries before parsing, as
// Grafana would interpolate them. Multi-value variables become regular
// expressions, escaped as Grafana's Prometheus datasource escapes them.
var sampleValues = map[string]string{
	"service":         "(payments|fleet)",
	"slo":             "api-availability",
	"control":         `A\\.8\\.8|A\\.8\\.16`,
	"__range":         "1d",
	"__rate_interval": "1m",
	"__interval":      "30s",
}

var variableRE = regexp.MustCompile(`\$\{?(\w+)\}?`)

// substituteVariables replaces every Grafana variable in query with its
// sample value and fails on a variable that has none.
func substituteVariables(query string) (string, error) {
	var unknown []string
	out := variableRE.ReplaceAllStringFunc(query, func(match string) string {
		name := variableRE.FindStringSubmatch(match)[1]
		value, ok := sampleValues[name]
		if !ok {
			unknown = append(unknown, match)
		}
		return value
	})
	if len(unknown) > 0 {
		return "", fmt.Errorf("unknown Grafana variables %v", unknown)
	}
	return out, nil
}

// checkQuery parses query after substituting its variables and returns an
// error if it does not parse, reads a metric that allowed rejects, or reads
// a range or subquery longer than maxRange.
func checkQuery(query string, allowed func(name string) bool) error {
	text, err := substituteVariables(query)
	if err != nil {
		return err
	}
	expr, err := slo.PromQL.ParseExpr(text)
	if err != nil {
		return fmt.Errorf("does not parse: %w", err)
	}

	var problems []string
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		switch n := node.(type) {
		case *parser.VectorSelector:
			if name := metricName(n); !allowed(name) {
				problems = append(problems, fmt.Sprintf("reads metric %q, which secslo neither exports nor generates and no spec names", name))
			}
		case *parser.MatrixSelector:
			if n.Range > maxRange {
				problems = append(problems, fmt.Sprintf("reads a range of %s, longer than %s", n.Range, maxRange))
			}
		case *parser.SubqueryExpr:
			if n.Range > maxRange {
				problems = append(problems, fmt.Sprintf("reads a subquery of %s, longer than %s", n.Range, maxRange))
			}
		}
		return nil
	})
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

func metricName(vs *parser.VectorSelector) string {
	if vs.Name != "" {
		return vs.Name
	}
	for _, m := range vs.LabelMatchers {
		if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
			return m.Value
		}
	}
	return ""
}

// allowedMetrics accepts the exporter's metrics, every series that the
// generated rules record, ALERTS, Prometheus's rule metrics and every
// metric that the specs' selectors and queries name.
func allowedMetrics(t testing.TB, slos []*slo.SLO) func(string) bool {
	t.Helper()
	names := map[string]bool{"ALERTS": true}
	for _, name := range []string{
		slo.MetricObjects, slo.MetricNoncompliantObjects, slo.MetricEvents, slo.MetricBadEvents,
		slo.MetricEventDuration + "_bucket", slo.MetricEventDuration + "_count", slo.MetricEventDuration + "_sum",
		slo.MetricSourceUp, slo.MetricSourceLastSuccess, slo.MetricSourceRefreshDuration,
		slo.MetricSourceRecordsRead, slo.MetricSourceRecordsRejected, slo.MetricSourceRefreshes,
		slo.MetricSourceRefreshFailures, slo.MetricBuildInfo, slo.MetricConfigReloadSuccess,
		slo.MetricConfigReloadTime,
	} {
		names[name] = true
	}
	for _, name := range recordedNames(t, slos) {
		names[name] = true
	}
	for _, name := range specMetricNames(t, slos) {
		names[name] = true
	}

	return func(name string) bool {
		return names[name] || strings.HasPrefix(name, "prometheus_rule_")
	}
}

// recordedNames returns the name of every recording rule that rules.Generate
// writes for slos.
func recordedNames(t testing.TB, slos []*slo.SLO) []string {
	t.Helper()
	out, err := rules.Generate(slos, rules.Options{})
	if err != nil {
		t.Fatalf("rules.Generate: %v", err)
	}

	var names []string
	for path, data := range out.Files {
		var file rules.RuleFile
		if err := yaml.Unmarshal(data, &file); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, group := range file.Groups {
			for _, rule := range group.Rules {
				if rule.Record != "" {
					names = append(names, rule.Record)
				}
			}
		}
	}
	return names
}

// specMetricNames returns the metrics that the SLIs of slos read, with the
// _bucket, _count and _sum series of histograms.
func specMetricNames(t testing.TB, slos []*slo.SLO) []string {
	t.Helper()
	var names []string
	for _, s := range slos {
		sli := s.SLI
		for _, query := range []string{sli.Bad, sli.Good, sli.Total, sli.Histogram, sli.ErrorQuery, sli.TotalQuery, sli.ErrorRatioQuery} {
			if query == "" {
				continue
			}
			query = strings.ReplaceAll(query, slo.WindowPlaceholder, "5m")
			expr, err := slo.PromQL.ParseExpr(query)
			if err != nil {
				t.Fatalf("SLO %s: %v", s.Name, err)
			}
			for _, vs := range parser.ExtractSelectors(expr) {
				for _, m := range vs {
					if m.Name == labels.MetricName {
						names = append(names, m.Value, m.Value+"_bucket", m.Value+"_count", m.Value+"_sum")
					}
				}
			}
		}
	}
	return names
}

func TestQueriesParseAndReadKnownMetrics(t *testing.T) {
	slos := loadTestSpecs(t)
	allowed := allowedMetrics(t, slos)
	files := generateTestDashboards(t)

	for _, rel := range sortedFileNames(files) {
		queries := panelQueries(t, files[rel])
		if len(queries) < 10 {
			t.Errorf("%s has %d queries; the extraction misses panels", rel, len(queries))
		}
		for where, query := range queries {
			if err := checkQuery(query, allowed); err != nil {
				t.Errorf("%s, %s: %v\nquery: %s", rel, where, err, query)
			}
		}
	}
}

func TestQueriesReadEveryRecordedWindow(t *testing.T) {
	slos := loadTestSpecs(t)
	debug := generateTestDashboards(t)[FileName(UIDDebug)]

	var all strings.Builder
	for _, query := range panelQueries(t, debug) {
		all.WriteString(query + "\n")
	}
	for _, name := range recordedNames(t, slos) {
		if strings.HasPrefix(name, slo.RecordErrorRatioPrefix) && !strings.Contains(all.String(), name+"{") {
			t.Errorf("the debug dashboard does not show the recorded %s", name)
		}
	}
}

func TestCheckQueryRejects(t *testing.T) {
	allowed := func(name string) bool { return name == slo.RecordErrorRatioPeriod || name == slo.MetricSourceUp }
	tests := []struct {
		name  string
		query string
		want  string
	}{
		{"unknown metric", `node_cpu_seconds_total`, `reads metric "node_cpu_seconds_total"`},
		{"unknown metric inside a join", slo.MetricSourceUp + ` and on (source) up`, `reads metric "up"`},
		{"range over 768h", `avg_over_time(` + slo.MetricSourceUp + `[33d])`, "reads a range of 792h0m0s"},
		{"subquery over 768h", `max_over_time(` + slo.MetricSourceUp + `[800h:5m])`, "reads a subquery of 800h0m0s"},
		{"syntax error", `sum(` + slo.MetricSourceUp, "does not parse"},
		{"unknown variable", slo.MetricSourceUp + `{source=~"$team"}`, "unknown Grafana variables [$team]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkQuery(tt.query, allowed)
			if err == nil {
				t.Fatalf("checkQuery(%q) = nil, want an error containing %q", tt.query, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("checkQuery(%q) = %q, want it to contain %q", tt.query, err, tt.want)
			}
		})
	}
}

func TestCheckQueryAcceptsLimits(t *testing.T) {
	allowed := func(name string) bool { return name == slo.MetricSourceUp }
	for _, query := range []string{
		`avg_over_time(` + slo.MetricSourceUp + `[768h])`,
		`max_over_time(` + slo.MetricSourceUp + `[$__range:$__interval])`,
		slo.MetricSourceUp + `{source=~"$service"}`,
	} {
		if err := checkQuery(query, allowed); err != nil {
			t.Errorf("checkQuery(%q) = %v, want nil", query, err)
		}
	}
}
