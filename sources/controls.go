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
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/secslo/secslo/slo"
)

// This file holds the control register adapter and the helpers that the
// three evidence_automation adapters (control register, Prowler, OSCAL)
// share: scope, result building, file opening and JSON positions.

// Values of the scope option of the control register and Prowler adapters.
const (
	// evidenceScopeAll puts all 93 Annex A controls in scope; a control that
	// the input does not cover counts as non-compliant.
	evidenceScopeAll = "all"
	// registerScopeListed puts in scope the applicable controls that the
	// register lists.
	registerScopeListed = "listed"
)

// registerDefaultFreshness applies to a register row without a freshness.
const registerDefaultFreshness = model.Duration(30 * 24 * time.Hour)

// registerFutureTolerance is the maximum time by which last_evidence may lie
// after the refresh time before the row is rejected. It absorbs clock skew between the
// register's writer and secslo, and it catches a mistyped year.
const registerFutureTolerance = time.Hour

// evidenceMaxLoggedRejects caps the rejected records logged one by one per
// refresh and file; the rest are summed up in one line.
const evidenceMaxLoggedRejects = 10

// Columns of a control register, as CSV header names and YAML keys.
const (
	registerColumnControl        = "control"
	registerColumnOwner          = "owner"
	registerColumnEvidenceSource = "evidence_source"
	registerColumnCollection     = "collection"
	registerColumnLastEvidence   = "last_evidence"
	registerColumnFreshness      = "freshness"
	registerColumnApplicable     = "applicable"
)

// registerRequiredColumns must appear in a CSV header. A YAML entry needs only
// control and collection, because a missing key there reads as empty.
var registerRequiredColumns = []string{registerColumnControl, registerColumnCollection, registerColumnLastEvidence}

// registerYAMLKeys lists the keys accepted in a YAML register entry: the
// columns plus two free-text keys that registers commonly carry.
var registerYAMLKeys = map[string]bool{
	registerColumnControl: true, registerColumnOwner: true, registerColumnEvidenceSource: true,
	registerColumnCollection: true, registerColumnLastEvidence: true, registerColumnFreshness: true,
	registerColumnApplicable: true, "title": true, "notes": true,
}

// controlRegisterOptions are the options of a control_register source.
type controlRegisterOptions struct {
	// Format is csv or yaml; empty means by file extension.
	Format string `yaml:"format"`
	// DefaultFreshness applies to rows with an empty freshness.
	DefaultFreshness model.Duration `yaml:"default_freshness"`
	// Scope is "listed" (default) or "all".
	Scope string `yaml:"scope"`
}

// controlRegister reads a register of Annex A controls kept by hand or by a
// GRC tool, in CSV or YAML, and computes evidence_automation from it.
type controlRegister struct {
	name   string
	paths  []string
	opts   controlRegisterOptions
	logger *slog.Logger
	// now returns the refresh time against which freshness is measured.
	now func() time.Time
}

// NewControlRegister builds a control_register source. Paths lists CSV or
// YAML registers. A control is good when it is applicable, its evidence is
// collected automatically and its last evidence is within its freshness,
// measured from the wall clock at each refresh.
func NewControlRegister(cfg Config, logger *slog.Logger) (Source, error) {
	opts := controlRegisterOptions{DefaultFreshness: registerDefaultFreshness, Scope: registerScopeListed}
	if err := DecodeOptions(cfg, &opts); err != nil {
		return nil, err
	}
	if err := checkEvidenceInputs(cfg, "CSV or YAML control register"); err != nil {
		return nil, err
	}

	if opts.Scope != registerScopeListed && opts.Scope != evidenceScopeAll {
		return nil, fmt.Errorf("source %q: invalid options.scope %q; use %q or %q", cfg.Name, opts.Scope, registerScopeListed, evidenceScopeAll)
	}
	if opts.DefaultFreshness <= 0 {
		return nil, fmt.Errorf("source %q: invalid options.default_freshness %s; use a positive duration such as 30d", cfg.Name, opts.DefaultFreshness)
	}
	for _, path := range cfg.Paths {
		if _, err := registerFormat(path, opts.Format); err != nil {
			return nil, fmt.Errorf("source %q: %w", cfg.Name, err)
		}
	}

	return &controlRegister{name: cfg.Name, paths: cfg.Paths, opts: opts, logger: logger, now: time.Now}, nil
}

