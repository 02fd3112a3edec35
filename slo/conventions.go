package slo

// This file owns every metric, recording rule, alert and label name that
// secslo writes or reads. Generators, the exporter, dashboards and tests take
// names from here so that a rename happens in one place.

// Namespace prefixes every metric that the secslo exporter serves.
const Namespace = "secslo"

// Labels that secslo sets on recording rules, alerts and exporter metrics.
const (
	// LabelService carries the spec's service name on every recorded series and alert.
	LabelService = "service"
	// LabelSLO carries the SLO name on every recorded series and alert.
	LabelSLO = "slo"
	// LabelSeverity is the routing severity; specs may override its value.
	LabelSeverity = "severity"
	// LabelTier is "page" or "ticket"; no spec can override it, so routing and
	// inhibition can rely on it.
	LabelTier = "secslo_tier"
	// LabelAlertKind distinguishes a burn-rate alert from a no-data alert.
	LabelAlertKind = "secslo_alert"
	// LabelControls lists the ISO/IEC 27001:2022 control ids of an SLO,
	// comma-separated and sorted, on alerts and on the info series.
	LabelControls = "controls"
	// LabelSLI names the built-in SLI on exporter metrics.
	LabelSLI = "sli"
	// LabelSource names the configured source on exporter metrics.
	LabelSource = "source"
	// LabelOwner, LabelDescription, LabelRunbook, LabelObjective and
	// LabelSLIKind exist only on the info series, because they may change.
	LabelOwner       = "owner"
	LabelDescription = "description"
	LabelRunbook     = "runbook_url"
	LabelObjective   = "objective"
	LabelSLIKind     = "sli_kind"
	// LabelPeriod is the SLO period as a Prometheus duration, on the info series.
	LabelPeriod = "period"
)

// Values of LabelTier, and the default values of LabelSeverity.
const (
	TierPage   = "page"
	TierTicket = "ticket"
)

// Values of LabelAlertKind.
const (
	AlertKindBurnRate = "burn_rate"
	AlertKindNoData   = "no_data"
	AlertKindSource   = "source_down"
)

// The series that Prometheus's rules manager, and secslo's embedded engine,
// write for every pending or firing alert: ALERTS{alertname, alertstate,
// the alert's labels} with the value 1.
const (
	MetricAlerts      = "ALERTS"
	LabelAlertName    = "alertname"
	LabelAlertState   = "alertstate"
	AlertStatePending = "pending"
	AlertStateFiring  = "firing"
)

// Annotation keys on generated alerts.
const (
	AnnotationSummary     = "summary"
	AnnotationDescription = "description"
	AnnotationRunbook     = "runbook_url"
)

// Recording rules, in the level:metric:operation form. The level "slo" means
// the series is aggregated to one SLO (and its group_by labels, if any).
const (
	// RecordBadSum and RecordTotalSum hold the bad and total events of the
	// base window. For events SLIs that is an increase, for snapshot SLIs a
	// sum of object samples, and for custom queries whatever the query
	// returns. Only their ratio is meaningful. Every longer window is a ratio
	// of sums of these two series.
	RecordBadSum   = "slo:secslo_sli_bad:sum" + BaseWindowName
	RecordTotalSum = "slo:secslo_sli_total:sum" + BaseWindowName
	// RecordErrorRatioPrefix is followed by a window such as "1h" or by
	// "period" for the SLO period.
	RecordErrorRatioPrefix = "slo:secslo_sli_error:ratio_"
	// RecordErrorRatioPeriod is the error ratio over the whole SLO period.
	RecordErrorRatioPeriod = RecordErrorRatioPrefix + "period"
	RecordObjective        = "slo:secslo_objective:ratio"
	RecordErrorBudget      = "slo:secslo_error_budget:ratio"
	RecordPeriodSeconds    = "slo:secslo_period:seconds"
	RecordBudgetRemaining  = "slo:secslo_error_budget_remaining:ratio"
	// RecordBurnRate is the burn rate over the page tier's long window.
	RecordBurnRate = "slo:secslo_burn_rate:ratio"
	// RecordInfo carries mutable metadata as labels with the value 1.
	RecordInfo = "secslo_slo_info"
)

// BaseWindowName is the shortest window that secslo records from raw metrics.
const BaseWindowName = "5m"

// Exporter metrics that the built-in SLIs read.
const (
	// MetricObjects is a gauge of the objects in scope of a snapshot SLI.
	MetricObjects = Namespace + "_sli_objects"
	// MetricNoncompliantObjects is a gauge of the objects out of compliance.
	MetricNoncompliantObjects = Namespace + "_sli_noncompliant_objects"
	// MetricEvents counts the events of an event SLI; each event once.
	MetricEvents = Namespace + "_sli_events_total"
	// MetricBadEvents counts the events that missed the objective.
	MetricBadEvents = Namespace + "_sli_bad_events_total"
	// MetricEventDuration is a histogram of the durations of closed events
	// (time to detect, contain, fix, close), for medians and threshold SLIs.
	MetricEventDuration = Namespace + "_sli_event_duration_seconds"
)

// Metrics of the embedded rule engine of secslo serve. The TSDB, the rules
// manager and the notifier add Prometheus's own prometheus_* metrics.
const (
	// MetricEngineIngestFailures counts the intervals whose samples the
	// engine failed to store.
	MetricEngineIngestFailures = Namespace + "_engine_ingest_failures_total"
	// MetricEngineLastIngest is the Unix time of the latest stored samples.
	MetricEngineLastIngest = Namespace + "_engine_last_ingest_success_timestamp_seconds"
	// MetricEngineExternalSLOs is the number of SLOs that the engine leaves
	// to an external Prometheus because they read metrics secslo does not
	// serve.
	MetricEngineExternalSLOs = Namespace + "_engine_external_slos"
)

// Exporter metrics about the health of each source.
const (
	MetricSourceUp              = Namespace + "_source_up"
	MetricSourceLastSuccess     = Namespace + "_source_last_success_timestamp_seconds"
	MetricSourceRefreshDuration = Namespace + "_source_refresh_duration_seconds"
	MetricSourceRecordsRead     = Namespace + "_source_records_read"
	MetricSourceRecordsRejected = Namespace + "_source_records_rejected"
	MetricSourceRefreshes       = Namespace + "_source_refreshes_total"
	MetricSourceRefreshFailures = Namespace + "_source_refresh_failures_total"
	MetricBuildInfo             = Namespace + "_build_info"
	MetricConfigReloadSuccess   = Namespace + "_config_last_reload_successful"
	MetricConfigReloadTime      = Namespace + "_config_last_reload_success_timestamp_seconds"
)

// ReplicaLabels are dropped with max() before built-in SLIs are summed, so that
// two exporter replicas scraped at once count each object or event once.
var ReplicaLabels = []string{"instance", "pod"}

// exporterMetrics lists every metric that secslo serve serves under its
// namespace, the engine's included.
var exporterMetrics = []string{
	MetricObjects, MetricNoncompliantObjects, MetricEvents, MetricBadEvents, MetricEventDuration,
	MetricEngineIngestFailures, MetricEngineLastIngest, MetricEngineExternalSLOs,
	MetricSourceUp, MetricSourceLastSuccess, MetricSourceRefreshDuration, MetricSourceRecordsRead,
	MetricSourceRecordsRejected, MetricSourceRefreshes, MetricSourceRefreshFailures,
	MetricBuildInfo, MetricConfigReloadSuccess, MetricConfigReloadTime,
}

// exporterHistograms lists the histograms of exporterMetrics.
var exporterHistograms = []string{MetricEventDuration}
