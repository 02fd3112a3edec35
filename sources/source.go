// Package sources reads the exports that security teams already keep and
// turns them into SLI values. Each adapter lives in its own file, and cmd/
// registers the adapters explicitly.
package sources

import (
	"context"
	"fmt"
	"log/slog"
)

// Source is one configured input. Refresh reads every input of the source
// and returns a whole Result, or an error and no Result: a caller never sees
// a partial count.
type Source interface {
	Refresh(ctx context.Context) (*Result, error)
}

// Factory builds a Source from its configuration. It rejects invalid options
// with an error that names the option and the fix.
type Factory func(cfg Config, logger *slog.Logger) (Source, error)

// LogKeySource is the log key of a source's name. The manager adds it to
// the logger that each adapter receives, so adapters do not log it again.
// It is not "source" because promslog uses that key for the code location.
const LogKeySource = "source_name"

// Registry maps a source type, as written in the config file, to its Factory.
type Registry map[string]Factory

// Result is what one successful refresh yields.
type Result struct {
	// Snapshots holds one value per snapshot SLI that the source computes.
	Snapshots []Snapshot
	// RecordsRead counts the records parsed, including rejected ones.
	RecordsRead int
	// RecordsRejected counts records skipped as invalid; each is logged.
	RecordsRejected int
	// Noncompliant lists the objects that count as bad, for triage. It is
	// served as JSON, never as metric labels.
	Noncompliant []Object
	// Events holds every record of the source's event SLIs, open or closed,
	// each (SLI, ID) once. The manager commits them to the ledger, which
	// counts each closed event once; see Event.
	Events []Event
	// Scans holds the scanner snapshots of the refresh, in any order; the
	// ledger derives events from them; see Scan.
	Scans []Scan
}

// Snapshot is the state of one snapshot SLI at refresh time.
type Snapshot struct {
	SLI          string `json:"sli"`
	Objects      int    `json:"objects"`      // objects in scope
	Noncompliant int    `json:"noncompliant"` // objects out of compliance
}

// Object identifies one object that is out of compliance.
type Object struct {
	SLI    string `json:"sli"`
	ID     string `json:"id"`
	Name   string `json:"name,omitempty"`
	Reason string `json:"reason"`
}

// InputError reports invalid input at a position in a file. Line and Column
// are 1-based and zero when unknown; Offset is a byte offset used when lines
// do not apply.
type InputError struct {
	File   string
	Line   int
	Column int
	Offset int64
	Err    error
}

func (e *InputError) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("%s:%d:%d: %v", e.File, e.Line, e.Column, e.Err)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	case e.Offset > 0:
		return fmt.Sprintf("%s: byte offset %d: %v", e.File, e.Offset, e.Err)
	default:
		return fmt.Sprintf("%s: %v", e.File, e.Err)
	}
}

func (e *InputError) Unwrap() error { return e.Err }