// checkEvidenceInputs rejects a config without paths or with a URL, because
// the evidence adapters read files only.
func checkEvidenceInputs(cfg Config, inputs string) error {
	if cfg.URL != "" {
		return fmt.Errorf("source %q: url is not supported by type %s; list the files under paths", cfg.Name, cfg.Type)
	}
	if len(cfg.Paths) == 0 {
		return fmt.Errorf("source %q: missing paths; list at least one %s", cfg.Name, inputs)
	}
	return nil
}

// registerFormat returns "csv" or "yaml" for a register file.
func registerFormat(path, option string) (string, error) {
	switch option {
	case "csv", "yaml":
		return option, nil
	case "":
	default:
		return "", fmt.Errorf("invalid options.format %q; use csv or yaml", option)
	}

	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return "csv", nil
	case ".yaml", ".yml":
		return "yaml", nil
	}
	return "", fmt.Errorf("cannot tell the format of %s from its extension; name it .csv, .yaml or .yml, or set options.format", path)
}

// registerRow is one control as a register lists it.
type registerRow struct {
	file   string
	line   int
	ctrl   string
	owner  string
	manual bool
	// last is the time of the last evidence, zero when none is recorded.
	last       time.Time
	freshness  time.Duration
	applicable bool
	// err is set when the row names a known control but another field is
	// invalid; the control then stays in scope as non-compliant.
	err error
}

// registerCell is one field value with its position, from CSV or YAML.
type registerCell struct {
	value        string
	line, column int
}

// Refresh reads every register file and evaluates each control in scope.
func (r *controlRegister) Refresh(ctx context.Context) (*Result, error) {
	now := r.now().UTC()
	var rows []registerRow
	read, rejected := 0, 0

	for _, path := range r.paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fileRows, fileRead, fileRejected, err := r.readFile(path, now)
		if err != nil {
			return nil, err
		}
		rows = append(rows, fileRows...)
		read += fileRead
		rejected += fileRejected
	}

	objects, duplicates := r.evaluate(rows, now)
	return buildEvidenceResult(objects, read, rejected+duplicates), nil
}

// readFile parses one register file. Rows with an unknown control id are
// dropped; rows with another invalid field are returned with err set. Both
// count as rejected.
func (r *controlRegister) readFile(path string, now time.Time) ([]registerRow, int, int, error) {
	format, err := registerFormat(path, r.opts.Format)
	if err != nil {
		return nil, 0, 0, err
	}

	data, err := readEvidenceFile(path)
	if err != nil {
		return nil, 0, 0, err
	}

	var records [][]registerField
	if format == "csv" {
		records, err = parseRegisterCSV(path, data)
	} else {
		records, err = parseRegisterYAML(path, data)
	}
	if err != nil {
		return nil, 0, 0, err
	}
	if len(records) == 0 {
		return nil, 0, 0, &InputError{File: path, Err: errors.New("no control rows; list at least one control, because an empty register would publish an SLI of no objects")}
	}

	rejects := newEvidenceRejectLog(r.logger, r.name, path)
	var rows []registerRow
	for _, rec := range records {
		row, err := r.parseRow(path, rec, now)
		if err != nil {
			rejects.add(err)
		}
		if row != nil {
			rows = append(rows, *row)
		}
	}
	rejects.flush()
	if err := rejects.allRejected(len(records), "rows"); err != nil {
		return nil, 0, 0, err
	}
	return rows, len(records), rejects.count, nil
}

// registerField is one named cell of a register record. A field with err
// set carries a problem of the whole record, such as a CSV row with the
// wrong number of fields, instead of a cell.
type registerField struct {
	name string
	registerCell
	err error
}

