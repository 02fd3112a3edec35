package sources

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// oscalDefaultFreshness is the maximum age of an observation that counts as
// fresh evidence. A monthly continuous-monitoring cycle passes.
const oscalDefaultFreshness = model.Duration(31 * 24 * time.Hour)

// oscalMaxReasons caps the per-finding reasons joined into one control's reason.
const oscalMaxReasons = 3

// OSCAL observation methods. Only TEST is performed by a tool; EXAMINE and
// INTERVIEW are done by a person, and UNKNOWN cannot count as automated.
var oscalMethods = map[string]bool{"TEST": true, "EXAMINE": false, "INTERVIEW": false, "UNKNOWN": false}

// oscalTargetTypes are the target types of an OSCAL finding: the part of a
// control that the finding assesses.
var oscalTargetTypes = map[string]bool{"objective-id": true, "statement-id": true}

// oscalStates are the values of a finding's target.status.state.
var oscalStates = map[string]bool{"satisfied": true, "not-satisfied": true}

// oscalOptions are the options of an oscal_assessment source.
type oscalOptions struct {
	// Freshness is the maximum age of an observation's collected time.
	Freshness model.Duration `yaml:"freshness"`
	// AnnexAMapping maps a control id of the assessed catalog, such as the
	// NIST SP 800-53 id ac-2, to Annex A ids. When set, the objects are
	// Annex A controls; when empty, the objects are the assessed controls.
	AnnexAMapping map[string][]string `yaml:"annex_a_mapping"`
}

// oscalAssessment reads NIST OSCAL assessment-results JSON and computes
// evidence_automation.
type oscalAssessment struct {
	name   string
	paths  []string
	opts   oscalOptions
	logger *slog.Logger
	// now returns the refresh time against which freshness is measured.
	now func() time.Time
}

// NewOSCALAssessment builds an oscal_assessment source. The objects are the
// controls that the findings target (target-id "ac-6.1_obj" is control
// ac-6.1), or, with options.annex_a_mapping, the Annex A controls those map
// to. A control is good when at least one finding on it relates to an
// observation whose methods include TEST, collected within options.freshness
// of the wall clock at refresh and not past its expires time. The finding's
// satisfied or not-satisfied state does not matter, because it tells whether
// the control works, not how its evidence was gathered.
func NewOSCALAssessment(cfg Config, logger *slog.Logger) (Source, error) {
	opts := oscalOptions{Freshness: oscalDefaultFreshness}
	if err := DecodeOptions(cfg, &opts); err != nil {
		return nil, err
	}
	if err := checkEvidenceInputs(cfg, "OSCAL assessment-results JSON file"); err != nil {
		return nil, err
	}

	if opts.Freshness <= 0 {
		return nil, fmt.Errorf("source %q: invalid options.freshness %s; use a positive duration such as 31d", cfg.Name, opts.Freshness)
	}
	mapping, err := normalizeOSCALMapping(opts.AnnexAMapping)
	if err != nil {
		return nil, fmt.Errorf("source %q: %w", cfg.Name, err)
	}
	opts.AnnexAMapping = mapping

	return &oscalAssessment{name: cfg.Name, paths: cfg.Paths, opts: opts, logger: logger, now: time.Now}, nil
}

// normalizeOSCALMapping lower-cases the assessed control ids and checks that
// every target is an Annex A control.
func normalizeOSCALMapping(mapping map[string][]string) (map[string][]string, error) {
	out := make(map[string][]string, len(mapping))
	for _, key := range registerKeyList(oscalMappingKeys(mapping)) {
		id := strings.ToLower(strings.TrimSpace(key))
		if _, dup := out[id]; dup {
			return nil, fmt.Errorf("options.annex_a_mapping lists %q twice in different case; keep one key", id)
		}
		if len(mapping[key]) == 0 {
			return nil, fmt.Errorf("options.annex_a_mapping.%s is empty; list at least one Annex A id", key)
		}
		for _, annex := range mapping[key] {
			if err := checkAnnexAControl(annex); err != nil {
				return nil, fmt.Errorf("options.annex_a_mapping.%s: %w", key, err)
			}
		}
		out[id] = mapping[key]
	}
	return out, nil
}

func oscalMappingKeys(mapping map[string][]string) map[string]bool {
	keys := make(map[string]bool, len(mapping))
	for k := range mapping {
		keys[k] = true
	}
	return keys
}

