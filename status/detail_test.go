package status

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// svgPoint is one vertex of the chart's line.
type svgPoint struct{ x, y float64 }

// parsePath splits the d attribute of the chart's line into subpaths.
func parsePath(t *testing.T, d string) [][]svgPoint {
	t.Helper()
	fields := strings.Fields(d)
	if len(fields)%2 != 0 {
		t.Fatalf("path has an odd number of coordinates: %q", d)
	}

	var subpaths [][]svgPoint
	for i := 0; i < len(fields); i += 2 {
		command, xText := fields[i][:1], fields[i][1:]
		x, errX := strconv.ParseFloat(xText, 64)
		y, errY := strconv.ParseFloat(fields[i+1], 64)
		if errX != nil || errY != nil {
			t.Fatalf("invalid coordinates %q %q in path", fields[i], fields[i+1])
		}

		p := svgPoint{x, y}
		switch {
		case command == "M":
			subpaths = append(subpaths, []svgPoint{p})
		case command == "L" && len(subpaths) > 0:
			subpaths[len(subpaths)-1] = append(subpaths[len(subpaths)-1], p)
		default:
			t.Fatalf("unexpected command %q in path", fields[i])
		}
	}
	return subpaths
}

// floatAttr returns a numeric attribute of n.
func floatAttr(t *testing.T, n *html.Node, key string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(attr(n, key), 64)
	if err != nil {
		t.Fatalf("attribute %s of <%s> is not a number: %v", key, n.Data, err)
	}
	return v
}

func TestDetailChartFollowsData(t *testing.T) {
	f := newFixture(t)
	resp, body := get(t, f.mux, "/slos/security-posture/privilege-drift")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET the detail view returned %d, want 200", resp.StatusCode)
	}
	doc := parseHTML(t, body)

	svgs := findAll(doc, byTag("svg"))
	if len(svgs) != 1 {
		t.Fatalf("detail view has %d charts, want 1", len(svgs))
	}
	svg := svgs[0]
	checkChartLabels(t, svg)

	// The axis frame and the zero and 100 % lines give the scale.
	axes := findAll(svg, byAttr("class", "axis"))
	zero := findFirst(svg, byAttr("class", "zero"))
	grid := findFirst(svg, byAttr("class", "grid"))
	if len(axes) != 2 || zero == nil || grid == nil {
		t.Fatalf("chart lacks its axes, zero line or grid: %d axes", len(axes))
	}
	left, right := floatAttr(t, axes[1], "x1"), floatAttr(t, axes[1], "x2")
	y0, y100 := floatAttr(t, zero, "y1"), floatAttr(t, grid, "y1")

	// The data: the same range query that the page runs.
	drift := mustSLO(t, f.slos, "security-posture", "privilege-drift")
	start, step := testNow.Add(-drift.Period), 3*time.Hour
	matrix, err := f.engine.QueryRange(context.Background(), `slo:secslo_error_budget_remaining:ratio{service="security-posture",slo="privilege-drift"}`, start, testNow, step)
	if err != nil || len(matrix) != 1 {
		t.Fatalf("range query returned %d series, err %v", len(matrix), err)
	}
	data := matrix[0].Floats

	line := findFirst(svg, byAttr("class", "line"))
	if line == nil {
		t.Fatal("chart has no line")
	}
	subpaths := parsePath(t, attr(line, "d"))
	if len(subpaths) != 2 {
		t.Errorf("line has %d parts, want 2 around the day without data", len(subpaths))
	}

	var vertices []svgPoint
	for _, sub := range subpaths {
		vertices = append(vertices, sub...)
	}
	if len(vertices) != len(data) {
		t.Fatalf("line has %d vertices, want one per data point: %d", len(vertices), len(data))
	}
	for i, p := range data {
		wantX := left + float64(p.T-start.UnixMilli())/float64(testNow.Sub(start).Milliseconds())*(right-left)
		wantY := y0 - p.F*(y0-y100)
		// Coordinates are rounded to 0.1, and the rounding of the zero and
		// 100 % lines grows with the distance from them.
		tolerance := 0.15 + 0.1*math.Abs(p.F)
		if math.Abs(vertices[i].x-wantX) > tolerance || math.Abs(vertices[i].y-wantY) > tolerance {
			t.Errorf("vertex %d = (%.1f, %.1f), want (%.1f, %.1f) for %.4f at %s",
				i, vertices[i].x, vertices[i].y, wantX, wantY, p.F, time.UnixMilli(p.T).UTC())
		}
	}
}

// checkChartLabels checks that the chart names itself to screen readers
// and labels both axes.
func checkChartLabels(t *testing.T, svg *html.Node) {
	t.Helper()
	if attr(svg, "role") != "img" {
		t.Errorf("chart role = %q, want img", attr(svg, "role"))
	}

	title := findFirst(svg, byTag("title"))
	if title == nil || attr(svg, "aria-labelledby") != attr(title, "id") {
		t.Error("chart is not labelled by its title")
	} else if got, want := text(title), "Error budget remaining of security-posture / privilege-drift over 30d"; got != want {
		t.Errorf("chart title = %q, want %q", got, want)
	}

	desc := findFirst(svg, byTag("desc"))
	if desc == nil || attr(svg, "aria-describedby") != attr(desc, "id") {
		t.Error("chart is not described by its desc")
	} else if got, want := text(desc), "lowest -403.333 % at 2026-12-01 00:00 UTC"; !strings.Contains(got, want) {
		t.Errorf("chart description %q lacks %q", got, want)
	}

	var labels []string
	for _, label := range findAll(svg, byTag("text")) {
		labels = append(labels, text(label))
	}
	for _, want := range []string{"100 %", "0 %", "-403 %", "Nov 1", "Dec 1", "Time (UTC)", "Budget left"} {
		if !strings.Contains(strings.Join(labels, "|"), want) {
			t.Errorf("chart labels %q lack %q", labels, want)
		}
	}
}

