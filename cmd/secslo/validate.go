package main

import (
	"context"
	"fmt"
	"io"

	"github.com/alecthomas/kingpin/v2"
)

type validateCommand struct{}

func (c *validateCommand) register(app *kingpin.Application) {
	app.Command("validate", "TODO")
}

func (c *validateCommand) run(ctx context.Context, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "secslo validate: not implemented yet")
	return exitFailure
}
