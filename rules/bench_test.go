package rules

import (
	"fmt"
	"strings"
	"testing"

	"github.com/secslo/secslo/slo"
)

// thousandSLOSpecs returns 10 spec files of 100 SLOs each, mixing the SLI
// kinds and objectives that security teams use.
func thousandSLOSpecs() map[string][]byte {
	objectives := []string{"90", "95", "97", "98", "99.5", "99.9", "100"}
	files := map[string][]byte{}
	for service := 0; service < 10; service++ {
		var b strings.Builder
		fmt.Fprintf(&b, "version: secslo/v1\nservice: service-%d\nslos:\n", service)
		for i := 0; i < 100; i++ {
			fmt.Fprintf(&b, "  - name: slo-%d\n    objective: %s\n    controls: [A.8.16]\n", i, objectives[i%len(objectives)])
			switch i % 4 {
			case 0:
				fmt.Fprintf(&b, "    sli:\n      events:\n        bad: requests_total{job=\"j%d\",code=~\"5..\"}\n        total: requests_total{job=\"j%d\"}\n", i, i)
			case 1:
				fmt.Fprintf(&b, "    sli:\n      snapshot:\n        bad: hosts_unpatched{group=\"g%d\"}\n        total: hosts{group=\"g%d\"}\n", i, i)
			case 2:
				fmt.Fprintf(&b, "    sli:\n      threshold:\n        histogram: latency_seconds{job=\"j%d\"}\n        le: 0.5\n", i)
			default:
				fmt.Fprintf(&b, "    sli:\n      custom:\n        error_query: sum(rate(errors_total{job=\"j%d\"}[{{.window}}]))\n        total_query: sum(rate(requests_total{job=\"j%d\"}[{{.window}}]))\n", i, i)
			}
		}
		files[fmt.Sprintf("service-%d.yaml", service)] = []byte(b.String())
	}
	return files
}

// BenchmarkValidateAndGenerate1000SLOs measures what secslo generate does
// for 1,000 SLOs: parse and validate the specs, build the rules and their
// promtool tests, and check every expression and file.
func BenchmarkValidateAndGenerate1000SLOs(b *testing.B) {
	files := thousandSLOSpecs()
	b.ReportAllocs()
	for b.Loop() {
		var slos []*slo.SLO
		for name, data := range files {
			parsed, problems := slo.Parse(name, data, slo.LoadOptions{})
			if len(problems) > 0 {
				b.Fatal(problems)
			}
			slos = append(slos, parsed...)
		}
		if len(slos) != 1000 {
			b.Fatalf("got %d SLOs, want 1000", len(slos))
		}
		if _, err := Generate(slos, Options{Tests: true}); err != nil {
			b.Fatal(err)
		}
	}
}
