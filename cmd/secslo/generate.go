package main

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/alecthomas/kingpin/v2"

	"github.com/secslo/secslo/rules"
)

// generateCommand writes rule files and their promtool tests.
type generateCommand struct {
	specs     specFlags
	outputDir string
	format    string
	noTests   bool
}

func (c *generateCommand) register(app *kingpin.Application) {
	cmd := app.Command("generate", "Generate rule files and promtool tests from SLO specs.")
	c.specs.register(cmd)
	cmd.Flag("output.dir", "Folder to write rules/ and tests/ into; created if missing.").Required().StringVar(&c.outputDir)
	formats := make([]string, len(rules.Formats))
	for i, f := range rules.Formats {
		formats[i] = string(f)
	}
	cmd.Flag("output.format", "Rule file format: "+fmt.Sprint(formats)+".").Default(string(rules.FormatPrometheus)).EnumVar(&c.format, formats...)
	cmd.Flag("output.no-tests", "Do not write promtool test files.").BoolVar(&c.noTests)
}

func (c *generateCommand) run(_ context.Context, stdout, stderr io.Writer) int {
	slos, ok := c.specs.load(stderr)
	if !ok {
		return exitFailure
	}

	out, err := rules.Generate(slos, rules.Options{Format: rules.Format(c.format), Tests: !c.noTests})
	if err != nil {
		fmt.Fprintf(stderr, "secslo: %v; nothing was written\n", err)
		return exitFailure
	}
	if err := writeFiles(c.outputDir, out.Files); err != nil {
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
