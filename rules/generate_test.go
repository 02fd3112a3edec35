package rules

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/secslo/secslo/slo"
	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

func loadTestSpecs(t testing.TB) []*slo.SLO {
	t.Helper()
	slos, problems := slo.Load([]string{filepath.Join("testdata", "specs")}, slo.LoadOptions{})
	if len(problems) > 0 {
		t.Fatalf("test specs are invalid:\n%v", problems)
	}
	return slos
}

func TestGenerateMatchesGoldenFiles(t *testing.T) {
	for _, format := range Formats {
		t.Run(string(format), func(t *testing.T) {
			out, err := Generate(loadTestSpecs(t), Options{Format: format, Tests: true})
			if err != nil {
				t.Fatal(err)
			}

			golden := filepath.Join("testdata", "golden", string(format))
			if *update {
				writeGolden(t, golden, out.Files)
			}
			compareGolden(t, golden, out.Files)
		})
	}
}

func writeGolden(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	for rel, data := range files {
		path := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func compareGolden(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	var onDisk []string
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			onDisk = append(onDisk, filepath.ToSlash(rel))
		}
		return nil
	})
	generated := make([]string, 0, len(files))
	for rel := range files {
		generated = append(generated, rel)
	}
	sort.Strings(generated)
	if strings.Join(onDisk, ",") != strings.Join(generated, ",") {
		t.Fatalf("generated files %v, golden files %v; run go test ./rules -update", generated, onDisk)
	}
	for _, rel := range generated {
		want, _ := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
		if !bytes.Equal(files[rel], want) {
			t.Errorf("%s differs from its golden file; run go test ./rules -update and review the diff", rel)
		}
	}
}

func TestGeneratedRulesPassPromtool(t *testing.T) {
	dir := writeGenerated(t, loadTestSpecs(t))

	rules, _ := filepath.Glob(filepath.Join(dir, RulesDir, "*.yml"))
	runPromtool(t, dir, append([]string{"check", "rules"}, rules...)...)

	tests, _ := filepath.Glob(filepath.Join(dir, TestsDir, "*.yml"))
	if len(tests) < 6 {
		t.Fatalf("got %d test files, want one per SLO with synthesizable inputs", len(tests))
	}
	for _, test := range tests {
		t.Run(filepath.Base(test), func(t *testing.T) {
			runPromtool(t, filepath.Join(dir, TestsDir), "test", "rules", filepath.Base(test))
		})
	}
}

func TestGeneratedExpressionsRoundTrip(t *testing.T) {
	out, err := Generate(loadTestSpecs(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for rel, data := range out.Files {
		var file RuleFile
		if err := yaml.Unmarshal(data, &file); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		for _, g := range file.Groups {
			for _, r := range g.Rules {
				first, err := slo.PromQL.ParseExpr(r.Expr)
				if err != nil {
					t.Fatalf("%s %s: %v", g.Name, r.Record+r.Alert, err)
				}
				second, err := slo.PromQL.ParseExpr(first.String())
				if err != nil {
					t.Fatalf("%s %s: printed expression does not parse: %v", g.Name, r.Record+r.Alert, err)
				}
				if first.String() != second.String() {
					t.Errorf("%s %s: printed %q, reparsed %q", g.Name, r.Record+r.Alert, first, second)
				}
			}
		}
	}
}

func TestCheckRuleFileRejectsInvalidRules(t *testing.T) {
	tests := []struct {
		name   string
		rule   Rule
		format Format
		want   string
	}{
		{"unbalanced PromQL", Rule{Record: "a:b:c", Expr: "sum(x"}, FormatPrometheus, "could not parse expression"},
		{"unbalanced MetricsQL", Rule{Record: "a:b:c", Expr: "sum(x"}, FormatVMAlert, "invalid MetricsQL"},
		{"invalid record name", Rule{Record: "a b", Expr: "x"}, FormatPrometheus, "invalid recording rule name"},
		{"invalid template", Rule{Alert: "A", Expr: "x", Annotations: map[string]string{"d": "{{ $value"}}, FormatPrometheus, "template"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := &RuleFile{Groups: []RuleGroup{{Name: "g", Rules: []Rule{tt.rule}}}}

			err := CheckRuleFile(file, tt.format)

			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestGenerateNotesSLOsWithoutTests(t *testing.T) {
	out, err := Generate(loadTestSpecs(t), Options{Tests: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Notes) != 1 || !strings.Contains(out.Notes[0], `"requests-latency"`) {
		t.Errorf("got notes %v, want one for the raw error ratio SLO requests-latency", out.Notes)
	}
}

func TestKubernetesNameIsValid(t *testing.T) {
	tests := map[string]string{
		"secslo-identity":  "secslo-identity",
		"secslo-My_Svc.v2": "secslo-my-svc.v2",
		"secslo-payments-": "secslo-payments",
	}
	for in, want := range tests {
		if got := kubernetesName(in); got != want {
			t.Errorf("kubernetesName(%q) = %q, want %q", in, got, want)
		}
	}
}
