package sources

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

const goodConfigFile = "testdata/config/good.yaml"

func TestLoadConfigFileResolvesPathsAndDefaults(t *testing.T) {
	cfg, err := LoadConfigFile(goodConfigFile)
	if err != nil {
		t.Fatalf("LoadConfigFile: %v", err)
	}

	dir := filepath.Join("testdata", "config")
	if cfg.Dir != dir {
		t.Errorf("Dir = %q, want %q", cfg.Dir, dir)
	}

	wantSpecs := []string{filepath.Join(dir, "slos"), filepath.Join(dir, "extra/security.yaml")}
	if strings.Join(cfg.Specs, ",") != strings.Join(wantSpecs, ",") {
		t.Errorf("Specs = %q, want %q", cfg.Specs, wantSpecs)
	}

	if len(cfg.Sources) != 2 {
		t.Fatalf("got %d sources, want 2", len(cfg.Sources))
	}
	inv := cfg.Sources[0]
	wantPaths := []string{filepath.Join(dir, "data/assets.csv"), "/var/lib/secslo/lastseen.json"}
	if strings.Join(inv.Paths, ",") != strings.Join(wantPaths, ",") {
		t.Errorf("Paths = %q, want %q", inv.Paths, wantPaths)
	}
	if inv.RefreshInterval != model.Duration(time.Minute) {
		t.Errorf("set refresh_interval = %s, want 1m", inv.RefreshInterval)
	}
	if got := cfg.Sources[1].RefreshInterval; got != DefaultRefreshInterval {
		t.Errorf("default refresh_interval = %s, want %s", got, DefaultRefreshInterval)
	}

	if cfg.Alerting.PageReceiver != "pager" || cfg.Alerting.TicketReceiver != "tickets" {
		t.Errorf("Alerting = %+v, want pager and tickets", cfg.Alerting)
	}
}

func TestLoadConfigFileKeepsOptionsForTheAdapter(t *testing.T) {
	cfg, err := LoadConfigFile(goodConfigFile)
	if err != nil {
		t.Fatalf("LoadConfigFile: %v", err)
	}

	var opts struct {
		IDColumn string `yaml:"id_column"`
	}
	if err := DecodeOptions(cfg.Sources[0], &opts); err != nil {
		t.Fatalf("DecodeOptions: %v", err)
	}
	if opts.IDColumn != "asset_id" {
		t.Errorf("id_column = %q, want asset_id", opts.IDColumn)
	}
}

func TestLoadConfigFileMissingFile(t *testing.T) {
	_, err := LoadConfigFile(filepath.Join(t.TempDir(), "absent.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want one wrapping os.ErrNotExist", err)
	}
}

// editGoodConfig returns the good config with old replaced by new, and fails
// the test if old does not occur, so a case never tests the unchanged file.
func editGoodConfig(t *testing.T, old, new string) []byte {
	t.Helper()
	data, err := os.ReadFile(goodConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("good config does not contain %q", old)
	}
	return []byte(strings.Replace(string(data), old, new, 1))
}

