package slo

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes the spec parser panic, and that a
// spec either yields SLOs or problems, never neither.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	for _, path := range seeds {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("version: secslo/v1\nservice: a\nslos: [{name: b, objective: 1e308, sli: {events: {total: 'x', bad: 'y{'}}}]"))
	f.Add([]byte("\xef\xbb\xbfversion: prometheus/v1\r\nservice: s\r\n"))
	f.Add([]byte("a: &x [*x]"))

	f.Fuzz(func(t *testing.T, data []byte) {
		slos, problems := Parse("fuzz.yaml", data, LoadOptions{})
		if len(slos) == 0 && len(problems) == 0 {
			t.Fatalf("no SLOs and no problems for %q", data)
		}
		for _, s := range slos {
			s.AlertWindows()
		}
	})
}
