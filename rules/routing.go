package rules

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/secslo/secslo/slo"
)

// Routing names the Alertmanager receivers of the generated routing. An
// empty name takes its default, DefaultPageReceiver or DefaultTicketReceiver.
type Routing struct {
	PageReceiver   string
	TicketReceiver string
}

// Default receiver names, used when the config names none.
const (
	DefaultPageReceiver   = "secslo-page"
	DefaultTicketReceiver = "secslo-ticket"
)

// Paths of the generated Alertmanager files inside the output folder.
const (
	AlertmanagerDir = "alertmanager"
	// RoutesFile contains the route sub-tree and the inhibit rule to merge
	// into an existing Alertmanager config.
	RoutesFile = AlertmanagerDir + "/routes.yml"
	// AlertmanagerFile is a complete example config built around the same
	// sub-tree, with placeholder receivers.
	AlertmanagerFile = AlertmanagerDir + "/alertmanager.yml"
)

// Notification timing of each tier. A page goes out quickly and repeats
// while the burn goes on. A ticket waits longer, so that a page of the same
// SLO that starts at about the same time inhibits it before it is sent, and
// it repeats once a day. Each repeat interval is longer than its group
// interval, as Alertmanager expects.
const (
	pageGroupWait        = "30s"
	pageGroupInterval    = "5m"
	pageRepeatInterval   = "4h"
	ticketGroupWait      = "5m"
	ticketGroupInterval  = "1h"
	ticketRepeatInterval = "24h"
)

// amRoute is one route of an Alertmanager routing tree, in the YAML form
// that Alertmanager 0.25 reads. Matchers use the matcher syntax, such as
// `secslo_tier="page"`, and not the older match and match_re maps.
type amRoute struct {
	Receiver       string    `yaml:"receiver,omitempty"`
	Matchers       []string  `yaml:"matchers,omitempty"`
	GroupBy        []string  `yaml:"group_by,omitempty"`
	GroupWait      string    `yaml:"group_wait,omitempty"`
	GroupInterval  string    `yaml:"group_interval,omitempty"`
	RepeatInterval string    `yaml:"repeat_interval,omitempty"`
	Routes         []amRoute `yaml:"routes,omitempty"`
}

// amInhibitRule mutes the alerts that match TargetMatchers while an alert
// that matches SourceMatchers fires with the same values of Equal.
type amInhibitRule struct {
	SourceMatchers []string `yaml:"source_matchers"`
	TargetMatchers []string `yaml:"target_matchers"`
	Equal          []string `yaml:"equal"`
}

// amReceiver is a receiver without integrations. Alertmanager accepts it
// and drops what it receives, so the example config is valid before the
// user adds a pager or ticket integration.
type amReceiver struct {
	Name string `yaml:"name"`
}

// amConfig is the part of an alertmanager.yml that the example fills.
type amConfig struct {
	Route        amRoute         `yaml:"route"`
	InhibitRules []amInhibitRule `yaml:"inhibit_rules"`
	Receivers    []amReceiver    `yaml:"receivers"`
}

// routesDocument is the content of RoutesFile. Its keys are named after the
// places in alertmanager.yml where their items go.
type routesDocument struct {
	Routes       []amRoute       `yaml:"routes"`
	InhibitRules []amInhibitRule `yaml:"inhibit_rules"`
}

// GenerateRouting returns RoutesFile and AlertmanagerFile for slos and the
// receivers in routing.
func GenerateRouting(slos []*slo.SLO, routing Routing) (map[string][]byte, error) {
	routing = routing.withDefaults()
	subtree := routingSubtree(routing)
	inhibit := tierInhibitRule(slos)

	routes, err := encodeRoutesFile(subtree, inhibit, routing)
	if err != nil {
		return nil, fmt.Errorf("failed to encode %s: %w", RoutesFile, err)
	}
	example, err := encodeExampleConfig(subtree, inhibit, routing)
	if err != nil {
		return nil, fmt.Errorf("failed to encode %s: %w", AlertmanagerFile, err)
	}
	return map[string][]byte{RoutesFile: routes, AlertmanagerFile: example}, nil
}

func (r Routing) withDefaults() Routing {
	if r.PageReceiver == "" {
		r.PageReceiver = DefaultPageReceiver
	}
	if r.TicketReceiver == "" {
		r.TicketReceiver = DefaultTicketReceiver
	}
	return r
}

// routingSubtree matches every secslo alert by its tier label and routes
// each tier to its receiver. It routes on the tier and not on severity,
// because specs may override severity but never the tier.
func routingSubtree(routing Routing) amRoute {
	return amRoute{
		Matchers: []string{matcher(slo.LabelTier, "=~", slo.TierPage+"|"+slo.TierTicket)},
		GroupBy:  []string{"alertname", slo.LabelService, slo.LabelSLO},
		Routes: []amRoute{
			{
				Receiver:       routing.PageReceiver,
				Matchers:       []string{matcher(slo.LabelTier, "=", slo.TierPage)},
				GroupWait:      pageGroupWait,
				GroupInterval:  pageGroupInterval,
				RepeatInterval: pageRepeatInterval,
			},
			{
				Receiver:       routing.TicketReceiver,
				Matchers:       []string{matcher(slo.LabelTier, "=", slo.TierTicket)},
				GroupWait:      ticketGroupWait,
				GroupInterval:  ticketGroupInterval,
				RepeatInterval: ticketRepeatInterval,
			},
		},
	}
}

