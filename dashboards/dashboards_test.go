package dashboards

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/secslo/secslo/slo"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// loadTestSpecs loads the specs that the rules package tests with, so that
// the dashboards are checked against the same grouped, zero-tolerance,
// threshold, built-in and Sloth SLOs.
func loadTestSpecs(t testing.TB) []*slo.SLO {
	t.Helper()
	slos, problems := slo.Load([]string{filepath.Join("..", "rules", "testdata", "specs")}, slo.LoadOptions{})
	if len(problems) > 0 {
		t.Fatalf("test specs are invalid:\n%v", problems)
	}
	return slos
}

func generateTestDashboards(t testing.TB) map[string][]byte {
	t.Helper()
	files, err := Generate(loadTestSpecs(t))
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return files
}

func TestGenerateMatchesGoldenFiles(t *testing.T) {
	files := generateTestDashboards(t)
	golden := filepath.Join("testdata", "golden")

	if *update {
		if err := os.MkdirAll(golden, 0o755); err != nil {
			t.Fatal(err)
		}
		for rel, data := range files {
			if err := os.WriteFile(filepath.Join(golden, filepath.Base(rel)), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	entries, err := os.ReadDir(golden)
	if err != nil {
		t.Fatalf("failed to read golden files: %v; run go test ./dashboards -update", err)
	}
	var onDisk []string
	for _, e := range entries {
		onDisk = append(onDisk, Dir+"/"+e.Name())
	}
	generated := sortedFileNames(files)
	if !slices.Equal(onDisk, generated) {
		t.Fatalf("generated files %v, golden files %v; run go test ./dashboards -update", generated, onDisk)
	}

	for _, rel := range generated {
		want, err := os.ReadFile(filepath.Join(golden, filepath.Base(rel)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(files[rel], want) {
			t.Errorf("%s differs from its golden file; if the change is intended, run go test ./dashboards -update and review the diff", rel)
		}
	}
}

func TestGenerateWritesValidJSON(t *testing.T) {
	for rel, data := range generateTestDashboards(t) {
		var board map[string]any
		if err := json.Unmarshal(data, &board); err != nil {
			t.Errorf("%s is not valid JSON: %v", rel, err)
		}
	}
}

func TestUIDsAreStable(t *testing.T) {
	want := map[string]string{
		"dashboards/secslo-executive.json": "secslo-executive",
		"dashboards/secslo-oncall.json":    "secslo-oncall",
		"dashboards/secslo-debug.json":     "secslo-debug",
	}
	specs := map[string][]*slo.SLO{
		"test specs": loadTestSpecs(t),
		"one SLO":    loadTestSpecs(t)[:1],
		"no SLO":     nil,
	}

	for name, slos := range specs {
		t.Run(name, func(t *testing.T) {
			files, err := Generate(slos)
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if got := sortedFileNames(files); len(got) != len(want) {
				t.Fatalf("files %v, want %d files", got, len(want))
			}
			for rel, uid := range want {
				if got := decodeBoard(t, files[rel]).UID; got != uid {
					t.Errorf("%s has uid %q, want %q", rel, got, uid)
				}
			}
		})
	}
}

func TestPanelIDsAreUnique(t *testing.T) {
	for rel, data := range generateTestDashboards(t) {
		seen := map[float64]bool{}
		for _, panel := range decodeBoard(t, data).allPanels() {
			id, ok := panel["id"].(float64)
			if !ok {
				t.Errorf("%s: panel %q has no id", rel, panel["title"])
				continue
			}
			if seen[id] {
				t.Errorf("%s: panel id %v is used twice", rel, id)
			}
			seen[id] = true
		}
	}
}

func TestPanelsUseDatasourceVariable(t *testing.T) {
	for rel, data := range generateTestDashboards(t) {
		for _, panel := range decodeBoard(t, data).allPanels() {
			for _, target := range targetsOf(panel) {
				ds, _ := target["datasource"].(map[string]any)
				if ds["uid"] != "${datasource}" || ds["type"] != "prometheus" {
					t.Errorf("%s: panel %q query %v has datasource %v, want the datasource variable", rel, panel["title"], target["refId"], ds)
				}
			}
		}
	}
}

// board is the part of a dashboard's JSON that the tests read.
type board struct {
	UID        string           `json:"uid"`
	Panels     []map[string]any `json:"panels"`
	Templating struct {
		List []map[string]any `json:"list"`
	} `json:"templating"`
}

func decodeBoard(t testing.TB, data []byte) board {
	t.Helper()
	var b board
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatalf("invalid dashboard JSON: %v", err)
	}
	return b
}

// allPanels returns every panel and row, and the panels inside rows.
func (b board) allPanels() []map[string]any {
	var panels []map[string]any
	for _, p := range b.Panels {
		panels = append(panels, p)
		nested, _ := p["panels"].([]any)
		for _, n := range nested {
			if m, ok := n.(map[string]any); ok {
				panels = append(panels, m)
			}
		}
	}
	return panels
}

func targetsOf(panel map[string]any) []map[string]any {
	var targets []map[string]any
	list, _ := panel["targets"].([]any)
	for _, t := range list {
		if m, ok := t.(map[string]any); ok {
			targets = append(targets, m)
		}
	}
	return targets
}

func sortedFileNames(files map[string][]byte) []string {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// panelQueries returns every PromQL query of a dashboard by where it is:
// panel targets and the selectors of label_values variables.
func panelQueries(t testing.TB, data []byte) map[string]string {
	t.Helper()
	b := decodeBoard(t, data)
	queries := map[string]string{}
	for _, panel := range b.allPanels() {
		for _, target := range targetsOf(panel) {
			expr, _ := target["expr"].(string)
			queries[panel["title"].(string)+" query "+target["refId"].(string)] = expr
		}
	}
	for _, variable := range b.Templating.List {
		query, _ := variable["query"].(string)
		if selector, ok := strings.CutPrefix(query, "label_values("); ok {
			selector = selector[:strings.LastIndex(selector, ",")]
			queries["variable "+variable["name"].(string)] = selector
		}
	}
	return queries
}
