package slo

// SpecV1 is the secslo/v1 spec file: the SLOs of one service.
type SpecV1 struct {
	Version string            `yaml:"version"`
	Service string            `yaml:"service"`
	Owner   string            `yaml:"owner,omitempty"`
	Labels  map[string]string `yaml:"labels,omitempty"`
	SLOs    []SLOV1           `yaml:"slos"`
}

// SLOV1 is one objective in a secslo/v1 spec.
type SLOV1 struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description,omitempty"`
	Owner       string `yaml:"owner,omitempty"`
	// Objective is a percentage in (0, 100]; built-in SLIs have a default.
	Objective *float64 `yaml:"objective,omitempty"`
	// Period is a whole number of days such as "30d"; the default is 30d.
	Period string `yaml:"period,omitempty"`
	// Controls are ISO/IEC 27001:2022 ids such as "A.8.15" or "9.1";
	// built-in SLIs have defaults.
	Controls []string          `yaml:"controls,omitempty"`
	Labels   map[string]string `yaml:"labels,omitempty"`
	SLI      SLIV1             `yaml:"sli"`
	Alerting AlertingV1        `yaml:"alerting,omitempty"`
	NoData   NoDataV1          `yaml:"no_data,omitempty"`
}

// SLIV1 holds exactly one SLI kind.
type SLIV1 struct {
	Builtin   string       `yaml:"builtin,omitempty"`
	Events    *EventsV1    `yaml:"events,omitempty"`
	Snapshot  *EventsV1    `yaml:"snapshot,omitempty"`
	Threshold *ThresholdV1 `yaml:"threshold,omitempty"`
	Custom    *CustomV1    `yaml:"custom,omitempty"`
}

// EventsV1 names the selectors of an events or snapshot SLI: total and one
// of bad or good.
type EventsV1 struct {
	Bad     string   `yaml:"bad,omitempty"`
	Good    string   `yaml:"good,omitempty"`
	Total   string   `yaml:"total"`
	GroupBy []string `yaml:"group_by,omitempty"`
}

// ThresholdV1 names a classic histogram and the bound of a good event.
type ThresholdV1 struct {
	// Histogram is the selector of the histogram's base name, without the
	// _bucket or _count suffix, such as `incident_detection_seconds{team="a"}`.
	Histogram string   `yaml:"histogram"`
	LE        *float64 `yaml:"le"`
	GroupBy   []string `yaml:"group_by,omitempty"`
}

// CustomV1 holds PromQL queries with a {{.window}} placeholder: either an
// error query and a total query, or one error ratio query.
type CustomV1 struct {
	ErrorQuery      string `yaml:"error_query,omitempty"`
	TotalQuery      string `yaml:"total_query,omitempty"`
	ErrorRatioQuery string `yaml:"error_ratio_query,omitempty"`
}

// AlertingV1 configures the alerts of one SLO.
type AlertingV1 struct {
	Name        string            `yaml:"name,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
	RunbookURL  string            `yaml:"runbook_url,omitempty"`
	Page        AlertTierV1       `yaml:"page,omitempty"`
	Ticket      AlertTierV1       `yaml:"ticket,omitempty"`
}

// AlertTierV1 configures the page or ticket alert.
type AlertTierV1 struct {
	Disabled    bool              `yaml:"disabled,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

// NoDataV1 sets what happens when the SLI has no data.
type NoDataV1 struct {
	// Policy is "ticket" (the default), "page" or "ignore".
	Policy string `yaml:"policy,omitempty"`
}
