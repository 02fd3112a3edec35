package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/secslo/secslo/sources"
)

// adapters are the source types of the exporter benchmark.
var adapters = map[string]sources.Factory{
	"inventory": sources.NewInventory,
	"aws_iam":   sources.NewAWSIAM,
	"prowler":   sources.NewProwler,
}

// runRefresh builds one source of a secslo.yaml and refreshes it once, as
// secslo serve does at start, then prints the snapshot of each SLI in the
// node_exporter textfile format that the jq scripts write, so that bench/
// run.sh can check that both computed the same numbers.
func runRefresh(args []string) error {
	fs := flag.NewFlagSet("refresh", flag.ContinueOnError)
	configPath := fs.String("config", "", "secslo.yaml")
	name := fs.String("source", "", "name of the source to refresh")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := sources.LoadConfigFile(*configPath)
	if err != nil {
		return err
	}
	for _, src := range cfg.Sources {
		if src.Name != *name {
			continue
		}
		factory := adapters[src.Type]
		if factory == nil {
			return fmt.Errorf("source %q has type %q, which the benchmark does not build", src.Name, src.Type)
		}
		source, err := factory(src, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
		if err != nil {
			return err
		}
		result, err := source.Refresh(context.Background())
		if err != nil {
			return err
		}
		for _, s := range result.Snapshots {
			fmt.Printf("objects{sli=%q} %d\nnoncompliant{sli=%q} %d\n", s.SLI, s.Objects, s.SLI, s.Noncompliant)
		}
		return nil
	}
	return fmt.Errorf("no source %q in %s", *name, *configPath)
}