// parseRegisterCSV reads a CSV register with a header line. A header without
// a required column fails the file; unknown columns are ignored, because
// registers carry titles and notes.
func parseRegisterCSV(path string, data []byte) ([][]registerField, error) {
	reader := csv.NewReader(bytes.NewReader(data))
	reader.FieldsPerRecord = -1

	header, err := reader.Read()
	if err != nil {
		return nil, registerCSVError(path, err)
	}
	columns := make([]string, len(header))
	seen := map[string]int{}
	for i, name := range header {
		columns[i] = strings.ToLower(strings.TrimSpace(name))
		if first, dup := seen[columns[i]]; dup && columns[i] != "" {
			return nil, &InputError{File: path, Line: 1, Err: fmt.Errorf("duplicate column %q (columns %d and %d); keep one", columns[i], first+1, i+1)}
		}
		seen[columns[i]] = i
	}
	for _, name := range registerRequiredColumns {
		if _, ok := seen[name]; !ok {
			return nil, &InputError{File: path, Line: 1, Err: fmt.Errorf("missing column %q in header %q; the header needs %s", name, strings.Join(header, ","), strings.Join(registerRequiredColumns, ", "))}
		}
	}

	var records [][]registerField
	for {
		values, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return records, nil
		}
		if err != nil {
			return nil, registerCSVError(path, err)
		}

		record := make([]registerField, 0, len(values)+1)
		for i := 0; i < len(values) && i < len(columns); i++ {
			line, column := reader.FieldPos(i)
			record = append(record, registerField{name: columns[i], registerCell: registerCell{value: values[i], line: line, column: column}})
		}
		if len(values) != len(columns) {
			line, _ := reader.FieldPos(0)
			record = append(record, registerField{registerCell: registerCell{line: line}, err: fmt.Errorf("row has %d fields, the header has %d; check for a missing or extra comma", len(values), len(columns))})
		}
		records = append(records, record)
	}
}

// registerCSVError turns a CSV parse error into an InputError with its line.
func registerCSVError(path string, err error) error {
	var parseErr *csv.ParseError
	if errors.As(err, &parseErr) {
		return &InputError{File: path, Line: parseErr.Line, Column: parseErr.Column, Err: fmt.Errorf("invalid CSV: %w; check the quotes and the number of fields", parseErr.Err)}
	}
	return &InputError{File: path, Err: fmt.Errorf("invalid CSV: %w", err)}
}

// parseRegisterYAML reads a YAML register: one document whose top level is a
// list of mappings with scalar values. An unknown key or a nested value fails
// the file, because it means the file is not what its owner thinks.
func parseRegisterYAML(path string, data []byte) ([][]registerField, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &InputError{File: path, Err: fmt.Errorf("invalid YAML: %w", err)}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, &InputError{File: path, Err: errors.New("empty file; list the controls as a YAML sequence of mappings")}
	}
	list := doc.Content[0]
	if list.Kind != yaml.SequenceNode {
		return nil, &InputError{File: path, Line: list.Line, Column: list.Column, Err: fmt.Errorf("top level is a %s; a control register is a YAML sequence of mappings (- control: A.5.1)", evidenceYAMLKind(list))}
	}

	records := make([][]registerField, 0, len(list.Content))
	for _, item := range list.Content {
		record, err := registerYAMLRecord(path, item)
		if err != nil {
			return nil, err
		}
		records = append(records, record)
	}
	return records, nil
}

func registerYAMLRecord(path string, item *yaml.Node) ([]registerField, error) {
	if item.Kind != yaml.MappingNode {
		return nil, &InputError{File: path, Line: item.Line, Column: item.Column, Err: fmt.Errorf("list item is a %s; each item must be a mapping such as {control: A.5.1, collection: automated}", evidenceYAMLKind(item))}
	}

	record := make([]registerField, 0, len(item.Content)/2)
	for i := 0; i+1 < len(item.Content); i += 2 {
		key, value := item.Content[i], item.Content[i+1]
		if !registerYAMLKeys[key.Value] {
			return nil, &InputError{File: path, Line: key.Line, Column: key.Column, Err: fmt.Errorf("unknown key %q; known keys: %s", key.Value, strings.Join(registerKeyList(registerYAMLKeys), ", "))}
		}
		if value.Kind != yaml.ScalarNode {
			return nil, &InputError{File: path, Line: value.Line, Column: value.Column, Err: fmt.Errorf("key %q has a %s value; write a single value", key.Value, evidenceYAMLKind(value))}
		}
		record = append(record, registerField{name: key.Value, registerCell: registerCell{value: value.Value, line: value.Line, column: value.Column}})
	}
	return record, nil
}

