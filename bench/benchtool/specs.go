package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// sloDefinition is one objective, written once as a secslo events SLI and
// once as a Sloth events SLI so that both tools get the same SLOs.
type sloDefinition struct {
	Service   string
	Name      string
	Objective float64
	Bad       string // selector of the bad events counter
	Total     string // selector of the total events counter
}

// benchObjectives are the objectives, in percent, that the definitions cycle
// through. 100 is left out because Sloth divides by the error budget.
var benchObjectives = []float64{90, 95, 97, 98, 99, 99.5, 99.9}

// generationSLOs returns 1,000 SLOs in 10 services of 100 each.
func generationSLOs() []sloDefinition {
	var defs []sloDefinition
	for service := range 10 {
		for i := range 100 {
			job := fmt.Sprintf(`job="s%d-j%d"`, service, i)
			bad := `requests_total{` + job + `,code=~"5.."}`
			if i%2 == 1 {
				bad = `requests_total{` + job + `,result="denied"}`
			}
			defs = append(defs, sloDefinition{
				Service:   fmt.Sprintf("service-%d", service),
				Name:      fmt.Sprintf("slo-%d", i),
				Objective: benchObjectives[i%len(benchObjectives)],
				Bad:       bad,
				Total:     `requests_total{` + job + `}`,
			})
		}
	}
	return defs
}

// evaluationSLOs returns one SLO per objective of the counter history, each
// over the 100 series of bench_requests_total with its objective label.
func evaluationSLOs(objectives int) []sloDefinition {
	defs := make([]sloDefinition, objectives)
	for i := range defs {
		label := fmt.Sprintf(`objective="%s"`, objectiveLabel(i))
		defs[i] = sloDefinition{
			Service:   "bench",
			Name:      objectiveLabel(i),
			Objective: benchObjectives[i%len(benchObjectives)],
			Bad:       `bench_requests_total{` + label + `,code="error"}`,
			Total:     `bench_requests_total{` + label + `}`,
		}
	}
	return defs
}

func objectiveLabel(i int) string { return fmt.Sprintf("o%02d", i) }

// alertName turns "slo-12" into "Slo12BudgetBurn".
func alertName(name string) string {
	var b strings.Builder
	upper := true
	for _, r := range name {
		if r == '-' || r == '_' {
			upper = true
			continue
		}
		if upper {
			r = []rune(strings.ToUpper(string(r)))[0]
			upper = false
		}
		b.WriteRune(r)
	}
	return b.String() + "BudgetBurn"
}

func runSpecs(args []string) error {
	fs := flag.NewFlagSet("specs", flag.ContinueOnError)
	set := fs.String("set", "generation", "which SLOs to write: generation (1,000 SLOs) or evaluation (one per objective of the history)")
	objectives := fs.Int("objectives", 50, "number of SLOs of the evaluation set")
	secsloDir := fs.String("secslo", "", "folder for the secslo/v1 specs")
	slothDir := fs.String("sloth", "", "folder for the Sloth prometheus/v1 specs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *secsloDir == "" || *slothDir == "" {
		return fmt.Errorf("missing -secslo or -sloth folder")
	}

	var defs []sloDefinition
	switch *set {
	case "generation":
		defs = generationSLOs()
	case "evaluation":
		defs = evaluationSLOs(*objectives)
	default:
		return fmt.Errorf("invalid -set %q; use generation or evaluation", *set)
	}

	services := map[string][]sloDefinition{}
	var order []string
	for _, d := range defs {
		if services[d.Service] == nil {
			order = append(order, d.Service)
		}
		services[d.Service] = append(services[d.Service], d)
	}
	for _, service := range order {
		if err := writeSpec(*secsloDir, service, secsloSpec(service, services[service])); err != nil {
			return err
		}
		if err := writeSpec(*slothDir, service, slothSpec(service, services[service])); err != nil {
			return err
		}
	}
	return nil
}

func writeSpec(dir, service, text string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, service+".yaml"), []byte(text), 0o644)
}

// secsloSpec writes the SLOs as events SLIs. The no-data policy is ignore,
// because Sloth generates no no-data alert.
func secsloSpec(service string, defs []sloDefinition) string {
	var b strings.Builder
	fmt.Fprintf(&b, "version: secslo/v1\nservice: %s\nlabels:\n  team: security\nslos:\n", service)
	for _, d := range defs {
		fmt.Fprintf(&b, "  - name: %s\n    description: Requests of %s that did not fail.\n    objective: %g\n    controls: [A.8.16]\n", d.Name, d.Name, d.Objective)
		fmt.Fprintf(&b, "    sli:\n      events:\n        bad: %s\n        total: %s\n", d.Bad, d.Total)
		fmt.Fprintf(&b, "    alerting:\n      name: %s\n    no_data:\n      policy: ignore\n", alertName(d.Name))
	}
	return b.String()
}

// slothSpec writes the SLOs as Sloth events SLIs over rate().
func slothSpec(service string, defs []sloDefinition) string {
	var b strings.Builder
	fmt.Fprintf(&b, "version: prometheus/v1\nservice: %s\nlabels:\n  team: security\nslos:\n", service)
	for _, d := range defs {
		fmt.Fprintf(&b, "  - name: %s\n    description: Requests of %s that did not fail.\n    objective: %g\n", d.Name, d.Name, d.Objective)
		fmt.Fprintf(&b, "    sli:\n      events:\n        error_query: sum(rate(%s[{{.window}}]))\n        total_query: sum(rate(%s[{{.window}}]))\n", d.Bad, d.Total)
		fmt.Fprintf(&b, "    alerting:\n      name: %s\n      page_alert:\n        labels:\n          severity: page\n      ticket_alert:\n        labels:\n          severity: ticket\n", alertName(d.Name))
	}
	return b.String()
}
