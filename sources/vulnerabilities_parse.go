package sources

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Scanner report formats of the vulnerabilities source.
const (
	vulnFormatTrivy = "trivy"
	vulnFormatGrype = "grype"
	vulnFormatSARIF = "sarif"
)

// vulnReport is one scanner report as parsed: one scan per target, and the
// records that were rejected.
type vulnReport struct {
	format   string
	scans    []*vulnScan
	rejected []recordReject
}

// vulnScan is the part of one report about one target: the findings open
// at the scan time.
type vulnScan struct {
	// target names what was scanned: an image, a folder, or a SARIF
	// automation id. Findings close only against later scans of it.
	target string
	// scannedAt is the scan time the report states, zero when it states none.
	scannedAt time.Time
	findings  []vulnFinding
	// incomplete marks a scan with a rejected record that may have been a
	// finding. A finding missing from it is not known to be fixed.
	incomplete bool
	// index maps a finding id to its position in findings.
	index map[string]int
}

// vulnFinding is one open finding of a scan.
type vulnFinding struct {
	// id identifies the finding within its target across scans: the
	// vulnerability or rule id with the package or location it applies to.
	id       string
	vulnID   string
	pkg      string
	severity string // lower case, as the report spells it
	line     int
}

// vulnReportReader builds a vulnReport while a recordJSON walks the file.
type vulnReportReader struct {
	file   string
	walk   *recordJSON
	report *vulnReport
	// formatLine is the line of the member that decided the format, for the
	// message when a later member belongs to another format.
	formatLine int

	trivy trivyHeader
	grype grypeHeader
	sarif sarifHeader
}

// parseVulnReport reads a Trivy JSON (SchemaVersion 2), Grype JSON or SARIF
// 2.1.0 report. The format comes from the top-level members, which the three
// formats do not share. A problem with the document fails the file; a
// problem with one finding rejects that finding.
func parseVulnReport(file string, data []byte) (*vulnReport, error) {
	walk, err := newRecordJSON(file, data)
	if err != nil {
		return nil, err
	}
	r := &vulnReportReader{file: file, walk: walk, report: &vulnReport{}}

	err = walk.object("the document", map[string]func() error{
		"SchemaVersion": r.member(vulnFormatTrivy, func() error { return walk.value("SchemaVersion", &r.trivy.schemaVersion) }),
		"ArtifactName":  r.member(vulnFormatTrivy, func() error { return walk.value("ArtifactName", &r.trivy.artifactName) }),
		"CreatedAt":     r.member(vulnFormatTrivy, r.readTimestamp("CreatedAt", &r.trivy.createdAt)),
		"Results":       r.member(vulnFormatTrivy, r.readTrivyResults),
		"matches":       r.member(vulnFormatGrype, r.readGrypeMatches),
		"source":        r.member(vulnFormatGrype, func() error { return walk.value("source", &r.grype.source) }),
		"descriptor":    r.member(vulnFormatGrype, r.readGrypeDescriptor),
		"version":       r.member(vulnFormatSARIF, func() error { return walk.value("version", &r.sarif.version) }),
		"runs":          r.member(vulnFormatSARIF, r.readSARIFRuns),
	})
	if err == nil {
		err = walk.end()
	}
	if err != nil {
		return nil, err
	}
	return r.finish()
}

// member wraps the handler of a top-level member of format: the first such
// member sets the report's format, and a member of another format fails the
// file.
func (r *vulnReportReader) member(format string, read func() error) func() error {
	return func() error {
		line, _ := r.walk.lines.position(r.walk.valueStart())
		switch r.report.format {
		case "":
			r.report.format, r.formatLine = format, line
		case format:
		default:
			return &InputError{File: r.file, Line: line, Err: fmt.Errorf(
				"the document mixes %s and %s members (the %s member is at line %d): keep one scanner report per file",
				r.report.format, format, r.report.format, r.formatLine)}
		}
		return read()
	}
}

// readTimestamp returns a handler that reads a string member as a timestamp.
// An unreadable scan time fails the file, because every finding's times
// depend on it.
func (r *vulnReportReader) readTimestamp(member string, out *time.Time) func() error {
	return func() error {
		line, _ := r.walk.lines.position(r.walk.valueStart())
		var text string
		if err := r.walk.value(member, &text); err != nil {
			return err
		}
		at, err := ParseTimestamp(text)
		if err != nil {
			return &InputError{File: r.file, Line: line, Err: fmt.Errorf("member %q: %w", member, err)}
		}
		*out = at
		return nil
	}
}

