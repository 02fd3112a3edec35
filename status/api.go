package status

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/secslo/secslo/slo"
	"github.com/secslo/secslo/sources"
)

// The JSON API. docs/status.md documents every field, so change it with them.

// listResponse is the body of GET /api/v1/slos.
type listResponse struct {
	EvaluatedAt time.Time       `json:"evaluated_at"`
	Engine      bool            `json:"engine"`
	Ingest      *ingestJSON     `json:"ingest"`
	Errors      []errorJSON     `json:"errors"`
	SLOs        []objectiveJSON `json:"slos"`
}

// detailResponse is the body of GET /api/v1/slos/{service}/{slo}.
type detailResponse struct {
	EvaluatedAt   time.Time     `json:"evaluated_at"`
	Engine        bool          `json:"engine"`
	Ingest        *ingestJSON   `json:"ingest"`
	Errors        []errorJSON   `json:"errors"`
	SLO           objectiveJSON `json:"slo"`
	BudgetHistory *historyJSON  `json:"budget_history"`
}

// ingestJSON is the engine's latest attempt to store samples.
type ingestJSON struct {
	State           string     `json:"state"`
	Stale           bool       `json:"stale"`
	LastIngest      *time.Time `json:"last_ingest"`
	LastIngestError *string    `json:"last_ingest_error"`
	Interval        string     `json:"interval"`
}

type errorJSON struct {
	Query string `json:"query"`
	Error string `json:"error"`
}

type objectiveJSON struct {
	Service              string            `json:"service"`
	SLO                  string            `json:"slo"`
	Description          *string           `json:"description"`
	Owner                *string           `json:"owner"`
	Objective            float64           `json:"objective"`
	Period               string            `json:"period"`
	ErrorBudget          float64           `json:"error_budget"`
	Controls             []string          `json:"controls"`
	RunbookURL           *string           `json:"runbook_url"`
	SLIKind              string            `json:"sli_kind"`
	BuiltinSLI           *string           `json:"builtin_sli"`
	GroupBy              []string          `json:"group_by"`
	State                string            `json:"state"`
	Burning              bool              `json:"burning"`
	ExternalMetrics      []string          `json:"external_metrics"`
	WorstGroup           map[string]string `json:"worst_group"`
	SLI                  number            `json:"sli"`
	ErrorBudgetRemaining number            `json:"error_budget_remaining"`
	Windows              []windowJSON      `json:"windows"`
	Alerts               []alertJSON       `json:"alerts"`
	Groups               []groupJSON       `json:"groups"`
	Sources              []sourceJSON      `json:"sources"`
	DetailPath           string            `json:"detail_path"`
}

type windowJSON struct {
	Name          string  `json:"name"`
	Tier          string  `json:"tier"`
	LongWindow    string  `json:"long_window"`
	ShortWindow   string  `json:"short_window"`
	BurnFactor    float64 `json:"burn_factor"`
	Threshold     float64 `json:"threshold"`
	LongBurnRate  number  `json:"long_burn_rate"`
	ShortBurnRate number  `json:"short_burn_rate"`
	Adjustment    *string `json:"adjustment"`
}

type alertJSON struct {
	AlertName string            `json:"alertname"`
	State     string            `json:"state"`
	Tier      string            `json:"tier"`
	Kind      string            `json:"kind"`
	Severity  string            `json:"severity"`
	Group     map[string]string `json:"group"`
}

type groupJSON struct {
	Labels               map[string]string `json:"labels"`
	SLI                  number            `json:"sli"`
	ErrorBudgetRemaining number            `json:"error_budget_remaining"`
	Windows              []windowJSON      `json:"windows"`
	Alerts               []alertJSON       `json:"alerts"`
}

type sourceJSON struct {
	Name             string     `json:"name"`
	Type             string     `json:"type"`
	State            string     `json:"state"`
	LastSuccess      *time.Time `json:"last_success"`
	RecordsRead      *int       `json:"records_read"`
	RecordsRejected  *int       `json:"records_rejected"`
	LastError        *string    `json:"last_error"`
	NoncompliantPath string     `json:"noncompliant_path"`
}