func evidenceYAMLKind(node *yaml.Node) string {
	switch node.Kind {
	case yaml.SequenceNode:
		return "sequence"
	case yaml.MappingNode:
		return "mapping"
	case yaml.AliasNode:
		return "alias"
	default:
		return "scalar"
	}
}

func registerKeyList(set map[string]bool) []string {
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// parseRow checks one record. It returns (nil, err) when the control id is
// missing or unknown, (row, err) when the id is known but another field is
// invalid, and (row, nil) for a valid row.
func (r *controlRegister) parseRow(path string, record []registerField, now time.Time) (*registerRow, error) {
	cells := map[string]registerCell{}
	line := 0
	var recordErr error
	for _, f := range record {
		if line == 0 {
			line = f.line
		}
		if f.err != nil {
			recordErr = f.err
			continue
		}
		cells[f.name] = registerCell{value: strings.TrimSpace(f.value), line: f.line, column: f.column}
	}

	id := cells[registerColumnControl]
	if id.value == "" {
		return nil, registerCellError(path, id, line, errors.New("missing control id; write an Annex A id such as A.5.1"))
	}
	if err := checkAnnexAControl(id.value); err != nil {
		return nil, registerCellError(path, id, line, err)
	}

	row := &registerRow{file: path, line: line, ctrl: id.value, owner: cells[registerColumnOwner].value}
	if recordErr != nil {
		row.err = &InputError{File: path, Line: line, Err: recordErr}
		return row, row.err
	}
	row.err = r.parseRowFields(path, row, cells, now)
	return row, row.err
}

// parseRowFields fills the row's collection, evidence time, freshness and
// applicability, and returns the first invalid field.
func (r *controlRegister) parseRowFields(path string, row *registerRow, cells map[string]registerCell, now time.Time) error {
	applicable, err := parseRegisterYesNo(cells[registerColumnApplicable].value)
	if err != nil {
		return registerCellError(path, cells[registerColumnApplicable], row.line, err)
	}
	row.applicable = applicable

	switch collection := cells[registerColumnCollection]; strings.ToLower(collection.value) {
	case "automated":
	case "manual":
		row.manual = true
	default:
		return registerCellError(path, collection, row.line, fmt.Errorf("invalid collection %q; use automated or manual", collection.value))
	}

	row.freshness = time.Duration(r.opts.DefaultFreshness)
	if cell := cells[registerColumnFreshness]; cell.value != "" {
		d, err := model.ParseDuration(cell.value)
		if err != nil || d <= 0 {
			return registerCellError(path, cell, row.line, fmt.Errorf("invalid freshness %q; use a positive duration such as 30d, 12h or 1w", cell.value))
		}
		row.freshness = time.Duration(d)
	}

	if cell := cells[registerColumnLastEvidence]; cell.value != "" {
		last, err := ParseTimestamp(cell.value)
		if err != nil {
			return registerCellError(path, cell, row.line, fmt.Errorf("invalid last_evidence: %w", err))
		}
		if last.After(now.Add(registerFutureTolerance)) {
			return registerCellError(path, cell, row.line, fmt.Errorf("last_evidence %s is in the future (now %s); check the year and the time zone", last.Format(time.RFC3339), now.Format(time.RFC3339)))
		}
		row.last = last
	}
	return nil
}

func registerCellError(path string, cell registerCell, recordLine int, err error) error {
	if cell.line == 0 {
		return &InputError{File: path, Line: recordLine, Err: err}
	}
	return &InputError{File: path, Line: cell.line, Column: cell.column, Err: err}
}

// parseRegisterYesNo reads the applicable column; empty means applicable.
func parseRegisterYesNo(value string) (bool, error) {
	switch strings.ToLower(value) {
	case "", "yes", "true":
		return true, nil
	case "no", "false":
		return false, nil
	}
	return false, fmt.Errorf("invalid applicable %q; use yes or no", value)
}

// checkAnnexAControl accepts an id of the ISO/IEC 27001:2022 Annex A catalog.
func checkAnnexAControl(id string) error {
	ctrl, ok := slo.LookupControl(id)
	if ok && ctrl.Theme == slo.ThemeClause {
		return fmt.Errorf("%q is a clause of ISO/IEC 27001, not an Annex A control; evidence_automation counts Annex A controls only", id)
	}
	if ok {
		return nil
	}
	if suggestion := slo.SuggestControl(id); suggestion != "" {
		return fmt.Errorf("unknown Annex A control %q; did you mean %q?", id, suggestion)
	}
	return fmt.Errorf("unknown Annex A control %q; use an ISO/IEC 27001:2022 id from A.5.1 to A.8.34", id)
}

// evaluate turns the rows into objects in scope. A control listed more than
// once is non-compliant and all its rows count as rejected, because secslo
// does not guess which row is right. The second return value counts those
// rows.
func (r *controlRegister) evaluate(rows []registerRow, now time.Time) ([]evidenceObject, int) {
	byControl := map[string][]registerRow{}
	for _, row := range rows {
		byControl[row.ctrl] = append(byControl[row.ctrl], row)
	}

	var objects []evidenceObject
	duplicates := 0
	for id, list := range byControl {
		switch {
		case len(list) > 1:
			duplicates += r.countValidRows(list)
			r.logDuplicate(id, list)
			objects = append(objects, evidenceObject{id: id, reason: "listed " + fmt.Sprint(len(list)) + " times (" + registerRowPlaces(list) + "); keep one row"})
		case list[0].err != nil:
			objects = append(objects, evidenceObject{id: id, reason: "register row rejected: " + list[0].err.Error()})
		case list[0].applicable:
			objects = append(objects, evidenceObject{id: id, reason: registerRowReason(list[0], now)})
		}
	}

	if r.opts.Scope == evidenceScopeAll {
		objects = append(objects, missingAnnexAControls(byControl, "not in the control register; add a row, with applicable no if the control is excluded")...)
	}
	return objects, duplicates
}

// countValidRows counts the duplicate rows not already rejected for another
// reason, so that no row is counted twice.
func (r *controlRegister) countValidRows(list []registerRow) int {
	n := 0
	for _, row := range list {
		if row.err == nil {
			n++
		}
	}
	return n
}

func (r *controlRegister) logDuplicate(id string, list []registerRow) {
	err := fmt.Errorf("control %s is listed %d times (%s); keep one row", id, len(list), registerRowPlaces(list))
	r.logger.Warn("duplicate control in register", "file", list[0].file, "err", err)
}

func registerRowPlaces(list []registerRow) string {
	places := make([]string, len(list))
	for i, row := range list {
		places[i] = fmt.Sprintf("%s:%d", row.file, row.line)
	}
	return strings.Join(places, ", ")
}

// registerRowReason returns why an applicable row is non-compliant, or ""
// when its evidence is automated and fresh.
func registerRowReason(row registerRow, now time.Time) string {
	var reasons []string
	if row.manual {
		reasons = append(reasons, "evidence is collected manually")
	}
	switch {
	case row.last.IsZero():
		reasons = append(reasons, "no last evidence recorded")
	case now.Sub(row.last) > row.freshness:
		reasons = append(reasons, fmt.Sprintf("last evidence %s is older than its freshness %s", row.last.Format(time.RFC3339), model.Duration(row.freshness)))
	}
	if len(reasons) > 0 && row.owner != "" {
		reasons = append(reasons, "owner "+row.owner)
	}
	return strings.Join(reasons, "; ")
}

// evidenceObject is one object in scope of evidence_automation. Reason is
// empty when the object has automated, fresh evidence.
type evidenceObject struct {
	id     string
	reason string
}

// missingAnnexAControls returns every Annex A control absent from present as
// a non-compliant object with the given reason.
func missingAnnexAControls[V any](present map[string]V, reason string) []evidenceObject {
	var out []evidenceObject
	for _, ctrl := range slo.AnnexAControls() {
		if _, ok := present[ctrl.ID]; !ok {
			out = append(out, evidenceObject{id: ctrl.ID, reason: reason})
		}
	}
	return out
}

// buildEvidenceResult counts the objects into one evidence_automation
// snapshot and lists the non-compliant ones, Annex A controls in the order
// of the standard and other ids after them, sorted.
func buildEvidenceResult(objects []evidenceObject, read, rejected int) *Result {
	order := map[string]int{}
	for i, ctrl := range slo.AnnexAControls() {
		order[ctrl.ID] = i + 1
	}
	sort.Slice(objects, func(i, j int) bool {
		oi, oj := order[objects[i].id], order[objects[j].id]
		if oi != oj && oi != 0 && oj != 0 {
			return oi < oj
		}
		if (oi == 0) != (oj == 0) {
			return oi != 0
		}
		return objects[i].id < objects[j].id
	})

	res := &Result{RecordsRead: read, RecordsRejected: rejected}
	snap := Snapshot{SLI: slo.SLIEvidenceAutomation, Objects: len(objects)}
	for _, obj := range objects {
		if obj.reason == "" {
			continue
		}
		snap.Noncompliant++
		res.Noncompliant = append(res.Noncompliant, Object{SLI: slo.SLIEvidenceAutomation, ID: obj.id, Name: evidenceObjectName(obj.id), Reason: obj.reason})
	}
	res.Snapshots = []Snapshot{snap}
	return res
}

func evidenceObjectName(id string) string {
	if ctrl, ok := slo.LookupControl(id); ok {
		return ctrl.Title
	}
	return ""
}

// evidenceBOM is the byte-order mark that spreadsheet tools put before UTF-8 text.
var evidenceBOM = []byte{0xEF, 0xBB, 0xBF}

// readEvidenceFile reads a whole input file without its UTF-8 byte-order
// mark and rejects a file that is empty or holds only white space.
func readEvidenceFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("failed to read input: %w", err)
	}
	data = bytes.TrimPrefix(data, evidenceBOM)
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &InputError{File: path, Err: errors.New("empty file; the export may have failed or still be running")}
	}
	return data, nil
}

