package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/alecthomas/kingpin/v2"

	"github.com/secslo/secslo/dashboards"
	"github.com/secslo/secslo/rules"
)

// generateCommand writes rule files and their promtool tests.
type generateCommand struct {
	specs     specFlags
	outputDir string
	format    string
	noTests   bool

	pageReceiver, ticketReceiver       string
	pageReceiverSet, ticketReceiverSet bool
}

func (c *generateCommand) register(app *kingpin.Application) {
	cmd := app.Command("generate", "Generate rule files, promtool tests, Grafana dashboards and Alertmanager routing from SLO specs.")
	c.specs.register(cmd)
	cmd.Flag("output.dir", "Folder to write rules/, tests/, dashboards/ and alertmanager/ into; created if missing.").Required().StringVar(&c.outputDir)
	formats := make([]string, len(rules.Formats))
	for i, f := range rules.Formats {
		formats[i] = string(f)
	}
	cmd.Flag("output.format", "Rule file format: "+fmt.Sprint(formats)+".").Default(string(rules.FormatPrometheus)).EnumVar(&c.format, formats...)
	cmd.Flag("output.no-tests", "Do not write promtool test files.").BoolVar(&c.noTests)
	cmd.Flag("alertmanager.page-receiver", "Alertmanager receiver of page alerts in the generated routing, with --spec. With --config.file, set alerting.page_receiver instead.").
		Default(rules.DefaultPageReceiver).IsSetByUser(&c.pageReceiverSet).StringVar(&c.pageReceiver)
	cmd.Flag("alertmanager.ticket-receiver", "Alertmanager receiver of ticket alerts in the generated routing, with --spec. With --config.file, set alerting.ticket_receiver instead.").
		Default(rules.DefaultTicketReceiver).IsSetByUser(&c.ticketReceiverSet).StringVar(&c.ticketReceiver)
}

func (c *generateCommand) run(_ context.Context, stdout, stderr io.Writer) int {
	c.specs.failureSuffix = "; nothing was generated"
	slos, ok := c.specs.load(stderr)
	if !ok {
		return exitFailure
	}
	routing, err := c.routing()
	if err != nil {
		fmt.Fprintf(stderr, "secslo: %v; nothing was written\n", err)
		return exitFailure
	}

	out, err := rules.Generate(slos, rules.Options{Format: rules.Format(c.format), Tests: !c.noTests, Routing: routing})
	if err != nil {
		fmt.Fprintf(stderr, "secslo: %v; nothing was written\n", err)
		return exitFailure
	}
	boards, err := dashboards.Generate(slos)
	if err != nil {
		fmt.Fprintf(stderr, "secslo: %v; nothing was written\n", err)
		return exitFailure
	}
	maps.Copy(out.Files, boards)
	if err := writeFiles(c.outputDir, out.Files); err != nil {
		fmt.Fprintf(stderr, "secslo: %v\n", err)
		return exitFailure
	}
	removed, err := removeStale(c.outputDir, out.Files)
	for _, p := range removed {
		fmt.Fprintf(stdout, "removed %s, which the specs no longer generate\n", p)
	}
	if err != nil {
		fmt.Fprintf(stderr, "secslo: %v\n", err)
		return exitFailure
	}

	paths := make([]string, 0, len(out.Files))
	for p := range out.Files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		fmt.Fprintf(stdout, "wrote %s\n", p)
	}
	for _, note := range out.Notes {
		fmt.Fprintf(stdout, "note: %s\n", note)
	}
	return exitOK
}

// routing returns the receiver names from the config file's alerting
// section, or from the flags when specs come from --spec. It must run after
// the specs are loaded, which reads the config file.
func (c *generateCommand) routing() (rules.Routing, error) {
	if c.specs.configFile == "" {
		return rules.Routing{PageReceiver: c.pageReceiver, TicketReceiver: c.ticketReceiver}, nil
	}
	if c.pageReceiverSet || c.ticketReceiverSet {
		return rules.Routing{}, fmt.Errorf("--alertmanager.page-receiver and --alertmanager.ticket-receiver apply only with --spec; with --config.file, set alerting.page_receiver and alerting.ticket_receiver in %s", c.specs.configFile)
	}
	return rules.Routing{PageReceiver: c.specs.alerting.PageReceiver, TicketReceiver: c.specs.alerting.TicketReceiver}, nil
}
