package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// dashboardSelections are the values that Grafana gives the dashboards'
// variables. "all" is how the dashboards open: every variable at All, whose
// value the generated dashboards set to .*. "one objective" selects one SLO
// and two controls, escaped as Grafana's Prometheus datasource escapes a
// regular expression inside a PromQL string. Interval variables get values
// for the test's 2-second scrape interval.
var dashboardSelections = map[string]map[string]string{
	"all": {
		"service": ".*", "slo": ".*", "control": ".*",
		"__range": "1h", "__rate_interval": "8s", "__interval": "2s",
	},
	"one objective": {
		"service": "security-posture", "slo": "log-coverage", "control": `(A\\.8\\.15|A\\.8\\.16)`,
		"__range": "1h", "__rate_interval": "8s", "__interval": "2s",
	},
}

var grafanaVariable = regexp.MustCompile(`\$\{?(\w+)\}?`)

// checkDashboardQueries runs every panel query of every dashboard in dir,
// and the selector of every label_values variable, through Prometheus's
// /api/v1/query under each of dashboardSelections, and fails on every query
// that Prometheus rejects.
func checkDashboardQueries(t *testing.T, prometheusURL, dir string) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Errorf("found %d dashboards in %s, want 3: %v", len(files), dir, files)
	}

	for _, file := range files {
		queries := dashboardQueries(t, file)
		if len(queries) < 10 {
			t.Errorf("%s has %d queries; the extraction misses panels", filepath.Base(file), len(queries))
		}
		for selection, values := range dashboardSelections {
			withData := 0
			for _, q := range queries {
				text, err := substituteGrafanaVariables(q.expr, values)
				if err != nil {
					t.Errorf("%s, %s: %v", filepath.Base(file), q.where, err)
					continue
				}
				result, err := queryPrometheus(context.Background(), prometheusURL, text)
				switch {
				case err != nil:
					t.Errorf("%s, %s, %s: %v", filepath.Base(file), q.where, selection, err)
				case result.Status != "success":
					t.Errorf("%s, %s, %s: Prometheus returned %s: %s\nquery: %s", filepath.Base(file), q.where, selection, result.ErrorType, result.Error, text)
				case len(result.Warnings) > 0:
					t.Errorf("%s, %s, %s: Prometheus warned %v\nquery: %s", filepath.Base(file), q.where, selection, result.Warnings, text)
				case !result.empty():
					withData++
				}
			}
			t.Logf("%s, %s: %d of %d queries return series", filepath.Base(file), selection, withData, len(queries))
			if withData == 0 {
				t.Errorf("%s, %s: no query returns a series; the example's data or the variable values do not reach the dashboard", filepath.Base(file), selection)
			}
		}
	}
}

// dashboardQuery is one PromQL query of a dashboard and where it is.
type dashboardQuery struct {
	where string
	expr  string
}

// dashboardQueries returns the queries of the panels, of the panels in
// rows, and the selectors of the label_values variables of a dashboard.
func dashboardQueries(t *testing.T, file string) []dashboardQuery {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string  `json:"title"`
		Panels  []panel `json:"panels"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	}
	var board struct {
		Panels     []panel `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &board); err != nil {
		t.Fatalf("%s: %v", file, err)
	}

	var queries []dashboardQuery
	var walk func([]panel)
	walk = func(panels []panel) {
		for _, p := range panels {
			for _, target := range p.Targets {
				if target.Expr != "" {
					queries = append(queries, dashboardQuery{where: fmt.Sprintf("panel %q query %s", p.Title, target.RefID), expr: target.Expr})
				}
			}
			walk(p.Panels)
		}
	}
	walk(board.Panels)

	for _, variable := range board.Templating.List {
		query, _ := variable.Query.(string)
		if selector, ok := strings.CutPrefix(query, "label_values("); ok {
			selector = selector[:strings.LastIndex(selector, ",")]
			queries = append(queries, dashboardQuery{where: "variable " + variable.Name, expr: selector})
		}
	}
	return queries
}

// substituteGrafanaVariables replaces every Grafana variable in query with
// its value and fails on a variable that values lacks.
func substituteGrafanaVariables(query string, values map[string]string) (string, error) {
	var unknown []string
	out := grafanaVariable.ReplaceAllStringFunc(query, func(match string) string {
		value, ok := values[grafanaVariable.FindStringSubmatch(match)[1]]
		if !ok {
			unknown = append(unknown, match)
		}
		return value
	})
	if len(unknown) > 0 {
		return "", fmt.Errorf("no value for the Grafana variables %v", unknown)
	}
	return out, nil
}