// openEvidenceFile opens a JSON input for streaming, past its UTF-8
// byte-order mark, and rejects an empty file. The caller closes the file.
func openEvidenceFile(path string) (*bufio.Reader, io.Closer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to open input: %w", err)
	}

	reader := bufio.NewReaderSize(f, 64*1024)
	if prefix, _ := reader.Peek(len(evidenceBOM)); bytes.Equal(prefix, evidenceBOM) {
		_, _ = reader.Discard(len(evidenceBOM))
	}
	if !evidenceHasContent(reader) {
		f.Close()
		return nil, nil, &InputError{File: path, Err: errors.New("empty file; the export may have failed or still be running")}
	}
	return reader, f, nil
}

// evidenceHasContent reports whether anything but white space follows.
func evidenceHasContent(reader *bufio.Reader) bool {
	for {
		b, err := reader.ReadByte()
		if err != nil {
			return false
		}
		if !evidenceIsSpace(b) {
			_ = reader.UnreadByte()
			return true
		}
	}
}

func evidenceIsSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\r' || b == '\n'
}

// evidenceJSONError returns an InputError at a byte offset of a JSON input,
// where offset counts bytes after any byte-order mark. It reads the file
// again to turn the offset into a line and column, and falls back to the
// offset when that fails.
func evidenceJSONError(path string, offset int64, err error) error {
	return evidenceJSONErrorAt(path, offset, nil, err)
}

