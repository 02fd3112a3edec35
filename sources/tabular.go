package sources

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// This file contains the readers that the list-shaped adapters share: CSV files
// with a header row, JSON arrays of objects, and the bookkeeping of rejected
// records.

// tableBOM is the byte-order mark that Excel and PowerShell write at the start
// of UTF-8 files.
var tableBOM = []byte{0xEF, 0xBB, 0xBF}

// errTableEmpty fails a refresh whose input has no content at all, which is
// what an interrupted export usually leaves behind.
var errTableEmpty = errors.New("file is empty: expected a header row or a JSON document")

// tableMaxLoggedRejects caps the log lines per file for rejected records, so a
// file with a million bad rows cannot flood the log. Every rejection is still
// counted.
const tableMaxLoggedRejects = 10

// tableFormat returns the format of an input file: the configured one, or
// "csv" or "json" from the file extension.
func tableFormat(configured, file string) (string, error) {
	if configured != "" {
		return configured, nil
	}
	switch strings.ToLower(filepath.Ext(file)) {
	case ".csv":
		return "csv", nil
	case ".json":
		return "json", nil
	}
	return "", fmt.Errorf("cannot tell the format of %s from its extension: set options.format to csv or json", file)
}

// csvTable reads a CSV file whose first row names the columns. Records are
// reused between calls to next, so a caller copies nothing it keeps beyond
// the strings themselves, which stay valid.
type csvTable struct {
	file   string
	reader *csv.Reader
	header []string
	// tail remembers the last byte of the file, and shortLine the line of
	// the last record when it had too few fields, so that a file cut off
	// in the middle of its last row is recognised at its end.
	tail      *lastByteReader
	shortLine int
}

// lastByteReader passes reads through and remembers the last byte read.
type lastByteReader struct {
	r    io.Reader
	last byte
}

func (l *lastByteReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if n > 0 {
		l.last = p[n-1]
	}
	return n, err
}

// openCSVTable reads the header row of r. It skips a UTF-8 byte-order mark;
// encoding/csv already accepts CRLF line endings.
func openCSVTable(file string, r io.Reader) (*csvTable, error) {
	tail := &lastByteReader{r: r}
	br := bufio.NewReaderSize(tail, 1<<20)
	if prefix, err := br.Peek(len(tableBOM)); err == nil && bytes.Equal(prefix, tableBOM) {
		_, _ = br.Discard(len(tableBOM))
	}

	reader := csv.NewReader(br)
	reader.ReuseRecord = true
	reader.FieldsPerRecord = -1
	header, err := reader.Read()
	if errors.Is(err, io.EOF) {
		return nil, &InputError{File: file, Err: errTableEmpty}
	}
	if err != nil {
		return nil, tableCSVError(file, err)
	}

	table := &csvTable{file: file, reader: reader, header: make([]string, len(header)), tail: tail}
	for i, name := range header {
		table.header[i] = strings.TrimSpace(name)
	}
	return table, nil
}

// column returns the index of the named column, matched without regard to
// case, or -1 when the header has no such column.
func (t *csvTable) column(name string) int {
	for i, h := range t.header {
		if strings.EqualFold(h, name) {
			return i
		}
	}
	return -1
}

// requireColumn returns the index of a column that the adapter cannot work
// without. The error lists the columns found and the option that names it.
func (t *csvTable) requireColumn(name, option, content string) (int, error) {
	if i := t.column(name); i >= 0 {
		return i, nil
	}
	return -1, &InputError{File: t.file, Line: 1, Err: fmt.Errorf(
		"missing required column %q (found %s): set %s to the column that contains %s",
		name, tableQuoteList(t.header), option, content)}
}

// optionalColumn returns the index of a column that may be absent, or -1. A
// column that the user named explicitly must exist, so that a typo in the
// option does not silently drop the data.
func (t *csvTable) optionalColumn(name, defaultName, option string) (int, error) {
	i := t.column(name)
	if i >= 0 || name == defaultName {
		return i, nil
	}
	return -1, &InputError{File: t.file, Line: 1, Err: fmt.Errorf(
		"missing column %q (found %s): fix %s or remove it", name, tableQuoteList(t.header), option)}
}

