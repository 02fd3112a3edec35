package slo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// document is one YAML document of a spec file, with the position of every
// value by field path so that validation can point at it.
type document struct {
	file    string
	root    *yaml.Node
	nodes   map[string]*yaml.Node
	aliases int
}

// maxAliases bounds alias expansion, so that a self-referencing or
// exponentially nested alias cannot hang validation.
const maxAliases = 1000

// position returns the position of the value at path, or of its nearest
// parent that exists, such as the SLO when a field is missing.
func (d *document) position(path string) Position {
	for p := path; ; p = parentPath(p) {
		if n, ok := d.nodes[p]; ok {
			return Position{File: d.file, Line: n.Line, Column: n.Column, Path: path}
		}
		if p == "" {
			return Position{File: d.file, Path: path}
		}
	}
}

func (d *document) problem(path, format string, args ...any) Problem {
	return Problem{Position: d.position(path), Message: fmt.Sprintf(format, args...)}
}

func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

func joinPath(parent, field string) string {
	if parent == "" {
		return field
	}
	return parent + "." + field
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

// parseDocuments splits a file into YAML documents. A syntax error is
// returned as a Problem with the line that the YAML parser reports.
func parseDocuments(file string, data []byte) ([]*document, Problems) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	dec := yaml.NewDecoder(bytes.NewReader(data))

	var docs []*document
	for {
		var root yaml.Node
		err := dec.Decode(&root)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, Problems{syntaxProblem(file, data, err)}
		}
		// An empty document, such as the one after a trailing "---", is
		// skipped as Helm and kustomize output often ends with one.
		if len(root.Content) == 0 || isNull(root.Content[0]) {
			continue
		}
		doc := &document{file: file, root: root.Content[0], nodes: map[string]*yaml.Node{}}
		doc.nodes[""] = doc.root
		docs = append(docs, doc)
	}

	if len(docs) == 0 {
		return nil, Problems{{Position: Position{File: file}, Message: "the file contains no spec; write a secslo/v1 or prometheus/v1 spec"}}
	}
	return docs, nil
}

func syntaxProblem(file string, data []byte, err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = strings.TrimSpace(strings.Replace(msg, m[0]+":", "", 1))
	}
	return Problem{Position: Position{File: file, Line: firstFailingLine(data, line)}, Message: "invalid YAML: " + msg}
}

// firstFailingLine returns the first line at which the YAML stops parsing.
// The YAML parser reports the line where the enclosing block starts, which
// can be far above the mistake, so the text is cut after each line from
// that one on until a prefix fails.
func firstFailingLine(data []byte, from int) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	end := 0
	for i := range lines {
		end += len(lines[i])
		if i+1 < from {
			continue
		}
		if !parses(data[:end]) {
			return i + 1
		}
	}
	return from
}

func parses(data []byte) bool {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return true
		}
		if err != nil {
			return false
		}
	}
}

var rawMessageType = reflect.TypeOf(json.RawMessage(nil))

// checkShape walks node against the Go type t, whose field names come from
// the struct tag tagKey ("yaml" or "json"). It records the node of every
// path and reports unknown fields, duplicate keys and values of the wrong
// kind, so that strictness does not depend on the decoder.
func (d *document) checkShape(node *yaml.Node, t reflect.Type, path, tagKey string) Problems {
	if node.Kind == yaml.AliasNode && node.Alias != nil {
		d.aliases++
		if d.aliases > maxAliases {
			return Problems{d.problem(path, "the spec expands more than %d YAML aliases; write the values out", maxAliases)}
		}
		node = node.Alias
	}
	d.nodes[path] = node
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if isNull(node) || t == rawMessageType || t.Kind() == reflect.Interface {
		return nil
	}

	switch t.Kind() {
	case reflect.Struct:
		return d.checkStruct(node, t, path, tagKey)
	case reflect.Map:
		return d.checkMap(node, t, path, tagKey)
	case reflect.Slice:
		return d.checkSlice(node, t, path, tagKey)
	default:
		return d.checkScalar(node, t, path)
	}
}

func isNull(node *yaml.Node) bool {
	return node.Kind == yaml.ScalarNode && node.Tag == "!!null"
}

