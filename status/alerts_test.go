package status

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/rules"

	"github.com/secslo/secslo/slo"
)

// listingEvaluator is a real TSDB behind the Evaluator interface that also
// lists a fixed set of alerts, as the rules manager would, and counts the
// instant queries.
type listingEvaluator struct {
	*testEngine
	alerts  []*rules.Alert
	queries atomic.Int64
}

func (l *listingEvaluator) Query(ctx context.Context, query string, ts time.Time) (promql.Vector, error) {
	l.queries.Add(1)
	return l.testEngine.Query(ctx, query, ts)
}

func (l *listingEvaluator) ActiveAlerts() []*rules.Alert { return l.alerts }

// listedAlert returns an alert of the rules manager for s, with the group
// given as name, value pairs.
func listedAlert(s *slo.SLO, state rules.AlertState, tier, kind string, group ...string) *rules.Alert {
	name := s.Alerting.Name
	if kind == slo.AlertKindNoData {
		name += "NoData"
	}
	pairs := append([]string{
		slo.LabelAlertName, name, slo.LabelService, s.Service, slo.LabelSLO, s.Name,
		slo.LabelTier, tier, slo.LabelAlertKind, kind, slo.LabelSeverity, tier,
	}, group...)
	return &rules.Alert{State: state, Labels: labels.FromStrings(pairs...), ActiveAt: testNow}
}

func TestActiveAlertsReplaceALERTSQuery(t *testing.T) {
	f := newFixture(t)
	fleet := mustSLO(t, f.slos, "fleet", "hosts-patched")
	patch := mustSLO(t, f.slos, "security-posture", "patch-compliance")
	restores := mustSLO(t, f.slos, "security-posture", "restore-tests")
	gone := &slo.SLO{Service: "removed", Name: "old-objective", Alerting: slo.Alerting{Name: "OldObjectiveBudgetBurn"}}
	evaluator := &listingEvaluator{testEngine: f.engine, alerts: []*rules.Alert{
		listedAlert(fleet, rules.StateFiring, slo.TierPage, slo.AlertKindBurnRate, "source", "aws"),
		listedAlert(patch, rules.StatePending, slo.TierTicket, slo.AlertKindNoData),
		listedAlert(restores, rules.StateInactive, slo.TierPage, slo.AlertKindBurnRate),
		listedAlert(gone, rules.StateFiring, slo.TierPage, slo.AlertKindBurnRate),
	}}
	page := New(Options{SLOs: func() []*slo.SLO { return f.slos }, Evaluator: evaluator, Sources: nil, Now: func() time.Time { return testNow }})
	mux := http.NewServeMux()
	page.Register(mux)

	list := field(t, getJSON(t, mux, PathSLOs), "slos")
	if got := evaluator.queries.Load(); got != 2 {
		t.Errorf("overview ran %d instant queries, want 2: the ALERTS query is left out", got)
	}

	cases := []struct {
		name, service, slo string
		wantState          string
		wantAlerts         []string
	}{
		{"firing alert of a group marks the objective burning", "fleet", "hosts-patched", StateBurning,
			[]string{`HostsPatchedBudgetBurn firing page {source="aws"}`}},
		{"pending alert is listed and leaves the objective OK", "security-posture", "patch-compliance", StateOK,
			[]string{"PatchComplianceBudgetBurnNoData pending ticket {}"}},
		{"ALERTS series are not read", "security-posture", "privilege-drift", StateOK, nil},
		{"resolved alert is left out", "security-posture", "restore-tests", StateOK, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := sloByName(t, list, tc.service, tc.slo)
			assertEqual(t, "state", field(t, s, "state"), tc.wantState)

			var got []string
			for _, a := range field(t, s, "alerts").([]any) {
				group := labels.FromMap(toStrings(field(t, a, "group")))
				got = append(got, fmt.Sprintf("%s %s %s %s", field(t, a, "alertname"), field(t, a, "state"), field(t, a, "tier"), group))
			}
			if !slices.Equal(got, tc.wantAlerts) {
				t.Errorf("alerts:\n got %q\nwant %q", got, tc.wantAlerts)
			}
		})
	}

	t.Run("detail view lists the alert in its group", func(t *testing.T) {
		_, body := get(t, mux, DetailPath("fleet", "hosts-patched"))
		row := findFirst(parseHTML(t, body), byAttr("data-group", `source="aws"`))
		if row == nil {
			t.Fatal("detail view has no row for the group aws")
		}
		if got, want := text(row), `source="aws" 95 % 50 % HostsPatchedBudgetBurn (page, firing)`; got != want {
			t.Errorf("group row:\n got %q\nwant %q", got, want)
		}
	})
}

// toStrings converts a decoded JSON object of strings.
func toStrings(obj any) map[string]string {
	out := map[string]string{}
	for k, v := range obj.(map[string]any) {
		out[k], _ = v.(string)
	}
	return out
}
