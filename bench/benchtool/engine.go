package main

import (
	"context"
	"flag"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/secslo/secslo/slo"
)

// runObjectives writes -count objectives on the built-in SLIs as secslo/v1
// specs, -per-service objectives per service and one file per service.
// The objectives cycle through the built-in SLIs and keep their default
// objective, controls and period, so a config whose sources feed every
// built-in SLI (such as examples/secslo.yaml) feeds all of them.
func runObjectives(args []string) error {
	fs := flag.NewFlagSet("objectives", flag.ContinueOnError)
	count := fs.Int("count", 100, "number of objectives")
	perService := fs.Int("per-service", 10, "objectives per service")
	out := fs.String("out", "", "folder for the specs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || *count <= 0 || *perService <= 0 {
		return fmt.Errorf("missing -out, or invalid -count %d or -per-service %d; both must be positive", *count, *perService)
	}

	builtins := slo.BuiltinIDs()
	for first := 0; first < *count; first += *perService {
		service := fmt.Sprintf("service-%03d", first / *perService)
		var b strings.Builder
		fmt.Fprintf(&b, "version: secslo/v1\nservice: %s\nowner: %s@example.com\nlabels:\n  team: security\nslos:\n", service, service)
		for i := first; i < min(first+*perService, *count); i++ {
			builtin := builtins[i%len(builtins)]
			fmt.Fprintf(&b, "  - name: objective-%04d\n    description: Objective %d on %s.\n    sli:\n      builtin: %s\n", i, i, builtin, builtin)
			fmt.Fprintf(&b, "    alerting:\n      runbook_url: https://runbooks.example.com/%s/objective-%04d\n", service, i)
		}
		if err := writeSpec(*out, service, b.String()); err != nil {
			return err
		}
	}
	return nil
}

// runEngineHistory writes the series that the recording rules of the given
// rule files would have recorded over the past -days, one sample every
// -step, into TSDB blocks of -block each under -out. It gives the embedded
// engine of secslo serve the history it would have after running that long,
// so that the long windows of the rules read as many samples as they would
// in steady state. The engine's storage compacts into 2-hour blocks only,
// which is why -block defaults to 2h.
//
// Every series is a step function that moves to a new pseudo-random value
// about once an hour, derived from its labels, so runs are repeatable. The
// values are not consistent across series (a ratio is not bad / total),
// which does not change how much reading them costs.
func runEngineHistory(args []string) error {
	fs := flag.NewFlagSet("engine-history", flag.ContinueOnError)
	out := fs.String("out", "", "TSDB folder, such as <storage.path>/tsdb")
	days := fs.Float64("days", 33, "days of history, ending at -end")
	step := fs.Duration("step", 30*time.Second, "time between samples, the engine's evaluation interval")
	block := fs.Duration("block", 2*time.Hour, "time range of each block")
	end := fs.Int64("end", time.Now().Unix(), "end of the history, Unix seconds")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || *days <= 0 || *step <= 0 || *block < *step {
		return fmt.Errorf("missing -out, or invalid -days %g, -step %s or -block %s", *days, *step, *block)
	}

	series, err := recordedSeries(fs.Args())
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}

	endMs := *end * 1000
	startMs := endMs - int64(*days*float64(24*time.Hour/time.Millisecond))
	blockMs, stepMs := block.Milliseconds(), step.Milliseconds()
	blocks := 0
	// Blocks start at multiples of -block, as the TSDB's own compaction
	// aligns them; the first and the last are partial.
	for from := startMs - startMs%blockMs; from < endMs; from += blockMs {
		first := max(from, startMs)
		first += (stepMs - first%stepMs) % stepMs
		if err := writeHistoryBlock(*out, series, first, min(from+blockMs, endMs), stepMs, blockMs); err != nil {
			return err
		}
		blocks++
	}
	fmt.Printf("wrote %d series, %d blocks of %s, %g days at one sample per %s\n", len(series), blocks, *block, *days, *step)
	return nil
}

// historySeries is one recorded series and the state of its step function.
type historySeries struct {
	labels labels.Labels
	rng    *rand.Rand
	value  float64
}

// recordedSeries returns a series per recording rule of the rule files,
// labelled as the engine records it: the rule's name and labels. The
// expressions of secslo's rules return no labels besides those.
func recordedSeries(paths []string) ([]*historySeries, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("missing rule files")
	}
	var series []*historySeries
	for _, path := range paths {
		f, err := readRuleFile(path)
		if err != nil {
			return nil, err
		}
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				if r.Record == "" {
					continue
				}
				builder := labels.NewBuilder(labels.FromMap(r.Labels))
				builder.Set(labels.MetricName, r.Record)
				ls := builder.Labels()
				h := fnv.New64a()
				h.Write([]byte(ls.String()))
				rng := rand.New(rand.NewPCG(h.Sum64(), 1))
				series = append(series, &historySeries{labels: ls, rng: rng, value: historyValue(r.Record, rng)})
			}
		}
	}
	return series, nil
}

// historyValue returns a plausible value of the named recorded series:
// sums of 5-minute windows below 1,000, ratios and constants below 1.
func historyValue(record string, rng *rand.Rand) float64 {
	switch record {
	case slo.RecordTotalSum, slo.RecordBadSum:
		return float64(rng.IntN(1000))
	case slo.RecordInfo:
		return 1
	}
	return rng.Float64()
}

// writeHistoryBlock writes the samples of [first, until) into one block.
func writeHistoryBlock(dir string, series []*historySeries, first, until, stepMs, blockMs int64) error {
	w, err := tsdb.NewBlockWriter(slog.New(slog.DiscardHandler), dir, blockMs)
	if err != nil {
		return err
	}
	defer w.Close()

	ctx := context.Background()
	app := w.Appender(ctx)
	samplesPerHour := max(int(time.Hour.Milliseconds()/stepMs), 1)
	for _, s := range series {
		for t := first; t < until; t += stepMs {
			if s.rng.IntN(samplesPerHour) == 0 {
				s.value = historyValue(s.labels.Get(labels.MetricName), s.rng)
			}
			if _, err := app.Append(0, s.labels, t, s.value); err != nil {
				return fmt.Errorf("failed to append %s at %d: %w", s.labels, t, err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		return err
	}
	if _, err := w.Flush(ctx); err != nil {
		return fmt.Errorf("failed to write the block that starts at %s to %s: %w", time.UnixMilli(first).UTC(), dir, err)
	}
	return nil
}