// next returns the next record and its line number, io.EOF after the last
// one, a *tableRecordError for a row of the wrong width and an *InputError for
// CSV that cannot be read on.
//
// A file whose last row has too few fields and no line break after it was
// cut off while it was being written: that fails the whole file, because the
// rows before the cut would be published as if they were all.
func (t *csvTable) next() ([]string, int, error) {
	record, err := t.reader.Read()
	if errors.Is(err, io.EOF) {
		if t.shortLine > 0 && t.tail.last != '\n' && t.tail.last != '\r' {
			return nil, 0, &InputError{File: t.file, Line: t.shortLine, Err: errors.New(
				"the last row is incomplete and the file does not end with a line break, so the export looks partly written; write exports to a temporary file and rename it into place")}
		}
		return nil, 0, io.EOF
	}
	if err != nil {
		return nil, 0, tableCSVError(t.file, err)
	}

	line, _ := t.reader.FieldPos(0)
	t.shortLine = 0
	if len(record) != len(t.header) {
		if len(record) < len(t.header) {
			t.shortLine = line
		}
		return nil, line, &tableRecordError{fmt.Errorf("row has %d fields, the header has %d", len(record), len(t.header))}
	}
	return record, line, nil
}

// tableCSVError converts an encoding/csv error into an InputError that
// carries its line and column.
func tableCSVError(file string, err error) error {
	var parseErr *csv.ParseError
	if errors.As(err, &parseErr) {
		return &InputError{File: file, Line: parseErr.Line, Column: parseErr.Column, Err: fmt.Errorf("invalid CSV: %w", parseErr.Err)}
	}
	return &InputError{File: file, Err: fmt.Errorf("failed to read CSV: %w", err)}
}

// tableColumn describes one column of a table-shaped input, CSV or JSON.
type tableColumn struct {
	name     string // the configured name
	fallback string // the default name
	option   string // the option that sets the name, for messages
	content  string // the column's content, for messages
	required bool
}

// readTable calls visit with the values of columns, in order, for every
// record of a CSV file or of a JSON array of objects. An optional column that
// is absent reads as "". When visit returns a *tableRecordError the record is
// rejected; any other error fails the file. readTable returns the number of
// records read, rejected ones included.
func readTable(ctx context.Context, file, format string, columns []tableColumn, rejected *tableRejects, visit func(values []string, line int) error) (int, error) {
	tally := &tableFileTally{file: file}
	var err error
	switch format {
	case "csv":
		err = readTableCSV(ctx, file, columns, tally, rejected, visit)
	case "json":
		err = readTableJSON(ctx, file, columns, tally, rejected, visit)
	default:
		err = fmt.Errorf("unknown format %q for %s: expected csv or json", format, file)
	}
	if err != nil {
		return 0, err
	}
	return tally.read, tally.check()
}

// readTableCSV parses the CSV file in a goroutine of its own and hands
// batches of records to visit in file order, so that parsing overlaps with
// the work that visit does, such as map lookups on large tables.
func readTableCSV(ctx context.Context, file string, columns []tableColumn, tally *tableFileTally, rejected *tableRejects, visit func([]string, int) error) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("failed to open input: %w", err)
	}
	defer f.Close()

	table, err := openCSVTable(file, f)
	if err != nil {
		return err
	}
	indexes, err := table.columnIndexes(columns)
	if err != nil {
		return err
	}

	parser := newCSVBatchParser(table, indexes)
	go parser.run()
	defer parser.stop()

	for batch := range parser.full {
		for i, line := range batch.lines {
			err := batch.errs[i]
			if err == nil {
				err = visit(batch.values[i*len(indexes):(i+1)*len(indexes)], line)
			}
			if err := tally.settle(line, err, rejected); err != nil {
				return err
			}
			if tally.read%tableCancelInterval == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
		}
		if batch.fatal != nil {
			return batch.fatal
		}
		parser.recycle(batch)
	}
	return nil
}

// csvBatchSize is how many records one batch carries between the parsing
// goroutine and the reader.
const csvBatchSize = 4096

