package sources

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/secslo/secslo/slo"
)

// restoreFormats lists the values of options.format of a restores source.
var restoreFormats = []string{"aws_backup", "velero", "csv", "json"}

// restoreOptions are the options of a restores source.
type restoreOptions struct {
	// Format is one of restoreFormats.
	Format string `yaml:"format"`
	// Fields names the columns or members of format csv and json.
	Fields restoreFields `yaml:"fields"`
}

// restoreFields names the columns of a generic restore test export.
type restoreFields struct {
	ID       string `yaml:"id"`
	Result   string `yaml:"result"`
	Started  string `yaml:"started"`
	Finished string `yaml:"finished"`
}

// restoreOutcome is a restore test's state: open while it runs, then passed
// or failed.
type restoreOutcome int

const (
	restoreRunning restoreOutcome = iota
	restorePassed
	restoreFailed
)

// restores reads restore job exports into restore_tests pass/fail events.
// A job counts once, when it reaches a final state.
type restores struct {
	eventAdapter
	opts restoreOptions
}

// NewRestores is the Factory of the restores source type.
func NewRestores(cfg Config, logger *slog.Logger) (Source, error) {
	var opts restoreOptions
	if err := DecodeOptions(cfg, &opts); err != nil {
		return nil, err
	}
	if err := requirePaths(cfg, "restore job export"); err != nil {
		return nil, err
	}
	if !slices.Contains(restoreFormats, opts.Format) {
		return nil, fmt.Errorf("invalid options.format %q; use one of %s", opts.Format, strings.Join(restoreFormats, ", "))
	}

	set := func(v *string, fallback string) {
		if *v == "" {
			*v = fallback
		}
	}
	set(&opts.Fields.ID, "id")
	set(&opts.Fields.Result, "result")
	set(&opts.Fields.Started, "started_at")
	set(&opts.Fields.Finished, "finished_at")
	return &restores{eventAdapter: eventAdapter{cfg: cfg, logger: logger}, opts: opts}, nil
}

// Refresh reads every path in the configured format.
func (s *restores) Refresh(ctx context.Context) (*Result, error) {
	return s.refresh(ctx, func(ctx context.Context, file string, set *eventSet, rejected *tableRejects) (int, error) {
		add := func(id string, outcome restoreOutcome, started, finished time.Time) error {
			return addRestore(set, file, id, outcome, started, finished)
		}

		switch s.opts.Format {
		case "aws_backup":
			return readAWSBackupRestores(ctx, file, rejected, add)
		case "velero":
			return readVeleroRestores(file, rejected, add)
		default:
			return s.readTable(ctx, file, rejected, add)
		}
	})
}

// restoreAdder adds one restore job.
type restoreAdder func(id string, outcome restoreOutcome, started, finished time.Time) error

// addRestore adds a restore_tests event. A finished job without a finish time
// still counts, closed at its start, because its outcome is known. Its
// duration is then unknown, so it stays out of the histogram.
func addRestore(set *eventSet, file, id string, outcome restoreOutcome, started, finished time.Time) error {
	if err := checkOrder("start", started, "finish", finished); err != nil {
		return err
	}

	e := Event{SLI: slo.SLIRestoreTests, ID: id, Start: started, Failed: outcome == restoreFailed}
	if outcome != restoreRunning {
		e.End = finished
		if e.End.IsZero() {
			e.Start, e.End = time.Time{}, started
		}
		if e.End.IsZero() {
			return tableReject("restore %q has a final state but neither a start nor a finish time", id)
		}
	}
	return set.add(file, e)
}

// awsRestoreJob is the part of a job of `aws backup list-restore-jobs` that
// gives its outcome.
type awsRestoreJob struct {
	RestoreJobID   string        `json:"RestoreJobId"`
	Status         string        `json:"Status"`
	CreationDate   tableJSONText `json:"CreationDate"`
	CompletionDate tableJSONText `json:"CompletionDate"`
}

// awsRestoreStatuses maps AWS Backup restore job statuses to outcomes.
var awsRestoreStatuses = map[string]restoreOutcome{
	"PENDING": restoreRunning, "RUNNING": restoreRunning,
	"COMPLETED": restorePassed,
	"ABORTED":   restoreFailed, "FAILED": restoreFailed,
}

// readAWSBackupRestores reads `aws backup list-restore-jobs` output.
func readAWSBackupRestores(ctx context.Context, file string, rejected *tableRejects, add restoreAdder) (int, error) {
	return readJSONRecords(ctx, file, "RestoreJobs", rejected, func(job *awsRestoreJob, _ int) error {
		outcome, ok := awsRestoreStatuses[job.Status]
		if !ok {
			return tableReject("restore job %q has the unknown Status %q; expected PENDING, RUNNING, COMPLETED, ABORTED or FAILED", job.RestoreJobID, job.Status)
		}
		started, err := jsonTime("CreationDate", job.CreationDate)
		if err != nil {
			return err
		}
		finished, err := jsonTime("CompletionDate", job.CompletionDate)
		if err != nil {
			return err
		}
		return add(job.RestoreJobID, outcome, started, finished)
	})
}

