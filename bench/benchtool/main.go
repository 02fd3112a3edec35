// Command benchtool writes the inputs of the benchmarks under bench/ and
// runs the measurements that need a Go program: the SLO specs for secslo and
// Sloth, the counter history and live counters for Prometheus, the backfill
// of recorded series, the security exports, the read-and-decode floor and
// the scrape load client. bench/run.sh drives it; it is not part of secslo.
package main

import (
	"fmt"
	"os"
	"sort"
)

// commands maps each subcommand to its function, which parses its own flags.
var commands = map[string]func(args []string) error{
	"specs":    runSpecs,
	"history":  runHistory,
	"counters": runCounters,
	"accuracy": runAccuracy,
	"backfill": runBackfill,
	"exports":  runExports,
	"refresh":  runRefresh,
	"floor":    runFloor,
	"scrape":   runScrape,

	"objectives":     runObjectives,
	"engine-history": runEngineHistory,
	"procstat":       runProcStat,
}

func main() {
	if len(os.Args) < 2 || commands[os.Args[1]] == nil {
		names := make([]string, 0, len(commands))
		for name := range commands {
			names = append(names, name)
		}
		sort.Strings(names)
		fmt.Fprintf(os.Stderr, "usage: benchtool <command> [flags]; commands: %v\n", names)
		os.Exit(2)
	}
	if err := commands[os.Args[1]](os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "benchtool %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