// csvBatch is a run of parsed records. The selected values of record i are
// values[i*columns : (i+1)*columns] and errs[i] is its record-level error.
// A non-nil fatal ends the file after the last record.
type csvBatch struct {
	values []string
	lines  []int
	errs   []error
	fatal  error
}

// csvBatchParser runs the CSV parser of one file in a goroutine. It sends
// filled batches on full, takes emptied ones back on free, and stops early
// when done is closed.
type csvBatchParser struct {
	table    *csvTable
	indexes  []int
	full     chan *csvBatch
	free     chan *csvBatch
	done     chan struct{}
	finished chan struct{}
}

func newCSVBatchParser(table *csvTable, indexes []int) *csvBatchParser {
	return &csvBatchParser{
		table:    table,
		indexes:  indexes,
		full:     make(chan *csvBatch, 2),
		free:     make(chan *csvBatch, 4),
		done:     make(chan struct{}),
		finished: make(chan struct{}),
	}
}

// run parses the file until its end, a file-level error or stop. The
// strings of a record stay valid after the next Read, because encoding/csv
// allocates one string per line and reuses only the slice that holds them.
func (p *csvBatchParser) run() {
	defer close(p.finished)
	defer close(p.full)

	batch := p.emptyBatch()
	for {
		record, line, err := p.table.next()
		if errors.Is(err, io.EOF) {
			p.send(batch)
			return
		}
		if err != nil && !isRecordError(err) {
			batch.fatal = err
			p.send(batch)
			return
		}

		batch.lines = append(batch.lines, line)
		batch.errs = append(batch.errs, err)
		for _, index := range p.indexes {
			value := ""
			if index >= 0 && err == nil {
				value = record[index]
			}
			batch.values = append(batch.values, value)
		}
		if len(batch.lines) == csvBatchSize {
			if !p.send(batch) {
				return
			}
			batch = p.emptyBatch()
		}
	}
}

// send hands a batch to the reader and reports whether the reader still
// wants more.
func (p *csvBatchParser) send(batch *csvBatch) bool {
	select {
	case p.full <- batch:
		return true
	case <-p.done:
		return false
	}
}

func (p *csvBatchParser) emptyBatch() *csvBatch {
	select {
	case batch := <-p.free:
		return batch
	default:
		return &csvBatch{
			values: make([]string, 0, csvBatchSize*len(p.indexes)),
			lines:  make([]int, 0, csvBatchSize),
			errs:   make([]error, 0, csvBatchSize),
		}
	}
}

// recycle returns a batch that the reader has finished with.
func (p *csvBatchParser) recycle(batch *csvBatch) {
	batch.values, batch.lines, batch.errs = batch.values[:0], batch.lines[:0], batch.errs[:0]
	select {
	case p.free <- batch:
	default:
	}
}

// stop ends the parser and waits for it, so the file is not read after the
// reader has returned.
func (p *csvBatchParser) stop() {
	close(p.done)
	<-p.finished
}

func readTableJSON(ctx context.Context, file string, columns []tableColumn, tally *tableFileTally, rejected *tableRejects, visit func([]string, int) error) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("failed to read input: %w", err)
	}
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
		if err == nil {
			err = visit(values, line)
		}
		if err := tally.settle(line, err, rejected); err != nil {
			return err
		}
		if tally.read%tableCancelInterval == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// tableCancelInterval is how many records a reader handles between two
// checks of its context.
const tableCancelInterval = 1 << 16

// columnIndexes maps columns to header positions, -1 for an absent optional
// column.
func (t *csvTable) columnIndexes(columns []tableColumn) ([]int, error) {
	indexes := make([]int, len(columns))
	for i, c := range columns {
		var err error
		if c.required {
			indexes[i], err = t.requireColumn(c.name, c.option, c.content)
		} else {
			indexes[i], err = t.optionalColumn(c.name, c.fallback, c.option)
		}
		if err != nil {
			return nil, err
		}
	}
	return indexes, nil
}

