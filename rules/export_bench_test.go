package rules

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWriteBenchmarkSpecs writes the 1,000 benchmark SLOs to the folder in
// SECSLO_BENCH_SPECS, so that bench/ scripts can time the secslo binary on
// the same specs as the Go benchmark. Without the variable it does nothing.
func TestWriteBenchmarkSpecs(t *testing.T) {
	dir := os.Getenv("SECSLO_BENCH_SPECS")
	if dir == "" {
		t.Skip("SECSLO_BENCH_SPECS is not set")
	}
	for name, data := range thousandSLOSpecs() {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
