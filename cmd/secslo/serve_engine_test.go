package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// engineSpecFormat is a service with one snapshot SLO of the same name
// over secslo's own metrics, which the engine evaluates.
const engineSpecFormat = `version: secslo/v1
service: %[1]s
owner: security@example.com
slos:
  - name: %[1]s
    objective: 98
    controls: [A.8.15]
    sli:
      builtin: log_coverage
`

func writeEngineConfig(t *testing.T, dir string, names ...string) string {
	t.Helper()
	specs := filepath.Join(dir, "slos")
	if err := os.MkdirAll(specs, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(specs)
	for _, e := range entries {
		os.Remove(filepath.Join(specs, e.Name()))
	}
	for _, name := range names {
		spec := fmt.Sprintf(engineSpecFormat, name)
		if err := os.WriteFile(filepath.Join(specs, name+".yaml"), []byte(spec), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	config := filepath.Join(dir, "secslo.yaml")
	if err := os.WriteFile(config, []byte("specs: [slos/]\nsources: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return config
}

func ruleFiles(t *testing.T, storage string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(storage, "rules"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func postReload(t *testing.T, addr string) int {
	t.Helper()
	resp, err := http.Post("http://"+addr+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestServeReloadUpdatesEngineRules(t *testing.T) {
	dir, storage := t.TempDir(), t.TempDir()
	config := writeEngineConfig(t, dir, "first")
	addr := startServeWith(t, "--config.file="+config, "--storage.path="+storage, "--web.enable-lifecycle")

	if got := ruleFiles(t, storage); strings.Join(got, ",") != "first.yml" {
		t.Fatalf("rule files at start = %v, want [first.yml]", got)
	}

	writeEngineConfig(t, dir, "second")
	if code := postReload(t, addr); code != http.StatusOK {
		t.Fatalf("reload returned %d, want 200", code)
	}
	if got := ruleFiles(t, storage); strings.Join(got, ",") != "second.yml" {
		t.Errorf("rule files after the reload = %v, want [second.yml]", got)
	}
	var body struct {
		SLOs []struct {
			SLO string `json:"slo"`
		} `json:"slos"`
	}
	if err := getJSON(t.Context(), "http://"+addr+"/api/v1/slos", &body); err != nil {
		t.Fatal(err)
	}
	if len(body.SLOs) != 1 || body.SLOs[0].SLO != "second" {
		t.Errorf("status API lists %+v after the reload, want only second", body.SLOs)
	}

	t.Run("invalid spec keeps the previous rules", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(dir, "slos", "second.yaml"), []byte("version: secslo/v1\nservice: second\nslos:\n  - name: broken\n    objective: 190\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if code := postReload(t, addr); code != http.StatusInternalServerError {
			t.Errorf("reload of an invalid spec returned %d, want 500", code)
		}
		if got := ruleFiles(t, storage); strings.Join(got, ",") != "second.yml" {
			t.Errorf("rule files after a rejected reload = %v, want [second.yml]", got)
		}
	})
}
