package slo

import (
	"strings"
	"testing"
	"time"
)

func TestParseSlothSpecUnchanged(t *testing.T) {
	spec := readFixture(t, "sloth-getting-started.yaml")

	slos, problems := Parse("sloth.yaml", []byte(spec), LoadOptions{SlothPeriod: 28 * day})

	if len(problems) > 0 {
		t.Fatalf("unexpected problems:\n%v", problems)
	}
	s := slos[0]
	if s.Format != FormatSloth || s.SLI.Kind != KindCustom {
		t.Errorf("got format %q kind %q, want a Sloth custom SLI", s.Format, s.SLI.Kind)
	}
	if s.Period != 28*day {
		t.Errorf("period: got %v, want 28d from the options", s.Period)
	}
	if s.Alerting.Name != "MyServiceHighErrorRate" || s.Alerting.Page.Labels["severity"] != "pageteam" {
		t.Errorf("alerting: got %+v, want the Sloth alert name and page severity", s.Alerting)
	}
	if s.Labels["owner"] != "myteam" {
		t.Errorf("labels: got %v, want the spec labels", s.Labels)
	}
	if got := s.AlertWindows()[0].BurnFactor; got != 13.44 {
		t.Errorf("page factor at 28 days: got %v, want 13.44", got)
	}
	_ = time.Hour
}

func TestParseSlothSpecRejects(t *testing.T) {
	valid := readFixture(t, "sloth-getting-started.yaml")
	tests := []struct {
		name, old, new, want string
	}{
		{"unknown field", "    objective: 99.9", "    objectiv: 99.9", `slos[0].objectiv: unknown field "objectiv"`},
		{"plugin SLI", "      events:\n", "      plugin: {id: x}\n      events:\n", "SLI plugins run Sloth's Go interpreter and are not supported"},
		{"missing alert name", "      name: MyServiceHighErrorRate\n", "", "missing alert name; Sloth requires alerting.name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := strings.Replace(valid, tt.old, tt.new, 1)

			_, problems := Parse("sloth.yaml", []byte(spec), LoadOptions{})

			if len(problems) == 0 || !strings.Contains(problems.Error(), tt.want) {
				t.Errorf("got %v, want a problem containing %q", problems, tt.want)
			}
		})
	}
}

func TestParseSlothSpecRejectsPeriod(t *testing.T) {
	spec := readFixture(t, "sloth-getting-started.yaml")
	for _, period := range []time.Duration{time.Minute, 36 * time.Hour, (MaxPeriodDays + 1) * day} {
		t.Run(period.String(), func(t *testing.T) {
			slos, problems := Parse("sloth.yaml", []byte(spec), LoadOptions{SlothPeriod: period})

			if len(slos) != 0 {
				t.Errorf("got %d SLOs, want none", len(slos))
			}
			if !strings.Contains(problems.Error(), "--sloth.period") {
				t.Errorf("got %v, want a problem naming --sloth.period", problems)
			}
		})
	}
}