// evidenceJSONErrorAhead is evidenceJSONError for an offset taken before a
// token: the position moves past white space, commas and colons to the token.
func evidenceJSONErrorAhead(path string, offset int64, err error) error {
	return evidenceJSONErrorAt(path, offset, evidenceIsSeparator, err)
}

// evidenceJSONErrorAt moves the position past the bytes that skip matches,
// when skip is not nil.
func evidenceJSONErrorAt(path string, offset int64, skip func(byte) bool, err error) error {
	line, column, ok := evidenceLineColumn(path, offset, skip)
	if !ok {
		return &InputError{File: path, Offset: offset, Err: err}
	}
	return &InputError{File: path, Line: line, Column: column, Err: err}
}

func evidenceLineColumn(path string, offset int64, skip func(byte) bool) (int, int, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()

	reader := bufio.NewReader(f)
	if prefix, _ := reader.Peek(len(evidenceBOM)); bytes.Equal(prefix, evidenceBOM) {
		_, _ = reader.Discard(len(evidenceBOM))
	}

	line, column := 1, 1
	for pos := int64(0); ; pos++ {
		b, err := reader.ReadByte()
		if err != nil {
			return line, column, true
		}
		if pos >= offset && (skip == nil || !skip(b)) {
			return line, column, true
		}
		if b == '\n' {
			line, column = line+1, 1
		} else {
			column++
		}
	}
}

