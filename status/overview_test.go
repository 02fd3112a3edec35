package status

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql"
	"golang.org/x/net/html"
)

func TestOverviewOrder(t *testing.T) {
	f := newFixture(t)
	resp, body := get(t, f.mux, "/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET / returned %d, want 200", resp.StatusCode)
	}

	var got []string
	for _, row := range objectiveRows(t, parseHTML(t, body)) {
		got = append(got, attr(row, "data-service")+"/"+attr(row, "data-slo"))
	}
	want := []string{
		"security-posture/privilege-drift", // -403.333 %
		"fleet/hosts-patched",              // worst group -20 %
		"security-posture/patch-compliance",
		"security-posture/restore-tests", // 100 %
		"security-posture/log-coverage",  // no data
		"auth/login-errors",              // external
	}
	if !slices.Equal(got, want) {
		t.Errorf("order of the objectives:\n got %v\nwant %v", got, want)
	}
}

func TestOverviewStates(t *testing.T) {
	f := newFixture(t)
	_, body := get(t, f.mux, "/")
	doc := parseHTML(t, body)

	cases := []struct {
		name          string
		service, slo  string
		wantState     string
		wantLabelText string
	}{
		{"objective with a firing alert is burning", "security-posture", "privilege-drift", StateBurning, "▲ Burning"},
		{"objective with only a pending alert is OK", "fleet", "hosts-patched", StateOK, "✓ OK"},
		{"objective with data and no alert is OK", "security-posture", "patch-compliance", StateOK, "✓ OK"},
		{"objective without series has no data", "security-posture", "log-coverage", StateNoData, "○ No data"},
		{"objective on external metrics is external", "auth", "login-errors", StateExternal, "↗ External"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			row := objectiveRow(t, doc, tc.service, tc.slo)
			if got := attr(row, "class"); got != tc.wantState {
				t.Errorf("row class = %q, want %q", got, tc.wantState)
			}
			badge := findFirst(row, byAttr("data-state", tc.wantState))
			if badge == nil {
				t.Fatalf("row has no badge with data-state=%q", tc.wantState)
			}
			if got := text(badge); got != tc.wantLabelText {
				t.Errorf("badge text = %q, want %q: the state must read in words, not by color alone", got, tc.wantLabelText)
			}
		})
	}
}

func TestOverviewValues(t *testing.T) {
	f := newFixture(t)
	_, body := get(t, f.mux, "/")
	doc := parseHTML(t, body)

	drift := objectiveRow(t, doc, "security-posture", "privilege-drift")
	if got, want := cellValue(t, drift, "sli"), "84.9 %"; got != want {
		t.Errorf("SLI of privilege-drift = %q, want %q", got, want)
	}
	if got, want := cellValue(t, drift, "budget"), "-403.333 %"; got != want {
		t.Errorf("budget of privilege-drift = %q, want %q", got, want)
	}
	// 0.151 / 0.03 over every window.
	if got, want := text(drift), "page-fast: 5.03× over 1h, 5.03× over 5m; alerts above 14.4×"; !strings.Contains(got, want) {
		t.Errorf("privilege-drift row lacks %q:\n%s", want, got)
	}
	if got, want := text(drift), "PrivilegeDriftBudgetBurn (ticket, firing)"; !strings.Contains(got, want) {
		t.Errorf("privilege-drift row lacks the firing alert %q:\n%s", want, got)
	}
	if link := findFirst(drift, byAttr("href", "https://runbooks.example.com/security/privilege-drift")); link == nil {
		t.Error("privilege-drift row has no runbook link")
	}

	restores := objectiveRow(t, doc, "security-posture", "restore-tests")
	if got, want := text(restores), "Zero tolerance: any bad event alerts."; !strings.Contains(got, want) {
		t.Errorf("restore-tests row lacks %q:\n%s", want, got)
	}
}

