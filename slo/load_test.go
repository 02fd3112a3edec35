package slo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readFixture(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestParseValidSpec(t *testing.T) {
	slos, problems := Parse("valid.yaml", []byte(readFixture(t, "valid.yaml")), LoadOptions{})
	if len(problems) > 0 {
		t.Fatalf("unexpected problems:\n%v", problems)
	}
	if len(slos) != 2 {
		t.Fatalf("got %d SLOs, want 2", len(slos))
	}

	coverage := slos[0]
	if coverage.Objective != 98 {
		t.Errorf("built-in objective: got %v, want the default 98", coverage.Objective)
	}
	if got := strings.Join(coverage.Controls, ","); got != "A.8.15,A.8.16" {
		t.Errorf("built-in controls: got %s, want A.8.15,A.8.16", got)
	}
	if coverage.Owner != "secops@example.com" {
		t.Errorf("owner: got %q, want the service owner", coverage.Owner)
	}
	if coverage.Labels["team"] != "security" {
		t.Errorf("labels: got %v, want team=security", coverage.Labels)
	}
	if coverage.NoData != NoDataTicket {
		t.Errorf("no-data policy: got %q, want the default %q", coverage.NoData, NoDataTicket)
	}
	if coverage.Alerting.Name != "LogCoverageBudgetBurn" {
		t.Errorf("alert name: got %q, want LogCoverageBudgetBurn", coverage.Alerting.Name)
	}

	api := slos[1]
	if api.Period != 28*24*time.Hour {
		t.Errorf("period: got %v, want 28d", api.Period)
	}
	if api.SLI.Kind != KindCustom {
		t.Errorf("kind: got %q, want custom", api.SLI.Kind)
	}
	if api.Origin.Line != 12 {
		t.Errorf("origin line: got %d, want 12", api.Origin.Line)
	}
}

func TestParseRejectsBadSpecs(t *testing.T) {
	valid := readFixture(t, "valid.yaml")
	tests := []struct {
		name string
		old  string // text of the valid fixture to replace
		new  string
		want string // the whole first problem
	}{
		{
			name: "malformed YAML names the line",
			old:  "  - name: api-errors\n", new: "  - name: api-errors\n   bad: [\n",
			want: "valid.yaml:13: invalid YAML: did not find expected '-' indicator",
		},
		{
			name: "unknown field names the path and the valid fields",
			old:  "    objective: 99.5", new: "    objectiv: 99.5",
			want: `valid.yaml:13:5: slos[1].objectiv: unknown field "objectiv" (did you mean "objective"?); valid fields here are alerting, controls, description, labels, name, no_data, objective, owner, period, sli`,
		},
		{
			name: "objective of zero is outside the range",
			old:  "objective: 99.5", new: "objective: 0",
			want: "valid.yaml:13:16: slos[1].objective: objective 0 is outside (0, 100]; write it as a percentage, such as 99.9 or 95",
		},
		{
			name: "objective above 100 is outside the range",
			old:  "objective: 99.5", new: "objective: 100.5",
			want: "valid.yaml:13:16: slos[1].objective: objective 100.5 is outside (0, 100]; write it as a percentage, such as 99.9 or 95",
		},
		{
			name: "objective that is not a number",
			old:  "objective: 99.5", new: "objective: high",
			want: `valid.yaml:13:16: slos[1].objective: expected a number, got "high"`,
		},
		{
			name: "unknown control id suggests the Annex A id",
			old:  "controls: [A.8.16]", new: "controls: [8.16]",
			want: `valid.yaml:15:16: slos[1].controls[0]: unknown control id "8.16"; did you mean "A.8.16"?`,
		},
		{
			name: "control id that is not in the standard",
			old:  "controls: [A.8.16]", new: "controls: [A.8.35]",
			want: `valid.yaml:15:16: slos[1].controls[0]: unknown control id "A.8.35"; use an ISO/IEC 27001:2022 Annex A id such as "A.8.15" or a clause such as "9.1"`,
		},
		{
			name: "query without the window placeholder",
			old:  `code=~"5.."}[{{.window}}]`, new: `code=~"5.."}[5m]`,
			want: "valid.yaml:18:22: slos[1].sli.custom.error_query: the query has no {{.window}} placeholder; write the range as [{{.window}}] so that each alert window can use it",
		},
		{
			name: "invalid PromQL",
			old:  `sum(rate(http_requests_total{job="api"}[{{.window}}]))`, new: `sum(rate(http_requests_total{job="api"}[{{.window}}])`,
			want: "valid.yaml:19:22: slos[1].sli.custom.total_query: invalid PromQL: 1:45: parse error: unclosed left parenthesis",
		},
		{
			name: "duplicate SLO name",
			old:  "name: api-errors", new: "name: log-coverage",
			want: `valid.yaml:12:5: slos[1]: duplicate SLO name "log-coverage" in service "identity", first defined at valid.yaml:7; rename one of them`,
		},
		{
			name: "period that is not whole days",
			old:  "period: 28d", new: "period: 36h",
			want: `valid.yaml:14:13: slos[1].period: invalid period "36h"; write a whole number of days, such as 30d or 28d`,
		},
		{
			name: "period longer than 400 days",
			old:  "period: 28d", new: "period: 401d",
			want: `valid.yaml:14:13: slos[1].period: period "401d" is outside 1d to 400d`,
		},
		{
			name: "reserved label",
			old:  "  team: security", new: "  severity: page\n  slo: x",
			want: `valid.yaml:6:8: labels.slo: label "slo" is set by secslo and cannot be overridden; choose another name`,
		},
		{
			name: "two SLI kinds at once",
			old:  "      builtin: log_coverage", new: "      builtin: log_coverage\n      snapshot: {total: a, bad: b}",
			want: "valid.yaml:9:7: slos[0].sli: an SLI needs exactly one of builtin, events, snapshot, threshold or custom; found builtin, snapshot",
		},
		{
			name: "unknown built-in SLI",
			old:  "builtin: log_coverage", new: "builtin: log_coverage_x",
			want: `valid.yaml:9:16: slos[0].sli.builtin: unknown built-in SLI "log_coverage_x"; use one of log_coverage, detection_time, containment_time, patch_compliance, privilege_drift, vuln_remediation, restore_tests, evidence_automation, finding_closure, access_reviews`,
		},
		{
			name: "missing version",
			old:  "version: secslo/v1\n", new: "",
			want: "valid.yaml:1:1: missing version; start the spec with version: secslo/v1 (or prometheus/v1 for Sloth specs)",
		},
		{
			name: "invalid runbook URL",
			old:  "https://runbooks.example.com/log-coverage", new: "runbooks/log-coverage",
			want: `valid.yaml:11:20: slos[0].alerting.runbook_url: invalid runbook URL "runbooks/log-coverage"; use an absolute http or https URL`,
		},
		{
			name: "template in an alert label",
			old:  "      runbook_url: https://runbooks.example.com/log-coverage", new: "      runbook_url: https://runbooks.example.com/log-coverage\n      labels: {value: \"{{ $value }}\"}",
			want: `valid.yaml:12:23: slos[0].alerting.labels.value: label "value" contains a template; alert labels identify the alert and must be fixed text, so put templates in annotations`,
		},
		{
			name: "broken annotation template",
			old:  "      runbook_url: https://runbooks.example.com/log-coverage", new: "      runbook_url: https://runbooks.example.com/log-coverage\n      annotations: {hint: \"{{ .Foo\"}",
			want: `valid.yaml:12:27: slos[0].alerting.annotations.hint: invalid template: template: annotation:1: unclosed action; see the Prometheus alerting template reference`,
		},
		{
			name: "invalid no-data policy",
			old:  "    sli:\n      builtin", new: "    no_data: {policy: silent}\n    sli:\n      builtin",
			want: `valid.yaml:8:23: slos[0].no_data.policy: invalid no-data policy "silent"; use "ticket", "page" or "ignore"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(valid, tt.old) {
				t.Fatalf("fixture does not contain %q", tt.old)
			}
			spec := strings.Replace(valid, tt.old, tt.new, 1)

			_, problems := Parse("valid.yaml", []byte(spec), LoadOptions{})
			problems = append(problems, validateSet(mustParseAll(spec))...)

			if len(problems) == 0 {
				t.Fatalf("got no problem, want %q", tt.want)
			}
			if got := problems[0].String(); got != tt.want {
				t.Errorf("first problem:\ngot  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// mustParseAll returns the SLOs of spec that parse, for set-level checks.
func mustParseAll(spec string) []*SLO {
	slos, _ := Parse("valid.yaml", []byte(spec), LoadOptions{})
	return slos
}

func TestParseReportsEveryProblem(t *testing.T) {
	spec := strings.NewReplacer("objective: 99.5", "objective: 0", "controls: [A.8.16]", "controls: [X.1]", "period: 28d", "period: 1y").
		Replace(readFixture(t, "valid.yaml"))

	_, problems := Parse("valid.yaml", []byte(spec), LoadOptions{})

	if len(problems) != 3 {
		t.Fatalf("got %d problems, want 3 (objective, period, controls):\n%v", len(problems), problems)
	}
}

func TestLoadFindsDuplicateNamesAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	spec := readFixture(t, "valid.yaml")
	for _, name := range []string{"a.yaml", "b.yml"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(spec), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	_, problems := Load([]string{dir}, LoadOptions{})

	if len(problems) != 2 {
		t.Fatalf("got %d problems, want 2 duplicates:\n%v", len(problems), problems)
	}
	if !strings.Contains(problems[0].String(), "b.yml:7:5: slos[0]: duplicate SLO name \"log-coverage\"") {
		t.Errorf("got %s, want the duplicate located in b.yml", problems[0])
	}
}

func TestLoadReportsMissingPath(t *testing.T) {
	_, problems := Load([]string{"testdata/absent.yaml"}, LoadOptions{})

	if len(problems) != 1 || !strings.Contains(problems[0].Message, "spec path not found") {
		t.Fatalf("got %v, want one 'spec path not found' problem", problems)
	}
}

func TestLoadRejectsCollidingGeneratedNames(t *testing.T) {
	dir := t.TempDir()
	specs := map[string]string{
		"a.yaml": "version: secslo/v1\nservice: a-b\nslos:\n  - name: c\n    objective: 99\n    controls: [A.8.16]\n    sli: {events: {bad: e_total, total: r_total}}\n",
		"b.yaml": "version: secslo/v1\nservice: a\nslos:\n  - name: b-c\n    objective: 99\n    controls: [A.8.16]\n    sli: {events: {bad: e_total, total: r_total}}\n",
	}
	for name, content := range specs {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	_, problems := Load([]string{dir}, LoadOptions{})

	if len(problems) != 1 || !strings.Contains(problems[0].Message, `would both generate the rule group and test file "a-b-c"`) {
		t.Fatalf("got %v, want one collision problem", problems)
	}
}

func TestParseReportsProblemsBesideUnknownFields(t *testing.T) {
	spec := strings.NewReplacer("    objective: 99.5", "    objectiv: 99.5", "builtin: log_coverage", "builtin: nope").
		Replace(readFixture(t, "valid.yaml"))

	_, problems := Parse("valid.yaml", []byte(spec), LoadOptions{})

	text := problems.Error()
	if !strings.Contains(text, `unknown field "objectiv"`) || !strings.Contains(text, `unknown built-in SLI "nope"`) {
		t.Errorf("got %v, want both the unknown field and the unknown built-in", problems)
	}
	if strings.Contains(text, "slos[1].objective: missing objective") {
		t.Errorf("got %v, want no second problem for the SLO with the misspelt field", problems)
	}
}
