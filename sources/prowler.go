package sources

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// prowlerDefaultFreshness is the maximum age of the newest finding of a
// control's checks for the control to count as evidenced. A weekly scan passes.
const prowlerDefaultFreshness = model.Duration(7 * 24 * time.Hour)

// prowlerScopeMapped puts in scope the controls that the mappings map to at
// least one check.
const prowlerScopeMapped = "mapped"

// prowlerCancelCheckInterval is the number of findings read between two
// checks for a cancelled refresh, so that a large output stops soon.
const prowlerCancelCheckInterval = 10_000

// prowlerMaxNamedChecks caps the failing checks named in one reason.
const prowlerMaxNamedChecks = 3

// Values of status_code in Prowler's OCSF output. MANUAL marks a check that
// Prowler could not decide on its own, so it is no automated evidence.
const (
	prowlerStatusPass   = "PASS"
	prowlerStatusFail   = "FAIL"
	prowlerStatusManual = "MANUAL"
)

// prowlerOptions are the options of a prowler source.
type prowlerOptions struct {
	// Freshness is the maximum age of a control's newest finding.
	Freshness model.Duration `yaml:"freshness"`
	// Scope is "mapped" (default) or "all".
	Scope string `yaml:"scope"`
}

// prowler joins Prowler's OCSF JSON output with Prowler's ISO/IEC 27001:2022
// compliance mappings and computes evidence_automation.
type prowler struct {
	name   string
	paths  []string
	opts   prowlerOptions
	logger *slog.Logger
	// now returns the refresh time against which freshness is measured.
	now func() time.Time
}

// NewProwler builds a prowler source. Paths lists both the OCSF outputs
// (JSON arrays of detection findings, as written by prowler --output-formats
// json-ocsf) and the compliance mappings (Prowler's
// compliance/<provider>/iso27001_2022_<provider>.json objects). The adapter
// distinguishes them by their top-level JSON type.
//
// A control is evidenced when at least one of its mapped checks has a PASS or
// FAIL finding whose time lies within options.freshness of the wall clock at
// refresh. The result of the check does not matter: a failing check still
// proves that evidence is collected automatically.
func NewProwler(cfg Config, logger *slog.Logger) (Source, error) {
	opts := prowlerOptions{Freshness: prowlerDefaultFreshness, Scope: prowlerScopeMapped}
	if err := DecodeOptions(cfg, &opts); err != nil {
		return nil, err
	}
	if err := checkEvidenceInputs(cfg, "Prowler OCSF output and one compliance mapping"); err != nil {
		return nil, err
	}

	if opts.Scope != prowlerScopeMapped && opts.Scope != evidenceScopeAll {
		return nil, fmt.Errorf("source %q: invalid options.scope %q; use %q or %q", cfg.Name, opts.Scope, prowlerScopeMapped, evidenceScopeAll)
	}
	if opts.Freshness <= 0 {
		return nil, fmt.Errorf("source %q: invalid options.freshness %s; use a positive duration such as 7d", cfg.Name, opts.Freshness)
	}
	return &prowler{name: cfg.Name, paths: cfg.Paths, opts: opts, logger: logger, now: time.Now}, nil
}

// prowlerCheck is the summary of one check's findings in the OCSF output.
type prowlerCheck struct {
	// latest is the time of the newest PASS or FAIL finding.
	latest time.Time
	failed bool
	manual bool
}

// prowlerInputs is everything read from a source's files in one refresh.
type prowlerInputs struct {
	// controls maps an Annex A id to the set of its checks.
	controls map[string]map[string]bool
	checks   map[string]*prowlerCheck
	mappings int
	outputs  int
	read     int
	rejected int
}

// Refresh reads every path and evaluates each control in scope.
func (p *prowler) Refresh(ctx context.Context) (*Result, error) {
	now := p.now().UTC()
	in := &prowlerInputs{controls: map[string]map[string]bool{}, checks: map[string]*prowlerCheck{}}

	for _, path := range p.paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := p.readFile(ctx, path, in); err != nil {
			return nil, err
		}
	}

	if in.mappings == 0 {
		return nil, fmt.Errorf("source %q: no Prowler compliance mapping among paths; add Prowler's compliance/<provider>/iso27001_2022_<provider>.json", p.name)
	}
	if in.outputs == 0 {
		return nil, fmt.Errorf("source %q: no Prowler OCSF output among paths; add the .ocsf.json file of a scan", p.name)
	}
	objects := p.evaluate(in, now)
	if len(objects) == 0 {
		return nil, fmt.Errorf("source %q: the compliance mappings map no Annex A control to a check, so no control is in scope; use Prowler's ISO27001 2022 mapping or set options.scope to all", p.name)
	}
	return buildEvidenceResult(objects, in.read, in.rejected), nil
}