func TestDetailShowsSpec(t *testing.T) {
	f := newFixture(t)
	_, body := get(t, f.mux, "/slos/security-posture/privilege-drift")
	doc := parseHTML(t, body)

	if got, want := text(findFirst(doc, byTag("h1"))), "security-posture / privilege-drift"; got != want {
		t.Errorf("heading = %q, want %q", got, want)
	}
	if got, want := text(findFirst(doc, byID("state"))), "▲ Burning At least one alert of this objective is firing."; !strings.HasPrefix(got, want) {
		t.Errorf("state line = %q, want it to start with %q", got, want)
	}

	spec := text(findFirst(doc, byTag("dl")))
	for _, want := range []string{
		"Description IAM roles and Kubernetes roles whose permissions stay within the reviewed baseline.",
		"Owner security@example.com",
		"Target 97 % over 30d",
		"Error budget 3 %",
		"SLI snapshot, built-in privilege_drift",
		"Annex A controls A.5.15, A.5.18, A.8.2",
		"Runbook https://runbooks.example.com/security/privilege-drift",
	} {
		if !strings.Contains(spec, want) {
			t.Errorf("spec lacks %q:\n%s", want, spec)
		}
	}

	window := findFirst(doc, byAttr("data-window", "ticket-slow"))
	if window == nil {
		t.Fatal("detail view has no ticket-slow condition")
	}
	// 0.151 / 0.03 = 5.03 exceeds the factor 1 over 3d and 6h.
	if got, want := text(window), "ticket-slow ticket 3d 6h 1× 3 % 5.03× 5.03× Above the factor over both windows."; got != want {
		t.Errorf("ticket-slow row:\n got %q\nwant %q", got, want)
	}

	sources := findFirst(doc, byID("sources"))
	if sources == nil || findFirst(sources, byAttr("data-source", "kubernetes_rbac")) == nil {
		t.Error("detail view does not list the sources that feed the SLI")
	}
	if findFirst(doc, byAttr("data-source", "patches")) != nil {
		t.Error("detail view lists a source that does not feed the SLI")
	}
}

func TestDetailGroupedObjective(t *testing.T) {
	f := newFixture(t)
	_, body := get(t, f.mux, "/slos/fleet/hosts-patched")
	doc := parseHTML(t, body)

	table := findFirst(doc, byID("groups"))
	if table == nil {
		t.Fatal("grouped objective has no groups table")
	}
	rows := findAll(findFirst(table, byTag("tbody")), byTag("tr"))
	want := []string{
		`source="onprem" 88 % -20 % HostsPatchedBudgetBurn (page, pending)`,
		`source="aws" 95 % 50 % none`,
	}
	if len(rows) != len(want) {
		t.Fatalf("groups table has %d rows, want %d", len(rows), len(want))
	}
	for i, row := range rows {
		if got := text(row); got != want[i] {
			t.Errorf("group row %d:\n got %q\nwant %q", i, got, want[i])
		}
	}

	if charts := findAll(doc, byTag("svg")); len(charts) != 2 {
		t.Errorf("grouped objective has %d charts, want one per group: 2", len(charts))
	}
	if tables := findAll(doc, byAttr("class", "windows")); len(tables) != 2 {
		t.Errorf("grouped objective has %d condition tables, want one per group: 2", len(tables))
	}
}

func TestDetailNotFound(t *testing.T) {
	f := newFixture(t)

	resp, body := get(t, f.mux, "/slos/security-posture/no-such-slo")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET an unknown objective returned %d, want 404", resp.StatusCode)
	}
	doc := parseHTML(t, body)
	if got, want := text(findFirst(doc, byTag("h1"))), "Objective not found"; got != want {
		t.Errorf("heading = %q, want %q", got, want)
	}
	if got, want := text(findFirst(doc, byTag("main"))), "the service security-posture and the name no-such-slo"; !strings.Contains(got, want) {
		t.Errorf("404 page %q lacks %q", got, want)
	}

	resp, body = get(t, f.mux, "/api/v1/slos/security-posture/no-such-slo")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET the JSON of an unknown objective returned %d, want 404", resp.StatusCode)
	}
	var msg struct{ Error string }
	if err := json.Unmarshal([]byte(body), &msg); err != nil || !strings.Contains(msg.Error, `objective "no-such-slo" of service "security-posture" not found`) {
		t.Errorf("404 body = %s, err %v", body, err)
	}
}

func TestDetailEngineDisabled(t *testing.T) {
	page, _ := newTestPage(loadFixture(t), nil, fixtureSources())
	mux := http.NewServeMux()
	page.Register(mux)

	resp, body := get(t, mux, "/slos/security-posture/privilege-drift")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET the detail view returned %d, want 200", resp.StatusCode)
	}
	doc := parseHTML(t, body)
	if charts := findAll(doc, byTag("svg")); len(charts) != 0 {
		t.Errorf("detail view draws %d charts without an engine", len(charts))
	}
	if got, want := text(findFirst(doc, byTag("main"))), "No history here, because the embedded engine is disabled."; !strings.Contains(got, want) {
		t.Errorf("detail view lacks %q", want)
	}
	if findFirst(doc, byAttr("data-window", "page-fast")) == nil {
		t.Error("detail view without an engine does not list the alert conditions")
	}
}