// oscalObservation holds the fields of an OSCAL observation that secslo uses.
type oscalObservation struct {
	UUID      string   `json:"uuid"`
	Methods   []string `json:"methods"`
	Collected string   `json:"collected"`
	Expires   string   `json:"expires"`
}

// oscalFinding holds the fields of an OSCAL finding that secslo uses.
type oscalFinding struct {
	UUID   string `json:"uuid"`
	Target struct {
		Type     string `json:"type"`
		TargetID string `json:"target-id"`
		Status   struct {
			State string `json:"state"`
		} `json:"status"`
	} `json:"target"`
	RelatedObservations []struct {
		ObservationUUID string `json:"observation-uuid"`
	} `json:"related-observations"`
}

// oscalEvidence is a checked observation.
type oscalEvidence struct {
	automated bool
	methods   []string
	collected time.Time
	expires   time.Time
}

// oscalRecord is a finding or an observation with its byte offset.
type oscalRecord struct {
	raw   json.RawMessage
	start int64
}

// oscalDocument is the content of one assessment-results file that secslo uses.
type oscalDocument struct {
	observations []oscalRecord
	findings     []oscalRecord
	results      int
}

// oscalControl gathers the findings of one object in scope.
type oscalControl struct {
	evidenced bool
	reasons   []string
}

// Refresh reads every file and evaluates each targeted control.
func (o *oscalAssessment) Refresh(ctx context.Context) (*Result, error) {
	now := o.now().UTC()
	controls := map[string]*oscalControl{}
	read, rejected := 0, 0

	for _, path := range o.paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		doc, err := readOSCALDocument(path)
		if err != nil {
			return nil, err
		}
		fileRejected, err := o.evaluateDocument(path, doc, controls, now)
		if err != nil {
			return nil, err
		}
		read += len(doc.observations) + len(doc.findings)
		rejected += fileRejected
	}

	if len(controls) == 0 {
		return nil, fmt.Errorf("source %q: no finding targets a control, so no control is in scope; OSCAL findings with target.target-id are required", o.name)
	}
	objects := make([]evidenceObject, 0, len(controls))
	for id, ctrl := range controls {
		objects = append(objects, evidenceObject{id: id, reason: ctrl.reason()})
	}
	return buildEvidenceResult(objects, read, rejected), nil
}

func (c *oscalControl) reason() string {
	if c.evidenced {
		return ""
	}
	sort.Strings(c.reasons)
	if len(c.reasons) <= oscalMaxReasons {
		return strings.Join(c.reasons, "; ")
	}
	return fmt.Sprintf("%s; and %d more findings", strings.Join(c.reasons[:oscalMaxReasons], "; "), len(c.reasons)-oscalMaxReasons)
}

// readOSCALDocument reads the observations and findings of every result in
// an assessment-results document. Invalid JSON, a wrong container type or a
// document that is not assessment results fails the file.
func readOSCALDocument(path string) (*oscalDocument, error) {
	reader, closer, err := openEvidenceFile(path)
	if err != nil {
		return nil, err
	}
	defer closer.Close()

	walker := newEvidenceJSONWalker(path, reader)
	doc := &oscalDocument{}
	found := false
	collect := func(list *[]oscalRecord) func() error {
		return func() error {
			raw, start, err := walker.raw()
			*list = append(*list, oscalRecord{raw: raw, start: start})
			return err
		}
	}
	result := func() error {
		doc.results++
		return walker.object("an entry of results", map[string]func() error{
			"observations": func() error { return walker.array("observations", collect(&doc.observations)) },
			"findings":     func() error { return walker.array("findings", collect(&doc.findings)) },
		})
	}

	err = walker.object("the document", map[string]func() error{
		"assessment-results": func() error {
			found = true
			return walker.object("assessment-results", map[string]func() error{
				"results": func() error { return walker.array("results", result) },
			})
		},
	})
	if err == nil {
		err = walker.end()
	}
	if err != nil {
		return nil, err
	}

	if !found || doc.results == 0 {
		return nil, &InputError{File: path, Err: errors.New("no assessment-results with results; is this an OSCAL assessment-results document (not a plan or a POA&M)?")}
	}
	return doc, nil
}

// evaluateDocument checks the observations and findings of one file and
// adds the findings to controls. It returns the number of rejected records,
// or an error when every record was rejected.
func (o *oscalAssessment) evaluateDocument(path string, doc *oscalDocument, controls map[string]*oscalControl, now time.Time) (int, error) {
	rejects := newEvidenceRejectLog(o.logger, o.name, path)
	evidence := o.checkObservations(doc.observations, rejects)

	duplicates := oscalDuplicateFindings(doc.findings)
	for _, rec := range doc.findings {
		o.addFinding(rec, duplicates, evidence, controls, rejects, now)
	}

	rejects.flush()
	if err := rejects.allRejected(len(doc.observations)+len(doc.findings), "observations and findings"); err != nil {
		return 0, err
	}
	return rejects.count, nil
}