// veleroRestore is the part of a Velero Restore object that gives its
// outcome.
type veleroRestore struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name      string `yaml:"name"`
		Namespace string `yaml:"namespace"`
	} `yaml:"metadata"`
	Status struct {
		Phase               string `yaml:"phase"`
		StartTimestamp      string `yaml:"startTimestamp"`
		CompletionTimestamp string `yaml:"completionTimestamp"`
	} `yaml:"status"`
	Items []yaml.Node `yaml:"items"`
}

// veleroPhases maps Velero Restore phases to outcomes. Phases not listed
// here (New, InProgress, WaitingForPluginOperations, Finalizing and their
// variants) mean the restore still runs.
var veleroPhases = map[string]restoreOutcome{
	"Completed":        restorePassed,
	"PartiallyFailed":  restoreFailed,
	"Failed":           restoreFailed,
	"FailedValidation": restoreFailed,
}

// readVeleroRestores reads Velero Restore objects from YAML or JSON: one
// object, several YAML documents, or a RestoreList as `velero restore get -o
// yaml` or `kubectl get restores -o yaml` print them. The id is
// namespace/name.
func readVeleroRestores(file string, rejected *tableRejects, add restoreAdder) (int, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, fmt.Errorf("failed to read input: %w", err)
	}
	data = bytes.TrimPrefix(data, tableBOM)
	if len(bytes.TrimSpace(data)) == 0 {
		return 0, &InputError{File: file, Err: errTableEmpty}
	}

	tally := &tableFileTally{file: file}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return tally.read, tally.check()
		}
		if err != nil {
			return 0, &InputError{File: file, Err: fmt.Errorf("invalid YAML or JSON: %w", err)}
		}
		if err := visitVeleroDocument(&doc, tally, rejected, add); err != nil {
			return 0, err
		}
	}
}

// visitVeleroDocument adds the Restore of one document, or each item of a
// list.
func visitVeleroDocument(doc *yaml.Node, tally *tableFileTally, rejected *tableRejects, add restoreAdder) error {
	var top veleroRestore
	if err := doc.Decode(&top); err != nil {
		return tally.settle(doc.Line, &tableRecordError{fmt.Errorf("not a Velero Restore: %w", err)}, rejected)
	}
	if !strings.HasSuffix(top.Kind, "List") {
		return tally.settle(doc.Line, addVeleroRestore(&top, add), rejected)
	}

	for i := range top.Items {
		item := &top.Items[i]
		var r veleroRestore
		err := item.Decode(&r)
		if err != nil {
			err = &tableRecordError{fmt.Errorf("not a Velero Restore: %w", err)}
		} else {
			err = addVeleroRestore(&r, add)
		}
		if err := tally.settle(item.Line, err, rejected); err != nil {
			return err
		}
	}
	return nil
}

func addVeleroRestore(r *veleroRestore, add restoreAdder) error {
	if r.Kind != "Restore" {
		return tableReject("found kind %q, expected a Velero Restore", r.Kind)
	}
	if r.Metadata.Name == "" {
		return tableReject("missing record id: the Restore has no metadata.name")
	}

	id := r.Metadata.Name
	if r.Metadata.Namespace != "" {
		id = r.Metadata.Namespace + "/" + id
	}
	started, err := parseEventTime("status.startTimestamp", r.Status.StartTimestamp)
	if err != nil {
		return err
	}
	finished, err := parseEventTime("status.completionTimestamp", r.Status.CompletionTimestamp)
	if err != nil {
		return err
	}
	return add(id, veleroPhases[r.Status.Phase], started, finished)
}

// restoreResults maps the result values of a generic export, lower-cased,
// to outcomes. An empty result means the test still runs.
var restoreResults = map[string]restoreOutcome{
	"": restoreRunning, "running": restoreRunning, "pending": restoreRunning,
	"pass": restorePassed, "passed": restorePassed, "success": restorePassed, "succeeded": restorePassed, "completed": restorePassed, "ok": restorePassed,
	"fail": restoreFailed, "failed": restoreFailed, "failure": restoreFailed, "error": restoreFailed, "aborted": restoreFailed,
}

// readTable reads a generic CSV file or JSON array of restore tests.
func (s *restores) readTable(ctx context.Context, file string, rejected *tableRejects, add restoreAdder) (int, error) {
	f := s.opts.Fields
	columns := []tableColumn{
		{name: f.ID, fallback: "id", option: "options.fields.id", content: "restore test ids", required: true},
		{name: f.Result, fallback: "result", option: "options.fields.result", content: "results (passed or failed)", required: true},
		{name: f.Started, fallback: "started_at", option: "options.fields.started", content: "start times"},
		{name: f.Finished, fallback: "finished_at", option: "options.fields.finished", content: "finish times"},
	}

	return readTable(ctx, file, s.opts.Format, columns, rejected, func(values []string, _ int) error {
		outcome, ok := restoreResults[strings.ToLower(strings.TrimSpace(values[1]))]
		if !ok {
			return tableReject("field %s: unknown result %q; use passed or failed, or leave it empty while the test runs", f.Result, values[1])
		}
		started, err := parseEventTime(f.Started, values[2])
		if err != nil {
			return err
		}
		finished, err := parseEventTime(f.Finished, values[3])
		if err != nil {
			return err
		}
		return add(strings.TrimSpace(values[0]), outcome, started, finished)
	})
}
