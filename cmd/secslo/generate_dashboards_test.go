package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGenerateWritesDashboards(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := runCommand(t, "generate", "--spec="+writeSpec(t, validSpec), "--output.dir="+dir)
	if code != exitOK {
		t.Fatalf("exit status %d, want 0; stderr:\n%s", code, stderr)
	}

	for _, uid := range []string{"secslo-executive", "secslo-oncall", "secslo-debug"} {
		rel := "dashboards/" + uid + ".json"
		if !strings.Contains(stdout, "wrote "+rel+"\n") {
			t.Errorf("output does not list %s:\n%s", rel, stdout)
		}

		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			t.Errorf("dashboard not written: %v", err)
			continue
		}
		var board struct {
			UID string `json:"uid"`
		}
		if err := json.Unmarshal(data, &board); err != nil {
			t.Errorf("%s is not valid JSON: %v", rel, err)
			continue
		}
		if board.UID != uid {
			t.Errorf("%s has uid %q, want %q", rel, board.UID, uid)
		}
	}
}
