package sources

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// recordJSON walks a JSON document held in memory token by token, so that
// nested record lists (Trivy's Results[].Vulnerabilities[], SARIF's
// runs[].results[]) are decoded one record at a time and every record and
// error carries its line and column. The vulnerabilities, findings and
// access_reviews adapters share it.
type recordJSON struct {
	file  string
	data  []byte
	dec   *json.Decoder
	lines tableLineCounter
}

// newRecordJSON prepares a walk over data, after any UTF-8 byte-order mark.
// An empty or blank document is an error, because that is what an
// interrupted export leaves behind.
func newRecordJSON(file string, data []byte) (*recordJSON, error) {
	data = bytes.TrimPrefix(data, tableBOM)
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &InputError{File: file, Err: errors.New("file is empty: expected a JSON document")}
	}
	return &recordJSON{
		file:  file,
		data:  data,
		dec:   json.NewDecoder(bytes.NewReader(data)),
		lines: tableLineCounter{data: data, line: 1},
	}, nil
}

// object reads an object and calls fields[key] for each member that has a
// handler; the handler reads the member's value. Other members are skipped.
// what names the object in messages, such as "the document".
func (w *recordJSON) object(what string, fields map[string]func() error) error {
	if err := w.openDelim('{', what); err != nil {
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

// array reads an array and calls item once per element with its index; item
// reads the element. A null counts as an empty array, as Trivy writes
// "Vulnerabilities": null for a clean target.
func (w *recordJSON) array(what string, item func(index int) error) error {
	if w.peekNull() {
		_, err := w.dec.Token()
		return err
	}
	if err := w.openDelim('[', what); err != nil {
		return err
	}
	for i := 0; w.dec.More(); i++ {
		if err := item(i); err != nil {
			return err
		}
	}
	return w.closeDelim()
}

// record decodes the next value into out and returns its line. A value of
// the wrong type, or a field inside it that does not decode, is returned as
// recordErr. The decoder is past the value then, so the caller can reject the
// record and read on. Any other error fails the file.
func (w *recordJSON) record(out any) (line int, recordErr, err error) {
	line, _ = w.lines.position(w.valueStart())
	mismatch, err := w.decode(out)
	if mismatch != nil {
		recordErr = tableDescribeTypeError(mismatch)
	}
	return line, recordErr, err
}

// value decodes the next value into out, failing the file when it does not
// fit, because value reads the members that tell what the document is.
func (w *recordJSON) value(member string, out any) error {
	line, _ := w.lines.position(w.valueStart())
	mismatch, err := w.decode(out)
	if err != nil || mismatch == nil {
		return err
	}

	var typeErr *json.UnmarshalTypeError
	described := fmt.Errorf("member %q: %w", member, tableDescribeTypeError(mismatch))
	if errors.As(mismatch, &typeErr) && typeErr.Field == "" {
		described = fmt.Errorf("member %q is a JSON %s, expected %s", member, typeErr.Value, tableJSONKind(typeErr.Type.Kind().String()))
	}
	return &InputError{File: w.file, Line: line, Err: described}
}

// decode reads the next value into out. It returns a value that does not
// fit out as mismatch, after which the decoder is past the value, and a
// broken document as a file-level err. json.Decoder reads a whole value
// before it converts it, so every error that is neither a syntax error nor
// the end of input comes from the conversion.
func (w *recordJSON) decode(out any) (mismatch, err error) {
	err = w.dec.Decode(out)
	var syntaxErr *json.SyntaxError
	switch {
	case err == nil:
		return nil, nil
	case errors.As(err, &syntaxErr), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return nil, w.syntaxError(err)
	}
	return err, nil
}

// end fails unless only white space follows the document.
func (w *recordJSON) end() error {
	start := w.valueStart()
	if _, err := w.dec.Token(); !errors.Is(err, io.EOF) {
		return w.errorAt(start, errors.New("unexpected data after the end of the JSON document: keep one document per file"))
	}
	return nil
}

// errorAt returns an InputError at a byte offset of the document.
func (w *recordJSON) errorAt(offset int64, err error) *InputError {
	line, column := w.lines.position(offset)
	return &InputError{File: w.file, Line: line, Column: column, Err: err}
}

func (w *recordJSON) skip() error {
	var skipped json.RawMessage
	if err := w.dec.Decode(&skipped); err != nil {
		return w.syntaxError(err)
	}
	return nil
}

// openDelim reads the opening delimiter of what. Any other value fails the
// file, because a wrong container type means a file of another kind.
func (w *recordJSON) openDelim(want json.Delim, what string) error {
	start := w.valueStart()
	tok, err := w.dec.Token()
	if err != nil {
		return w.syntaxError(err)
	}
	if got, ok := tok.(json.Delim); ok && got == want {
		return nil
	}
	expected := map[json.Delim]string{'{': "an object", '[': "an array"}[want]
	return w.errorAt(start, fmt.Errorf("%s is %s, expected %s", what, describeJSONToken(tok), expected))
}

// closeDelim reads a closing delimiter. json.Decoder.Token returns io.EOF
// inside an open object or array, which here means the file is truncated.
func (w *recordJSON) closeDelim() error {
	if _, err := w.dec.Token(); err != nil {
		return w.syntaxError(err)
	}
	return nil
}

// peekNull reports whether the next value is the literal null.
func (w *recordJSON) peekNull() bool {
	return bytes.HasPrefix(w.data[w.valueStart():], []byte("null"))
}

// valueStart returns the offset of the next value, past the white space and
// separator that InputOffset still points at.
func (w *recordJSON) valueStart() int64 {
	offset := w.dec.InputOffset()
	for offset < int64(len(w.data)) {
		switch w.data[offset] {
		case ' ', '\t', '\r', '\n', ',', ':':
			offset++
		default:
			return offset
		}
	}
	return offset
}

// syntaxError turns a decoding error into an InputError with the position
// where the document breaks.
func (w *recordJSON) syntaxError(err error) error {
	var syntaxErr *json.SyntaxError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return w.errorAt(int64(len(w.data)), errors.New("invalid JSON: unexpected end of input: the file is truncated or still being written"))
	case errors.As(err, &syntaxErr):
		return w.errorAt(w.syntaxOffset(syntaxErr.Offset), fmt.Errorf("invalid JSON: %w", err))
	}
	return &InputError{File: w.file, Err: fmt.Errorf("failed to read JSON: %w", err)}
}

// syntaxOffset returns the document offset of a syntax error. A Decoder
// reports it relative to the value being decoded, so the whole document is
// checked once more on this error path to find the offset in the file.
func (w *recordJSON) syntaxOffset(fallback int64) int64 {
	var whole json.RawMessage
	var syntaxErr *json.SyntaxError
	if err := json.Unmarshal(w.data, &whole); errors.As(err, &syntaxErr) && syntaxErr.Offset > 0 {
		return syntaxErr.Offset - 1
	}
	return fallback
}
