package main

import (
	"context"
	"fmt"
	"io"

	"github.com/alecthomas/kingpin/v2"
)

// serveCommand runs the exporter.
// TODO: the exporter is not built yet.
type serveCommand struct {
	configFile string
}

func (c *serveCommand) register(app *kingpin.Application) {
	cmd := app.Command("serve", "Refresh the configured sources in the background and serve their SLIs as Prometheus metrics.")
	cmd.Flag("config.file", "Path to the secslo configuration file.").Default("secslo.yaml").StringVar(&c.configFile)
}

func (c *serveCommand) run(ctx context.Context, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "secslo serve: not implemented yet")
	return exitFailure
}
