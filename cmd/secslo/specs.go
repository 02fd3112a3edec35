package main

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/model"

	"github.com/secslo/secslo/slo"
	"github.com/secslo/secslo/sources"
)

// specFlags are the flags that select SLO specs, shared by validate and
// generate: a config file whose specs list names them, or --spec paths.
type specFlags struct {
	configFile  string
	specs       []string
	slothPeriod model.Duration
	// checkSources also builds every source of the config file, so that
	// invalid adapter options are reported.
	checkSources bool
	// failureSuffix ends the summary line of a failed load, such as
	// "; nothing was generated".
	failureSuffix string

	// alerting is the alerting section of the config file, set by paths
	// when --config.file is used.
	alerting sources.AlertingConfig
}

func (f *specFlags) register(cmd *kingpin.CmdClause) {
	cmd.Flag("config.file", "Path to the secslo configuration file; its specs list selects the SLO specs.").StringVar(&f.configFile)
	cmd.Flag("spec", "Path to an SLO spec file or a folder of specs; repeatable. Used instead of --config.file.").StringsVar(&f.specs)
	cmd.Flag("sloth.period", "SLO period of Sloth prometheus/v1 specs, which have no period field.").Default("30d").SetValue(&f.slothPeriod)
}

// load reads and validates the selected specs. Problems go to stderr, one
// a line, and load returns false.
func (f *specFlags) load(stderr io.Writer) ([]*slo.SLO, bool) {
	paths, err := f.paths()
	if err != nil {
		fmt.Fprintf(stderr, "secslo: %v\n", err)
		return nil, false
	}

	slos, problems := slo.Load(paths, slo.LoadOptions{SlothPeriod: time.Duration(f.slothPeriod)})
	for _, p := range problems {
		fmt.Fprintln(stderr, p.String())
	}
	if len(problems) > 0 {
		fmt.Fprintf(stderr, "secslo: %d problem(s) found%s\n", len(problems), f.failureSuffix)
		return nil, false
	}
	return slos, true
}

func (f *specFlags) paths() ([]string, error) {
	switch {
	case f.configFile != "" && len(f.specs) > 0:
		return nil, fmt.Errorf("set either --config.file or --spec, not both")
	case len(f.specs) > 0:
		return f.specs, nil
	case f.configFile == "":
		return nil, fmt.Errorf("no specs selected; set --config.file=secslo.yaml or --spec=PATH")
	}

	cfg, err := sources.LoadConfigFile(f.configFile)
	if err != nil {
		return nil, err
	}
	if f.checkSources {
		if err := sources.CheckConfig(cfg, sourceRegistry(), slog.New(slog.DiscardHandler)); err != nil {
			return nil, err
		}
	}
	if len(cfg.Specs) == 0 {
		return nil, fmt.Errorf("%s: the config lists no specs; add the spec files or folders under specs", f.configFile)
	}
	f.alerting = cfg.Alerting
	return cfg.Specs, nil
}
