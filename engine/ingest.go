package engine

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"

	"github.com/secslo/secslo/slo"
)

// ingestLoop stores the exporter's samples every interval until ctx ends.
func (e *Engine) ingestLoop(ctx context.Context) {
	ticker := time.NewTicker(e.opts.Interval)
	defer ticker.Stop()

	if !e.waitForSources(ctx) {
		return
	}

	var previous map[uint64]labels.Labels
	for {
		now := time.Now()
		stored, err := e.ingest(ctx, now, previous)
		e.recordIngest(now, err)
		if err == nil {
			previous = stored
		}

		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// recordIngest publishes the outcome of one attempt to store samples in
// metrics, in the log and in Ingest.
func (e *Engine) recordIngest(at time.Time, err error) {
	status := IngestStatus{LastError: err}
	if previous := e.ingestStatus.Load(); previous != nil {
		status.LastSuccess = previous.LastSuccess
	}

	if err != nil {
		e.metrics.ingestFailures.Inc()
		e.logger.Error("failed to store the exporter's samples", "err", err)
	} else {
		status.LastSuccess = at
		e.metrics.lastIngest.Set(float64(at.UnixMilli()) / 1000)
	}
	e.ingestStatus.Store(&status)
}

// waitForSources polls Options.Started until it returns true, and returns
// false when ctx ends first.
func (e *Engine) waitForSources(ctx context.Context) bool {
	if e.opts.Started == nil {
		return true
	}
	const poll = 50 * time.Millisecond
	for !e.opts.Started() {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(poll):
		}
	}
	return true
}

// ingest gathers the exporter's metrics and stores them at now in one
// transaction, as one scrape of the exporter would. Series of previous that
// are gone get a staleness marker, as a scrape gives them. It returns the
// series it stored, which the next call takes as previous.
func (e *Engine) ingest(ctx context.Context, now time.Time, previous map[uint64]labels.Labels) (map[uint64]labels.Labels, error) {
	families, err := e.opts.Gatherer.Gather()
	if err != nil {
		return nil, fmt.Errorf("failed to gather metrics: %w", err)
	}

	t := now.UnixMilli()
	app := e.db.AppenderV2(ctx)
	stored := make(map[uint64]labels.Labels, len(previous))
	target := labels.FromStrings("job", e.opts.Job, "instance", e.opts.Instance)
	add := func(ls labels.Labels, v float64) error {
		stored[ls.Hash()] = ls
		_, err := app.Append(0, ls, 0, t, v, nil, nil, storage.AOptions{})
		return err
	}

	for _, family := range families {
		if !strings.HasPrefix(family.GetName(), slo.Namespace+"_") {
			continue
		}
		if err := appendFamily(family, target, add); err != nil {
			_ = app.Rollback()
			return nil, fmt.Errorf("failed to store %s: %w", family.GetName(), err)
		}
	}
	if err := appendStaleMarkers(app, previous, stored, t); err != nil {
		_ = app.Rollback()
		return nil, err
	}

	if err := app.Commit(); err != nil {
		return nil, fmt.Errorf("failed to commit samples: %w", err)
	}
	return stored, nil
}

func appendStaleMarkers(app storage.AppenderV2, previous, stored map[uint64]labels.Labels, t int64) error {
	stale := math.Float64frombits(value.StaleNaN)
	for hash, ls := range previous {
		if _, ok := stored[hash]; ok {
			continue
		}
		if _, err := app.Append(0, ls, 0, t, stale, nil, nil, storage.AOptions{}); err != nil {
			return fmt.Errorf("failed to mark %s stale: %w", ls, err)
		}
	}
	return nil
}

// appendFamily passes every sample of family to add, with the series names
// and labels of the Prometheus text format. A histogram gives _bucket
// series with le, _sum and _count, and a summary gives quantile series,
// _sum and _count.
func appendFamily(family *dto.MetricFamily, target labels.Labels, add func(labels.Labels, float64) error) error {
	name := family.GetName()
	for _, m := range family.GetMetric() {
		builder := labels.NewBuilder(target)
		for _, pair := range m.GetLabel() {
			builder.Set(pair.GetName(), pair.GetValue())
		}

		if err := appendMetric(family.GetType(), name, m, builder, add); err != nil {
			return err
		}
	}
	return nil
}

func appendMetric(kind dto.MetricType, name string, m *dto.Metric, builder *labels.Builder, add func(labels.Labels, float64) error) error {
	series := func(metric string, v float64, extra ...string) error {
		b := labels.NewBuilder(builder.Labels())
		b.Set(labels.MetricName, metric)
		for i := 0; i+1 < len(extra); i += 2 {
			b.Set(extra[i], extra[i+1])
		}
		return add(b.Labels(), v)
	}

	switch kind {
	case dto.MetricType_COUNTER:
		return series(name, m.GetCounter().GetValue())
	case dto.MetricType_GAUGE:
		return series(name, m.GetGauge().GetValue())
	case dto.MetricType_HISTOGRAM:
		return appendHistogram(name, m.GetHistogram(), series)
	case dto.MetricType_SUMMARY:
		return appendSummary(name, m.GetSummary(), series)
	default:
		return series(name, m.GetUntyped().GetValue())
	}
}

func appendHistogram(name string, h *dto.Histogram, series func(string, float64, ...string) error) error {
	infinite := false
	for _, bucket := range h.GetBucket() {
		bound := bucket.GetUpperBound()
		infinite = infinite || math.IsInf(bound, 1)
		if err := series(name+"_bucket", float64(bucket.GetCumulativeCount()), labels.BucketLabel, formatFloat(bound)); err != nil {
			return err
		}
	}
	if !infinite {
		if err := series(name+"_bucket", float64(h.GetSampleCount()), labels.BucketLabel, "+Inf"); err != nil {
			return err
		}
	}
	if err := series(name+"_sum", h.GetSampleSum()); err != nil {
		return err
	}
	return series(name+"_count", float64(h.GetSampleCount()))
}

func appendSummary(name string, s *dto.Summary, series func(string, float64, ...string) error) error {
	for _, q := range s.GetQuantile() {
		if err := series(name, q.GetValue(), model.QuantileLabel, formatFloat(q.GetQuantile())); err != nil {
			return err
		}
	}
	if err := series(name+"_sum", s.GetSampleSum()); err != nil {
		return err
	}
	return series(name+"_count", float64(s.GetSampleCount()))
}

// formatFloat formats a bucket bound or quantile as the text exposition
// format does, so that le="900" selectors match.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
