package engine

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/secslo/secslo/slo"
	"github.com/secslo/secslo/sources"
)

// benchInterval is serve's default evaluation interval.
const benchInterval = 30 * time.Second

// benchSLOs returns n objectives on the built-in SLIs, ten per service,
// each with its built-in defaults, as bench/engine.sh configures them.
func benchSLOs(b *testing.B, n int) []*slo.SLO {
	b.Helper()
	builtins := slo.BuiltinIDs()
	var spec strings.Builder
	for i := range n {
		if i%10 == 0 {
			fmt.Fprintf(&spec, "---\nversion: secslo/v1\nservice: service-%03d\nslos:\n", i/10)
		}
		fmt.Fprintf(&spec, "  - name: objective-%04d\n    sli:\n      builtin: %s\n", i, builtins[i%len(builtins)])
	}

	slos, problems := slo.Parse("bench.yaml", []byte(spec.String()), slo.LoadOptions{})
	if len(problems) > 0 {
		b.Fatalf("invalid benchmark spec: %v", problems)
	}
	return slos
}

// exampleSources are the sources of examples/secslo.yaml and the built-in
// SLIs that each reports.
var exampleSources = map[string][]string{
	"inventory":        {slo.SLILogCoverage},
	"patches":          {slo.SLIPatchCompliance},
	"aws_iam":          {slo.SLIPrivilegeDrift},
	"kubernetes_rbac":  {slo.SLIPrivilegeDrift},
	"prowler":          {slo.SLIEvidenceAutomation},
	"control_register": {slo.SLIEvidenceAutomation},
	"incidents":        {slo.SLIDetectionTime, slo.SLIContainmentTime},
	"restores":         {slo.SLIRestoreTests},
	"vulnerabilities":  {slo.SLIVulnRemediation},
	"findings":         {slo.SLIFindingClosure},
	"access_reviews":   {slo.SLIAccessReviews},
}

// exporterRegistry returns a registry with the metric families that
// secslo serve exposes for exampleSources: the health of every source, the
// snapshot gauges or event counters and duration histogram of every SLI,
// and the Go and process collectors. The engine gathers all of them and
// stores those of secslo's namespace.
func exporterRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	perSource := []string{slo.LabelSource}
	perSLI := []string{slo.LabelSLI, slo.LabelSource}
	gauge := func(name string, labelNames []string) *prometheus.GaugeVec {
		v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: name}, labelNames)
		reg.MustRegister(v)
		return v
	}
	counter := func(name string, labelNames []string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: name}, labelNames)
		reg.MustRegister(v)
		return v
	}
	health := []*prometheus.GaugeVec{
		gauge(slo.MetricSourceUp, perSource),
		gauge(slo.MetricSourceLastSuccess, perSource),
		gauge(slo.MetricSourceRefreshDuration, perSource),
		gauge(slo.MetricSourceRecordsRead, perSource),
		gauge(slo.MetricSourceRecordsRejected, perSource),
	}
	refreshes := counter(slo.MetricSourceRefreshes, perSource)
	failures := counter(slo.MetricSourceRefreshFailures, perSource)
	objects := gauge(slo.MetricObjects, perSLI)
	noncompliant := gauge(slo.MetricNoncompliantObjects, perSLI)
	events := counter(slo.MetricEvents, perSLI)
	badEvents := counter(slo.MetricBadEvents, perSLI)
	durations := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: slo.MetricEventDuration, Help: slo.MetricEventDuration, Buckets: sources.EventDurationBuckets,
	}, perSLI)
	reg.MustRegister(durations)

	for source, slis := range exampleSources {
		for _, g := range health {
			g.WithLabelValues(source).Set(1)
		}
		refreshes.WithLabelValues(source).Add(10)
		failures.WithLabelValues(source)
		for _, sli := range slis {
			builtin, _ := slo.LookupBuiltin(sli)
			if builtin.Kind == slo.KindSnapshot {
				objects.WithLabelValues(sli, source).Set(200)
				noncompliant.WithLabelValues(sli, source).Set(3)
				continue
			}
			events.WithLabelValues(sli, source).Add(40)
			badEvents.WithLabelValues(sli, source).Add(2)
			durations.WithLabelValues(sli, source).Observe(600)
		}
	}
	return reg
}

// openBenchEngine opens an engine on dir that gathers from and registers
// its own metrics on the exporter's registry, as serve does, and loads the
// rules of slos without starting the rules manager, so that only the
// benchmark evaluates them.
func openBenchEngine(b *testing.B, dir string, slos []*slo.SLO) *Engine {
	b.Helper()
	reg := exporterRegistry()
	e, err := Open(Options{
		StoragePath: dir,
		Interval:    benchInterval,
		Retention:   Retention(slos, 24*time.Hour),
		Gatherer:    reg,
		Registerer:  reg,
		Job:         slo.Namespace,
		Instance:    "bench:20027",
	})
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	b.Cleanup(func() {
		if err := e.Stop(); err != nil {
			b.Errorf("Stop: %v", err)
		}
	})
	if _, err := e.Update(slos); err != nil {
		b.Fatalf("Update: %v", err)
	}
	return e
}

