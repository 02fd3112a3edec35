package rules

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"go.yaml.in/yaml/v3"

	"github.com/secslo/secslo/slo"
)

// decodeStrict decodes data into v and fails on any key that v lacks, so
// that a receiver with an integration, or a misspelt key, fails the test.
func decodeStrict(t testing.TB, name string, data []byte, v any) {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s does not decode: %v\n%s", name, err, data)
	}
}

// generateRouting returns the decoded example config and routes file.
func generateRouting(t testing.TB, slos []*slo.SLO, routing Routing) (amConfig, routesDocument) {
	t.Helper()
	files, err := GenerateRouting(slos, routing)
	if err != nil {
		t.Fatalf("GenerateRouting: %v", err)
	}
	var config amConfig
	decodeStrict(t, AlertmanagerFile, files[AlertmanagerFile], &config)
	var routes routesDocument
	decodeStrict(t, RoutesFile, files[RoutesFile], &routes)
	return config, routes
}

func receiverNames(config amConfig) []string {
	var names []string
	for _, r := range config.Receivers {
		names = append(names, r.Name)
	}
	return names
}

func TestRoutingReceivers(t *testing.T) {
	cases := []struct {
		name          string
		routing       Routing
		wantPage      string
		wantTicket    string
		wantReceivers []string
	}{
		{
			name:          "empty names take the defaults",
			routing:       Routing{},
			wantPage:      DefaultPageReceiver,
			wantTicket:    DefaultTicketReceiver,
			wantReceivers: []string{DefaultPageReceiver, DefaultTicketReceiver},
		},
		{
			name:          "configured names are used",
			routing:       Routing{PageReceiver: "pager", TicketReceiver: "jira"},
			wantPage:      "pager",
			wantTicket:    "jira",
			wantReceivers: []string{"pager", "jira"},
		},
		{
			name:          "one empty name takes its default",
			routing:       Routing{TicketReceiver: "jira"},
			wantPage:      DefaultPageReceiver,
			wantTicket:    "jira",
			wantReceivers: []string{DefaultPageReceiver, "jira"},
		},
		{
			name:          "a shared name is defined once",
			routing:       Routing{PageReceiver: "oncall", TicketReceiver: "oncall"},
			wantPage:      "oncall",
			wantTicket:    "oncall",
			wantReceivers: []string{"oncall"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			config, _ := generateRouting(t, loadTestSpecs(t), tc.routing)

			tiers := config.Route.Routes[0].Routes
			if len(tiers) != 2 {
				t.Fatalf("got %d tier routes, want 2", len(tiers))
			}
			if tiers[0].Receiver != tc.wantPage {
				t.Errorf("page route receiver %q, want %q", tiers[0].Receiver, tc.wantPage)
			}
			if tiers[1].Receiver != tc.wantTicket {
				t.Errorf("ticket route receiver %q, want %q", tiers[1].Receiver, tc.wantTicket)
			}
			if got := receiverNames(config); !slices.Equal(got, tc.wantReceivers) {
				t.Errorf("receivers %v, want %v", got, tc.wantReceivers)
			}
			if config.Route.Receiver != tc.wantTicket {
				t.Errorf("root receiver %q, want the ticket receiver %q", config.Route.Receiver, tc.wantTicket)
			}
		})
	}
}

func TestRoutingTreeRoutesOnTier(t *testing.T) {
	config, _ := generateRouting(t, loadTestSpecs(t), Routing{})
	subtree := config.Route.Routes[0]

	if want := []string{`secslo_tier=~"page|ticket"`}; !slices.Equal(subtree.Matchers, want) {
		t.Errorf("sub-tree matchers %v, want %v", subtree.Matchers, want)
	}
	if want := []string{"alertname", "service", "slo"}; !slices.Equal(subtree.GroupBy, want) {
		t.Errorf("sub-tree group_by %v, want %v", subtree.GroupBy, want)
	}
	if want := []string{`secslo_tier="page"`}; !slices.Equal(subtree.Routes[0].Matchers, want) {
		t.Errorf("page route matchers %v, want %v", subtree.Routes[0].Matchers, want)
	}
	if want := []string{`secslo_tier="ticket"`}; !slices.Equal(subtree.Routes[1].Matchers, want) {
		t.Errorf("ticket route matchers %v, want %v", subtree.Routes[1].Matchers, want)
	}
}

func TestTicketTimingIsSlowerThanPage(t *testing.T) {
	config, _ := generateRouting(t, loadTestSpecs(t), Routing{})
	page, ticket := config.Route.Routes[0].Routes[0], config.Route.Routes[0].Routes[1]

	for _, c := range []struct {
		name         string
		page, ticket string
	}{
		{"group_wait", page.GroupWait, ticket.GroupWait},
		{"group_interval", page.GroupInterval, ticket.GroupInterval},
		{"repeat_interval", page.RepeatInterval, ticket.RepeatInterval},
	} {
		pageDuration, ticketDuration := parseDuration(t, c.page), parseDuration(t, c.ticket)
		if ticketDuration <= pageDuration {
			t.Errorf("ticket %s %s is not longer than page %s %s", c.name, c.ticket, c.name, c.page)
		}
	}
	for _, route := range []amRoute{page, ticket} {
		if parseDuration(t, route.RepeatInterval) <= parseDuration(t, route.GroupInterval) {
			t.Errorf("route %v: repeat_interval %s is not longer than group_interval %s", route.Matchers, route.RepeatInterval, route.GroupInterval)
		}
	}
}

