package status

import (
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql"
)

// getJSON serves one request and decodes its JSON body into generic maps,
// so that a test can tell a null value from a missing key.
func getJSON(t *testing.T, handler http.Handler, path string) map[string]any {
	t.Helper()
	resp, body := get(t, handler, path)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s returned %d: %s", path, resp.StatusCode, body)
	}
	if got := resp.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("GET %s has Content-Type %q, want application/json", path, got)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("GET %s returned invalid JSON: %v", path, err)
	}
	return out
}

// field returns obj[key], which is nil for null, and fails when the key
// is missing.
func field(t *testing.T, obj any, key string) any {
	t.Helper()
	m, ok := obj.(map[string]any)
	if !ok {
		t.Fatalf("%v is not a JSON object", obj)
	}
	v, ok := m[key]
	if !ok {
		t.Fatalf("JSON object lacks the field %q: %v", key, m)
	}
	return v
}

func index(t *testing.T, list any, i int) any {
	t.Helper()
	items, ok := list.([]any)
	if !ok || i >= len(items) {
		t.Fatalf("%v has no item %d", list, i)
	}
	return items[i]
}

func sloByName(t *testing.T, list any, service, name string) any {
	t.Helper()
	for _, item := range list.([]any) {
		if field(t, item, "service") == service && field(t, item, "slo") == name {
			return item
		}
	}
	t.Fatalf("JSON lists no objective %s/%s", service, name)
	return nil
}

func assertNumber(t *testing.T, what string, got any, want float64) {
	t.Helper()
	f, ok := got.(float64)
	if !ok {
		t.Errorf("%s = %v, want the number %v", what, got, want)
		return
	}
	if math.Abs(f-want) > 1e-9 {
		t.Errorf("%s = %v, want %v", what, f, want)
	}
}

func assertEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

func TestListJSON(t *testing.T) {
	f := newFixture(t)
	body := getJSON(t, f.mux, "/api/v1/slos")

	assertEqual(t, "evaluated_at", field(t, body, "evaluated_at"), "2026-12-01T00:00:00Z")
	assertEqual(t, "engine", field(t, body, "engine"), true)
	if errs := field(t, body, "errors").([]any); len(errs) != 0 {
		t.Errorf("errors = %v, want an empty list", errs)
	}

	slos := field(t, body, "slos").([]any)
	var order []string
	for _, s := range slos {
		order = append(order, field(t, s, "service").(string)+"/"+field(t, s, "slo").(string))
	}
	wantOrder := []string{"security-posture/privilege-drift", "fleet/hosts-patched", "security-posture/patch-compliance",
		"security-posture/restore-tests", "security-posture/log-coverage", "auth/login-errors"}
	if !slices.Equal(order, wantOrder) {
		t.Errorf("order:\n got %v\nwant %v", order, wantOrder)
	}
}