// tierInhibitRule mutes the ticket alert of an SLO while its page alert
// fires. Besides service and slo, both alerts must agree on the group_by
// labels of every SLO, so that a page for one group of a grouped SLO does
// not mute the ticket of another group. Alertmanager treats a label that
// both alerts lack as equal, so SLOs without that label are not affected.
func tierInhibitRule(slos []*slo.SLO) amInhibitRule {
	equal := []string{slo.LabelService, slo.LabelSLO}
	var grouped []string
	for _, s := range slos {
		for _, label := range s.SLI.GroupBy {
			if !slices.Contains(equal, label) && !slices.Contains(grouped, label) {
				grouped = append(grouped, label)
			}
		}
	}
	slices.Sort(grouped)

	return amInhibitRule{
		SourceMatchers: []string{matcher(slo.LabelTier, "=", slo.TierPage)},
		TargetMatchers: []string{matcher(slo.LabelTier, "=", slo.TierTicket)},
		Equal:          append(equal, grouped...),
	}
}

// matcher formats one matcher in Alertmanager's matcher syntax, with the
// value in double quotes.
func matcher(label, op, value string) string {
	return label + op + `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(value) + `"`
}

func encodeRoutesFile(subtree amRoute, inhibit amInhibitRule, routing Routing) ([]byte, error) {
	header := fmt.Sprintf(`# Generated by secslo from the SLO specs. Do not edit: change the specs or the
# receiver names and run secslo generate.
#
# Merge this file into your Alertmanager config: add the route under routes
# to route.routes, ahead of any route that would also match secslo's alerts,
# and add the rule under inhibit_rules to inhibit_rules. The config must
# define the receivers %q and %q.
`, routing.PageReceiver, routing.TicketReceiver)

	data, err := marshalYAML(routesDocument{Routes: []amRoute{subtree}, InhibitRules: []amInhibitRule{inhibit}})
	if err != nil {
		return nil, err
	}
	return append([]byte(header), data...), nil
}

func encodeExampleConfig(subtree amRoute, inhibit amInhibitRule, routing Routing) ([]byte, error) {
	header := fmt.Sprintf(`# Generated by secslo from the SLO specs: an example Alertmanager config that
# routes secslo's alerts. Alerts that no route matches go to %q.
# Check it with: amtool check-config alertmanager.yml
`, routing.TicketReceiver)

	config := amConfig{
		Route:        amRoute{Receiver: routing.TicketReceiver, Routes: []amRoute{subtree}},
		InhibitRules: []amInhibitRule{inhibit},
		Receivers:    exampleReceivers(routing),
	}
	var doc yaml.Node
	if err := doc.Encode(config); err != nil {
		return nil, err
	}
	commentReceivers(&doc, routing)

	data, err := marshalYAML(&doc)
	if err != nil {
		return nil, err
	}
	return append([]byte(header), data...), nil
}

// exampleReceivers returns one receiver per distinct name, because
// Alertmanager rejects a config that defines a receiver twice.
func exampleReceivers(routing Routing) []amReceiver {
	receivers := []amReceiver{{Name: routing.PageReceiver}}
	if routing.TicketReceiver != routing.PageReceiver {
		receivers = append(receivers, amReceiver{Name: routing.TicketReceiver})
	}
	return receivers
}

// commentReceivers adds a head comment to each receiver of the encoded
// config, saying where its integration goes and how to keep secrets out of
// the file.
func commentReceivers(doc *yaml.Node, routing Routing) {
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value != "receivers" {
			continue
		}
		for _, receiver := range doc.Content[i+1].Content {
			receiver.HeadComment = receiverComment(receiverName(receiver), routing)
		}
	}
}

func receiverName(receiver *yaml.Node) string {
	for i := 0; i+1 < len(receiver.Content); i += 2 {
		if receiver.Content[i].Value == "name" {
			return receiver.Content[i+1].Value
		}
	}
	return ""
}

func receiverComment(name string, routing Routing) string {
	var first string
	switch {
	case name == routing.PageReceiver && name == routing.TicketReceiver:
		first = "Page and ticket alerts arrive here.\nAdd the integration that should receive both"
	case name == routing.PageReceiver:
		first = "Page alerts (fast burns that need someone now) arrive here.\nAdd your pager integration"
	default:
		first = "Ticket alerts (slow burns for the work queue) arrive here.\nAdd your ticket integration"
	}
	return first + `, such as pagerduty_configs or webhook_configs.
Keep secrets out of this file: read them from files, for example with
PagerDuty's routing_key_file or http_config.authorization.credentials_file.
Until an integration is added, Alertmanager accepts this receiver and
drops what it receives.`
}