func TestInhibitRuleMutesTicketWhilePageFires(t *testing.T) {
	cases := []struct {
		name      string
		spec      string
		wantEqual []string
	}{
		{
			name:      "ungrouped SLOs compare service and slo",
			spec:      routingSpec(""),
			wantEqual: []string{"service", "slo"},
		},
		{
			name:      "grouped SLOs also compare their group labels",
			spec:      routingSpec("group_by: [region, cluster]"),
			wantEqual: []string{"service", "slo", "cluster", "region"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			config, _ := generateRouting(t, parseSpec(t, tc.spec), Routing{})

			if len(config.InhibitRules) != 1 {
				t.Fatalf("got %d inhibit rules, want 1", len(config.InhibitRules))
			}
			rule := config.InhibitRules[0]
			if want := []string{`secslo_tier="page"`}; !slices.Equal(rule.SourceMatchers, want) {
				t.Errorf("source_matchers %v, want %v", rule.SourceMatchers, want)
			}
			if want := []string{`secslo_tier="ticket"`}; !slices.Equal(rule.TargetMatchers, want) {
				t.Errorf("target_matchers %v, want %v", rule.TargetMatchers, want)
			}
			if !slices.Equal(rule.Equal, tc.wantEqual) {
				t.Errorf("equal %v, want %v", rule.Equal, tc.wantEqual)
			}
		})
	}
}

// routingSpec returns a valid spec with two SLOs; groupBy, if set, is a
// group_by line added to the SLI of the first.
func routingSpec(groupBy string) string {
	return `version: secslo/v1
service: fleet
slos:
  - name: hosts-patched
    objective: 95
    controls: [A.8.8]
    sli:
      snapshot:
        bad: hosts_unpatched
        total: hosts
        ` + groupBy + `
  - name: hosts-logging
    objective: 95
    controls: [A.8.15]
    sli:
      snapshot:
        bad: hosts_silent
        total: hosts
`
}

func TestRoutesFileMatchesExample(t *testing.T) {
	config, routes := generateRouting(t, loadTestSpecs(t), Routing{PageReceiver: "pager", TicketReceiver: "jira"})

	if len(routes.Routes) != 1 {
		t.Fatalf("routes file has %d routes, want the one sub-tree", len(routes.Routes))
	}
	gotRoutes, _ := yaml.Marshal(routes.Routes[0])
	wantRoutes, _ := yaml.Marshal(config.Route.Routes[0])
	if !bytes.Equal(gotRoutes, wantRoutes) {
		t.Errorf("routes file sub-tree:\n%s\ndiffers from the example's:\n%s", gotRoutes, wantRoutes)
	}
	gotInhibit, _ := yaml.Marshal(routes.InhibitRules)
	wantInhibit, _ := yaml.Marshal(config.InhibitRules)
	if !bytes.Equal(gotInhibit, wantInhibit) {
		t.Errorf("routes file inhibit rules:\n%s\ndiffer from the example's:\n%s", gotInhibit, wantInhibit)
	}
}

func TestRoutingFilesTellWhereReceiversGo(t *testing.T) {
	files, err := GenerateRouting(loadTestSpecs(t), Routing{PageReceiver: "pager", TicketReceiver: "jira"})
	if err != nil {
		t.Fatal(err)
	}

	routes := string(files[RoutesFile])
	for _, want := range []string{`define the receivers "pager" and "jira"`, "route.routes", "inhibit_rules"} {
		if !strings.Contains(routes, want) {
			t.Errorf("%s header lacks %q:\n%s", RoutesFile, want, routes)
		}
	}
	example := string(files[AlertmanagerFile])
	for _, want := range []string{"# Add your pager integration", "# Add your ticket integration", "routing_key_file"} {
		if !strings.Contains(example, want) {
			t.Errorf("%s lacks the receiver comment %q:\n%s", AlertmanagerFile, want, example)
		}
	}
}

func TestMatcherQuotesValue(t *testing.T) {
	cases := []struct {
		name  string
		value string
		want  string
	}{
		{"plain value is quoted", "page", `secslo_tier="page"`},
		{"double quote is escaped", `a"b`, `secslo_tier="a\"b"`},
		{"backslash is escaped", `a\b`, `secslo_tier="a\\b"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := matcher(slo.LabelTier, "=", tc.value); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func parseDuration(t testing.TB, s string) time.Duration {
	t.Helper()
	d, err := model.ParseDuration(s)
	if err != nil {
		t.Fatalf("invalid duration %q: %v", s, err)
	}
	return time.Duration(d)
}
