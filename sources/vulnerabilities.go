package sources

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"

	"github.com/secslo/secslo/slo"
)

// vulnDefaultSLA is how long a critical finding may stay open: 7 days, the
// usual remediation target for critical vulnerabilities.
const vulnDefaultSLA = model.Duration(7 * 24 * time.Hour)

// vulnOptions are the options of a vulnerabilities source.
type vulnOptions struct {
	// SLA maps a severity, as the scanner spells it (matched without regard
	// to case), to the longest time from first seen to fixed that is good.
	// Findings of other severities are out of scope.
	SLA map[string]model.Duration `yaml:"sla"`
	// ScanTime is the scan time of reports that state none, such as Trivy
	// reports without CreatedAt. Empty means the file's modification time.
	ScanTime string `yaml:"scan_time"`
}

// vulnerabilities reads scanner reports and yields vuln_remediation. It
// returns the open findings of each report as a ledger Scan, from which the
// ledger derives first-seen and fixed times and counts each fix once. It also
// returns a snapshot of the open findings already past their SLA.
type vulnerabilities struct {
	paths    []string
	sla      map[string]time.Duration
	scanTime time.Time
	logger   *slog.Logger
	// now is the refresh clock; tests replace it.
	now func() time.Time

	// mu guards the state that successive refreshes share.
	mu sync.Mutex
	// memory holds, per ledger scope, the open findings with the earliest
	// scan of this process that listed them, for the past-SLA snapshot.
	memory map[string]*vulnScopeMemory
	// loggedScanTimes holds, per file, the fallback scan time last logged,
	// so that each report's fallback is logged once, not on every refresh.
	loggedScanTimes map[string]time.Time
}

// NewVulnerabilities builds a vulnerabilities source. Paths lists Trivy
// JSON, Grype JSON or SARIF 2.1.0 reports, in any mix; each report is one
// scan of its target.
func NewVulnerabilities(cfg Config, logger *slog.Logger) (Source, error) {
	opts := vulnOptions{}
	if err := DecodeOptions(cfg, &opts); err != nil {
		return nil, err
	}
	if opts.SLA == nil {
		opts.SLA = map[string]model.Duration{"critical": vulnDefaultSLA}
	}

	src := &vulnerabilities{
		paths:           cfg.Paths,
		logger:          logger,
		now:             time.Now,
		memory:          map[string]*vulnScopeMemory{},
		loggedScanTimes: map[string]time.Time{},
	}
	var problems []error
	if len(cfg.Paths) == 0 {
		problems = append(problems, errors.New("paths is empty: list the scanner reports (Trivy JSON, Grype JSON or SARIF)"))
	}
	if cfg.URL != "" {
		problems = append(problems, fmt.Errorf("url is not supported by type %s: list the reports under paths", cfg.Type))
	}
	sla, err := vulnSLAOption("options.sla", opts.SLA)
	problems = append(problems, err)
	src.sla = sla
	if opts.ScanTime != "" {
		at, err := ParseTimestamp(opts.ScanTime)
		if err != nil {
			problems = append(problems, fmt.Errorf("invalid options.scan_time: %w", err))
		}
		src.scanTime = at
	}

	if err := errors.Join(problems...); err != nil {
		return nil, fmt.Errorf("source %q: %w", cfg.Name, err)
	}
	return src, nil
}

// vulnSLAOption checks a map from severity to SLA and returns it with lower
// case keys.
func vulnSLAOption(option string, in map[string]model.Duration) (map[string]time.Duration, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("%s is empty: map each severity in scope to its SLA, such as {critical: 7d}", option)
	}
	out := make(map[string]time.Duration, len(in))
	var problems []error
	for severity, d := range in {
		key := strings.ToLower(strings.TrimSpace(severity))
		switch {
		case key == "":
			problems = append(problems, fmt.Errorf("%s has an empty severity: name a severity such as critical", option))
		case d <= 0:
			problems = append(problems, fmt.Errorf("invalid %s.%s %s: expected a positive duration such as 7d", option, severity, d))
		case out[key] != 0:
			problems = append(problems, fmt.Errorf("%s lists severity %q twice (keys match without regard to case)", option, key))
		}
		out[key] = time.Duration(d)
	}
	return out, errors.Join(problems...)
}

// vulnRefresh is the state of one refresh.
type vulnRefresh struct {
	scans    []vulnTimedScan
	read     int
	rejected *tableRejects
}

// vulnTimedScan is a parsed scan with its resolved scan time and file.
type vulnTimedScan struct {
	*vulnScan
	at   time.Time
	file string
}

