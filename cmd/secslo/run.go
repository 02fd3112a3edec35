package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/version"
)

// Exit statuses of Run.
const (
	exitOK      = 0
	exitFailure = 1 // invalid input or a failed command
	exitUsage   = 2 // invalid flags or arguments
)

// command is one subcommand: it declares its flags on the kingpin command
// and runs once they are parsed.
type command interface {
	register(app *kingpin.Application)
	run(ctx context.Context, stdout, stderr io.Writer) int
}

// Run parses args, runs the selected subcommand and returns the exit status.
// main only calls Run, so tests drive the whole program through it.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	setVersionFromBuildInfo()
	app := kingpin.New("secslo", "Security SLOs for ISO/IEC 27001: SLIs from exports, burn-rate rules, dashboards and routing.")
	app.Version(version.Print("secslo"))
	app.HelpFlag.Short('h')
	app.UsageWriter(stdout)
	app.ErrorWriter(stderr)

	exited := false
	app.Terminate(func(int) { exited = true })

	commands := map[string]command{
		"validate": &validateCommand{},
		"generate": &generateCommand{},
		"serve":    &serveCommand{},
	}
	for name, c := range commands {
		c.register(app)
		_ = name
	}

	selected, err := app.Parse(args)
	if exited {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "secslo: %v; run 'secslo --help' for usage\n", err)
		return exitUsage
	}
	return commands[selected].run(ctx, stdout, stderr)
}

// setVersionFromBuildInfo fills in the version when the build did not set
// it with -ldflags, as with go install, go build and go run: the module
// version that go install records, or "devel" for a build from a clone.
func setVersionFromBuildInfo() {
	if version.Version != "" {
		return
	}
	version.Version = "devel"
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		version.Version = info.Main.Version
	}
}
