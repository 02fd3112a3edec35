package rules

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/secslo/secslo/slo"
)

// requireTool returns the path of a command-line tool, or skips the test
// when it is missing, unless SECSLO_REQUIRE_TOOLS=1 makes that a failure.
// SECSLO_PROMTOOL selects another promtool, such as one of Prometheus 3.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	if override := os.Getenv("SECSLO_PROMTOOL"); name == "promtool" && override != "" {
		name = override
	}
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("SECSLO_REQUIRE_TOOLS") == "1" {
		t.Fatalf("%s not found on PATH and SECSLO_REQUIRE_TOOLS=1: install Debian's prometheus package", name)
	}
	t.Skipf("%s not found on PATH: install Debian's prometheus package to run this test", name)
	return ""
}

// parseSpec reads SLOs from a spec written in a test.
func parseSpec(t testing.TB, spec string) []*slo.SLO {
	t.Helper()
	slos, problems := slo.Parse("test.yaml", []byte(spec), slo.LoadOptions{})
	if len(problems) > 0 {
		t.Fatalf("spec is invalid:\n%v", problems)
	}
	return slos
}

// writeGenerated writes the generated files of slos into a temporary folder
// and returns it.
func writeGenerated(t testing.TB, slos []*slo.SLO) string {
	t.Helper()
	out, err := Generate(slos, Options{Tests: true})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	dir := t.TempDir()
	for rel, data := range out.Files {
		path := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// runPromtool runs promtool with args in dir and fails the test with its
// output when it exits non-zero.
func runPromtool(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(requireTool(t, "promtool"), args...)
	cmd.Dir = dir
	output, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %v failed: %v\n%s", args, err, output)
	}
	return string(output)
}

// runScenario writes the rules of slos and a hand-written promtool test
// group, then runs promtool test rules on it.
func runScenario(t testing.TB, slos []*slo.SLO, group testGroup) {
	t.Helper()
	dir := writeGenerated(t, slos)
	file := testFile{
		RuleFiles:          []string{"../" + RulesDir + "/" + RuleFileName(slos[0].Service)},
		EvaluationInterval: "1m",
		Tests:              []testGroup{group},
	}
	data, err := marshalYAML(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, TestsDir, "scenario.yml"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	runPromtool(t, filepath.Join(dir, TestsDir), "test", "rules", "scenario.yml")
}
