package sources

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// DefaultRefreshInterval applies to a source whose refresh_interval is unset.
const DefaultRefreshInterval = model.Duration(5 * time.Minute)

// MinRefreshInterval is the shortest refresh_interval accepted, so that a
// typo such as "5ms" cannot turn a source into a busy loop over its files.
const MinRefreshInterval = model.Duration(time.Second)

// sourceNamePattern is the form of a source name. Names appear as label
// values and in URL paths, so they stay within this conservative set.
var sourceNamePattern = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_-]*$`)

// Config is one entry of the sources list in secslo.yaml.
type Config struct {
	Name            string         `yaml:"name"`
	Type            string         `yaml:"type"`
	Paths           []string       `yaml:"paths,omitempty"`
	URL             string         `yaml:"url,omitempty"`
	RefreshInterval model.Duration `yaml:"refresh_interval,omitempty"`
	// Options holds the adapter's own settings; the adapter decodes them strictly.
	Options yaml.Node `yaml:"options,omitempty"`
	// Dir is the folder of the config file, against which ResolvePath
	// resolves file paths in options.
	Dir string `yaml:"-"`
}

// FileConfig is the whole secslo.yaml file.
type FileConfig struct {
	// Specs lists SLO spec files or folders, resolved against Dir.
	Specs []string `yaml:"specs,omitempty"`
	// Sources lists the configured sources in file order.
	Sources []Config `yaml:"sources,omitempty"`
	// Alerting names the receivers that generated routing sends alerts to.
	Alerting AlertingConfig `yaml:"alerting,omitempty"`

	// Dir is the folder of the config file; relative paths resolve against it.
	Dir string `yaml:"-"`
	// File is the path the config was loaded from, used in error messages.
	File string `yaml:"-"`

	// lines maps a field path such as "sources[2].name" to its line in File.
	lines map[string]int
}

// AlertingConfig names the Alertmanager receivers for generated routing.
type AlertingConfig struct {
	PageReceiver   string `yaml:"page_receiver,omitempty"`
	TicketReceiver string `yaml:"ticket_receiver,omitempty"`
}

// ConfigError is one problem in a config file, at a field path such as
// "sources[2].name". Line is 1-based and zero when unknown.
type ConfigError struct {
	File string
	Line int
	Path string
	Err  error
}

func (e *ConfigError) Error() string {
	where := e.File
	if e.Line > 0 {
		where += ":" + strconv.Itoa(e.Line)
	}
	if where == "" {
		return fmt.Sprintf("%s: %v", e.Path, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", where, e.Path, e.Err)
}

func (e *ConfigError) Unwrap() error { return e.Err }

// LoadConfigFile reads secslo.yaml strictly, fills defaults, resolves spec
// and source paths against the file's folder and validates the result
// without a Registry. The error joins every problem found, each with its
// field path and line. Source types are checked later by Validate with the
// adapters' Registry, so commands that need no adapters can still load.
func LoadConfigFile(path string) (*FileConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("failed to read config file: %w", err)
	}

	cfg, err := ParseConfig(data, path)
	if err != nil {
		return nil, err
	}

	if err := cfg.Validate(nil); err != nil {
		return nil, err
	}
	return cfg, nil
}

// ParseConfig decodes a config file's contents strictly and fills defaults,
// but does not validate. file names the contents in errors, and its folder
// becomes Dir.
func ParseConfig(data []byte, file string) (*FileConfig, error) {
	cfg := &FileConfig{File: file, Dir: filepath.Dir(file), lines: map[string]int{}}

	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: invalid YAML: %w", file, err)
	}
	recordLines(&root, "", cfg.lines)
	if err := cfg.checkDurations(&root); err != nil {
		return nil, err
	}

	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(cfg)
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: config file is empty; list at least one source or spec", file)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: invalid config: %w", file, err)
	}

	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: config file contains more than one YAML document; keep only one", file)
	}

	cfg.applyDefaults()
	return cfg, nil
}

// applyDefaults sets unset refresh intervals and resolves relative paths.
func (c *FileConfig) applyDefaults() {
	for i, spec := range c.Specs {
		c.Specs[i] = c.resolve(spec)
	}

	for i := range c.Sources {
		src := &c.Sources[i]
		if _, set := c.lines[fmt.Sprintf("sources[%d].refresh_interval", i)]; !set {
			src.RefreshInterval = DefaultRefreshInterval
		}
		for j, p := range src.Paths {
			src.Paths[j] = c.resolve(p)
		}
		src.Dir = c.Dir
	}
}

// ResolvePath makes a relative file path from the source's options relative
// to the config file's folder, as the paths list is. An empty path stays
// empty.
func (c Config) ResolvePath(path string) string {
	if path == "" || filepath.IsAbs(path) || c.Dir == "" {
		return path
	}
	return filepath.Join(c.Dir, path)
}

// resolve makes a non-empty relative path relative to the config's folder.
func (c *FileConfig) resolve(path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(c.Dir, path)
}

// Validate checks the whole config and returns every problem at once, joined
// with errors.Join, each a *ConfigError with its field path. With a nil
// registry the source types are only checked for presence; with a registry,
// a type that is not one of its keys is an error too.
func (c *FileConfig) Validate(registry Registry) error {
	var errs []error
	add := func(path string, err error) {
		errs = append(errs, c.fieldError(path, err))
	}

	for i, spec := range c.Specs {
		if spec == "" {
			add(fmt.Sprintf("specs[%d]", i), errors.New("empty path; name a spec file or folder"))
		}
	}

	seen := map[string]int{}
	for i, src := range c.Sources {
		prefix := fmt.Sprintf("sources[%d]", i)
		for _, problem := range checkSource(src, registry) {
			add(prefix+"."+problem.field, problem.err)
		}

		if first, dup := seen[src.Name]; dup && src.Name != "" {
			add(prefix+".name", fmt.Errorf("duplicate source name %q, first used by sources[%d]; give each source its own name", src.Name, first))
			continue
		}
		seen[src.Name] = i
	}

	return errors.Join(errs...)
}

// fieldProblem is one invalid field of a source, relative to the source.
type fieldProblem struct {
	field string
	err   error
}

// checkSource returns every problem of one source entry.
func checkSource(src Config, registry Registry) []fieldProblem {
	var problems []fieldProblem
	add := func(field string, err error) {
		problems = append(problems, fieldProblem{field, err})
	}

	switch {
	case src.Name == "":
		add("name", errors.New("missing; give the source a unique name"))
	case !sourceNamePattern.MatchString(src.Name):
		add("name", fmt.Errorf("invalid name %q; use letters, digits, '_' and '-', starting with a letter or '_'", src.Name))
	}

	switch {
	case src.Type == "":
		add("type", errors.New("missing; set the adapter type, for example inventory"))
	case registry != nil && registry[src.Type] == nil:
		add("type", fmt.Errorf("unknown source type %q; known types: %s", src.Type, registry.typeList()))
	}

	if src.RefreshInterval < MinRefreshInterval {
		add("refresh_interval", fmt.Errorf("%s is too short; use at least %s", src.RefreshInterval, MinRefreshInterval))
	}

	for j, p := range src.Paths {
		if p == "" {
			add(fmt.Sprintf("paths[%d]", j), errors.New("empty path; name an input file"))
		}
	}

	if src.URL != "" {
		if err := checkURL(src.URL); err != nil {
			add("url", err)
		}
	}
	return problems
}

// checkURL accepts absolute http and https URLs with a host.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("invalid URL %q: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("invalid URL %q; use an absolute http:// or https:// URL", raw)
	}
	return nil
}

// fieldError wraps err with the file, the field path and the closest known
// line: the field's own, or that of the nearest enclosing field.
func (c *FileConfig) fieldError(path string, err error) error {
	return &ConfigError{File: c.File, Line: c.lineOf(path), Path: path, Err: err}
}

func (c *FileConfig) lineOf(path string) int {
	for p := path; p != ""; p = parentPath(p) {
		if line, ok := c.lines[p]; ok {
			return line
		}
	}
	return 0
}

// parentPath drops the last element of a field path: "a[1].b" becomes "a[1]",
// and "a[1]" becomes "a".
func parentPath(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		switch path[i] {
		case '.':
			return path[:i]
		case '[':
			return path[:i]
		}
	}
	return ""
}

// recordLines stores the line of every mapping key and sequence item under
// node, keyed by field path. Options are recorded too, which is harmless.
func recordLines(node *yaml.Node, path string, lines map[string]int) {
	switch node.Kind {
	case yaml.DocumentNode:
		for _, child := range node.Content {
			recordLines(child, path, lines)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(node.Content); i += 2 {
			key := node.Content[i]
			child := key.Value
			if path != "" {
				child = path + "." + key.Value
			}
			lines[child] = key.Line
			recordLines(node.Content[i+1], child, lines)
		}
	case yaml.SequenceNode:
		for i, item := range node.Content {
			child := fmt.Sprintf("%s[%d]", path, i)
			lines[child] = item.Line
			recordLines(item, child, lines)
		}
	}
}

// typeList returns the registry's types, sorted, for error messages.
func (r Registry) typeList() string {
	types := make([]string, 0, len(r))
	for t := range r {
		types = append(types, t)
	}
	sort.Strings(types)
	if len(types) == 0 {
		return "none registered"
	}
	return strings.Join(types, ", ")
}

// checkDurations parses every sources[i].refresh_interval before the strict
// decode, because the decoder reports a bad duration without its line.
func (c *FileConfig) checkDurations(root *yaml.Node) error {
	doc := root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		doc = doc.Content[0]
	}
	list := mappingValue(doc, "sources")
	if list == nil || list.Kind != yaml.SequenceNode {
		return nil
	}

	var errs []error
	for i, item := range list.Content {
		node := mappingValue(item, "refresh_interval")
		if node == nil || node.Kind != yaml.ScalarNode {
			continue
		}
		if _, err := model.ParseDuration(node.Value); err != nil {
			errs = append(errs, &ConfigError{
				File: c.File, Line: node.Line, Path: fmt.Sprintf("sources[%d].refresh_interval", i),
				Err: fmt.Errorf("invalid duration %q; use a Prometheus duration such as 30s, 5m or 1h", node.Value),
			})
		}
	}
	return errors.Join(errs...)
}

// mappingValue returns the value of key in a mapping node, or nil.
func mappingValue(node *yaml.Node, key string) *yaml.Node {
	if node == nil || node.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		if node.Content[i].Value == key {
			return node.Content[i+1]
		}
	}
	return nil
}
