package sources

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// sarifVersion is the only SARIF version the vulnerabilities source reads.
const sarifVersion = "2.1.0"

// sarifHeader holds the top-level members of a SARIF log.
type sarifHeader struct {
	version string
	runs    []*sarifRun
}

// sarifRun is one run: the tool and its rules, the invocations that give
// the scan time, and the results.
type sarifRun struct {
	tool              sarifTool
	invocations       []sarifInvocation
	automationDetails struct {
		ID string `json:"id"`
	}
	results  []sarifResult
	lines    []int
	rejected []recordReject
}

type sarifTool struct {
	Driver     sarifComponent   `json:"driver"`
	Extensions []sarifComponent `json:"extensions"`
}

type sarifComponent struct {
	Name  string      `json:"name"`
	Rules []sarifRule `json:"rules"`
}

// sarifRule is a reportingDescriptor: a rule's id, its default level and
// the security-severity property that GitHub code scanning defines.
type sarifRule struct {
	ID                   string `json:"id"`
	DefaultConfiguration struct {
		Level string `json:"level"`
	} `json:"defaultConfiguration"`
	Properties sarifProperties `json:"properties"`
}

// sarifProperties holds security-severity, a CVSS-like score from 0.0 to
// 10.0 that may be written as a string ("9.8") or as a number.
type sarifProperties struct {
	SecuritySeverity tableJSONText `json:"security-severity"`
}

type sarifInvocation struct {
	StartTimeUTC string `json:"startTimeUtc"`
	EndTimeUTC   string `json:"endTimeUtc"`
}