// readFile reads one path as an OCSF output or a compliance mapping,
// according to its top-level JSON type.
func (p *prowler) readFile(ctx context.Context, path string, in *prowlerInputs) error {
	reader, closer, err := openEvidenceFile(path)
	if err != nil {
		return err
	}
	defer closer.Close()

	first, err := reader.Peek(1)
	if err != nil {
		return &InputError{File: path, Err: fmt.Errorf("failed to read input: %w", err)}
	}
	switch first[0] {
	case '[':
		in.outputs++
		return p.readOutput(ctx, path, reader, in)
	case '{':
		in.mappings++
		return p.readMapping(path, reader, in)
	}
	return evidenceJSONError(path, 0, errors.New("not a Prowler file: expected a JSON array of OCSF findings or a JSON object of a compliance mapping"))
}

// ocsfFinding holds the fields of an OCSF detection finding that secslo uses.
type ocsfFinding struct {
	Metadata struct {
		EventCode string `json:"event_code"`
	} `json:"metadata"`
	StatusCode string `json:"status_code"`
	// Time is epoch seconds in Prowler's output; OCSF defines milliseconds,
	// and ParseTimestampNumber accepts both.
	Time   *float64 `json:"time"`
	TimeDT string   `json:"time_dt"`
}

// readOutput reads an OCSF output. A finding that cannot be read is rejected
// and counted; invalid JSON fails the file.
func (p *prowler) readOutput(ctx context.Context, path string, reader *bufio.Reader, in *prowlerInputs) error {
	walker := newEvidenceJSONWalker(path, reader)
	rejects := newEvidenceRejectLog(p.logger, p.name, path)

	read := 0
	err := walker.array("the OCSF output", func() error {
		var finding ocsfFinding
		start, recordErr, err := walker.decode(&finding)
		if err != nil {
			return err
		}
		read++
		if read%prowlerCancelCheckInterval == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if recordErr == nil {
			recordErr = addOCSFFinding(finding, in.checks)
		}
		if recordErr != nil {
			rejects.addAt(start, recordErr)
		}
		return nil
	})
	if err == nil {
		err = walker.end()
	}
	rejects.flush()
	if err == nil {
		err = rejects.allRejected(read, "findings")
	}

	in.read += read
	in.rejected += rejects.count
	return err
}

// addOCSFFinding checks one finding and records it under its check.
func addOCSFFinding(finding ocsfFinding, checks map[string]*prowlerCheck) error {
	code := strings.TrimSpace(finding.Metadata.EventCode)
	if code == "" {
		return errors.New("finding without metadata.event_code; it names the Prowler check and is required")
	}
	at, err := ocsfFindingTime(finding)
	if err != nil {
		return fmt.Errorf("finding of check %s: %w", code, err)
	}

	check := checks[code]
	if check == nil {
		check = &prowlerCheck{}
	}
	switch strings.ToUpper(finding.StatusCode) {
	case prowlerStatusPass:
	case prowlerStatusFail:
		check.failed = true
	case prowlerStatusManual:
		check.manual = true
		checks[code] = check
		return nil
	default:
		return fmt.Errorf("finding of check %s has status_code %q; expected PASS, FAIL or MANUAL", code, finding.StatusCode)
	}

	if at.After(check.latest) {
		check.latest = at
	}
	checks[code] = check
	return nil
}

// ocsfFindingTime returns the finding's time: the numeric time field, or
// time_dt when time is absent.
func ocsfFindingTime(finding ocsfFinding) (time.Time, error) {
	switch {
	case finding.Time != nil:
		t, err := ParseTimestampNumber(*finding.Time)
		if err != nil {
			return time.Time{}, fmt.Errorf("invalid time: %w", err)
		}
		return t, nil
	case finding.TimeDT != "":
		t, err := ParseTimestamp(finding.TimeDT)
		if err != nil {
			return time.Time{}, fmt.Errorf("invalid time_dt: %w", err)
		}
		return t, nil
	}
	return time.Time{}, errors.New("missing time and time_dt; a finding needs the time of the scan")
}

// prowlerRequirement is one requirement of a Prowler compliance mapping.
type prowlerRequirement struct {
	ID     string   `json:"Id"`
	Checks []string `json:"Checks"`
}