// tableJSONValues fills values from the members of object. A missing required
// member tableRejects the record; the message lists the members found.
func tableJSONValues(object map[string]json.RawMessage, columns []tableColumn, values []string) error {
	for i, c := range columns {
		value, err := tableJSONField(object, c.name)
		if err != nil {
			return &tableRecordError{err}
		}
		if c.required && !value.set {
			return tableReject("missing field %q (found %s): set %s to the field that contains %s",
				c.name, tableQuoteList(tableSortedKeys(object)), c.option, c.content)
		}
		values[i] = value.text
	}
	return nil
}

func tableSortedKeys(object map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(object))
	for k := range object {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// tableRecordError marks a problem confined to one record: the record is rejected
// and the refresh goes on.
type tableRecordError struct{ err error }

func (e *tableRecordError) Error() string { return e.err.Error() }
func (e *tableRecordError) Unwrap() error { return e.err }

// isRecordError reports whether err rejects one record only. It is a
// function of its own because the target of errors.As escapes to the heap,
// which would cost an allocation per record on the error-free path.
func isRecordError(err error) bool {
	var recErr *tableRecordError
	return errors.As(err, &recErr)
}

// tableReject wraps err as a tableRecordError.
func tableReject(format string, args ...any) error {
	return &tableRecordError{fmt.Errorf(format, args...)}
}

// tableJSONArray reads the elements of a JSON array one at a time, either the
// whole document or the array under one key of a top-level object. Syntax
// errors, truncation and a wrong top-level type are file-level errors with a
// line and column.
type tableJSONArray struct {
	file  string
	data  []byte
	dec   *json.Decoder
	lines tableLineCounter
	// depth counts the objects and arrays open at the decoder's position.
	// json.Decoder.Token returns io.EOF even inside an open object, so the
	// count is what tells a truncated document from a whole one.
	depth int
}

// openTableJSONArray positions a reader on the first element of the array. With
// key empty the document must be an array; otherwise it must be an object
// whose member key is an array. Other members are skipped.
func openTableJSONArray(file string, data []byte, key string) (*tableJSONArray, error) {
	data = bytes.TrimPrefix(data, tableBOM)
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &InputError{File: file, Err: errTableEmpty}
	}

	a := &tableJSONArray{file: file, data: data, dec: json.NewDecoder(bytes.NewReader(data)), lines: tableLineCounter{data: data, line: 1}}
	if key == "" {
		return a, a.expectDelim('[', "a JSON array of objects at the top level")
	}

	if err := a.expectDelim('{', fmt.Sprintf("a JSON object with the member %q", key)); err != nil {
		return nil, err
	}
	for a.dec.More() {
		name, err := a.objectKey()
		if err != nil {
			return nil, err
		}
		if name == key {
			return a, a.expectDelim('[', fmt.Sprintf("%q to be an array", key))
		}
		var skipped json.RawMessage
		if err := a.dec.Decode(&skipped); err != nil {
			return nil, a.syntaxError(err)
		}
	}
	if _, err := a.dec.Token(); err != nil {
		return nil, a.syntaxError(err)
	}
	return nil, &InputError{File: file, Line: 1, Err: fmt.Errorf("missing member %q in the top-level object", key)}
}

// next decodes the next element into out and returns its line. It returns
// io.EOF after the last element, once the rest of the document is known to
// be well-formed, and a *tableRecordError when the element does not fit out.
func (a *tableJSONArray) next(out any) (int, error) {
	if !a.dec.More() {
		return 0, a.finish()
	}

	line, _ := a.lines.position(a.elementStart())
	var raw json.RawMessage
	if err := a.dec.Decode(&raw); err != nil {
		return line, a.syntaxError(err)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return line, &tableRecordError{tableDescribeTypeError(err)}
	}
	return line, nil
}

// finish reads the tokens after the array so that a document truncated after
// its last element still fails.
func (a *tableJSONArray) finish() error {
	for {
		tok, err := a.dec.Token()
		if errors.Is(err, io.EOF) && a.depth == 0 {
			return io.EOF
		}
		if err != nil {
			return a.syntaxError(err)
		}

		switch tok {
		case json.Delim('{'), json.Delim('['):
			a.depth++
		case json.Delim('}'), json.Delim(']'):
			a.depth--
		}
	}
}

