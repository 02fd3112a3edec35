package rules

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/secslo/secslo/slo"
)

// requireAlertmanagerTool returns the path of amtool or
// prometheus-alertmanager, or skips the test when it is missing, unless
// SECSLO_REQUIRE_TOOLS=1 makes that a failure.
func requireAlertmanagerTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("SECSLO_REQUIRE_TOOLS") == "1" {
		t.Fatalf("%s not found on PATH and SECSLO_REQUIRE_TOOLS=1: install Debian's prometheus-alertmanager package", name)
	}
	t.Skipf("%s not found on PATH: install Debian's prometheus-alertmanager package to run this test", name)
	return ""
}

// runAmtool runs amtool with args and fails the test with its output when
// it exits non-zero. It returns the standard output.
func runAmtool(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command(requireAlertmanagerTool(t, "amtool"), args...)
	stdout, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if exitErr, ok := err.(*exec.ExitError); ok {
			stderr = exitErr.Stderr
		}
		t.Fatalf("amtool %v failed: %v\nstdout:\n%s\nstderr:\n%s", args, err, stdout, stderr)
	}
	return string(stdout)
}

// writeRoutingFiles writes the routing files of slos into a temporary
// folder and returns the path of each file by its name in the output.
func writeRoutingFiles(t testing.TB, slos []*slo.SLO, routing Routing) map[string]string {
	t.Helper()
	files, err := GenerateRouting(slos, routing)
	if err != nil {
		t.Fatalf("GenerateRouting: %v", err)
	}
	dir := t.TempDir()
	paths := map[string]string{}
	for rel, data := range files {
		path := filepath.Join(dir, filepath.Base(rel))
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths[rel] = path
	}
	return paths
}

// firingAlert is a generated alert with the labels that Prometheus sends
// to Alertmanager when it fires.
type firingAlert struct {
	name   string
	tier   string
	kind   string
	labels map[string]string
}

// firingAlerts returns every alert of s. Besides the rule's labels, a
// firing alert carries its name and the labels of the recorded series that
// its expression reads: service, slo, the spec's labels and a value for
// each group_by label.
func firingAlerts(s *slo.SLO) []firingAlert {
	var alerts []firingAlert
	for _, rule := range alertRules(s) {
		labels := map[string]string{
			"alertname":      rule.Alert,
			slo.LabelService: s.Service,
			slo.LabelSLO:     s.Name,
		}
		for _, label := range s.SLI.GroupBy {
			labels[label] = "eu-west-1"
		}
		maps.Copy(labels, s.Labels)
		maps.Copy(labels, rule.Labels)
		alerts = append(alerts, firingAlert{
			name:   rule.Alert,
			tier:   rule.Labels[slo.LabelTier],
			kind:   rule.Labels[slo.LabelAlertKind],
			labels: labels,
		})
	}
	return alerts
}

// matcherArgs returns labels as amtool arguments, one quoted matcher each,
// so that values with commas or spaces stay whole.
func matcherArgs(labels map[string]string) []string {
	var args []string
	for _, name := range slices.Sorted(maps.Keys(labels)) {
		args = append(args, matcher(name, "=", labels[name]))
	}
	return args
}

func TestExampleConfigPassesAmtool(t *testing.T) {
	for _, routing := range []Routing{{}, {PageReceiver: "oncall", TicketReceiver: "oncall"}} {
		paths := writeRoutingFiles(t, loadTestSpecs(t), routing)

		runAmtool(t, "check-config", paths[AlertmanagerFile])
	}
}

