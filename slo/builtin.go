package slo

// BuiltinSLI is a security SLI that the secslo exporter computes from
// exports. A spec names it by ID and may override every default.
type BuiltinSLI struct {
	ID string
	// Kind is KindSnapshot for objects in or out of compliance now, and
	// KindEvents for events counted once each.
	Kind             Kind
	DefaultObjective float64 // percent
	DefaultControls  []string
	Description      string
}

// Built-in SLI ids, as they appear in specs and in the exporter's sli label.
const (
	SLILogCoverage        = "log_coverage"
	SLIDetectionTime      = "detection_time"
	SLIContainmentTime    = "containment_time"
	SLIPatchCompliance    = "patch_compliance"
	SLIPrivilegeDrift     = "privilege_drift"
	SLIVulnRemediation    = "vuln_remediation"
	SLIRestoreTests       = "restore_tests"
	SLIEvidenceAutomation = "evidence_automation"
	SLIFindingClosure     = "finding_closure"
	SLIAccessReviews      = "access_reviews"
)

var builtinSLIs = []BuiltinSLI{
	{SLILogCoverage, KindSnapshot, 98, []string{"A.8.15", "A.8.16"}, "critical assets whose logs reached central logging within the freshness window"},
	{SLIDetectionTime, KindEvents, 95, []string{"A.5.25", "A.8.16"}, "incidents detected within 15 minutes of the first event"},
	{SLIContainmentTime, KindEvents, 95, []string{"A.5.26"}, "incidents contained within 4 hours of detection"},
	{SLIPatchCompliance, KindSnapshot, 95, []string{"A.8.8"}, "critical hosts with no missing patch older than its SLA"},
	{SLIPrivilegeDrift, KindSnapshot, 97, []string{"A.5.15", "A.5.18", "A.8.2"}, "roles whose permissions stay within their baseline"},
	{SLIVulnRemediation, KindEvents, 95, []string{"A.8.8"}, "critical vulnerabilities fixed within 7 days"},
	{SLIRestoreTests, KindEvents, 100, []string{"A.8.13"}, "restore tests that succeed"},
	{SLIEvidenceAutomation, KindSnapshot, 80, []string{"9.1", "A.5.36"}, "controls whose evidence is collected automatically and is fresh"},
	{SLIFindingClosure, KindEvents, 90, []string{"10.2", "A.5.35"}, "audit findings closed within 90 days"},
	{SLIAccessReviews, KindEvents, 100, []string{"A.5.18"}, "access reviews completed by their due date"},
}

// LookupBuiltin returns the built-in SLI with the given id.
func LookupBuiltin(id string) (BuiltinSLI, bool) {
	for _, b := range builtinSLIs {
		if b.ID == id {
			return b, true
		}
	}
	return BuiltinSLI{}, false
}

// BuiltinSLIs returns every built-in SLI in a fixed order.
func BuiltinSLIs() []BuiltinSLI {
	return append([]BuiltinSLI(nil), builtinSLIs...)
}

// BuiltinIDs returns the ids of the built-in SLIs, for error messages.
func BuiltinIDs() []string {
	ids := make([]string, len(builtinSLIs))
	for i, b := range builtinSLIs {
		ids[i] = b.ID
	}
	return ids
}

// builtinSLI returns the SLI that reads the exporter's metrics for b. Both
// selectors filter on the sli label, and replicas are deduplicated.
func builtinSLI(b BuiltinSLI) SLI {
	bad, total := MetricBadEvents, MetricEvents
	if b.Kind == KindSnapshot {
		bad, total = MetricNoncompliantObjects, MetricObjects
	}
	matcher := `{` + LabelSLI + `="` + b.ID + `"}`
	return SLI{
		Kind:           b.Kind,
		Builtin:        b.ID,
		Bad:            bad + matcher,
		Total:          total + matcher,
		DedupeReplicas: true,
	}
}
