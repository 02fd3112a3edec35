package sources

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
)

// This file contains what the findings and access_reviews sources share:
// the records of one export file, and their merge across the files of one
// refresh with missing and duplicated ids reported.

// recordReject is a record that an export cannot use, at its line.
type recordReject struct {
	line int
	err  error
}

// exportRecord is the view of a record that the merge needs: its id, line
// and whether it is closed.
type exportRecord interface {
	recordID() string
	recordLine() int
	recordClosed() bool
}

// recordExport is the content of one file: its records, the records it
// rejected, and problems that do not reject a record but leave it open.
type recordExport[T exportRecord] struct {
	records  []T
	rejected []recordReject
	warnings []string
}

// reject records a rejected record at its line.
func (e *recordExport[T]) reject(line int, format string, args ...any) {
	e.rejected = append(e.rejected, recordReject{line: line, err: fmt.Errorf(format, args...)})
}

// exportRecords merges the records of the files of one refresh by id.
type exportRecords[T exportRecord] struct {
	records []T
	index   map[string]int
	files   []string
}

func newExportRecords[T exportRecord]() *exportRecords[T] {
	return &exportRecords[T]{index: map[string]int{}}
}

// exportMaxLoggedWarnings caps the warnings logged per file and refresh.
const exportMaxLoggedWarnings = 10

// addFile logs and counts the problems of one file and merges its records.
// An id that occurs more than once in the file rejects every record of it,
// because the export does not show which one is right. An id already read from
// another file (overlapping exports) keeps the closed record, or the first
// when both are open or both closed. A file whose every record is rejected
// fails the refresh, because it is in a format the source does not read.
func (m *exportRecords[T]) addFile(file string, export *recordExport[T], rejected *tableRejects, logger *slog.Logger) error {
	for i, warning := range export.warnings {
		if i == exportMaxLoggedWarnings {
			logger.Warn("more warnings than logged", "file", file, "warnings", len(export.warnings), "logged", exportMaxLoggedWarnings)
			break
		}
		logger.Warn("record kept open", "file", file, "warning", warning)
	}
	for _, r := range export.rejected {
		rejected.add(file, r.line, r.err)
	}

	kept := exportRejectInvalidIDs(file, export.records, rejected)
	kept = exportRejectDuplicates(file, kept, rejected)
	read := len(export.records) + len(export.rejected)
	if read > 0 && len(kept) == 0 {
		return fmt.Errorf("every record of %s was rejected (%d), so the file is not in the expected format or every id is repeated; see the rejected records in the log", file, read)
	}

	for _, record := range kept {
		m.merge(file, record)
	}
	return nil
}

func (m *exportRecords[T]) merge(file string, record T) {
	i, seen := m.index[record.recordID()]
	switch {
	case !seen:
		m.index[record.recordID()] = len(m.records)
		m.records = append(m.records, record)
		m.files = append(m.files, file)
	case record.recordClosed() && !m.records[i].recordClosed():
		m.records[i], m.files[i] = record, file
	}
}

// exportRejectInvalidIDs returns the records whose id the ledger can store
// and rejects the others: ids with a NUL character or invalid UTF-8, which
// a CSV file can contain.
func exportRejectInvalidIDs[T exportRecord](file string, records []T, rejected *tableRejects) []T {
	kept := records[:0:0]
	for _, r := range records {
		if validEventText(r.recordID()) {
			kept = append(kept, r)
			continue
		}
		rejected.add(file, r.recordLine(), fmt.Errorf("id %q contains a NUL character or invalid UTF-8, which the ledger cannot store", r.recordID()))
	}
	return kept
}

// exportRejectDuplicates returns the records whose id occurs once in the
// file and rejects the others, naming every line of the id.
func exportRejectDuplicates[T exportRecord](file string, records []T, rejected *tableRejects) []T {
	lines := map[string][]int{}
	for _, r := range records {
		lines[r.recordID()] = append(lines[r.recordID()], r.recordLine())
	}

	kept := make([]T, 0, len(records))
	for _, r := range records {
		at := lines[r.recordID()]
		if len(at) == 1 {
			kept = append(kept, r)
			continue
		}
		rejected.add(file, r.recordLine(), fmt.Errorf(
			"duplicate id %q at lines %s: every record of it is left out until the export names it once", r.recordID(), exportJoinLines(at)))
	}
	return kept
}