// sarifResult holds the members of a SARIF result that secslo uses.
type sarifResult struct {
	RuleID    string `json:"ruleId"`
	RuleIndex *int   `json:"ruleIndex"`
	Rule      *struct {
		ID    string `json:"id"`
		Index *int   `json:"index"`
	} `json:"rule"`
	Kind          string `json:"kind"`
	Level         string `json:"level"`
	BaselineState string `json:"baselineState"`
	Locations     []struct {
		PhysicalLocation struct {
			ArtifactLocation struct {
				URI string `json:"uri"`
			} `json:"artifactLocation"`
			Region struct {
				StartLine int `json:"startLine"`
			} `json:"region"`
		} `json:"physicalLocation"`
	} `json:"locations"`
	Fingerprints        map[string]string `json:"fingerprints"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Properties          sarifProperties   `json:"properties"`
}

func (r *vulnReportReader) readSARIFRuns() error {
	return r.walk.array("runs", func(index int) error {
		run := &sarifRun{}
		r.sarif.runs = append(r.sarif.runs, run)
		what := fmt.Sprintf("runs[%d]", index)
		return r.walk.object(what, map[string]func() error{
			"tool":              func() error { return r.walk.value(what+".tool", &run.tool) },
			"invocations":       func() error { return r.walk.value(what+".invocations", &run.invocations) },
			"automationDetails": func() error { return r.walk.value(what+".automationDetails", &run.automationDetails) },
			"results": func() error {
				return r.walk.array(what+".results", func(int) error {
					var result sarifResult
					line, recordErr, err := r.walk.record(&result)
					if recordErr != nil {
						run.rejected = append(run.rejected, recordReject{line, recordErr})
						return err
					}
					run.results, run.lines = append(run.results, result), append(run.lines, line)
					return err
				})
			},
		})
	})
}

// finishSARIF checks the version and turns each run into a scan of its
// automation id, or of the file when the run has none. Runs of one target
// are merged.
func (r *vulnReportReader) finishSARIF() error {
	if r.sarif.version != sarifVersion {
		return &InputError{File: r.file, Line: r.formatLine, Err: fmt.Errorf("unsupported SARIF version %q: expected %q", r.sarif.version, sarifVersion)}
	}

	for i, run := range r.sarif.runs {
		s := r.scan(vulnTarget(run.automationDetails.ID, r.file))
		at, err := run.scanTime()
		if err != nil {
			return &InputError{File: r.file, Err: fmt.Errorf("runs[%d].invocations: %w", i, err)}
		}
		if at.After(s.scannedAt) {
			s.scannedAt = at
		}

		for _, rej := range run.rejected {
			r.reject(s, rej.line, rej.err)
		}
		for j, result := range run.results {
			r.addSARIFFinding(s, run, result, run.lines[j])
		}
	}
	return nil
}

// scanTime returns the latest end time of the run's invocations, or the
// latest start time when none has an end, or zero.
func (run *sarifRun) scanTime() (time.Time, error) {
	var latest time.Time
	for _, useEnd := range []bool{true, false} {
		for _, inv := range run.invocations {
			text := inv.StartTimeUTC
			if useEnd {
				text = inv.EndTimeUTC
			}
			if text == "" {
				continue
			}
			at, err := ParseTimestamp(text)
			if err != nil {
				return time.Time{}, err
			}
			if at.After(latest) {
				latest = at
			}
		}
		if !latest.IsZero() {
			return latest, nil
		}
	}
	return latest, nil
}

// addSARIFFinding adds one result. Results whose kind is not "fail" (pass,
// review, informational, notApplicable, open) and results that the log marks
// absent from this run are not findings and are skipped.
func (r *vulnReportReader) addSARIFFinding(s *vulnScan, run *sarifRun, result sarifResult, line int) {
	if (result.Kind != "" && result.Kind != "fail") || result.BaselineState == "absent" {
		return
	}

	rule := run.rule(result)
	ruleID := result.RuleID
	if ruleID == "" && result.Rule != nil {
		ruleID = result.Rule.ID
	}
	if ruleID == "" && rule != nil {
		ruleID = rule.ID
	}
	if ruleID == "" {
		r.reject(s, line, fmt.Errorf("result names no rule: set ruleId, rule.id or ruleIndex"))
		return
	}

	severity, err := sarifSeverity(result, rule)
	if err != nil {
		r.reject(s, line, fmt.Errorf("result of rule %q: %w", ruleID, err))
		return
	}
	r.add(s, vulnFinding{
		id:       vulnFindingID(ruleID, sarifLocationKey(result)),
		vulnID:   ruleID,
		pkg:      sarifLocation(result),
		severity: severity,
		line:     line,
	})
}

// rule returns the driver rule that a result refers to by index, or by id
// among the driver's and extensions' rules, or nil.
func (run *sarifRun) rule(result sarifResult) *sarifRule {
	index := result.RuleIndex
	if index == nil && result.Rule != nil {
		index = result.Rule.Index
	}
	if index != nil && *index >= 0 && *index < len(run.tool.Driver.Rules) {
		return &run.tool.Driver.Rules[*index]
	}

	id := result.RuleID
	if id == "" && result.Rule != nil {
		id = result.Rule.ID
	}
	for _, component := range append([]sarifComponent{run.tool.Driver}, run.tool.Extensions...) {
		for i := range component.Rules {
			// A hierarchical ruleId such as "CA2101/1" refers to rule "CA2101".
			if component.Rules[i].ID == id || (id != "" && strings.HasPrefix(id, component.Rules[i].ID+"/")) {
				return &component.Rules[i]
			}
		}
	}
	return nil
}

// sarifSeverity returns a result's severity. A security-severity score on
// the result or its rule maps to critical (9.0 and above), high (7.0), medium
// (4.0), low (above 0) or none, the CVSS v3 bands that GitHub code scanning
// uses. Without a score, the SARIF level is the severity (error, warning,
// note or none), because mapping a level to a CVSS band would be a guess.
func sarifSeverity(result sarifResult, rule *sarifRule) (string, error) {
	score := result.Properties.SecuritySeverity
	level := result.Level
	if rule != nil {
		if !score.set {
			score = rule.Properties.SecuritySeverity
		}
		if level == "" {
			level = rule.DefaultConfiguration.Level
		}
	}

	if score.set {
		return sarifScoreSeverity(score.text)
	}
	if level == "" {
		level = "warning" // the default level of SARIF 2.1.0
	}
	return strings.ToLower(level), nil
}

func sarifScoreSeverity(text string) (string, error) {
	score, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
	if err != nil || score < 0 || score > 10 {
		return "", fmt.Errorf("invalid security-severity %q: expected a score from 0.0 to 10.0", text)
	}
	switch {
	case score >= 9:
		return "critical", nil
	case score >= 7:
		return "high", nil
	case score >= 4:
		return "medium", nil
	case score > 0:
		return "low", nil
	}
	return "none", nil
}

// sarifLocationKey identifies a result within its rule: its first
// fingerprint by name, else its first partial fingerprint, else its first
// location. Fingerprints survive edits that move a result to another line.
func sarifLocationKey(result sarifResult) string {
	for _, prints := range []map[string]string{result.Fingerprints, result.PartialFingerprints} {
		if len(prints) == 0 {
			continue
		}
		names := make([]string, 0, len(prints))
		for name := range prints {
			names = append(names, name)
		}
		slices.Sort(names)
		return names[0] + "=" + prints[names[0]]
	}
	return sarifLocation(result)
}

// sarifLocation returns "uri:line" of a result's first location, or "".
func sarifLocation(result sarifResult) string {
	if len(result.Locations) == 0 {
		return ""
	}
	physical := result.Locations[0].PhysicalLocation
	if physical.Region.StartLine > 0 {
		return fmt.Sprintf("%s:%d", physical.ArtifactLocation.URI, physical.Region.StartLine)
	}
	return physical.ArtifactLocation.URI
}