// Refresh reads every report and returns one ledger Scan per target and
// severity in scope, and the past-SLA snapshot. Any file-level problem fails
// the whole refresh.
func (s *vulnerabilities) Refresh(ctx context.Context) (*Result, error) {
	now := s.now().UTC()
	refresh := &vulnRefresh{rejected: newTableRejects(s.logger, "")}
	defer refresh.rejected.summarize()

	for _, file := range s.paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := s.readReport(file, refresh); err != nil {
			return nil, err
		}
	}

	scans := s.dropRepeatedScans(refresh.scans)
	s.mu.Lock()
	defer s.mu.Unlock()
	result := &Result{RecordsRead: refresh.read, RecordsRejected: refresh.rejected.total}
	result.Scans = s.ledgerScans(scans)
	s.rememberFirstSeen(scans)
	s.addPastSLA(result, scans, now)
	return result, nil
}

// readReport parses one report and adds its scans to the refresh.
func (s *vulnerabilities) readReport(file string, refresh *vulnRefresh) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("failed to read scanner report: %w", err)
	}
	report, err := parseVulnReport(file, data)
	if err != nil {
		return err
	}

	findings := 0
	for _, scan := range report.scans {
		findings += len(scan.findings)
	}
	for _, rej := range report.rejected {
		refresh.rejected.add(file, rej.line, rej.err)
	}
	if findings == 0 && len(report.rejected) > 0 {
		first := report.rejected[0]
		return fmt.Errorf("every finding of %s was rejected (%d), so the file is not in the expected format; first problem: %w",
			file, len(report.rejected), &InputError{File: file, Line: first.line, Err: first.err})
	}
	refresh.read += findings + len(report.rejected)

	for _, scan := range report.scans {
		if !validEventText(scan.target) {
			return &InputError{File: file, Err: fmt.Errorf("target name %q contains a NUL character, which the ledger cannot store: fix the report", scan.target)}
		}
		at, err := s.resolveScanTime(file, report.format, scan)
		if err != nil {
			return err
		}
		refresh.scans = append(refresh.scans, vulnTimedScan{vulnScan: scan, at: at, file: file})
	}
	return nil
}