// evaluateRound evaluates every rule group once at ts, as one tick of the
// rules manager does.
func evaluateRound(ctx context.Context, e *Engine, ts time.Time) {
	for _, g := range e.rules.RuleGroups() {
		g.Eval(ctx, ts)
	}
}

// BenchmarkIngest100Objectives stores one gather of the exporter's
// registry, the samples of the example's eleven sources, with the engine's
// own metrics of 100 rule groups in the same registry, as serve has them.
func BenchmarkIngest100Objectives(b *testing.B) {
	e := openBenchEngine(b, b.TempDir(), benchSLOs(b, 100))
	ctx := context.Background()
	now := time.Now()

	var previous map[uint64]labels.Labels
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(benchInterval)
		stored, err := e.ingest(ctx, now, previous)
		if err != nil {
			b.Fatalf("ingest: %v", err)
		}
		previous = stored
	}
	b.ReportMetric(float64(len(previous)), "series/op")
}

// BenchmarkEvaluate100Objectives evaluates the rule groups of 100
// objectives once, over 10 minutes of ingested samples. "33d-history" also
// has 33 days of the recorded 5-minute sums, one sample per 30 seconds, in
// 2-hour blocks as the engine's storage compacts them: the steady state of
// 30-day SLOs, whose period ratio reads all of it at every evaluation.
// Every round evaluates at the same time, so that each reads as much data
// and writes the same values again, which the storage accepts.
func BenchmarkEvaluate100Objectives(b *testing.B) {
	for _, days := range []int{0, 33} {
		name := "fresh"
		if days > 0 {
			name = fmt.Sprintf("%dd-history", days)
		}
		b.Run(name, func(b *testing.B) {
			benchmarkEvaluate(b, 100, days)
		})
	}
}

func benchmarkEvaluate(b *testing.B, objectives, historyDays int) {
	slos := benchSLOs(b, objectives)
	dir := b.TempDir()
	now := time.Now().Truncate(benchInterval)
	if historyDays > 0 {
		writeSumHistory(b, dir, slos, now.Add(-time.Duration(historyDays)*24*time.Hour), now)
	}
	e := openBenchEngine(b, dir, slos)
	ctx := context.Background()

	// Ten minutes of samples fill the 5-minute windows of the sums.
	var previous map[uint64]labels.Labels
	for range 20 {
		now = now.Add(benchInterval)
		stored, err := e.ingest(ctx, now, previous)
		if err != nil {
			b.Fatalf("ingest: %v", err)
		}
		previous = stored
	}
	evaluateRound(ctx, e, now)

	b.ReportAllocs()
	for b.Loop() {
		evaluateRound(ctx, e, now)
	}
}

// writeSumHistory writes the recorded 5-minute sums of slos, bad and total,
// one sample per benchInterval over [from, until), into 2-hour blocks of
// the engine's storage under dir, before the engine opens it. The values
// change every hour.
func writeSumHistory(b *testing.B, dir string, slos []*slo.SLO, from, until time.Time) {
	b.Helper()
	var series []labels.Labels
	for _, s := range slos {
		for _, record := range []string{slo.RecordBadSum, slo.RecordTotalSum} {
			builder := labels.NewBuilder(labels.FromMap(s.Labels))
			builder.Set(labels.MetricName, record)
			builder.Set(slo.LabelService, s.Service)
			builder.Set(slo.LabelSLO, s.Name)
			series = append(series, builder.Labels())
		}
	}

	blockMs := tsdb.DefaultBlockDuration
	untilMs := until.UnixMilli()
	for start := from.UnixMilli() - from.UnixMilli()%blockMs; start < untilMs; start += blockMs {
		w, err := tsdb.NewBlockWriter(slog.New(slog.DiscardHandler), filepath.Join(dir, tsdbDir), blockMs)
		if err != nil {
			b.Fatalf("NewBlockWriter: %v", err)
		}
		app := w.Appender(context.Background())
		first := max(start, from.UnixMilli())
		for i, ls := range series {
			for t := first; t < min(start+blockMs, untilMs); t += benchInterval.Milliseconds() {
				hour := t / time.Hour.Milliseconds()
				if _, err := app.Append(0, ls, t, float64((hour*7+int64(i))%1000)); err != nil {
					b.Fatalf("Append: %v", err)
				}
			}
		}
		if err := app.Commit(); err != nil {
			b.Fatalf("Commit: %v", err)
		}
		if _, err := w.Flush(context.Background()); err != nil {
			b.Fatalf("Flush: %v", err)
		}
		if err := w.Close(); err != nil {
			b.Fatalf("Close: %v", err)
		}
	}
}