func (a *tableJSONArray) expectDelim(want json.Delim, expected string) error {
	offset := a.elementStart()
	tok, err := a.dec.Token()
	if err != nil {
		return a.syntaxError(err)
	}
	if delim, ok := tok.(json.Delim); ok && delim == want {
		a.depth++
		return nil
	}
	line, column := a.lines.position(offset)
	return &InputError{File: a.file, Line: line, Column: column, Err: fmt.Errorf("expected %s, found %s", expected, describeJSONToken(tok))}
}

func (a *tableJSONArray) objectKey() (string, error) {
	tok, err := a.dec.Token()
	if err != nil {
		return "", a.syntaxError(err)
	}
	name, _ := tok.(string)
	return name, nil
}

// elementStart returns the offset of the next value, past the whitespace and
// separator that InputOffset still points at.
func (a *tableJSONArray) elementStart() int64 {
	offset := a.dec.InputOffset()
	for offset < int64(len(a.data)) {
		switch a.data[offset] {
		case ' ', '\t', '\r', '\n', ',', ':':
			offset++
		default:
			return offset
		}
	}
	return offset
}

// syntaxError turns a decoding error into an InputError at the offset where
// the decoder stopped.
func (a *tableJSONArray) syntaxError(err error) error {
	var syntaxErr *json.SyntaxError
	offset := a.dec.InputOffset()
	switch {
	case errors.As(err, &syntaxErr):
		offset = syntaxErr.Offset
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		offset = int64(len(a.data))
		err = errors.New("unexpected end of input: the file is truncated")
	}

	line, column := a.lines.position(offset)
	return &InputError{File: a.file, Line: line, Column: column, Err: fmt.Errorf("invalid JSON: %w", err)}
}

// tableDescribeTypeError rewrites an encoding/json type error in the words of
// the input: which field, what it contains, what was expected.
func tableDescribeTypeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if !errors.As(err, &typeErr) {
		return err
	}
	if typeErr.Field == "" {
		return fmt.Errorf("element is a JSON %s, expected an object", typeErr.Value)
	}
	return fmt.Errorf("field %q is a JSON %s, expected %s", typeErr.Field, typeErr.Value, tableJSONKind(typeErr.Type.Kind().String()))
}

func tableJSONKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "float64", "int", "int64", "int32":
		return "a number"
	case "bool":
		return "true or false"
	case "slice":
		return "an array"
	}
	return "an object"
}

// tableLineCounter converts byte offsets into 1-based lines and columns. Offsets
// must not decrease between calls, so counting costs one pass over the data.
type tableLineCounter struct {
	data      []byte
	pos       int64
	line      int
	lineStart int64
}

func (c *tableLineCounter) position(offset int64) (line, column int) {
	offset = min(offset, int64(len(c.data)))
	if offset < c.pos {
		c.pos, c.line, c.lineStart = 0, 1, 0
	}
	for c.pos < offset {
		if c.data[c.pos] == '\n' {
			c.line++
			c.lineStart = c.pos + 1
		}
		c.pos++
	}
	return c.line, int(offset-c.lineStart) + 1
}

// tableJSONText is a JSON value that may be a string or a number and is kept as
// text: asset ids and timestamps come as either.
type tableJSONText struct {
	text     string
	isNumber bool
	set      bool
}

