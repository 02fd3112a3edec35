package slo

import (
	"math/big"
	"strconv"
	"time"
)

// Kind is the shape of an SLI, which decides how its rules are built.
type Kind string

// SLI kinds.
const (
	// KindEvents counts good or bad events and all events with counters.
	KindEvents Kind = "events"
	// KindSnapshot counts objects in scope and objects out of compliance with
	// gauges; every object weighs by the time it spends out of compliance.
	KindSnapshot Kind = "snapshot"
	// KindThreshold reads a histogram: events above the bound are bad.
	KindThreshold Kind = "threshold"
	// KindCustom takes an error query and a total query with a {{.window}}
	// placeholder, as Sloth's events SLI does.
	KindCustom Kind = "custom"
	// KindRatio takes one query that returns the error ratio over
	// {{.window}}, as Sloth's raw SLI does.
	KindRatio Kind = "ratio"
)

// WindowPlaceholder is the template that custom queries must contain.
const WindowPlaceholder = "{{.window}}"

// Spec formats that secslo reads.
const (
	FormatV1    = "secslo/v1"
	FormatSloth = "prometheus/v1"
)

// NoDataPolicy says what happens when an SLO's SLI has no data at all.
type NoDataPolicy string

// No-data policies.
const (
	// NoDataTicket raises a ticket-tier alert when the SLI is absent for the
	// page tier's long window. It is the default.
	NoDataTicket NoDataPolicy = "ticket"
	// NoDataPage raises a page-tier alert after the same delay.
	NoDataPage NoDataPolicy = "page"
	// NoDataIgnore raises nothing: the SLO simply burns no budget.
	NoDataIgnore NoDataPolicy = "ignore"
)

// SLO is one objective in the internal model, whatever spec format it came from.
type SLO struct {
	Service     string
	Name        string
	Description string
	Owner       string
	// Objective is the target in percent, in (0, 100].
	Objective float64
	Period    time.Duration
	// Controls are ISO/IEC 27001:2022 ids, sorted in the order of the standard.
	Controls []string
	// Labels are added to every recorded series and alert of the SLO.
	Labels   map[string]string
	SLI      SLI
	Alerting Alerting
	NoData   NoDataPolicy
	// Format is the spec format the SLO was read from.
	Format string
	// Origin locates the SLO in its spec file.
	Origin Position
}

// SLI is the indicator of one SLO. Which fields are set depends on Kind.
type SLI struct {
	Kind Kind
	// Builtin is the id of a built-in security SLI, or empty.
	Builtin string
	// Bad, Good and Total are PromQL vector selectors. Events and snapshot
	// SLIs have Total and exactly one of Bad and Good.
	Bad, Good, Total string
	// Histogram is the selector of a classic histogram's base name, and
	// Bound the upper bound in seconds (or the histogram's unit) of a good event.
	Histogram string
	Bound     float64
	// ErrorQuery and TotalQuery contain WindowPlaceholder.
	ErrorQuery, TotalQuery string
	// ErrorRatioQuery contains WindowPlaceholder.
	ErrorRatioQuery string
	// GroupBy keeps these labels when the SLI is summed, giving one error
	// ratio per label set.
	GroupBy []string
	// DedupeReplicas drops ReplicaLabels with max() before summing, so that
	// exporter replicas scraped at once are counted once.
	DedupeReplicas bool
}

// Alerting configures the alerts of an SLO.
type Alerting struct {
	// Name is the alert name shared by the page and ticket alerts.
	Name        string
	Labels      map[string]string
	Annotations map[string]string
	RunbookURL  string
	Page        AlertTier
	Ticket      AlertTier
}

// AlertTier configures the page or ticket alert.
type AlertTier struct {
	Disabled    bool
	Labels      map[string]string
	Annotations map[string]string
}

// Position locates a value in a spec file. Line and Column are 1-based.
type Position struct {
	File   string
	Line   int
	Column int
	// Path is the field path, such as "slos[2].objective".
	Path string
}

// ZeroTolerance reports whether the objective is 100 %, where any bad event
// alerts and no burn-rate arithmetic applies.
func (s *SLO) ZeroTolerance() bool {
	return s.Objective >= 100
}

// ErrorBudget returns 1 - objective as a ratio, computed in decimal so that
// 99.9 gives exactly the float nearest to 0.001.
func (s *SLO) ErrorBudget() float64 {
	return errorBudget(s.Objective)
}

// ObjectiveRatio returns the objective as a ratio in (0, 1].
func (s *SLO) ObjectiveRatio() float64 {
	r := decimalRat(s.Objective)
	f, _ := r.Quo(r, big.NewRat(100, 1)).Float64()
	return f
}

func errorBudget(objectivePercent float64) float64 {
	r := decimalRat(objectivePercent)
	r.Sub(big.NewRat(100, 1), r)
	f, _ := r.Quo(r, big.NewRat(100, 1)).Float64()
	return f
}

// decimalRat returns the decimal number that the shortest formatting of f
// spells, so that 99.9 is read as 999/10 and not as its binary approximation.
func decimalRat(f float64) *big.Rat {
	r, ok := new(big.Rat).SetString(strconv.FormatFloat(f, 'f', -1, 64))
	if !ok {
		return new(big.Rat).SetFloat64(f)
	}
	return r
}