type historyJSON struct {
	Start  time.Time           `json:"start"`
	End    time.Time           `json:"end"`
	Step   string              `json:"step"`
	Series []historySeriesJSON `json:"series"`
}

type historySeriesJSON struct {
	Group  map[string]string `json:"group"`
	Points []pointJSON       `json:"points"`
}

type pointJSON struct {
	Time  time.Time `json:"time"`
	Value number    `json:"value"`
}

// number is a float64 that encodes NaN and infinities as null, which JSON
// cannot spell otherwise.
type number float64

// MarshalJSON implements json.Marshaler.
func (n number) MarshalJSON() ([]byte, error) {
	if !isFinite(float64(n)) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, float64(n), 'g', -1, 64), nil
}

func (p *Page) listJSON(w http.ResponseWriter, r *http.Request) {
	ov := p.overview(r.Context())

	resp := listResponse{
		EvaluatedAt: ov.At.UTC(), Engine: ov.Evaluated, Ingest: newIngestJSON(ov.Ingest),
		Errors: newErrorsJSON(ov.Errors), SLOs: make([]objectiveJSON, 0, len(ov.Objectives)),
	}
	for _, o := range ov.Objectives {
		resp.SLOs = append(resp.SLOs, newObjectiveJSON(o))
	}
	p.writeJSON(w, http.StatusOK, resp)
}

func (p *Page) detailJSON(w http.ResponseWriter, r *http.Request) {
	service, name := r.PathValue("service"), r.PathValue("slo")
	d, ok := p.detail(r.Context(), service, name)
	if !ok {
		msg := fmt.Sprintf("objective %q of service %q not found; GET %s lists every objective", name, service, PathSLOs)
		p.writeJSON(w, http.StatusNotFound, map[string]string{"error": msg})
		return
	}

	resp := detailResponse{
		EvaluatedAt: d.At.UTC(), Engine: d.Evaluated, Ingest: newIngestJSON(d.Ingest), Errors: newErrorsJSON(d.Errors),
		SLO: newObjectiveJSON(d.Objective), BudgetHistory: newHistoryJSON(d.History),
	}
	p.writeJSON(w, http.StatusOK, resp)
}

func (p *Page) detailHTML(w http.ResponseWriter, r *http.Request) {
	service, name := r.PathValue("service"), r.PathValue("slo")
	d, ok := p.detail(r.Context(), service, name)
	if !ok {
		p.writeHTML(w, http.StatusNotFound, notFoundTemplate, notFoundView{Service: service, Name: name, Links: links})
		return
	}
	p.writeHTML(w, http.StatusOK, detailTemplate, newDetailView(d))
}

func (p *Page) writeJSON(w http.ResponseWriter, code int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(body); err != nil {
		p.logger.Warn("failed to write the status API response", "err", err)
	}
}

func newIngestJSON(h *ingestHealth) *ingestJSON {
	if h == nil {
		return nil
	}

	out := &ingestJSON{
		State: h.State, Stale: h.Stale(),
		LastIngestError: stringOrNil(formatError(h.LastError)), Interval: slo.FormatDuration(h.Interval),
	}
	if !h.LastSuccess.IsZero() {
		t := h.LastSuccess.UTC()
		out.LastIngest = &t
	}
	return out
}

func newErrorsJSON(errs []queryError) []errorJSON {
	out := make([]errorJSON, 0, len(errs))
	for _, e := range errs {
		out = append(out, errorJSON{Query: e.Query, Error: e.Err.Error()})
	}
	return out
}