// UnmarshalJSON accepts a string, a number or null.
func (t *tableJSONText) UnmarshalJSON(raw []byte) error {
	raw = bytes.TrimSpace(raw)
	switch {
	case bytes.Equal(raw, []byte("null")):
		*t = tableJSONText{}
		return nil
	case len(raw) > 0 && raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		*t = tableJSONText{text: s, set: true}
		return nil
	case len(raw) > 0 && (raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9')):
		*t = tableJSONText{text: string(raw), isNumber: true, set: true}
		return nil
	}
	return fmt.Errorf("found %s, expected a string or a number", describeJSONToken(tableFirstToken(raw)))
}

func tableFirstToken(raw []byte) json.Token {
	tok, _ := json.NewDecoder(bytes.NewReader(raw)).Token()
	return tok
}

// tableJSONField reads one member of a JSON object as text, matching its name
// without regard to case. A missing member and null both read as unset; any
// other value than a string or a number is an error that names the member.
func tableJSONField(object map[string]json.RawMessage, name string) (tableJSONText, error) {
	raw, ok := object[name]
	if !ok {
		for key, v := range object {
			if strings.EqualFold(key, name) {
				raw, ok = v, true
				break
			}
		}
	}
	if !ok {
		return tableJSONText{}, nil
	}

	var value tableJSONText
	if err := value.UnmarshalJSON(raw); err != nil {
		return tableJSONText{}, fmt.Errorf("field %q: %w", name, err)
	}
	return value, nil
}

// tableRejects counts and logs the records that one refresh rejects, with at most
// tableMaxLoggedRejects log lines per file.
type tableRejects struct {
	logger *slog.Logger
	source string
	total  int
	byFile map[string]int
}

func newTableRejects(logger *slog.Logger, source string) *tableRejects {
	return &tableRejects{logger: logger, source: source, byFile: map[string]int{}}
}

// add counts one rejected record and logs it if the file's quota allows.
func (r *tableRejects) add(file string, line int, err error) {
	r.total++
	r.byFile[file]++
	if r.byFile[file] > tableMaxLoggedRejects {
		return
	}
	if line > 0 {
		r.logger.Warn("rejected record", "file", file, "line", line, "err", err)
		return
	}
	r.logger.Warn("rejected record", "file", file, "err", err)
}

// summarize logs how many rejections of each file went unlogged.
func (r *tableRejects) summarize() {
	for file, n := range r.byFile {
		if n > tableMaxLoggedRejects {
			r.logger.Warn("more records rejected than logged", "file", file, "rejected", n, "logged", tableMaxLoggedRejects)
		}
	}
}

// tableFileTally counts the records of one file, so that a file whose every
// record is rejected fails the refresh. Such a file is in a format the
// adapter does not read, and publishing it as all-bad objects would page for
// nothing.
type tableFileTally struct {
	file     string
	read     int
	rejected int
	first    error
}

// settle counts one record. A *tableRecordError tableRejects it; any other error is
// returned to fail the file.
func (t *tableFileTally) settle(line int, err error, rejected *tableRejects) error {
	if err == nil {
		t.read++
		return nil
	}
	if !isRecordError(err) {
		return err
	}
	t.read++
	t.reject(line, err)
	rejected.add(t.file, line, err)
	return nil
}

func (t *tableFileTally) reject(line int, err error) {
	t.rejected++
	if t.first == nil {
		t.first = &InputError{File: t.file, Line: line, Err: err}
	}
}

// check returns an error when the file had records and every one of them was
// rejected.
func (t *tableFileTally) check() error {
	if t.read == 0 || t.rejected < t.read {
		return nil
	}
	return fmt.Errorf("every record of %s was rejected (%d), so the file is not in the expected format; first problem: %w", t.file, t.read, t.first)
}

func tableQuoteList(names []string) string {
	if len(names) == 0 {
		return "no columns"
	}
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(quoted, ", ")
}

// readJSONRecords calls visit with every element of the JSON array under key
// (or of the top-level array when key is empty), decoded into a T. An element
// of the wrong shape, or one that visit rejects with a *tableRecordError, is
// counted and logged; any other error fails the file.
func readJSONRecords[T any](ctx context.Context, file, key string, rejected *tableRejects, visit func(record *T, line int) error) (int, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, fmt.Errorf("failed to read input: %w", err)
	}
	array, err := openTableJSONArray(file, data, key)
	if err != nil {
		return 0, err
	}

	tally := &tableFileTally{file: file}
	for {
		var record T
		line, err := array.next(&record)
		if errors.Is(err, io.EOF) {
			return tally.read, tally.check()
		}
		if err == nil {
			err = visit(&record, line)
		}
		if err := tally.settle(line, err, rejected); err != nil {
			return 0, err
		}
		if tally.read%tableCancelInterval == 0 && ctx.Err() != nil {
			return 0, ctx.Err()
		}
	}
}
