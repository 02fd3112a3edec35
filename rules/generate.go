package rules

import (
	"errors"
	"fmt"
	"maps"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/secslo/secslo/slo"
	"go.yaml.in/yaml/v3"
)

// Format is the dialect of the generated rule files.
type Format string

// Rule file formats.
const (
	// FormatPrometheus is a Prometheus rule file, also read by Thanos Ruler
	// and the Mimir ruler.
	FormatPrometheus Format = "prometheus"
	// FormatOperator wraps the groups in a prometheus-operator PrometheusRule.
	FormatOperator Format = "prometheus-operator"
	// FormatVMAlert is a rule file for vmalert, checked with the MetricsQL
	// parser.
	FormatVMAlert Format = "vmalert"
)

// Formats lists the accepted formats, for flag help and errors.
var Formats = []Format{FormatPrometheus, FormatOperator, FormatVMAlert}

// Options tunes generation.
type Options struct {
	Format Format
	// Tests requests one promtool test file per SLO. Tests need a rule file
	// that promtool reads, so they are skipped for FormatOperator.
	Tests bool
	// Routing names the receivers of the generated Alertmanager routing,
	// which Generate writes for every format.
	Routing Routing
}

// Output is the generated files by path relative to the output folder.
type Output struct {
	Files map[string][]byte
	// Notes lists what was not generated and why, such as the test of an
	// SLI whose inputs cannot be synthesized.
	Notes []string
}

// File paths inside the output folder.
const (
	RulesDir = "rules"
	TestsDir = "tests"
)

// Generate builds the rule files of every service in slos, the
// Alertmanager routing of their alerts and, if asked, the promtool tests of
// every SLO. Every expression and file is checked
// before Generate returns, so a caller never writes a file that Prometheus
// would reject.
func Generate(slos []*slo.SLO, opts Options) (*Output, error) {
	if opts.Format == "" {
		opts.Format = FormatPrometheus
	}
	services := groupByService(slos)

	// Services are independent, so they are generated in parallel; the
	// output is merged in service order, so it does not depend on timing.
	results := make([]*Output, len(services))
	errs := make([]error, len(services))
	var wg sync.WaitGroup
	limit := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i := range services {
		wg.Add(1)
		limit <- struct{}{}
		go func() {
			defer wg.Done()
			results[i], errs[i] = generateService(services[i], opts)
			<-limit
		}()
	}
	wg.Wait()

	out := &Output{Files: map[string][]byte{}}
	for i := range services {
		if errs[i] != nil {
			return nil, errs[i]
		}
		maps.Copy(out.Files, results[i].Files)
		out.Notes = append(out.Notes, results[i].Notes...)
	}

	routing, err := GenerateRouting(slos, opts.Routing)
	if err != nil {
		return nil, err
	}
	maps.Copy(out.Files, routing)
	return out, nil
}

func generateService(service serviceSLOs, opts Options) (*Output, error) {
	out := &Output{Files: map[string][]byte{}}
	file, err := serviceRules(service.slos)
	if err != nil {
		return nil, fmt.Errorf("service %q: %w", service.name, err)
	}
	data, err := encodeRuleFile(file, service.name, opts.Format)
	if err != nil {
		return nil, fmt.Errorf("service %q: %w", service.name, err)
	}
	rulePath := RulesDir + "/" + RuleFileName(service.name)
	out.Files[rulePath] = data

	if !opts.Tests || opts.Format == FormatOperator {
		return out, nil
	}
	for _, s := range service.slos {
		test, err := GenerateTest(s, "../"+rulePath)
		var noInputs *ErrNoTestInputs
		if errors.As(err, &noInputs) {
			out.Notes = append(out.Notes, fmt.Sprintf("SLO %q of service %q: %v", s.Name, s.Service, err))
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("SLO %q of service %q: failed to generate its test: %w", s.Name, s.Service, err)
		}
		out.Files[TestsDir+"/"+TestFileName(s)] = test
	}
	return out, nil
}

// RuleFileName is the name of the rule file of a service.
func RuleFileName(service string) string {
	return service + ".yml"
}

// TestFileName is the name of the promtool test file of an SLO.
func TestFileName(s *slo.SLO) string {
	return s.Service + "-" + s.Name + ".yml"
}

type serviceSLOs struct {
	name string
	slos []*slo.SLO
}

// groupByService keeps the order of SLOs within a service and sorts the
// services, so that output is stable.
func groupByService(slos []*slo.SLO) []serviceSLOs {
	index := map[string]int{}
	var services []serviceSLOs
	for _, s := range slos {
		i, ok := index[s.Service]
		if !ok {
			i = len(services)
			index[s.Service] = i
			services = append(services, serviceSLOs{name: s.Service})
		}
		services[i].slos = append(services[i].slos, s)
	}
	sort.Slice(services, func(i, j int) bool { return services[i].name < services[j].name })
	return services
}

// serviceRules returns one rule group per SLO, so that each SLO's rules run
// in order and a slow SLO does not delay the others.
func serviceRules(slos []*slo.SLO) (*RuleFile, error) {
	file := &RuleFile{}
	for _, s := range slos {
		recording, err := recordingRules(s)
		if err != nil {
			return nil, fmt.Errorf("SLO %q: %w", s.Name, err)
		}
		file.Groups = append(file.Groups, RuleGroup{
			Name:  GroupName(s),
			Rules: append(recording, alertRules(s)...),
		})
	}
	return file, nil
}

// GroupName is the name of the rule group of an SLO.
func GroupName(s *slo.SLO) string {
	return "secslo-" + s.Service + "-" + s.Name
}

// operatorRule is the prometheus-operator PrometheusRule resource.
type operatorRule struct {
	APIVersion string           `yaml:"apiVersion"`
	Kind       string           `yaml:"kind"`
	Metadata   operatorMetadata `yaml:"metadata"`
	Spec       RuleFile         `yaml:"spec"`
}

type operatorMetadata struct {
	Name   string            `yaml:"name"`
	Labels map[string]string `yaml:"labels"`
}

// encodeRuleFile encodes file in format after checking it, so that only
// checked rules are ever returned.
func encodeRuleFile(file *RuleFile, service string, format Format) ([]byte, error) {
	header := fmt.Sprintf("# Generated by secslo from the SLO specs of service %q. Do not edit: change the specs and run secslo generate.\n", service)
	data, err := marshalYAML(file)
	if err != nil {
		return nil, fmt.Errorf("failed to encode the rules: %w", err)
	}
	if err := CheckEncodedRuleFile(file, data, format); err != nil {
		return nil, fmt.Errorf("generated rules are invalid: %w", err)
	}
	if format != FormatOperator {
		return append([]byte(header), data...), nil
	}

	doc := operatorRule{
		APIVersion: "monitoring.coreos.com/v1",
		Kind:       "PrometheusRule",
		Metadata: operatorMetadata{
			Name:   kubernetesName("secslo-" + service),
			Labels: map[string]string{"app.kubernetes.io/managed-by": "secslo", "app.kubernetes.io/part-of": "secslo"},
		},
		Spec: *file,
	}
	data, err = marshalYAML(doc)
	if err != nil {
		return nil, fmt.Errorf("failed to encode the rules: %w", err)
	}
	return append([]byte(header), data...), nil
}

func marshalYAML(v any) ([]byte, error) {
	var buf bytesBuffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// kubernetesName turns name into a valid Kubernetes object name (a
// lowercase RFC 1123 subdomain): letters are lowercased and every character
// other than a letter, a digit, '-' or '.' becomes '-'.
func kubernetesName(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-.")
}