func TestParseConfigRejects(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		want     string
	}{
		{"unknown top-level field", "alerting:", "alertin:", "line 13: field alertin not found"},
		{"unknown source field", "    url: https", "    uri: https", "line 12: field uri not found"},
		{"malformed duration", "refresh_interval: 1m", "refresh_interval: soon", `secslo.yaml:6: sources[0].refresh_interval: invalid duration "soon"`},
		{"YAML syntax error", "alerting:", "alerting: [", "invalid YAML"},
		{"second document", "ticket_receiver: tickets", "ticket_receiver: tickets\n---\nspecs: []", "more than one YAML document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig(editGoodConfig(t, tt.old, tt.new), "secslo.yaml")
			if err == nil {
				t.Fatal("got no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseConfigRejectsEmptyFile(t *testing.T) {
	_, err := ParseConfig(nil, "secslo.yaml")
	if err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("err = %v, want an empty-file error", err)
	}
}

func TestValidateReportsFieldPath(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		want     string
	}{
		{"duplicate name", "name: iam_prod", "name: inventory", `secslo.yaml:10: sources[1].name: duplicate source name "inventory"`},
		{"missing name", "  - name: iam_prod\n    type: iam", "  - type: iam", "secslo.yaml:10: sources[1].name: missing"},
		{"name with a space", "name: iam_prod", "name: iam prod", `sources[1].name: invalid name "iam prod"`},
		{"name starting with a digit", "name: iam_prod", "name: 1iam", `sources[1].name: invalid name "1iam"`},
		{"missing type", "    type: iam\n", "", "secslo.yaml:10: sources[1].type: missing"},
		{"refresh interval too short", "refresh_interval: 1m", "refresh_interval: 10ms", "secslo.yaml:6: sources[0].refresh_interval: 10ms is too short"},
		{"zero refresh interval", "refresh_interval: 1m", "refresh_interval: 0s", "sources[0].refresh_interval: 0s is too short"},
		{"empty source path", "paths: [data/assets.csv,", `paths: ["",`, "secslo.yaml:7: sources[0].paths[0]: empty path"},
		{"empty spec path", "specs: [slos/,", `specs: ["",`, "secslo.yaml:2: specs[0]: empty path"},
		{"relative URL", "url: https://example.invalid/api", "url: /api", `sources[1].url: invalid URL "/api"`},
		{"URL with another scheme", "url: https://example.invalid/api", "url: ftp://example.invalid/", `sources[1].url: invalid URL "ftp://example.invalid/"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseConfig(editGoodConfig(t, tt.old, tt.new), "secslo.yaml")
			if err != nil {
				t.Fatalf("ParseConfig: %v", err)
			}

			err = cfg.Validate(nil)
			if err == nil {
				t.Fatal("Validate returned no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to contain %q", err, tt.want)
			}

			var cfgErr *ConfigError
			if !errors.As(err, &cfgErr) {
				t.Errorf("err %T does not unwrap to *ConfigError", err)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	data := []byte(`sources:
  - name: a
    type: t
  - name: a
    type: ""
  - name: "bad name"
    type: t
    refresh_interval: 1ms
`)
	cfg, err := ParseConfig(data, "secslo.yaml")
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}

	err = cfg.Validate(nil)
	want := []string{
		`secslo.yaml:4: sources[1].name: duplicate source name "a"`,
		`secslo.yaml:5: sources[1].type: missing`,
		`secslo.yaml:6: sources[2].name: invalid name "bad name"`,
		`secslo.yaml:8: sources[2].refresh_interval: 1ms is too short`,
	}
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("err = %v, want it to contain %q", err, w)
		}
	}
}

func TestValidateChecksTypesAgainstRegistry(t *testing.T) {
	cfg, err := LoadConfigFile(goodConfigFile)
	if err != nil {
		t.Fatalf("LoadConfigFile: %v", err)
	}

	registry := Registry{"inventory": newFileCountSource}
	err = cfg.Validate(registry)
	want := `secslo.yaml:11: sources[1].type: unknown source type "iam"; known types: inventory`
	if err == nil || !strings.Contains(err.Error(), want[len("secslo.yaml"):]) {
		t.Errorf("err = %v, want it to contain %q", err, want)
	}

	registry["iam"] = newFileCountSource
	if err := cfg.Validate(registry); err != nil {
		t.Errorf("Validate with every type registered: %v", err)
	}
}

func FuzzParseConfig(f *testing.F) {
	good, err := os.ReadFile(goodConfigFile)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte("sources: [{name: a, type: b, refresh_interval: 1s}]"))
	f.Add([]byte("specs: [\"\"]\nsources:\n  - {}\n"))
	f.Add([]byte("\xef\xbb\xbfsources: []\r\n"))
	f.Add([]byte("sources: [{options: &a [*a]}]"))

	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data, "fuzz.yaml")
		if err != nil {
			return
		}
		err = cfg.Validate(Registry{"b": newFileCountSource})
		if err != nil && err.Error() == "" {
			t.Error("Validate returned an error with an empty message")
		}
	})
}