// finish checks the report as a whole and builds its scans.
func (r *vulnReportReader) finish() (*vulnReport, error) {
	switch r.report.format {
	case vulnFormatTrivy:
		return r.report, r.finishTrivy()
	case vulnFormatGrype:
		return r.report, r.finishGrype()
	case vulnFormatSARIF:
		return r.report, r.finishSARIF()
	}
	return nil, &InputError{File: r.file, Line: 1, Err: errors.New(
		"not a scanner report: expected Trivy JSON (SchemaVersion and Results), Grype JSON (matches) or SARIF (version and runs)")}
}

// scan returns the scan of target, creating it when it is new.
func (r *vulnReportReader) scan(target string) *vulnScan {
	for _, s := range r.report.scans {
		if s.target == target {
			return s
		}
	}
	s := &vulnScan{target: target, index: map[string]int{}}
	r.report.scans = append(r.report.scans, s)
	return s
}

// add adds a finding to a scan. A finding already listed is rejected with
// the line of the first listing. The finding stays open, because both
// records list it.
func (r *vulnReportReader) add(s *vulnScan, f vulnFinding) {
	if !validEventText(f.id) {
		r.reject(s, f.line, fmt.Errorf("finding id %q contains a NUL character, which the ledger cannot store", f.id))
		return
	}
	if first, ok := s.index[f.id]; ok {
		r.reject(nil, f.line, fmt.Errorf("duplicate finding %q of target %q, first at line %d", f.id, s.target, s.findings[first].line))
		return
	}
	s.index[f.id] = len(s.findings)
	s.findings = append(s.findings, f)
}

// reject records a rejected record. A non-nil scan is marked incomplete,
// because the record may have been one of its findings.
func (r *vulnReportReader) reject(s *vulnScan, line int, err error) {
	r.report.rejected = append(r.report.rejected, recordReject{line: line, err: err})
	if s != nil {
		s.incomplete = true
	}
}

// vulnFindingID joins the parts that identify a finding within its target.
// Empty parts are left out, so a finding without a package path gets the
// same id in every scan.
func vulnFindingID(parts ...string) string {
	parts = slices.DeleteFunc(parts, func(s string) bool { return s == "" })
	return strings.Join(parts, "|")
}

// trivyHeader holds the top-level members of a Trivy report.
type trivyHeader struct {
	schemaVersion int
	artifactName  string
	createdAt     time.Time
	results       []trivyResult
}

// trivyResult is one entry of Results: a target such as an OS or a lock
// file, and its vulnerabilities.
type trivyResult struct {
	target   string
	vulns    []trivyVulnerability
	lines    []int
	rejected []recordReject
}

// trivyVulnerability holds the members of a Trivy vulnerability that
// secslo uses.
type trivyVulnerability struct {
	VulnerabilityID  string `json:"VulnerabilityID"`
	PkgName          string `json:"PkgName"`
	PkgPath          string `json:"PkgPath"`
	InstalledVersion string `json:"InstalledVersion"`
	Severity         string `json:"Severity"`
}

// readTrivyResults reads Results. A result's Target may follow its
// Vulnerabilities, so findings are kept per result until the end.
func (r *vulnReportReader) readTrivyResults() error {
	return r.walk.array("Results", func(int) error {
		var result trivyResult
		err := r.walk.object("an entry of Results", map[string]func() error{
			"Target": func() error { return r.walk.value("Target", &result.target) },
			"Vulnerabilities": func() error {
				return r.walk.array("Vulnerabilities", func(int) error {
					var v trivyVulnerability
					line, recordErr, err := r.walk.record(&v)
					if recordErr != nil {
						result.rejected = append(result.rejected, recordReject{line, recordErr})
						return err
					}
					result.vulns, result.lines = append(result.vulns, v), append(result.lines, line)
					return err
				})
			},
		})
		r.trivy.results = append(r.trivy.results, result)
		return err
	})
}

// finishTrivy checks the schema version and turns the results into one
// scan of the artifact.
func (r *vulnReportReader) finishTrivy() error {
	if r.trivy.schemaVersion != 2 {
		return &InputError{File: r.file, Line: r.formatLine, Err: fmt.Errorf(
			"unsupported Trivy SchemaVersion %d: expected 2, which Trivy writes since v0.20 with --format json", r.trivy.schemaVersion)}
	}

	s := r.scan(vulnTarget(r.trivy.artifactName, r.file))
	s.scannedAt = r.trivy.createdAt
	for _, result := range r.trivy.results {
		for _, rej := range result.rejected {
			r.reject(s, rej.line, rej.err)
		}
		for i, v := range result.vulns {
			r.addTrivyFinding(s, result.target, v, result.lines[i])
		}
	}
	return nil
}

