package sources

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/secslo/secslo/slo"
)

// reviewOptions are the options of an access_reviews source.
type reviewOptions struct {
	// Format is csv, json or entra. Empty means csv for .csv files. A .json
	// file is entra when its document is an object, and json otherwise.
	Format  string        `yaml:"format"`
	Columns reviewColumns `yaml:"columns"`
}

// accessReviews reads scheduled access reviews and yields access_reviews:
// one pass/fail event per review, good when it was completed by its due
// time. A review not completed when its due time passes counts as bad then.
type accessReviews struct {
	paths  []string
	opts   reviewOptions
	logger *slog.Logger
	// now is the refresh clock; tests replace it.
	now func() time.Time
}

// NewAccessReviews builds an access_reviews source. Paths lists review
// lists (CSV or JSON) and Microsoft Entra ID access review instance exports,
// in any mix.
func NewAccessReviews(cfg Config, logger *slog.Logger) (Source, error) {
	opts := reviewOptions{Columns: reviewColumns{ID: "id", Due: "due", Completed: "completed", Name: "name"}}
	if err := DecodeOptions(cfg, &opts); err != nil {
		return nil, err
	}

	var problems []error
	if len(cfg.Paths) == 0 {
		problems = append(problems, errors.New("paths is empty: list the review lists or Entra ID access review exports"))
	}
	if cfg.URL != "" {
		problems = append(problems, fmt.Errorf("url is not supported by type %s: list the exports under paths", cfg.Type))
	}
	switch opts.Format {
	case "", reviewFormatCSV, reviewFormatJSON, reviewFormatEntra:
	default:
		problems = append(problems, fmt.Errorf("invalid options.format %q: expected csv, json or entra", opts.Format))
	}
	if opts.Columns.ID == "" || opts.Columns.Due == "" {
		problems = append(problems, errors.New("options.columns.id and options.columns.due must not be empty"))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, fmt.Errorf("source %q: %w", cfg.Name, err)
	}
	return &accessReviews{paths: cfg.Paths, opts: opts, logger: logger, now: time.Now}, nil
}

// Refresh reads every file and returns one event per review. Any
// file-level problem fails the whole refresh.
func (s *accessReviews) Refresh(ctx context.Context) (*Result, error) {
	now := s.now().UTC()
	return refreshEvents(ctx, s.paths, s.readFile, s.logger, func(record reviewRecord) (Event, bool) {
		return reviewEvent(record, now), true
	})
}

// readFile reads one file in its format.
func (s *accessReviews) readFile(file string) (*recordExport[reviewRecord], error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("failed to read access review export: %w", err)
	}
	format, err := reviewFileFormat(s.opts.Format, file, data)
	if err != nil {
		return nil, err
	}
	if format == reviewFormatEntra {
		return parseReviewEntra(file, data)
	}
	return parseReviewTable(file, data, format, s.opts.Columns)
}

// reviewFileFormat returns the configured format, or one from the file's
// extension and, for JSON, its top-level type: Microsoft Graph wraps its
// lists in an object, a review list is a bare array.
func reviewFileFormat(configured, file string, data []byte) (string, error) {
	if configured != "" {
		return configured, nil
	}
	switch strings.ToLower(filepath.Ext(file)) {
	case ".csv":
		return reviewFormatCSV, nil
	case ".json":
		if bytes.HasPrefix(bytes.TrimSpace(bytes.TrimPrefix(data, tableBOM)), []byte("{")) {
			return reviewFormatEntra, nil
		}
		return reviewFormatJSON, nil
	}
	return "", fmt.Errorf("cannot tell the format of %s from its extension: set options.format to csv, json or entra", file)
}

// reviewEvent returns the access_reviews event of a review. The event fails
// when the review was completed after its due time, or when the due time
// passed without a completion. It stays open while the review is not due.
func reviewEvent(record reviewRecord, now time.Time) Event {
	e := Event{SLI: slo.SLIAccessReviews, ID: record.id}
	switch {
	case !record.completed.IsZero():
		e.End, e.Failed = record.completed, record.completed.After(record.due)
	case now.After(record.due):
		e.End, e.Failed = record.due, true
	}
	return e
}