// resolveScanTime returns the scan time that the report states, or else
// options.scan_time, or else the file's modification time. It logs which
// one it used, once per file and time.
func (s *vulnerabilities) resolveScanTime(file, format string, scan *vulnScan) (time.Time, error) {
	if !scan.scannedAt.IsZero() {
		return scan.scannedAt, nil
	}

	at, from := s.scanTime, "options.scan_time"
	if at.IsZero() {
		info, err := os.Stat(file)
		if err != nil {
			return time.Time{}, fmt.Errorf("failed to read the modification time of scanner report %s: %w", file, err)
		}
		at, from = info.ModTime().UTC(), "file modification time"
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.loggedScanTimes[file].Equal(at) {
		s.loggedScanTimes[file] = at
		s.logger.Info("scanner report states no scan time; using a fallback", "file", file, "format", format,
			"target", scan.target, "scan_time", at.Format(time.RFC3339Nano), "from", from)
	}
	return at, nil
}

// dropRepeatedScans keeps one scan per target and time. Two reports of the
// same target at the same time cannot both be whole, so the later file is
// reported and ignored rather than merged.
func (s *vulnerabilities) dropRepeatedScans(scans []vulnTimedScan) []vulnTimedScan {
	type scanKey struct {
		target string
		at     int64
	}
	first := map[scanKey]string{}
	kept := scans[:0]
	for _, scan := range scans {
		key := scanKey{scan.target, scan.at.UnixNano()}
		if file, ok := first[key]; ok {
			s.logger.Warn("two reports scan the same target at the same time; the later file is ignored",
				"file", scan.file, "first_file", file, "target", scan.target, "scan_time", scan.at.Format(time.RFC3339Nano))
			continue
		}
		first[key] = scan.file
		kept = append(kept, scan)
	}
	return kept
}

// ledgerScans returns one Scan per target and severity in scope. An
// incomplete scan is left out, because a finding it lacks may be one of its
// rejected records rather than a fix.
//
// NOTE: Scan carries one Bound, so each severity is a scope of its own. A
// finding whose severity changes between scans (a CVE rescored from high to
// critical) closes in the old scope and opens in the new one.
func (s *vulnerabilities) ledgerScans(scans []vulnTimedScan) []Scan {
	var out []Scan
	for _, scan := range scans {
		if scan.incomplete {
			s.logger.Warn("scanner report has rejected records, so findings missing from it are not marked fixed",
				"file", scan.file, "target", scan.target)
			continue
		}
		for _, severity := range s.severities() {
			out = append(out, Scan{
				SLI:   slo.SLIVulnRemediation,
				Scope: vulnScope(scan.target, severity),
				At:    scan.at,
				Bound: s.sla[severity],
				Open:  scan.openRecords(severity),
			})
		}
	}
	return out
}

// severities returns the severities in scope in a fixed order.
func (s *vulnerabilities) severities() []string {
	keys := make([]string, 0, len(s.sla))
	for k := range s.sla {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// vulnScope names the ledger scope of one target's findings of one severity.
func vulnScope(target, severity string) string {
	return target + "|" + severity
}

// openRecords returns the findings of one severity as scan records.
func (scan *vulnScan) openRecords(severity string) []ScanRecord {
	records := []ScanRecord{}
	for _, f := range scan.findings {
		if f.severity == severity {
			records = append(records, ScanRecord{ID: f.id})
		}
	}
	return records
}

// vulnScopeMemory is the state of one ledger scope as this process has read it.
type vulnScopeMemory struct {
	lastScan time.Time
	open     map[string]vulnOpenFinding
}

// vulnOpenFinding is an open finding with the earliest scan that listed it.
type vulnOpenFinding struct {
	vulnFinding
	target    string
	firstSeen time.Time
}

// rememberFirstSeen updates the open findings of every scope in scan-time
// order. A scan not after the last one remembered for its scope changes
// nothing, as in the ledger; an incomplete scan adds findings but fixes none.
//
// NOTE: the past-SLA snapshot needs each open finding's first-seen time,
// which the ledger keeps but does not offer to adapters. This memory starts
// empty at each process start, so after a restart a finding counts from the
// first scan read again, and the snapshot can show a breach later than the
// ledger's counters will.
func (s *vulnerabilities) rememberFirstSeen(scans []vulnTimedScan) {
	ordered := slices.Clone(scans)
	slices.SortStableFunc(ordered, func(a, b vulnTimedScan) int { return a.at.Compare(b.at) })

	for _, scan := range ordered {
		for _, severity := range s.severities() {
			s.rememberScope(scan, severity)
		}
	}
}

func (s *vulnerabilities) rememberScope(scan vulnTimedScan, severity string) {
	scope := vulnScope(scan.target, severity)
	memory := s.scopeMemory(scope)
	if !scan.at.After(memory.lastScan) {
		return
	}
	memory.lastScan = scan.at

	listed := map[string]bool{}
	for _, f := range scan.findings {
		if f.severity != severity {
			continue
		}
		listed[f.id] = true
		if _, ok := memory.open[f.id]; !ok {
			memory.open[f.id] = vulnOpenFinding{vulnFinding: f, target: scan.target, firstSeen: scan.at}
		}
	}
	if scan.incomplete {
		return
	}
	for id := range memory.open {
		if !listed[id] {
			delete(memory.open, id)
		}
	}
}

func (s *vulnerabilities) scopeMemory(scope string) *vulnScopeMemory {
	memory := s.memory[scope]
	if memory == nil {
		memory = &vulnScopeMemory{open: map[string]vulnOpenFinding{}}
		s.memory[scope] = memory
	}
	return memory
}

// addPastSLA adds the snapshot of the open findings of the refreshed
// targets, with those open for longer than their SLA as non-compliant.
func (s *vulnerabilities) addPastSLA(result *Result, scans []vulnTimedScan, now time.Time) {
	snapshot := Snapshot{SLI: slo.SLIVulnRemediation}
	done := map[string]bool{}
	for _, scan := range scans {
		for _, severity := range s.severities() {
			scope := vulnScope(scan.target, severity)
			if done[scope] {
				continue
			}
			done[scope] = true
			s.addScopePastSLA(result, &snapshot, scope, s.sla[severity], now)
		}
	}

	snapshot.Noncompliant = len(result.Noncompliant)
	result.Snapshots = append(result.Snapshots, snapshot)
	slices.SortFunc(result.Noncompliant, func(a, b Object) int { return strings.Compare(a.ID, b.ID) })
}

func (s *vulnerabilities) addScopePastSLA(result *Result, snapshot *Snapshot, scope string, sla time.Duration, now time.Time) {
	for id, f := range s.scopeMemory(scope).open {
		snapshot.Objects++
		age := now.Sub(f.firstSeen)
		if age <= sla {
			continue
		}
		result.Noncompliant = append(result.Noncompliant, Object{
			SLI:  slo.SLIVulnRemediation,
			ID:   f.target + "|" + id,
			Name: f.vulnID,
			Reason: fmt.Sprintf("%s finding %s in %s open since %s, %s, past its %s SLA",
				f.severity, f.vulnID, f.pkg, f.firstSeen.Format(time.RFC3339), model.Duration(age.Truncate(time.Second)), model.Duration(sla)),
		})
	}
}
