package sources

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/secslo/secslo/slo"
)

// findingDefaultDeadline is how long an audit finding may stay open: 90
// days, a common corrective-action deadline for audit nonconformities.
const findingDefaultDeadline = model.Duration(90 * 24 * time.Hour)

// findingDefaultClosedStatuses are the register statuses that mean closed.
var findingDefaultClosedStatuses = []string{"closed", "resolved", "done"}

// findingOptions are the options of a findings source.
type findingOptions struct {
	// Format is csv, json, oscal_poam or jira; empty means from each file's
	// extension and content.
	Format string `yaml:"format"`
	// Deadline is the longest time from opened to closed that is good.
	Deadline model.Duration `yaml:"deadline"`
	// Severities lists the severities in scope, matched without regard to
	// case; empty means every finding.
	Severities []string `yaml:"severities"`
	// ClosedStatuses lists the register statuses that mean closed.
	ClosedStatuses []string       `yaml:"closed_statuses"`
	Columns        findingColumns `yaml:"columns"`
}

// findings reads audit findings and yields finding_closure: one event per
// finding, good when it closed within the deadline. A finding still open
// when its deadline passes counts as bad at the deadline.
type findings struct {
	paths  []string
	opts   findingOptions
	logger *slog.Logger
	// now is the refresh clock; tests replace it.
	now func() time.Time
}

// NewFindings builds a findings source. Paths lists findings registers (CSV
// or JSON), OSCAL POA&M documents and Jira issue exports, in any mix.
func NewFindings(cfg Config, logger *slog.Logger) (Source, error) {
	opts := findingOptions{
		Deadline:       findingDefaultDeadline,
		ClosedStatuses: findingDefaultClosedStatuses,
		Columns:        findingColumns{ID: "id", Opened: "opened", Closed: "closed", Severity: "severity", Status: "status"},
	}
	if err := DecodeOptions(cfg, &opts); err != nil {
		return nil, err
	}
	if err := checkFindingOptions(cfg, &opts); err != nil {
		return nil, fmt.Errorf("source %q: %w", cfg.Name, err)
	}
	return &findings{paths: cfg.Paths, opts: opts, logger: logger, now: time.Now}, nil
}

// checkFindingOptions rejects options that cannot work and lower-cases the
// value lists.
func checkFindingOptions(cfg Config, opts *findingOptions) error {
	var problems []error
	if len(cfg.Paths) == 0 {
		problems = append(problems, errors.New("paths is empty: list the findings registers, OSCAL POA&M files or Jira exports"))
	}
	if cfg.URL != "" {
		problems = append(problems, fmt.Errorf("url is not supported by type %s: list the exports under paths", cfg.Type))
	}
	switch opts.Format {
	case "", findingFormatCSV, findingFormatJSON, findingFormatPOAM, findingFormatJira:
	default:
		problems = append(problems, fmt.Errorf("invalid options.format %q: expected csv, json, oscal_poam or jira", opts.Format))
	}
	if opts.Deadline <= 0 {
		problems = append(problems, fmt.Errorf("invalid options.deadline %s: expected a positive duration such as 90d", opts.Deadline))
	}
	if len(opts.ClosedStatuses) == 0 {
		problems = append(problems, errors.New("options.closed_statuses is empty: list the statuses that mean closed, such as [closed]"))
	}
	c := opts.Columns
	if c.ID == "" || c.Opened == "" {
		problems = append(problems, errors.New("options.columns.id and options.columns.opened must not be empty"))
	}

	opts.Severities = findingLowerAll(opts.Severities)
	opts.ClosedStatuses = findingLowerAll(opts.ClosedStatuses)
	return errors.Join(problems...)
}

func findingLowerAll(values []string) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = strings.ToLower(strings.TrimSpace(v))
	}
	return out
}

// Refresh reads every file and returns one event per finding in scope. Any
// file-level problem fails the whole refresh.
func (s *findings) Refresh(ctx context.Context) (*Result, error) {
	now := s.now().UTC()
	deadline := time.Duration(s.opts.Deadline)
	return refreshEvents(ctx, s.paths, s.readFile, s.logger, func(record findingRecord) (Event, bool) {
		if len(s.opts.Severities) > 0 && !slices.Contains(s.opts.Severities, record.severity) {
			return Event{}, false
		}
		return findingEvent(record, deadline, now), true
	})
}

// readFile reads one file in its format.
func (s *findings) readFile(file string) (*recordExport[findingRecord], error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("failed to read findings export: %w", err)
	}
	format, err := findingFileFormat(s.opts.Format, file, data)
	if err != nil {
		return nil, err
	}

	switch format {
	case findingFormatPOAM:
		return parseFindingPOAM(file, data)
	case findingFormatJira:
		return parseFindingJira(file, data)
	}
	return parseFindingRegister(file, data, format, s.opts.Columns, s.opts.ClosedStatuses)
}

// findingFileFormat returns the configured format, or csv for a .csv file,
// or for a .json file: a register for a top-level array, OSCAL POA&M for an
// object with plan-of-action-and-milestones, and Jira for an object with
// issues.
func findingFileFormat(configured, file string, data []byte) (string, error) {
	if configured != "" {
		return configured, nil
	}
	switch strings.ToLower(filepath.Ext(file)) {
	case ".csv":
		return findingFormatCSV, nil
	case ".json":
	default:
		return "", fmt.Errorf("cannot tell the format of %s from its extension: set options.format to csv, json, oscal_poam or jira", file)
	}

	trimmed := bytes.TrimSpace(bytes.TrimPrefix(data, tableBOM))
	if len(trimmed) > 0 && trimmed[0] == '[' {
		return findingFormatJSON, nil
	}
	walk, err := newRecordJSON(file, data)
	if err != nil {
		return "", err
	}
	format := ""
	err = walk.object("the document", map[string]func() error{
		"plan-of-action-and-milestones": func() error { format = findingFormatPOAM; return walk.skip() },
		"issues":                        func() error { format = findingFormatJira; return walk.skip() },
	})
	if err != nil {
		return "", err
	}
	if format == "" {
		return "", &InputError{File: file, Line: 1, Err: errors.New(
			"unknown findings format: expected a JSON array of findings, an OSCAL POA&M (plan-of-action-and-milestones) or a Jira export (issues); set options.format")}
	}
	return format, nil
}

// findingEvent returns the finding_closure event of a record. A closed
// finding is a "within the deadline" event from opened to closed. An open
// finding past its deadline is a failed event that ends at the deadline, so
// that it counts as bad without waiting for the close. Its duration is left
// out of the histogram, because the finding has not closed yet.
func findingEvent(record findingRecord, deadline time.Duration, now time.Time) Event {
	if record.closed.IsZero() {
		due := record.opened.Add(deadline)
		if now.After(due) {
			return Event{SLI: slo.SLIFindingClosure, ID: record.id, End: due, Failed: true}
		}
	}
	return Event{SLI: slo.SLIFindingClosure, ID: record.id, Start: record.opened, End: record.closed, Bound: deadline}
}