func TestOverviewGroupedShowsWorstGroup(t *testing.T) {
	f := newFixture(t)
	_, body := get(t, f.mux, "/")
	row := objectiveRow(t, parseHTML(t, body), "fleet", "hosts-patched")

	worst := findFirst(row, func(n *html.Node) bool { return hasAttr(n, "data-worst-group") })
	if worst == nil {
		t.Fatal("grouped objective names no worst group")
	}
	if got, want := attr(worst, "data-worst-group"), `source="onprem"`; got != want {
		t.Errorf("worst group = %q, want %q", got, want)
	}
	if got, want := cellValue(t, row, "budget"), "-20 %"; got != want {
		t.Errorf("budget of the worst group = %q, want %q", got, want)
	}
	if got, want := text(row), `HostsPatchedBudgetBurn (page, pending) for source="onprem"`; !strings.Contains(got, want) {
		t.Errorf("hosts-patched row lacks the pending alert %q:\n%s", want, got)
	}
}

func TestOverviewExternalObjective(t *testing.T) {
	f := newFixture(t)
	_, body := get(t, f.mux, "/")
	row := objectiveRow(t, parseHTML(t, body), "auth", "login-errors")

	cell := findFirst(row, func(n *html.Node) bool { return hasAttr(n, "data-external") })
	if cell == nil {
		t.Fatal("external objective has no external note")
	}
	want := "Evaluated only by an external Prometheus, because secslo does not export auth_logins_total."
	if got := text(cell); got != want {
		t.Errorf("external note = %q, want %q", got, want)
	}
}

func TestOverviewSources(t *testing.T) {
	f := newFixture(t)
	_, body := get(t, f.mux, "/")
	doc := parseHTML(t, body)

	table := findFirst(doc, byID("sources"))
	if table == nil {
		t.Fatal("overview has no sources table")
	}
	cases := []struct {
		name, source, wantText string
	}{
		{"source after a good refresh is up", "aws_iam", "aws_iam aws_iam up 2026-11-30T23:59:00Z 10 read, 1 rejected noncompliant objects of aws_iam"},
		{"source before its first refresh is waiting", "inventory", "inventory inventory waiting never none yet noncompliant objects of inventory"},
		{"source after a failed refresh is down with its error", "kubernetes_rbac", "kubernetes_rbac kubernetes_rbac down 2026-11-30T23:59:00Z 10 read, 1 rejected rbac.yaml:3:1: invalid role noncompliant objects of kubernetes_rbac"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			row := findFirst(table, byAttr("data-source", tc.source))
			if row == nil {
				t.Fatalf("sources table has no row for %s", tc.source)
			}
			if got := text(row); got != tc.wantText {
				t.Errorf("row text:\n got %q\nwant %q", got, tc.wantText)
			}
			if link := findFirst(row, byAttr("href", "/api/v1/sources/"+tc.source+"/noncompliant")); link == nil {
				t.Error("row has no triage link")
			}
		})
	}

	objectiveCases := []struct {
		name, service, slo, wantText string
	}{
		{"built-in SLI lists the sources that report it", "security-posture", "privilege-drift", "aws_iam: up kubernetes_rbac: down"},
		{"built-in SLI that no source reports says so", "security-posture", "log-coverage", "no source reports log_coverage yet"},
		{"event SLI lists the sources of its events", "security-posture", "restore-tests", "restores: up"},
		{"custom SLI reads no source", "auth", "login-errors", "none: not a built-in SLI"},
	}
	for _, tc := range objectiveCases {
		t.Run(tc.name, func(t *testing.T) {
			row := objectiveRow(t, doc, tc.service, tc.slo)
			cells := findAll(row, byTag("td"))
			if got := text(cells[len(cells)-1]); got != tc.wantText {
				t.Errorf("sources cell = %q, want %q", got, tc.wantText)
			}
		})
	}
}