func TestListJSONBurningObjective(t *testing.T) {
	f := newFixture(t)
	drift := sloByName(t, field(t, getJSON(t, f.mux, "/api/v1/slos"), "slos"), "security-posture", "privilege-drift")

	assertEqual(t, "state", field(t, drift, "state"), StateBurning)
	assertEqual(t, "burning", field(t, drift, "burning"), true)
	assertNumber(t, "objective", field(t, drift, "objective"), 97)
	assertEqual(t, "period", field(t, drift, "period"), "30d")
	assertNumber(t, "error_budget", field(t, drift, "error_budget"), 0.03)
	assertNumber(t, "sli", field(t, drift, "sli"), 1-driftRatio)
	assertNumber(t, "error_budget_remaining", field(t, drift, "error_budget_remaining"), 1-driftRatio/0.03)
	assertEqual(t, "runbook_url", field(t, drift, "runbook_url"), "https://runbooks.example.com/security/privilege-drift")
	assertEqual(t, "builtin_sli", field(t, drift, "builtin_sli"), "privilege_drift")
	assertEqual(t, "detail_path", field(t, drift, "detail_path"), "/slos/security-posture/privilege-drift")
	if got := field(t, drift, "worst_group").(map[string]any); len(got) != 0 {
		t.Errorf("worst_group of an objective without group_by = %v, want {}", got)
	}

	window := index(t, field(t, drift, "windows"), 0)
	assertEqual(t, "windows[0].name", field(t, window, "name"), "page-fast")
	assertEqual(t, "windows[0].long_window", field(t, window, "long_window"), "1h")
	assertEqual(t, "windows[0].short_window", field(t, window, "short_window"), "5m")
	assertNumber(t, "windows[0].burn_factor", field(t, window, "burn_factor"), 14.4)
	assertNumber(t, "windows[0].long_burn_rate", field(t, window, "long_burn_rate"), driftRatio/0.03)
	assertEqual(t, "windows[0].adjustment", field(t, window, "adjustment"), nil)

	alert := index(t, field(t, drift, "alerts"), 0)
	assertEqual(t, "alerts[0].alertname", field(t, alert, "alertname"), "PrivilegeDriftBudgetBurn")
	assertEqual(t, "alerts[0].state", field(t, alert, "state"), "firing")
	assertEqual(t, "alerts[0].tier", field(t, alert, "tier"), "ticket")
	assertEqual(t, "alerts[0].kind", field(t, alert, "kind"), "burn_rate")

	down := index(t, field(t, drift, "sources"), 1)
	assertEqual(t, "sources[1].name", field(t, down, "name"), "kubernetes_rbac")
	assertEqual(t, "sources[1].state", field(t, down, "state"), SourceDown)
	assertEqual(t, "sources[1].last_success", field(t, down, "last_success"), "2026-11-30T23:59:00Z")
	assertEqual(t, "sources[1].last_error", field(t, down, "last_error"), "rbac.yaml:3:1: invalid role")
	assertNumber(t, "sources[1].records_read", field(t, down, "records_read"), 10)
	assertEqual(t, "sources[1].noncompliant_path", field(t, down, "noncompliant_path"), "/api/v1/sources/kubernetes_rbac/noncompliant")
}

func TestListJSONNulls(t *testing.T) {
	f := newFixture(t)
	slos := field(t, getJSON(t, f.mux, "/api/v1/slos"), "slos")

	cases := []struct {
		name, service, slo string
		nullFields         []string
	}{
		{"objective without data has null values", "security-posture", "log-coverage",
			[]string{"sli", "error_budget_remaining", "worst_group", "runbook_url"}},
		{"custom objective has no built-in SLI or description", "auth", "login-errors",
			[]string{"sli", "error_budget_remaining", "builtin_sli", "description", "runbook_url"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := sloByName(t, slos, tc.service, tc.slo)
			for _, key := range tc.nullFields {
				if v := field(t, s, key); v != nil {
					t.Errorf("%s = %v, want null", key, v)
				}
			}
		})
	}

	noData := sloByName(t, slos, "security-posture", "log-coverage")
	window := index(t, field(t, noData, "windows"), 0)
	assertEqual(t, "long_burn_rate without data", field(t, window, "long_burn_rate"), nil)
	assertEqual(t, "short_burn_rate without data", field(t, window, "short_burn_rate"), nil)
	if groups := field(t, noData, "groups").([]any); len(groups) != 0 {
		t.Errorf("groups without data = %v, want []", groups)
	}

	external := sloByName(t, slos, "auth", "login-errors")
	assertEqual(t, "state of the external objective", field(t, external, "state"), StateExternal)
	assertEqual(t, "external_metrics[0]", index(t, field(t, external, "external_metrics"), 0), "auth_logins_total")

	restores := sloByName(t, slos, "security-posture", "restore-tests")
	if windows := field(t, restores, "windows").([]any); len(windows) != 0 {
		t.Errorf("windows of a zero-tolerance objective = %v, want []", windows)
	}
}