// checkObservations returns the valid observations by uuid. A uuid used by
// more than one observation maps to nil, so a finding that relates to it
// gets no evidence from it: secslo does not guess which one is meant.
func (o *oscalAssessment) checkObservations(records []oscalRecord, rejects *evidenceRejectLog) map[string]*oscalEvidence {
	evidence := map[string]*oscalEvidence{}
	count := map[string]int{}
	for _, rec := range records {
		var obs oscalObservation
		if json.Unmarshal(rec.raw, &obs) == nil {
			count[obs.UUID]++
		}
	}

	for _, rec := range records {
		obs, ev, err := parseOSCALObservation(rec)
		switch {
		case err != nil:
			rejects.addAt(rec.start, err)
			if obs.UUID != "" {
				evidence[obs.UUID] = nil
			}
		case count[obs.UUID] > 1:
			rejects.addAt(rec.start, fmt.Errorf("observation uuid %s is used %d times; give each observation its own uuid", obs.UUID, count[obs.UUID]))
			evidence[obs.UUID] = nil
		default:
			evidence[obs.UUID] = ev
		}
	}
	return evidence
}

// parseOSCALObservation checks one observation. The returned observation
// carries the uuid even when another field is invalid.
func parseOSCALObservation(rec oscalRecord) (oscalObservation, *oscalEvidence, error) {
	var obs oscalObservation
	if err := json.Unmarshal(rec.raw, &obs); err != nil {
		_, err = evidenceRecordError(rec.start, err)
		return oscalObservation{}, nil, fmt.Errorf("observation: %w", err)
	}
	if obs.UUID == "" {
		return obs, nil, errors.New("observation without uuid; findings refer to observations by uuid")
	}
	if len(obs.Methods) == 0 {
		return obs, nil, fmt.Errorf("observation %s has no methods; list TEST, EXAMINE, INTERVIEW or UNKNOWN", obs.UUID)
	}

	ev := &oscalEvidence{methods: obs.Methods}
	for _, method := range obs.Methods {
		automated, known := oscalMethods[method]
		if !known {
			return obs, nil, fmt.Errorf("observation %s has unknown method %q; OSCAL allows TEST, EXAMINE, INTERVIEW and UNKNOWN", obs.UUID, method)
		}
		ev.automated = ev.automated || automated
	}

	collected, err := ParseTimestamp(obs.Collected)
	if err != nil {
		return obs, nil, fmt.Errorf("observation %s: invalid collected: %w", obs.UUID, err)
	}
	ev.collected = collected
	if obs.Expires != "" {
		if ev.expires, err = ParseTimestamp(obs.Expires); err != nil {
			return obs, nil, fmt.Errorf("observation %s: invalid expires: %w", obs.UUID, err)
		}
	}
	return obs, ev, nil
}

// oscalDuplicateFindings returns the finding uuids used more than once.
func oscalDuplicateFindings(records []oscalRecord) map[string]int {
	count := map[string]int{}
	for _, rec := range records {
		var finding oscalFinding
		if json.Unmarshal(rec.raw, &finding) == nil && finding.UUID != "" {
			count[finding.UUID]++
		}
	}
	for id, n := range count {
		if n < 2 {
			delete(count, id)
		}
	}
	return count
}

// addFinding checks one finding and adds it to the objects it targets. A
// rejected finding whose target is readable still puts its controls in
// scope, so a broken record lowers the SLI instead of vanishing from it.
func (o *oscalAssessment) addFinding(rec oscalRecord, duplicates map[string]int, evidence map[string]*oscalEvidence, controls map[string]*oscalControl, rejects *evidenceRejectLog, now time.Time) {
	finding, targets, err := o.parseFinding(rec)
	if err == nil && duplicates[finding.UUID] > 0 {
		err = fmt.Errorf("finding uuid %s is used %d times; give each finding its own uuid", finding.UUID, duplicates[finding.UUID])
	}
	if err != nil {
		rejects.addAt(rec.start, err)
		for _, id := range targets {
			ctrl := oscalControlFor(controls, id)
			ctrl.reasons = append(ctrl.reasons, "finding rejected: "+err.Error())
		}
		return
	}

	reason := oscalFindingReason(finding, evidence, time.Duration(o.opts.Freshness), now)
	for _, id := range targets {
		ctrl := oscalControlFor(controls, id)
		if reason == "" {
			ctrl.evidenced = true
		} else {
			ctrl.reasons = append(ctrl.reasons, reason)
		}
	}
}