func (r *vulnReportReader) addTrivyFinding(s *vulnScan, target string, v trivyVulnerability, line int) {
	if v.VulnerabilityID == "" {
		r.reject(s, line, fmt.Errorf("vulnerability of package %q in %q has no VulnerabilityID", v.PkgName, target))
		return
	}
	r.add(s, vulnFinding{
		id:       vulnFindingID(target, v.PkgName, v.PkgPath, v.VulnerabilityID),
		vulnID:   v.VulnerabilityID,
		pkg:      vulnFindingID(v.PkgName, v.InstalledVersion),
		severity: vulnSeverity(v.Severity),
		line:     line,
	})
}

// vulnTarget returns the target a report names, or the file's path when it
// names none, so that successive reports written to the same path still
// compare with each other.
func vulnTarget(named, file string) string {
	if strings.TrimSpace(named) != "" {
		return named
	}
	return file
}

// vulnSeverity normalizes a severity as a scanner spells it.
func vulnSeverity(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "unknown"
	}
	return s
}

// grypeHeader holds the top-level members of a Grype report.
type grypeHeader struct {
	source    grypeSource
	timestamp time.Time
	matches   []grypeMatch
	lines     []int
	rejected  []recordReject
}

// grypeSource is the scanned source. Its target is an object for images
// (userInput, imageID) and a string for folders and files.
type grypeSource struct {
	Type   string          `json:"type"`
	Target json.RawMessage `json:"target"`
}

// grypeMatch holds the members of a Grype match that secslo uses.
type grypeMatch struct {
	Vulnerability struct {
		ID       string `json:"id"`
		Severity string `json:"severity"`
	} `json:"vulnerability"`
	Artifact struct {
		Name      string `json:"name"`
		Version   string `json:"version"`
		Locations []struct {
			Path string `json:"path"`
		} `json:"locations"`
	} `json:"artifact"`
}

func (r *vulnReportReader) readGrypeMatches() error {
	return r.walk.array("matches", func(int) error {
		var m grypeMatch
		line, recordErr, err := r.walk.record(&m)
		if recordErr != nil {
			r.grype.rejected = append(r.grype.rejected, recordReject{line, recordErr})
			return err
		}
		r.grype.matches, r.grype.lines = append(r.grype.matches, m), append(r.grype.lines, line)
		return err
	})
}

// readGrypeDescriptor reads descriptor.timestamp, the scan time.
func (r *vulnReportReader) readGrypeDescriptor() error {
	return r.walk.object("descriptor", map[string]func() error{
		"timestamp": r.readTimestamp("descriptor.timestamp", &r.grype.timestamp),
	})
}

// finishGrype turns the matches into one scan of the source's target.
func (r *vulnReportReader) finishGrype() error {
	target, err := r.grype.source.name()
	if err != nil {
		return &InputError{File: r.file, Err: err}
	}

	s := r.scan(vulnTarget(target, r.file))
	s.scannedAt = r.grype.timestamp
	for _, rej := range r.grype.rejected {
		r.reject(s, rej.line, rej.err)
	}
	for i, m := range r.grype.matches {
		r.addGrypeFinding(s, m, r.grype.lines[i])
	}
	return nil
}

func (r *vulnReportReader) addGrypeFinding(s *vulnScan, m grypeMatch, line int) {
	if m.Vulnerability.ID == "" {
		r.reject(s, line, fmt.Errorf("match of package %q has no vulnerability.id", m.Artifact.Name))
		return
	}
	location := ""
	if len(m.Artifact.Locations) > 0 {
		location = m.Artifact.Locations[0].Path
	}
	r.add(s, vulnFinding{
		id:       vulnFindingID(m.Artifact.Name, location, m.Vulnerability.ID),
		vulnID:   m.Vulnerability.ID,
		pkg:      vulnFindingID(m.Artifact.Name, m.Artifact.Version),
		severity: vulnSeverity(m.Vulnerability.Severity),
		line:     line,
	})
}

// name returns the scanned target as the user named it, or the image id.
func (s grypeSource) name() (string, error) {
	if len(s.Target) == 0 || string(s.Target) == "null" {
		return "", nil
	}
	var text string
	if err := json.Unmarshal(s.Target, &text); err == nil {
		return text, nil
	}

	var image struct {
		UserInput string `json:"userInput"`
		ImageID   string `json:"imageID"`
	}
	if err := json.Unmarshal(s.Target, &image); err != nil {
		return "", fmt.Errorf("member \"source.target\" is neither a string nor an object with userInput: %w", tableDescribeTypeError(err))
	}
	if image.UserInput != "" {
		return image.UserInput, nil
	}
	return image.ImageID, nil
}