func TestListJSONGroups(t *testing.T) {
	f := newFixture(t)
	fleet := sloByName(t, field(t, getJSON(t, f.mux, "/api/v1/slos"), "slos"), "fleet", "hosts-patched")

	assertEqual(t, "worst_group.source", field(t, field(t, fleet, "worst_group"), "source"), "onprem")
	assertNumber(t, "error_budget_remaining of the worst group", field(t, fleet, "error_budget_remaining"), -0.2)
	groups := field(t, fleet, "groups").([]any)
	if len(groups) != 2 {
		t.Fatalf("hosts-patched has %d groups, want 2", len(groups))
	}
	assertEqual(t, "groups[1].labels.source", field(t, field(t, groups[1], "labels"), "source"), "aws")
	assertNumber(t, "groups[1].error_budget_remaining", field(t, groups[1], "error_budget_remaining"), 0.5)
	assertEqual(t, "group of the pending alert", field(t, field(t, index(t, field(t, fleet, "alerts"), 0), "group"), "source"), "onprem")
}

func TestListJSONNaNIsNull(t *testing.T) {
	slos := loadFixture(t)
	engine := openTestEngine(t, promql.EngineOpts{})
	w := engine.writer(t)
	w.objective(mustSLO(t, slos, "security-posture", "patch-compliance"), testNow, math.NaN())
	w.commit()

	page, _ := newTestPage(slos, engine, fixtureSources())
	mux := http.NewServeMux()
	page.Register(mux)
	patch := sloByName(t, field(t, getJSON(t, mux, "/api/v1/slos"), "slos"), "security-posture", "patch-compliance")

	assertEqual(t, "sli of a NaN ratio", field(t, patch, "sli"), nil)
	assertEqual(t, "error_budget_remaining of a NaN ratio", field(t, patch, "error_budget_remaining"), nil)
	assertEqual(t, "long_burn_rate of a NaN ratio", field(t, index(t, field(t, patch, "windows"), 0), "long_burn_rate"), nil)
}

func TestDetailJSONHistory(t *testing.T) {
	f := newFixture(t)
	body := getJSON(t, f.mux, "/api/v1/slos/security-posture/privilege-drift")

	assertEqual(t, "slo.slo", field(t, field(t, body, "slo"), "slo"), "privilege-drift")
	history := field(t, body, "budget_history")
	assertEqual(t, "start", field(t, history, "start"), "2026-11-01T00:00:00Z")
	assertEqual(t, "end", field(t, history, "end"), "2026-12-01T00:00:00Z")
	assertEqual(t, "step", field(t, history, "step"), "3h")

	points := field(t, index(t, field(t, history, "series"), 0), "points").([]any)
	// 241 steps over 30 days, less the 8 from the start of the day without
	// data on, because the 5-minute lookback excludes its left edge.
	if len(points) != 233 {
		t.Errorf("history has %d points, want 233", len(points))
	}
	first, last := points[0], points[len(points)-1]
	assertEqual(t, "first point time", field(t, first, "time"), "2026-11-01T00:00:00Z")
	assertNumber(t, "first point value", field(t, first, "value"), 1)
	if _, err := time.Parse(time.RFC3339, field(t, last, "time").(string)); err != nil {
		t.Errorf("last point time is not RFC 3339: %v", err)
	}
	assertNumber(t, "last point value", field(t, last, "value"), 1-driftRatio/0.03)
}

func TestDetailJSONEngineDisabled(t *testing.T) {
	page, _ := newTestPage(loadFixture(t), nil, fixtureSources())
	mux := http.NewServeMux()
	page.Register(mux)
	body := getJSON(t, mux, "/api/v1/slos/security-posture/privilege-drift")

	assertEqual(t, "engine", field(t, body, "engine"), false)
	assertEqual(t, "budget_history", field(t, body, "budget_history"), nil)
	assertEqual(t, "state", field(t, field(t, body, "slo"), "state"), StateNotEvaluated)
}