func oscalControlFor(controls map[string]*oscalControl, id string) *oscalControl {
	ctrl := controls[id]
	if ctrl == nil {
		ctrl = &oscalControl{}
		controls[id] = ctrl
	}
	return ctrl
}

// parseFinding checks one finding and returns the ids of the objects it
// targets. The ids come with the error when only another field is invalid.
func (o *oscalAssessment) parseFinding(rec oscalRecord) (oscalFinding, []string, error) {
	var finding oscalFinding
	if err := json.Unmarshal(rec.raw, &finding); err != nil {
		_, err = evidenceRecordError(rec.start, err)
		return finding, nil, fmt.Errorf("finding: %w", err)
	}
	if finding.UUID == "" {
		return finding, nil, errors.New("finding without uuid; OSCAL requires one per finding")
	}

	target := finding.Target
	control, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(target.TargetID)), "_")
	if control == "" {
		return finding, nil, fmt.Errorf("finding %s has no target.target-id; it names the assessed control, such as ac-2_smt.a", finding.UUID)
	}
	targets, err := o.objectIDs(control)
	if err != nil {
		return finding, nil, fmt.Errorf("finding %s: %w", finding.UUID, err)
	}

	if !oscalTargetTypes[target.Type] {
		return finding, targets, fmt.Errorf("finding %s has target.type %q; expected objective-id or statement-id", finding.UUID, target.Type)
	}
	if !oscalStates[target.Status.State] {
		return finding, targets, fmt.Errorf("finding %s has target.status.state %q; expected satisfied or not-satisfied", finding.UUID, target.Status.State)
	}
	return finding, targets, nil
}

// objectIDs returns the objects for an assessed control: the control itself
// without a mapping, else its Annex A ids. A control enhancement such as
// ac-6.1 falls back to its base control ac-6 when only that is mapped.
func (o *oscalAssessment) objectIDs(control string) ([]string, error) {
	if len(o.opts.AnnexAMapping) == 0 {
		return []string{control}, nil
	}
	if ids, ok := o.opts.AnnexAMapping[control]; ok {
		return ids, nil
	}
	if base, _, enhanced := strings.Cut(control, "."); enhanced {
		if ids, ok := o.opts.AnnexAMapping[base]; ok {
			return ids, nil
		}
	}
	return nil, fmt.Errorf("control %s has no entry in options.annex_a_mapping; add it with its Annex A ids", control)
}

// oscalFindingReason returns why a finding gives no fresh automated
// evidence, or "" when one of its related observations does.
func oscalFindingReason(finding oscalFinding, evidence map[string]*oscalEvidence, freshness time.Duration, now time.Time) string {
	if len(finding.RelatedObservations) == 0 {
		return fmt.Sprintf("finding %s (%s) relates to no observation", finding.UUID, finding.Target.Status.State)
	}

	var problems []string
	for _, rel := range finding.RelatedObservations {
		problem := oscalObservationProblem(rel.ObservationUUID, evidence, freshness, now)
		if problem == "" {
			return ""
		}
		problems = append(problems, problem)
	}
	return fmt.Sprintf("finding %s (%s): %s", finding.UUID, finding.Target.Status.State, strings.Join(problems, ", "))
}

// oscalObservationProblem returns why one observation is no fresh automated
// evidence, or "".
func oscalObservationProblem(id string, evidence map[string]*oscalEvidence, freshness time.Duration, now time.Time) string {
	ev, known := evidence[id]
	switch {
	case !known:
		return fmt.Sprintf("observation %s not found", id)
	case ev == nil:
		return fmt.Sprintf("observation %s was rejected", id)
	case !ev.automated:
		return fmt.Sprintf("observation %s is manual (%s)", id, strings.Join(ev.methods, ", "))
	case now.Sub(ev.collected) > freshness:
		return fmt.Sprintf("observation %s collected %s is older than %s", id, ev.collected.Format(time.RFC3339), model.Duration(freshness))
	case !ev.expires.IsZero() && !now.Before(ev.expires):
		return fmt.Sprintf("observation %s expired at %s", id, ev.expires.Format(time.RFC3339))
	}
	return ""
}
