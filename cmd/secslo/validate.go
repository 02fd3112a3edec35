package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/alecthomas/kingpin/v2"

	"github.com/secslo/secslo/slo"
)

// validateCommand checks specs and reports each SLO's alert windows.
type validateCommand struct {
	specs specFlags
}

func (c *validateCommand) register(app *kingpin.Application) {
	cmd := app.Command("validate", "Check SLO specs, report every problem with its position, and print each SLO's alert windows.")
	c.specs.register(cmd)
}

func (c *validateCommand) run(_ context.Context, stdout, stderr io.Writer) int {
	c.specs.checkSources = true
	slos, ok := c.specs.load(stderr)
	if !ok {
		return exitFailure
	}
	for _, s := range slos {
		printSLOReport(stdout, s)
	}
	fmt.Fprintf(stdout, "%d SLO(s) valid.\n", len(slos))
	return exitOK
}

// printSLOReport writes the objective of s and, per alert tier, the burn
// factor, the error-ratio threshold and the windows, with any adjustment.
func printSLOReport(w io.Writer, s *slo.SLO) {
	controls := strings.Join(s.Controls, ", ")
	if controls == "" {
		controls = "none"
	}
	fmt.Fprintf(w, "%s/%s: objective %s %% over %s, error budget %s, controls %s\n",
		s.Service, s.Name, strconv.FormatFloat(s.Objective, 'f', -1, 64), slo.FormatDuration(s.Period), formatNumber(s.ErrorBudget()), controls)

	if external := s.ExternalMetrics(); len(external) > 0 {
		fmt.Fprintf(w, "  evaluated only by an external Prometheus: secslo serve's engine cannot evaluate it, because secslo does not serve %s\n", strings.Join(external, ", "))
	}
	if s.ZeroTolerance() {
		page, ticket := s.ZeroToleranceWindows()
		fmt.Fprintf(w, "  zero tolerance: page on any bad event within %s, ticket within %s\n", slo.FormatDuration(page), slo.FormatDuration(ticket))
	}
	for _, a := range s.AlertWindows() {
		state := ""
		if a.Tier == slo.TierPage && s.Alerting.Page.Disabled || a.Tier == slo.TierTicket && s.Alerting.Ticket.Disabled {
			state = " (disabled)"
		}
		fmt.Fprintf(w, "  %-11s burn factor %-7s threshold %-9s long window %-6s short window %s%s\n",
			a.Name, formatNumber(a.BurnFactor), formatNumber(a.Threshold), slo.FormatDuration(a.LongWindow), slo.FormatDuration(a.ShortWindow), state)
		if a.Adjustment != "" {
			fmt.Fprintf(w, "    note: %s\n", a.Adjustment)
		}
		if a.BurnFactor < 1 {
			fmt.Fprintf(w, "    note: burn factor below 1: this tier alerts at a burn rate that would not spend the whole budget within the period, as short periods make it; lengthen the period or disable the tier if that is too eager\n")
		}
	}
	if s.NoData != slo.NoDataIgnore {
		fmt.Fprintf(w, "  no data: %s alert after %s without SLI data\n", s.NoData, slo.FormatDuration(s.NoDataDelay()))
	}
}

func formatNumber(f float64) string {
	return fmt.Sprintf("%.4g", f)
}
