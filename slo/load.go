package slo

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// DefaultPeriod is the SLO period when a spec sets none. Sloth specs have no
// period field, so their SLOs take LoadOptions.SlothPeriod, which defaults to it.
const DefaultPeriod = 30 * 24 * time.Hour

// LoadOptions tunes how specs are read.
type LoadOptions struct {
	// SlothPeriod is the period of SLOs read from Sloth prometheus/v1 specs.
	SlothPeriod time.Duration
}

func (o LoadOptions) withDefaults() LoadOptions {
	if o.SlothPeriod == 0 {
		o.SlothPeriod = DefaultPeriod
	}
	return o
}

// Load reads the spec files at paths, which may be files or folders (walked
// for *.yaml and *.yml), validates every SLO and returns them in file order.
// Problems lists every problem in every file; SLOs are returned only when
// there are none.
func Load(paths []string, opts LoadOptions) ([]*SLO, Problems) {
	files, problems := specFiles(paths)

	var slos []*SLO
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			problems = append(problems, Problem{Position: Position{File: file}, Message: fmt.Sprintf("failed to read the spec: %v", err)})
			continue
		}
		fileSLOs, fileProblems := Parse(file, data, opts)
		slos = append(slos, fileSLOs...)
		problems = append(problems, fileProblems...)
	}

	problems = append(problems, validateSet(slos)...)
	if len(problems) > 0 {
		return nil, problems
	}
	return slos, nil
}

// specFiles expands folders into their spec files, sorted, so that output
// does not depend on the order of the file system.
func specFiles(paths []string) ([]string, Problems) {
	var files []string
	var problems Problems
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			problems = append(problems, Problem{Position: Position{File: p}, Message: fmt.Sprintf("spec path not found: %v", err)})
			continue
		}
		if !info.IsDir() {
			files = append(files, p)
			continue
		}
		found, err := walkSpecs(p)
		if err != nil {
			problems = append(problems, Problem{Position: Position{File: p}, Message: fmt.Sprintf("failed to list spec files: %v", err)})
		}
		if len(found) == 0 && err == nil {
			problems = append(problems, Problem{Position: Position{File: p}, Message: "the folder contains no *.yaml or *.yml spec file"})
		}
		files = append(files, found...)
	}
	return files, problems
}

func walkSpecs(dir string) ([]string, error) {
	var found []string
	err := filepath.WalkDir(dir, func(path string, entry fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		ext := strings.ToLower(filepath.Ext(path))
		if !entry.IsDir() && (ext == ".yaml" || ext == ".yml") {
			found = append(found, path)
		}
		return nil
	})
	sort.Strings(found)
	return found, err
}

// Parse reads the specs of one file, which may hold several YAML
// documents, and returns their SLOs and every problem found.
func Parse(file string, data []byte, opts LoadOptions) ([]*SLO, Problems) {
	opts = opts.withDefaults()
	docs, problems := parseDocuments(file, data)

	var slos []*SLO
	for _, doc := range docs {
		docSLOs, docProblems := parseDocument(doc, opts)
		slos = append(slos, docSLOs...)
		problems = append(problems, docProblems...)
	}
	return slos, problems
}

func parseDocument(doc *document, opts LoadOptions) ([]*SLO, Problems) {
	version, problems := documentVersion(doc)
	if problems != nil {
		return nil, problems
	}

	switch version {
	case FormatV1:
		return parseV1(doc)
	case FormatSloth:
		return parseSloth(doc, opts.SlothPeriod)
	default:
		return nil, Problems{doc.problem("version", "unsupported version %q; use %q, or %q for Sloth specs", version, FormatV1, FormatSloth)}
	}
}

func documentVersion(doc *document) (string, Problems) {
	if doc.root.Kind != yaml.MappingNode {
		return "", Problems{doc.problem("", "expected a spec (a mapping with version, service and slos), got %s", describeNode(doc.root))}
	}
	for i := 0; i+1 < len(doc.root.Content); i += 2 {
		if doc.root.Content[i].Value == "version" {
			doc.nodes["version"] = doc.root.Content[i+1]
			return doc.root.Content[i+1].Value, nil
		}
	}
	return "", Problems{doc.problem("", "missing version; start the spec with version: %s (or %s for Sloth specs)", FormatV1, FormatSloth)}
}

func parseV1(doc *document) ([]*SLO, Problems) {
	shape := doc.checkShape(doc.root, reflect.TypeOf(SpecV1{}), "", "yaml")

	// Unknown fields do not stop decoding, so the rest of the spec is still
	// checked; a value of the wrong type does.
	var spec SpecV1
	if err := doc.root.Decode(&spec); err != nil {
		if len(shape) > 0 {
			return nil, shape
		}
		return nil, Problems{doc.problem("", "failed to decode the spec: %v", err)}
	}
	slos, problems := convertV1(doc, &spec)
	return mergeShapeProblems(slos, shape, problems)
}

// mergeShapeProblems adds the problems of a spec's conversion to its shape
// problems, leaving out those of SLOs that already have a shape problem:
// a misspelt field would otherwise also be reported as missing.
func mergeShapeProblems(slos []*SLO, shape, converted Problems) ([]*SLO, Problems) {
	if len(shape) == 0 {
		return slos, converted
	}
	problems := shape
	for _, p := range converted {
		if !sharesSLO(p.Path, shape) {
			problems = append(problems, p)
		}
	}
	return nil, problems
}

// sharesSLO reports whether path lies in an SLO ("slos[2]...") that one of
// problems also lies in.
func sharesSLO(path string, problems Problems) bool {
	prefix := sloPrefix(path)
	if prefix == "" {
		return false
	}
	for _, p := range problems {
		if sloPrefix(p.Path) == prefix {
			return true
		}
	}
	return false
}

func sloPrefix(path string) string {
	if !strings.HasPrefix(path, "slos[") {
		return ""
	}
	end := strings.Index(path, "]")
	return path[:end+1]
}
