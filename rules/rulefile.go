// Package rules generates Prometheus recording and alerting rules, their
// promtool unit tests and Alertmanager routing from SLO models. It is a pure
// generator: it reads nothing and writes nothing but what it returns.
package rules

// RuleFile is a Prometheus rule file, in the field order that Prometheus
// documents, so that generated files read like hand-written ones.
type RuleFile struct {
	Groups []RuleGroup `yaml:"groups"`
}

// RuleGroup is one group of rules, evaluated in order: a recording rule
// sees the output of the rules before it in the same evaluation.
type RuleGroup struct {
	Name     string `yaml:"name"`
	Interval string `yaml:"interval,omitempty"`
	Rules    []Rule `yaml:"rules"`
}

// Rule is a recording rule (Record set) or an alerting rule (Alert set).
type Rule struct {
	Record      string            `yaml:"record,omitempty"`
	Alert       string            `yaml:"alert,omitempty"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}