func exportJoinLines(lines []int) string {
	text := make([]string, len(lines))
	for i, line := range lines {
		text[i] = strconv.Itoa(line)
	}
	return strings.Join(text, ", ")
}

// exportReadCSV calls visit with the values of columns for every row of
// CSV data. A row of the wrong width is added to rejected.
func exportReadCSV(file string, data []byte, columns []tableColumn, rejected *[]recordReject, visit func([]string, int)) error {
	table, err := openCSVTable(file, bytes.NewReader(data))
	if err != nil {
		return err
	}
	indexes, err := table.columnIndexes(columns)
	if err != nil {
		return err
	}

	values := make([]string, len(columns))
	for {
		record, line, err := table.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if isRecordError(err) {
			*rejected = append(*rejected, recordReject{line: line, err: err})
			continue
		}
		if err != nil {
			return err
		}
		for i, index := range indexes {
			values[i] = ""
			if index >= 0 {
				values[i] = record[index]
			}
		}
		visit(values, line)
	}
}

// exportReadJSON calls visit with the values of columns for every
// element of a JSON array of objects. An element that is not an object, or a
// field that is neither a string nor a number, is added to rejected.
func exportReadJSON(file string, data []byte, columns []tableColumn, rejected *[]recordReject, visit func([]string, int)) error {
	array, err := openTableJSONArray(file, data, "")
	if err != nil {
		return err
	}

	values := make([]string, len(columns))
	for {
		var object map[string]json.RawMessage
		line, err := array.next(&object)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err == nil {
			err = tableJSONValues(object, columns, values)
		}
		if isRecordError(err) {
			*rejected = append(*rejected, recordReject{line: line, err: err})
			continue
		}
		if err != nil {
			return err
		}
		visit(values, line)
	}
}

// readExports reads every file with readFile and merges their records. It
// returns the merged records and the number of records read, rejected ones
// included. Any file-level problem, or a cancelled ctx, fails the whole read.
func readExports[T exportRecord](ctx context.Context, paths []string, readFile func(string) (*recordExport[T], error), rejected *tableRejects, logger *slog.Logger) (*exportRecords[T], int, error) {
	merged := newExportRecords[T]()
	read := 0
	for _, file := range paths {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		export, err := readFile(file)
		if err != nil {
			return nil, 0, err
		}
		read += len(export.records) + len(export.rejected)
		if err := merged.addFile(file, export, rejected, logger); err != nil {
			return nil, 0, err
		}
	}
	return merged, read, nil
}

// readExportArray decodes every element of the JSON array under key, or of
// the top-level array when the document is a bare array, into an In and
// passes it to add. An element of the wrong shape is rejected with its
// line; any other problem fails the file.
func readExportArray[In any, T exportRecord](file string, data []byte, key string, add func(export *recordExport[T], item In, line int)) (*recordExport[T], error) {
	if trimmed := bytes.TrimSpace(bytes.TrimPrefix(data, tableBOM)); len(trimmed) > 0 && trimmed[0] == '[' {
		key = ""
	}
	array, err := openTableJSONArray(file, data, key)
	if err != nil {
		return nil, err
	}

	export := &recordExport[T]{}
	for {
		var item In
		line, err := array.next(&item)
		if errors.Is(err, io.EOF) {
			return export, nil
		}
		if isRecordError(err) {
			export.rejected = append(export.rejected, recordReject{line: line, err: err})
			continue
		}
		if err != nil {
			return nil, err
		}
		add(export, item, line)
	}
}

// refreshEvents is the Refresh of an export-based event source: it reads
// and merges every file, then turns each record into an event with
// toEvent, which may leave a record out. Any file-level problem fails the
// whole refresh.
func refreshEvents[T exportRecord](ctx context.Context, paths []string, readFile func(string) (*recordExport[T], error), logger *slog.Logger, toEvent func(T) (Event, bool)) (*Result, error) {
	rejected := newTableRejects(logger, "")
	defer rejected.summarize()

	merged, read, err := readExports(ctx, paths, readFile, rejected, logger)
	if err != nil {
		return nil, err
	}

	result := &Result{RecordsRead: read}
	for _, record := range merged.records {
		if event, ok := toEvent(record); ok {
			result.Events = append(result.Events, event)
		}
	}
	result.RecordsRejected = rejected.total
	return result, nil
}