func newObjectiveJSON(o *objectiveStatus) objectiveJSON {
	s := o.SLO
	out := objectiveJSON{
		Service: s.Service, SLO: s.Name, Description: stringOrNil(s.Description), Owner: stringOrNil(s.Owner),
		Objective: s.Objective, Period: slo.FormatDuration(s.Period), ErrorBudget: s.ErrorBudget(),
		Controls: nonNil(s.Controls), RunbookURL: stringOrNil(s.Alerting.RunbookURL),
		SLIKind: string(s.SLI.Kind), BuiltinSLI: stringOrNil(s.SLI.Builtin), GroupBy: nonNil(s.SLI.GroupBy),
		State: o.State(), Burning: o.Burning(), ExternalMetrics: nonNil(o.External),
		SLI: number(math.NaN()), ErrorBudgetRemaining: number(math.NaN()),
		Windows: newWindowsJSON(o.Windows()), Alerts: []alertJSON{}, Groups: []groupJSON{},
		Sources: newSourcesJSON(o.Sources), DetailPath: DetailPath(s.Service, s.Name),
	}

	if worst := o.Worst(); worst != nil {
		out.WorstGroup = worst.Labels.Map()
		out.SLI, out.ErrorBudgetRemaining = number(worst.SLI), number(worst.BudgetRemaining)
	}
	for _, a := range o.Alerts() {
		out.Alerts = append(out.Alerts, newAlertJSON(a.alertReading, a.Group))
	}
	for _, g := range o.Groups {
		out.Groups = append(out.Groups, newGroupJSON(g))
	}
	return out
}

func newGroupJSON(g *groupStatus) groupJSON {
	out := groupJSON{
		Labels: g.Labels.Map(), SLI: number(g.SLI), ErrorBudgetRemaining: number(g.BudgetRemaining),
		Windows: newWindowsJSON(g.Windows), Alerts: make([]alertJSON, 0, len(g.Alerts)),
	}
	for _, a := range g.Alerts {
		out.Alerts = append(out.Alerts, newAlertJSON(a, g.Labels))
	}
	return out
}

func newWindowsJSON(windows []windowStatus) []windowJSON {
	out := make([]windowJSON, 0, len(windows))
	for _, w := range windows {
		out = append(out, windowJSON{
			Name: w.Name, Tier: w.Tier,
			LongWindow: slo.FormatDuration(w.LongWindow), ShortWindow: slo.FormatDuration(w.ShortWindow),
			BurnFactor: w.BurnFactor, Threshold: w.Threshold,
			LongBurnRate: number(w.LongBurnRate), ShortBurnRate: number(w.ShortBurnRate),
			Adjustment: stringOrNil(w.Adjustment),
		})
	}
	return out
}

func newAlertJSON(a alertReading, group labels.Labels) alertJSON {
	return alertJSON{AlertName: a.Name, State: a.State, Tier: a.Tier, Kind: a.Kind, Severity: a.Severity, Group: group.Map()}
}

func newSourcesJSON(list []*sources.SourceStatus) []sourceJSON {
	out := make([]sourceJSON, 0, len(list))
	for _, st := range list {
		s := sourceJSON{
			Name: st.Name, Type: st.Type, State: sourceState(st),
			LastError: stringOrNil(formatError(st.LastError)), NoncompliantPath: sources.NoncompliantPath(st.Name),
		}
		if !st.LastSuccess.IsZero() {
			t := st.LastSuccess.UTC()
			s.LastSuccess = &t
		}
		if st.Result != nil {
			s.RecordsRead, s.RecordsRejected = &st.Result.RecordsRead, &st.Result.RecordsRejected
		}
		out = append(out, s)
	}
	return out
}

func newHistoryJSON(h *budgetHistory) *historyJSON {
	if h == nil {
		return nil
	}

	out := &historyJSON{Start: h.Start.UTC(), End: h.End.UTC(), Step: slo.FormatDuration(h.Step), Series: []historySeriesJSON{}}
	for _, series := range h.Series {
		points := make([]pointJSON, 0, len(series.Points))
		for _, p := range series.Points {
			points = append(points, pointJSON{Time: time.UnixMilli(p.T).UTC(), Value: number(p.F)})
		}
		out.Series = append(out.Series, historySeriesJSON{Group: series.Labels.Map(), Points: points})
	}
	return out
}

func stringOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nonNil(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}
