package sources

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/secslo/secslo/slo"
)

// Default bounds of the incident SLIs: detected within 15 minutes of the
// first malicious activity, contained within 4 hours of detection.
const (
	DefaultDetectionBound   = 15 * time.Minute
	DefaultContainmentBound = 4 * time.Hour
)

// incidentFormats lists the values of options.format.
var incidentFormats = []string{"guardduty", "ocsf", "jira", "pagerduty", "csv", "json"}

// incidentOptions are the options of an incidents source.
type incidentOptions struct {
	// Format is one of incidentFormats. It has no default, because a JSON
	// file alone does not say which of four layouts it uses.
	Format           string         `yaml:"format"`
	DetectionBound   model.Duration `yaml:"detection_bound"`
	ContainmentBound model.Duration `yaml:"containment_bound"`
	// Jira applies to format jira.
	Jira jiraOptions `yaml:"jira"`
	// Fields names the columns or members of format csv and json.
	Fields incidentFields `yaml:"fields"`
}

// incidentFields names the columns of a generic incident export.
type incidentFields struct {
	ID        string `yaml:"id"`
	Occurred  string `yaml:"occurred"`
	Detected  string `yaml:"detected"`
	Contained string `yaml:"contained"`
}

// incidentTimes are the three moments of one incident. Any of them may be
// unknown (zero).
type incidentTimes struct {
	id                            string
	occurred, detected, contained time.Time
	// noContainment marks a format that never records containment, so that
	// its incidents open no containment event that could never close.
	noContainment bool
}

// incidents reads incident exports into detection_time and containment_time
// events: detection runs from the first malicious activity to detection,
// containment from detection to containment.
type incidents struct {
	eventAdapter
	opts             incidentOptions
	detectionBound   time.Duration
	containmentBound time.Duration
}

// NewIncidents is the Factory of the incidents source type.
func NewIncidents(cfg Config, logger *slog.Logger) (Source, error) {
	var opts incidentOptions
	if err := DecodeOptions(cfg, &opts); err != nil {
		return nil, err
	}
	if err := requirePaths(cfg, "incident export"); err != nil {
		return nil, err
	}
	if !slices.Contains(incidentFormats, opts.Format) {
		return nil, fmt.Errorf("invalid options.format %q; use one of %s", opts.Format, strings.Join(incidentFormats, ", "))
	}

	s := &incidents{eventAdapter: eventAdapter{cfg: cfg, logger: logger}, opts: opts}
	var err error
	if s.detectionBound, err = boundOption("detection_bound", opts.DetectionBound, DefaultDetectionBound); err != nil {
		return nil, err
	}
	if s.containmentBound, err = boundOption("containment_bound", opts.ContainmentBound, DefaultContainmentBound); err != nil {
		return nil, err
	}
	if opts.Format == "jira" {
		if err := opts.Jira.check(); err != nil {
			return nil, err
		}
	}
	s.opts.Fields = opts.Fields.withDefaults()
	return s, nil
}

func (f incidentFields) withDefaults() incidentFields {
	set := func(v *string, fallback string) {
		if *v == "" {
			*v = fallback
		}
	}
	set(&f.ID, "id")
	set(&f.Occurred, "occurred_at")
	set(&f.Detected, "detected_at")
	set(&f.Contained, "contained_at")
	return f
}

// Refresh reads every path in the configured format.
func (s *incidents) Refresh(ctx context.Context) (*Result, error) {
	return s.refresh(ctx, func(ctx context.Context, file string, set *eventSet, rejected *tableRejects) (int, error) {
		add := func(t incidentTimes) error { return s.addIncident(set, file, t) }

		switch s.opts.Format {
		case "guardduty":
			return readGuardDuty(ctx, file, rejected, add)
		case "ocsf":
			return readOCSFIncidents(ctx, file, rejected, add)
		case "jira":
			return readJiraIncidents(ctx, file, s.opts.Jira, rejected, add)
		case "pagerduty":
			return readPagerDuty(ctx, file, rejected, add)
		default:
			return s.readTable(ctx, file, rejected, add)
		}
	})
}

// addIncident checks the order of an incident's times and adds its events:
// a detection event when the first activity is known, a containment event
// when the detection is known.
func (s *incidents) addIncident(set *eventSet, file string, t incidentTimes) error {
	if t.occurred.IsZero() && t.detected.IsZero() {
		return tableReject("incident %q has neither an occurrence nor a detection time, so no clock can start", t.id)
	}
	if err := checkOrder("occurrence", t.occurred, "detection", t.detected); err != nil {
		return err
	}
	if err := checkOrder("detection", t.detected, "containment", t.contained); err != nil {
		return err
	}

	if !t.occurred.IsZero() {
		detection := Event{SLI: slo.SLIDetectionTime, ID: t.id, Start: t.occurred, End: t.detected, Bound: s.detectionBound}
		if err := set.add(file, detection); err != nil {
			return err
		}
	}
	if !t.detected.IsZero() && !t.noContainment {
		containment := Event{SLI: slo.SLIContainmentTime, ID: t.id, Start: t.detected, End: t.contained, Bound: s.containmentBound}
		if err := set.add(file, containment); err != nil {
			return err
		}
	}
	return nil
}

// readTable reads a generic CSV file or JSON array with the configured
// field names. Only the id column is required.
func (s *incidents) readTable(ctx context.Context, file string, rejected *tableRejects, add func(incidentTimes) error) (int, error) {
	format, err := tableFormat(s.opts.Format, file)
	if err != nil {
		return 0, err
	}
	f := s.opts.Fields
	columns := []tableColumn{
		{name: f.ID, fallback: "id", option: "options.fields.id", content: "incident ids", required: true},
		{name: f.Occurred, fallback: "occurred_at", option: "options.fields.occurred", content: "occurrence times"},
		{name: f.Detected, fallback: "detected_at", option: "options.fields.detected", content: "detection times"},
		{name: f.Contained, fallback: "contained_at", option: "options.fields.contained", content: "containment times"},
	}

	return readTable(ctx, file, format, columns, rejected, func(values []string, _ int) error {
		t := incidentTimes{id: strings.TrimSpace(values[0])}
		var err error
		if t.occurred, err = parseEventTime(f.Occurred, values[1]); err != nil {
			return err
		}
		if t.detected, err = parseEventTime(f.Detected, values[2]); err != nil {
			return err
		}
		if t.contained, err = parseEventTime(f.Contained, values[3]); err != nil {
			return err
		}
		return add(t)
	})
}

// errNoIncidentID rejects a record without an id in a vendor format.
var errNoIncidentID = errors.New("missing incident id")