func TestAmtoolRoutesEveryAlertByTier(t *testing.T) {
	routing := Routing{PageReceiver: "pager", TicketReceiver: "jira"}
	config := writeRoutingFiles(t, loadTestSpecs(t), routing)[AlertmanagerFile]
	want := map[string]string{slo.TierPage: "pager", slo.TierTicket: "jira"}

	overridden := 0
	for _, s := range loadTestSpecs(t) {
		for _, alert := range firingAlerts(s) {
			if alert.labels[slo.LabelSeverity] != alert.tier {
				overridden++
			}
			t.Run(s.Service+" "+s.Name+" "+alert.tier+" "+alert.kind, func(t *testing.T) {
				args := []string{"config", "routes", "test", "--config.file=" + config, "--verify.receivers=" + want[alert.tier]}

				got := runAmtool(t, append(args, matcherArgs(alert.labels)...)...)

				if got != want[alert.tier]+"\n" {
					t.Errorf("amtool routed %v to %q, want %q", alert.labels, got, want[alert.tier])
				}
			})
		}
	}
	if overridden == 0 {
		t.Error("no test alert overrides severity, so routing on the tier label is not shown")
	}
}

// existingConfig is an Alertmanager config that a team already runs: a
// default receiver and a route that catches every alert of one team,
// including secslo's alerts of that team's SLOs.
const existingConfig = `route:
  receiver: team-default
  group_by: [alertname]
  routes:
    - receiver: payments-team
      matchers: ['team="payments"']
inhibit_rules:
  - source_matchers: ['alertname="DatacenterDown"']
    target_matchers: ['severity="warning"']
    equal: [datacenter]
receivers:
  - name: team-default
  - name: payments-team
`

// mergeRoutes merges a generated routes file into config by the steps in
// its header: the sub-tree goes ahead of the existing routes, the inhibit
// rule after the existing ones, and the receivers are added.
func mergeRoutes(t *testing.T, config string, routesFile string, receivers ...string) []byte {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(config), &doc); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(routesFile)
	if err != nil {
		t.Fatal(err)
	}
	var routes map[string][]any
	decodeStrict(t, RoutesFile, data, &routes)

	root := doc["route"].(map[string]any)
	root["routes"] = append(routes["routes"], root["routes"].([]any)...)
	doc["inhibit_rules"] = append(doc["inhibit_rules"].([]any), routes["inhibit_rules"]...)
	for _, name := range receivers {
		doc["receivers"] = append(doc["receivers"].([]any), map[string]any{"name": name})
	}

	merged, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return merged
}

func TestRoutesFileMergesIntoExistingConfig(t *testing.T) {
	slos := loadTestSpecs(t)
	routes := writeRoutingFiles(t, slos, Routing{PageReceiver: "pager", TicketReceiver: "jira"})[RoutesFile]
	merged := filepath.Join(t.TempDir(), "alertmanager.yml")
	if err := os.WriteFile(merged, mergeRoutes(t, existingConfig, routes, "pager", "jira"), 0o644); err != nil {
		t.Fatal(err)
	}

	runAmtool(t, "check-config", merged)

	// The payments SLOs carry team="payments", which the team's own route
	// also matches; the sub-tree comes first, so secslo's tiers still win.
	var page, ticket firingAlert
	for _, alert := range firingAlerts(slos[0]) {
		switch alert.tier {
		case slo.TierPage:
			page = alert
		case slo.TierTicket:
			ticket = alert
		}
	}
	cases := []struct {
		name   string
		labels map[string]string
		want   string
	}{
		{"page alert of the team reaches the pager", page.labels, "pager"},
		{"ticket alert of the team reaches jira", ticket.labels, "jira"},
		{"other alert of the team keeps its route", map[string]string{"alertname": "DiskFull", "team": "payments"}, "payments-team"},
		{"unmatched alert reaches the default", map[string]string{"alertname": "DiskFull"}, "team-default"},
	}
	if page.labels["team"] != "payments" {
		t.Fatalf("first test SLO has labels %v, want team=payments to overlap the team's route", page.labels)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"config", "routes", "test", "--config.file=" + merged, "--verify.receivers=" + tc.want}

			got := runAmtool(t, append(args, matcherArgs(tc.labels)...)...)

			if got != tc.want+"\n" {
				t.Errorf("amtool routed %v to %q, want %q", tc.labels, got, tc.want)
			}
		})
	}
}
