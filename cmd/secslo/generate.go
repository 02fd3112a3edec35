package main

import (
	"context"
	"fmt"
	"io"

	"github.com/alecthomas/kingpin/v2"
)

type generateCommand struct{}

func (c *generateCommand) register(app *kingpin.Application) {
	app.Command("generate", "TODO")
}

func (c *generateCommand) run(ctx context.Context, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "secslo generate: not implemented yet")
	return exitFailure
}
