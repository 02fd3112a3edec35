package sources

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/secslo/secslo/slo"
)

// Collector serves a Manager's State as Prometheus metrics. A scrape reads
// one published State, so it never waits for a refresh and never mixes two
// refreshes of a source. Labels stay at the source and SLI level, because
// the objects out of compliance are served as JSON instead of labels.
type Collector struct {
	manager *Manager

	up             *prometheus.Desc
	lastSuccess    *prometheus.Desc
	duration       *prometheus.Desc
	recordsRead    *prometheus.Desc
	rejected       *prometheus.Desc
	refreshes      *prometheus.Desc
	failures       *prometheus.Desc
	objects        *prometheus.Desc
	noncompliant   *prometheus.Desc
	events         *prometheus.Desc
	badEvents      *prometheus.Desc
	eventDurations *prometheus.Desc
}

// NewCollector returns a Collector for the sources of m.
func NewCollector(m *Manager) *Collector {
	perSource := []string{slo.LabelSource}
	perSLI := []string{slo.LabelSLI, slo.LabelSource}

	return &Collector{
		manager: m,
		up: prometheus.NewDesc(slo.MetricSourceUp,
			"1 if the latest refresh of the source succeeded, 0 if it failed or has not run yet.", perSource, nil),
		lastSuccess: prometheus.NewDesc(slo.MetricSourceLastSuccess,
			"Unix time at which the latest successful refresh ended; 0 before the first one.", perSource, nil),
		duration: prometheus.NewDesc(slo.MetricSourceRefreshDuration,
			"Duration of the latest refresh, successful or not, in seconds.", perSource, nil),
		recordsRead: prometheus.NewDesc(slo.MetricSourceRecordsRead,
			"Records parsed by the latest successful refresh, rejected ones included.", perSource, nil),
		rejected: prometheus.NewDesc(slo.MetricSourceRecordsRejected,
			"Records skipped as invalid by the latest successful refresh.", perSource, nil),
		refreshes: prometheus.NewDesc(slo.MetricSourceRefreshes,
			"Refreshes attempted since the source was configured.", perSource, nil),
		failures: prometheus.NewDesc(slo.MetricSourceRefreshFailures,
			"Refreshes that failed since the source was configured.", perSource, nil),
		objects: prometheus.NewDesc(slo.MetricObjects,
			"Objects in scope of a snapshot SLI at the latest successful refresh.", perSLI, nil),
		noncompliant: prometheus.NewDesc(slo.MetricNoncompliantObjects,
			"Objects out of compliance for a snapshot SLI at the latest successful refresh.", perSLI, nil),
		events: prometheus.NewDesc(slo.MetricEvents,
			"Closed events of an event SLI, each counted once by the ledger; persisted across restarts.", perSLI, nil),
		badEvents: prometheus.NewDesc(slo.MetricBadEvents,
			"Closed events of an event SLI that missed their bound or failed; persisted across restarts.", perSLI, nil),
		eventDurations: prometheus.NewDesc(slo.MetricEventDuration,
			"Durations of closed events with a known start, in seconds; persisted across restarts.", perSLI, nil),
	}
}

// Describe sends the descriptors of every metric the Collector may emit.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.up, c.lastSuccess, c.duration, c.recordsRead, c.rejected,
		c.refreshes, c.failures, c.objects, c.noncompliant,
		c.events, c.badEvents, c.eventDurations,
	} {
		ch <- d
	}
}

// Collect sends the metrics of the latest published State, and the event
// counters that the ledger persisted for each configured source.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ledger := c.manager.Ledger()
	for _, st := range c.manager.State().Sources {
		c.collectSource(ch, st)
		if ledger != nil {
			c.collectEvents(ch, st.Name, ledger.Counts(st.Name))
		}
	}
}

// collectEvents sends the counters and the duration histogram of each SLI.
// They come from the ledger, not from a refresh, so they keep their values
// across restarts and while a source is down.
func (c *Collector) collectEvents(ch chan<- prometheus.Metric, source string, counts []EventCounts) {
	for _, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.events, prometheus.CounterValue, float64(n.Total), n.SLI, source)
		ch <- prometheus.MustNewConstMetric(c.badEvents, prometheus.CounterValue, float64(n.Bad), n.SLI, source)

		cumulative := make(map[float64]uint64, len(EventDurationBuckets))
		var count uint64
		for i, bound := range EventDurationBuckets {
			count += n.Buckets[i]
			cumulative[bound] = count
		}
		count += n.Buckets[len(EventDurationBuckets)]
		ch <- prometheus.MustNewConstHistogram(c.eventDurations, count, n.Sum, cumulative, n.SLI, source)
	}
}

func (c *Collector) collectSource(ch chan<- prometheus.Metric, st *SourceStatus) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), st.Name)
	}

	gauge(c.up, boolValue(st.Up), st.Name)
	gauge(c.lastSuccess, unixSeconds(st), st.Name)
	counter(c.refreshes, st.Refreshes)
	counter(c.failures, st.Failures)
	if !st.LastAttempt.IsZero() {
		gauge(c.duration, st.LastDuration.Seconds(), st.Name)
	}

	res := st.Result
	if res == nil {
		return
	}
	gauge(c.recordsRead, float64(res.RecordsRead), st.Name)
	gauge(c.rejected, float64(res.RecordsRejected), st.Name)
	for _, snap := range res.Snapshots {
		gauge(c.objects, float64(snap.Objects), snap.SLI, st.Name)
		gauge(c.noncompliant, float64(snap.Noncompliant), snap.SLI, st.Name)
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// unixSeconds returns the last success as Unix seconds, or 0 before the
// first success, so that "time() - last success" alerts on a source that
// never succeeded instead of seeing no series.
func unixSeconds(st *SourceStatus) float64 {
	if st.LastSuccess.IsZero() {
		return 0
	}
	return float64(st.LastSuccess.UnixNano()) / 1e9
}