func evidenceIsSeparator(b byte) bool {
	return evidenceIsSpace(b) || b == ',' || b == ':'
}

// evidenceRejectLog logs rejected records of one file, at most
// evidenceMaxLoggedRejects of them one by one, and counts them all.
type evidenceRejectLog struct {
	logger *slog.Logger
	source string
	file   string
	count  int
	first  error
}

func newEvidenceRejectLog(logger *slog.Logger, source, file string) *evidenceRejectLog {
	return &evidenceRejectLog{logger: logger, source: source, file: file}
}

func (l *evidenceRejectLog) add(err error) {
	l.count++
	if l.first == nil {
		l.first = err
	}
	if l.count <= evidenceMaxLoggedRejects {
		l.logger.Warn("record rejected", "file", l.file, "err", err)
	}
}

// addAt counts a rejected JSON record at a byte offset, which may lie just
// before the record. The offset becomes a line and column only for the
// records that are logged, because that reads the file again.
func (l *evidenceRejectLog) addAt(offset int64, err error) {
	if l.count >= evidenceMaxLoggedRejects {
		l.count++
		return
	}
	l.add(evidenceJSONErrorAhead(l.file, offset, err))
}

// allRejected returns a file-level error when every one of read records was
// rejected, because such a file is most likely in another format, and
// counting none of it as whole would hide that.
func (l *evidenceRejectLog) allRejected(read int, what string) error {
	if read == 0 || l.count < read {
		return nil
	}
	return &InputError{File: l.file, Err: fmt.Errorf("every one of the %d %s was rejected, so the file is not in the expected format; the first: %w", read, what, l.first)}
}

// flush logs how many rejected records were not logged one by one.
func (l *evidenceRejectLog) flush() {
	if l.count > evidenceMaxLoggedRejects {
		l.logger.Warn("more records rejected", "file", l.file, "count", l.count-evidenceMaxLoggedRejects)
	}
}

// evidenceJSONWalker reads a JSON document token by token, so that each
// record's byte offset is known and a large file never sits in memory whole.
// Offsets count bytes after any byte-order mark.
type evidenceJSONWalker struct {
	path string
	dec  *json.Decoder
}

func newEvidenceJSONWalker(path string, r io.Reader) *evidenceJSONWalker {
	return &evidenceJSONWalker{path: path, dec: json.NewDecoder(r)}
}

// object reads an object and calls fields[key] for each key that has a
// handler; the handler reads the value. Other values are skipped.
func (w *evidenceJSONWalker) object(what string, fields map[string]func() error) error {
	if err := w.delim('{', what); err != nil {
		return err
	}
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return w.syntaxError(err)
		}
		key, _ := tok.(string)
		if handle := fields[key]; handle != nil {
			err = handle()
		} else {
			err = w.skip()
		}
		if err != nil {
			return err
		}
	}
	return w.closeDelim()
}

// array reads an array and calls item once per element; item reads the
// element from the decoder.
func (w *evidenceJSONWalker) array(what string, item func() error) error {
	if err := w.delim('[', what); err != nil {
		return err
	}
	for w.dec.More() {
		if err := item(); err != nil {
			return err
		}
	}
	return w.closeDelim()
}

// raw reads the next value whole and returns it with its starting offset.
func (w *evidenceJSONWalker) raw() (json.RawMessage, int64, error) {
	var value json.RawMessage
	if err := w.dec.Decode(&value); err != nil {
		return nil, 0, w.syntaxError(err)
	}
	return value, w.dec.InputOffset() - int64(len(value)), nil
}

// str reads the next value as a string. Any other type fails the file,
// because str reads the fields that identify the kind of document.
func (w *evidenceJSONWalker) str(field string, out *string) error {
	value, start, err := w.raw()
	if err != nil {
		return err
	}
	if err := json.Unmarshal(value, out); err != nil {
		return evidenceJSONError(w.path, start, fmt.Errorf("field %s is not a string; expected a string such as \"2022\"", field))
	}
	return nil
}