// readMapping reads a compliance mapping, which must be Prowler's ISO 27001
// 2022 framework. A requirement whose id is no Annex A control is rejected.
// A requirement listed twice fails the file, because secslo does not guess
// which list of checks is meant.
func (p *prowler) readMapping(path string, reader *bufio.Reader, in *prowlerInputs) error {
	walker := newEvidenceJSONWalker(path, reader)
	rejects := newEvidenceRejectLog(p.logger, p.name, path)
	var framework, version string
	seen := map[string]bool{}
	readBefore := in.read

	err := walker.object("the compliance mapping", map[string]func() error{
		"Framework": func() error { return walker.str("Framework", &framework) },
		"Version":   func() error { return walker.str("Version", &version) },
		"Requirements": func() error {
			return walker.array("Requirements", func() error {
				return p.readRequirement(walker, rejects, seen, in)
			})
		},
	})
	if err == nil {
		err = walker.end()
	}
	rejects.flush()
	if err == nil {
		err = rejects.allRejected(in.read-readBefore, "requirements")
	}
	in.rejected += rejects.count
	if err != nil {
		return err
	}

	if framework != "ISO27001" || version != "2022" {
		return &InputError{File: path, Err: fmt.Errorf("compliance mapping is Framework %q Version %q; use Prowler's ISO27001 2022 mapping (iso27001_2022_<provider>.json)", framework, version)}
	}
	return nil
}

func (p *prowler) readRequirement(walker *evidenceJSONWalker, rejects *evidenceRejectLog, seen map[string]bool, in *prowlerInputs) error {
	var req prowlerRequirement
	start, recordErr, err := walker.decode(&req)
	if err != nil {
		return err
	}
	in.read++
	if recordErr != nil {
		rejects.addAt(start, recordErr)
		return nil
	}

	if seen[req.ID] {
		return evidenceJSONErrorAhead(walker.path, start, fmt.Errorf("requirement %q is listed twice; keep one entry with all its checks", req.ID))
	}
	seen[req.ID] = true
	if err := checkAnnexAControl(req.ID); err != nil {
		rejects.addAt(start, fmt.Errorf("requirement: %w", err))
		return nil
	}

	checks := in.controls[req.ID]
	if checks == nil {
		checks = map[string]bool{}
		in.controls[req.ID] = checks
	}
	for _, check := range req.Checks {
		checks[check] = true
	}
	return nil
}

// evaluate returns the controls in scope with the reason each lacks fresh
// automated evidence.
func (p *prowler) evaluate(in *prowlerInputs, now time.Time) []evidenceObject {
	var objects []evidenceObject
	for id, checks := range in.controls {
		if len(checks) == 0 && p.opts.Scope != evidenceScopeAll {
			continue
		}
		objects = append(objects, evidenceObject{id: id, reason: p.controlReason(checks, in.checks, now)})
	}

	if p.opts.Scope == evidenceScopeAll {
		objects = append(objects, missingAnnexAControls(in.controls, "not in the Prowler compliance mappings; no check evidences it")...)
	}
	return objects
}

// controlReason returns why a control with the given checks lacks fresh
// automated evidence, or "" when it has it.
func (p *prowler) controlReason(checks map[string]bool, found map[string]*prowlerCheck, now time.Time) string {
	if len(checks) == 0 {
		return "no Prowler check maps to this control"
	}

	var latest time.Time
	var failing, manual []string
	for check := range checks {
		result := found[check]
		if result == nil {
			continue
		}
		if result.latest.After(latest) {
			latest = result.latest
		}
		if result.failed {
			failing = append(failing, check)
		}
		if result.manual {
			manual = append(manual, check)
		}
	}

	freshness := time.Duration(p.opts.Freshness)
	var reason string
	switch {
	case !latest.IsZero() && now.Sub(latest) <= freshness:
		return ""
	case !latest.IsZero():
		reason = fmt.Sprintf("newest finding of its %d mapped checks is from %s, older than %s", len(checks), latest.Format(time.RFC3339), p.opts.Freshness)
	case len(manual) > 0:
		reason = fmt.Sprintf("its mapped checks report only MANUAL in the OCSF output (%s)", prowlerCheckList(manual))
	default:
		reason = fmt.Sprintf("none of its %d mapped checks appears in the OCSF output", len(checks))
	}
	if len(failing) > 0 {
		reason += "; failing checks: " + prowlerCheckList(failing)
	}
	return reason
}

// prowlerCheckList names up to prowlerMaxNamedChecks checks, sorted.
func prowlerCheckList(checks []string) string {
	sort.Strings(checks)
	if len(checks) <= prowlerMaxNamedChecks {
		return strings.Join(checks, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(checks[:prowlerMaxNamedChecks], ", "), len(checks)-prowlerMaxNamedChecks)
}