func TestOverviewAccessibility(t *testing.T) {
	f := newFixture(t)
	_, body := get(t, f.mux, "/")
	doc := parseHTML(t, body)

	if got := attr(findFirst(doc, byTag("html")), "lang"); got != "en" {
		t.Errorf("html lang = %q, want en", got)
	}
	if h1 := findAll(doc, byTag("h1")); len(h1) != 1 {
		t.Errorf("page has %d h1 headings, want 1", len(h1))
	}
	for _, table := range findAll(doc, byTag("table")) {
		if findFirst(table, byTag("caption")) == nil {
			t.Errorf("table %q has no caption", attr(table, "id"))
		}
		for _, th := range findAll(table, byTag("th")) {
			if scope := attr(th, "scope"); scope != "col" && scope != "row" {
				t.Errorf("table %q has a header %q with scope %q", attr(table, "id"), text(th), scope)
			}
		}
	}
	if scripts := findAll(doc, byTag("script")); len(scripts) != 0 {
		t.Errorf("page has %d script elements, want none", len(scripts))
	}
	for _, link := range findAll(doc, byTag("link")) {
		t.Errorf("page loads %q; every style must be inline", attr(link, "href"))
	}
	if style := text(findFirst(doc, byTag("style"))); !strings.Contains(style, ":focus-visible") {
		t.Error("stylesheet has no visible focus style")
	}
}

func TestOverviewQueryError(t *testing.T) {
	slos := loadFixture(t)
	// A real engine that rejects every query loading more than one sample.
	engine := openTestEngine(t, promql.EngineOpts{MaxSamples: 1})
	w := engine.writer(t)
	w.objective(mustSLO(t, slos, "security-posture", "patch-compliance"), testNow, patchRatio)
	w.objective(mustSLO(t, slos, "security-posture", "privilege-drift"), testNow, driftRatio)
	w.commit()

	page, logs := newTestPage(slos, engine, fixtureSources())
	resp, body := get(t, page, "/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET / returned %d, want 200 with the error on the page", resp.StatusCode)
	}
	doc := parseHTML(t, body)

	errorsSection := findFirst(doc, byID("query-errors"))
	if errorsSection == nil {
		t.Fatal("page does not show the query error")
	}
	if got, want := text(errorsSection), "too many samples"; !strings.Contains(got, want) {
		t.Errorf("query error section lacks %q:\n%s", want, got)
	}
	if findFirst(doc, byID("sources")) == nil {
		t.Error("sources section is missing after a query error")
	}
	if rows := objectiveRows(t, doc); len(rows) != fixtureObjects {
		t.Errorf("page lists %d objectives after a query error, want %d", len(rows), fixtureObjects)
	}

	var record struct {
		Msg   string `json:"msg"`
		Query string `json:"query"`
		Err   string `json:"err"`
	}
	line, _, _ := strings.Cut(logs.String(), "\n")
	if err := json.Unmarshal([]byte(line), &record); err != nil {
		t.Fatalf("no JSON log line for the query error: %v; log:\n%s", err, logs)
	}
	if record.Query == "" || !strings.Contains(record.Err, "too many samples") {
		t.Errorf("log line lacks the query or the error: %+v", record)
	}
}

func TestOverviewEngineDisabled(t *testing.T) {
	page, logs := newTestPage(loadFixture(t), nil, fixtureSources())
	resp, body := get(t, page, "/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET / returned %d, want 200", resp.StatusCode)
	}
	doc := parseHTML(t, body)

	note := findFirst(doc, byAttr("role", "note"))
	if note == nil || !strings.Contains(text(note), "--engine.disabled") {
		t.Error("page does not say that the engine is disabled")
	}
	for _, row := range objectiveRows(t, doc) {
		want := StateNotEvaluated
		if attr(row, "data-service") == "auth" {
			want = StateExternal
		}
		if got := attr(row, "class"); got != want {
			t.Errorf("%s/%s is %q, want %q", attr(row, "data-service"), attr(row, "data-slo"), got, want)
		}
	}
	if logs.Len() != 0 {
		t.Errorf("page logged without an engine:\n%s", logs)
	}
}