func (d *document) checkStruct(node *yaml.Node, t reflect.Type, path, tagKey string) Problems {
	if node.Kind != yaml.MappingNode {
		return Problems{d.problem(path, "expected a mapping of fields, got %s", describeNode(node))}
	}

	fields := structFields(t, tagKey)
	var problems Problems
	seen := map[string]bool{}
	for i := 0; i+1 < len(node.Content); i += 2 {
		key, value := node.Content[i], node.Content[i+1]
		fieldPath := joinPath(path, key.Value)
		d.nodes[fieldPath] = key
		if seen[key.Value] {
			problems = append(problems, d.problem(fieldPath, "duplicate field %q; remove one of them", key.Value))
			continue
		}
		seen[key.Value] = true

		field, ok := fields[key.Value]
		if !ok {
			problems = append(problems, d.problem(fieldPath, "unknown field %q%s; valid fields here are %s", key.Value, didYouMean(key.Value, sortedKeys(fields)), strings.Join(sortedKeys(fields), ", ")))
			continue
		}
		problems = append(problems, d.checkShape(value, field, fieldPath, tagKey)...)
		d.nodes[fieldPath] = value
	}
	return problems
}

func (d *document) checkMap(node *yaml.Node, t reflect.Type, path, tagKey string) Problems {
	if node.Kind != yaml.MappingNode {
		return Problems{d.problem(path, "expected a mapping, got %s", describeNode(node))}
	}

	var problems Problems
	seen := map[string]bool{}
	for i := 0; i+1 < len(node.Content); i += 2 {
		key, value := node.Content[i], node.Content[i+1]
		entryPath := joinPath(path, key.Value)
		if seen[key.Value] {
			problems = append(problems, d.problem(entryPath, "duplicate key %q; remove one of them", key.Value))
			continue
		}
		seen[key.Value] = true
		problems = append(problems, d.checkShape(value, t.Elem(), entryPath, tagKey)...)
	}
	return problems
}

func (d *document) checkSlice(node *yaml.Node, t reflect.Type, path, tagKey string) Problems {
	if node.Kind != yaml.SequenceNode {
		return Problems{d.problem(path, "expected a list, got %s", describeNode(node))}
	}

	var problems Problems
	for i, item := range node.Content {
		problems = append(problems, d.checkShape(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), tagKey)...)
	}
	return problems
}

func (d *document) checkScalar(node *yaml.Node, t reflect.Type, path string) Problems {
	if node.Kind != yaml.ScalarNode {
		return Problems{d.problem(path, "expected a %s, got %s", kindName(t), describeNode(node))}
	}

	ok := true
	switch t.Kind() {
	case reflect.Bool:
		ok = node.Tag == "!!bool"
	case reflect.Float32, reflect.Float64:
		ok = node.Tag == "!!int" || node.Tag == "!!float"
	case reflect.Int, reflect.Int64, reflect.Int32:
		ok = node.Tag == "!!int"
	}
	if !ok {
		return Problems{d.problem(path, "expected a %s, got %q", kindName(t), node.Value)}
	}
	return nil
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "boolean (true or false)"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "whole number"
	default:
		return "string"
	}
}

func describeNode(node *yaml.Node) string {
	switch node.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return strconv.Quote(node.Value)
	}
}

// structFields maps the field names of t, as spelled in the tag tagKey, to
// their types.
func structFields(t reflect.Type, tagKey string) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get(tagKey), ",")
		if name == "" || name == "-" {
			continue
		}
		fields[name] = f.Type
	}
	return fields
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// decodeJSONTagged decodes node into out, whose fields carry json tags, by
// way of JSON. checkShape has already rejected unknown fields.
func decodeJSONTagged(node *yaml.Node, out any) error {
	var generic any
	if err := node.Decode(&generic); err != nil {
		return err
	}
	raw, err := json.Marshal(generic)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, out)
}

// didYouMean returns ` (did you mean "x"?)` for the candidate closest to
// name when it is at most two edits away, and "" otherwise.
func didYouMean(name string, candidates []string) string {
	best, bestDistance := "", 3
	for _, c := range candidates {
		if d := editDistance(name, c); d < bestDistance {
			best, bestDistance = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	previous := make([]int, len(b)+1)
	for j := range previous {
		previous[j] = j
	}
	for i := 1; i <= len(a); i++ {
		current := make([]int, len(b)+1)
		current[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			current[j] = min(previous[j]+1, current[j-1]+1, previous[j-1]+cost)
		}
		previous = current
	}
	return previous[len(b)]
}