// decode reads the next value into out. A field of the wrong type is a
// record error, returned as recordErr with the offset just before the
// record. The decoder is then past the record, so reading can go on.
// Any other error fails the file.
func (w *evidenceJSONWalker) decode(out any) (start int64, recordErr, err error) {
	start = w.dec.InputOffset()
	err = w.dec.Decode(out)
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		return start, nil, nil
	case errors.As(err, &typeErr):
		_, recordErr = evidenceRecordError(start, err)
		return start, recordErr, nil
	}
	return start, nil, w.syntaxError(err)
}

func (w *evidenceJSONWalker) skip() error {
	_, _, err := w.raw()
	return err
}

// end fails unless only white space follows the document.
func (w *evidenceJSONWalker) end() error {
	offset := w.dec.InputOffset()
	if _, err := w.dec.Token(); !errors.Is(err, io.EOF) {
		return evidenceJSONErrorAhead(w.path, offset, errors.New("unexpected data after the end of the JSON document; keep one document per file"))
	}
	return nil
}

// delim reads the opening delimiter of what, failing the file on any other
// value, because a wrong top-level or container type means a wrong file.
func (w *evidenceJSONWalker) delim(want json.Delim, what string) error {
	offset := w.dec.InputOffset()
	tok, err := w.dec.Token()
	if err != nil {
		return w.syntaxError(err)
	}
	if got, ok := tok.(json.Delim); ok && got == want {
		return nil
	}
	kind := map[json.Delim]string{'{': "an object", '[': "an array"}[want]
	return evidenceJSONErrorAhead(w.path, offset, fmt.Errorf("%s is %s; expected %s", what, describeJSONToken(tok), kind))
}

func (w *evidenceJSONWalker) closeDelim() error {
	if _, err := w.dec.Token(); err != nil {
		return w.syntaxError(err)
	}
	return nil
}

// syntaxError turns a decoder error into a file-level InputError with its
// position.
func (w *evidenceJSONWalker) syntaxError(err error) error {
	var syntax *json.SyntaxError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return evidenceJSONErrorAhead(w.path, w.dec.InputOffset(), errors.New("truncated JSON: the file ends inside the value that starts here; the export may be incomplete or still being written"))
	case errors.As(err, &syntax):
		return evidenceJSONError(w.path, evidenceSyntaxOffset(w.path, syntax.Offset), fmt.Errorf("invalid JSON: %w", err))
	}
	return &InputError{File: w.path, Err: fmt.Errorf("failed to read JSON: %w", err)}
}

// evidenceSyntaxOffset returns the offset of the byte that breaks the JSON
// syntax of a file. A Decoder reports the offset of a syntax error relative
// to the value it was decoding, so the file is read once more as one value.
// That holds the whole file in memory, but only on this error path. The
// fallback is the offset as the decoder reported it.
func evidenceSyntaxOffset(path string, fallback int64) int64 {
	reader, closer, err := openEvidenceFile(path)
	if err != nil {
		return fallback
	}
	defer closer.Close()

	var whole json.RawMessage
	var syntax *json.SyntaxError
	if err := json.NewDecoder(reader).Decode(&whole); errors.As(err, &syntax) && syntax.Offset > 0 {
		return syntax.Offset - 1
	}
	return fallback
}

// evidenceRecordError explains why a JSON record failed to decode into its
// type: a field of the wrong type is named with its path and the JSON type
// expected. The position stays at the record's start, because the decoder's
// offset inside the record points past the value, not at it.
func evidenceRecordError(start int64, err error) (int64, error) {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		field := typeErr.Field
		if field == "" {
			field = "record"
		}
		return start, fmt.Errorf("field %s is a JSON %s; expected %s", field, typeErr.Value, evidenceJSONTypeName(typeErr.Type))
	}
	return start, fmt.Errorf("invalid record: %w", err)
}

// evidenceJSONTypeName names the JSON type that decodes into t.
func evidenceJSONTypeName(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Float32, reflect.Float64, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Pointer:
		return evidenceJSONTypeName(t.Elem())
	}
	return "an object"
}
