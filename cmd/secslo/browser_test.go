package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/secslo/secslo/slo"
	"github.com/secslo/secslo/status"
)

// The browser test opens the status page of secslo serve, running the
// example with its embedded engine, in Debian's headless chromium.

// browserTimeout bounds each step in the browser. Chromium starts in a
// few seconds on an idle machine; the margin is for a busy one.
const browserTimeout = 60 * time.Second

// browserEvaluationTimeout bounds the wait for the engine's first
// evaluations. At an interval of one second the example's privilege drift
// fires within a few seconds of the first refresh.
const browserEvaluationTimeout = 90 * time.Second

// pngQuality makes chromedp.FullScreenshot write PNG. Any lower quality
// writes JPEG.
const pngQuality = 100

// The objective that the example burns: privilege drift, 84.9 % against 97 %,
// fires its ticket alert as soon as it has data.
const (
	burningService = "security-posture"
	burningSLO     = "privilege-drift"
)

// burningBackground is the computed background color of the burning badge
// when the page's stylesheet applies: the palette's #a50e0e.
const burningBackground = "rgb(165, 14, 14)"

// An objective whose service, name, owner, description and runbook URL
// each run past 200 characters without a space, which the page must wrap
// instead of widening.
var (
	longService = "platform" + strings.Repeat("securityposture", 14)
	longSLO     = "objective_" + strings.Repeat("long", 50)
)

// statusRow is one row of the overview's objectives table, as the
// browser renders it.
type statusRow struct {
	Service string `json:"service"`
	SLO     string `json:"slo"`
	State   string `json:"state"`
	Badge   string `json:"badge"`
	// Budget is the text of the remaining budget cell, "" without one.
	Budget string `json:"budget"`
}

// readRows reads the overview's rows in the page's order.
const readRows = `Array.from(document.querySelectorAll('#objectives tbody tr')).map(row => ({
	service: row.dataset.service,
	slo: row.dataset.slo,
	state: row.className,
	badge: row.querySelector('.badge').innerText,
	budget: (row.querySelector('[data-value="budget"]') || {innerText: ''}).innerText,
}))`

func TestBrowserStatusPage(t *testing.T) {
	if testing.Short() {
		t.Skip("the browser test starts chromium and waits for the engine; skipped with -short")
	}
	chromium := requireE2ETool(t, "chromium", "chromium")

	dir := filepath.Join(t.TempDir(), "example")
	config := copyExample(t, dir)
	writeLongNamesSpec(t, dir)
	addr := startEngineServe(t, config.file)
	waitForBurning(t, addr)
	checkIngestCurrent(t, addr)
	ctx := newBrowser(t, chromium)

	browserRun(t, ctx, "open the overview", chromedp.Steps(
		chromedp.Navigate("http://"+addr+"/"),
		chromedp.WaitVisible(chromedp.CSS("#objectives")),
	))
	rows := browserRun(t, ctx, "read the overview", chromedp.Evaluate[[]statusRow](readRows))
	writeArtifact(t, "status-overview.png", browserRun(t, ctx, "take a screenshot of the overview", chromedp.FullScreenshot(pngQuality)))

	checkListsExample(t, rows, exampleSLOs(t, config.file))
	checkWorstFirst(t, rows)
	checkBurningMarked(t, rows)
	checkStyledUnderPolicy(t, ctx)
	checkNoSidewaysScroll(t, ctx, "overview")
	checkLongNameCellsWrap(t, ctx)
	checkDetailChart(t, ctx, addr)

	browserRun(t, ctx, "open the detail view of the long names", chromedp.Steps(
		chromedp.Navigate("http://"+addr+status.DetailPath(longService, longSLO)),
		chromedp.WaitVisible(chromedp.CSS("h1")),
	))
	writeArtifact(t, "status-long-names.png", browserRun(t, ctx, "take a screenshot of the long names", chromedp.FullScreenshot(pngQuality)))
	checkNoSidewaysScroll(t, ctx, "detail view of the long names")
}

// writeLongNamesSpec adds the objective of longService and longSLO to the
// example's specs, on the patch compliance SLI that the example feeds.
func writeLongNamesSpec(t *testing.T, dir string) {
	t.Helper()
	spec := fmt.Sprintf(`version: secslo/v1
service: %s
owner: %s@example.com
slos:
  - name: %s
    description: %s and a few short words after it.
    objective: 95
    controls: [A.8.8]
    sli:
      builtin: patch_compliance
    alerting:
      runbook_url: https://runbooks.example.com/%send
`, longService, strings.Repeat("platform.team.", 15), longSLO, strings.Repeat("Unbrokendescriptionword", 10), strings.Repeat("segment/", 30))
	if err := os.WriteFile(filepath.Join(dir, "slos", "long-names.yaml"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
}

// startEngineServe runs secslo serve with its engine, evaluating every
// second, on a free loopback port until the test ends, and returns its
// address once it is ready.
func startEngineServe(t *testing.T, config string) string {
	t.Helper()
	return startServeWith(t, "--config.file="+config,
		"--ledger.path="+filepath.Join(t.TempDir(), "secslo-ledger.db"),
		"--storage.path="+filepath.Join(t.TempDir(), "engine"),
		"--engine.evaluation-interval=1s")
}

// apiObjective is the part of an objective in the status API that the
// test reads.
type apiObjective struct {
	Service string `json:"service"`
	SLO     string `json:"slo"`
	Burning bool   `json:"burning"`
}

// waitForBurning polls the status API until the engine has evaluated the
// example and the burning objective fires.
func waitForBurning(t *testing.T, addr string) {
	t.Helper()
	var list struct {
		SLOs []apiObjective `json:"slos"`
	}
	burning := func() bool {
		if err := getJSON(context.Background(), "http://"+addr+status.PathSLOs, &list); err != nil {
			return false
		}
		return slices.ContainsFunc(list.SLOs, func(s apiObjective) bool {
			return s.Service == burningService && s.SLO == burningSLO && s.Burning
		})
	}

	deadline := time.Now().Add(browserEvaluationTimeout)
	for !burning() {
		if time.Now().After(deadline) {
			t.Fatalf("%s/%s did not burn within %s; last status: %+v", burningService, burningSLO, browserEvaluationTimeout, list.SLOs)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// checkIngestCurrent checks that serve gives the status page the engine's
// ingest, and that the engine stored samples within its last intervals.
func checkIngestCurrent(t *testing.T, addr string) {
	t.Helper()
	var list struct {
		Ingest *struct {
			State string `json:"state"`
		} `json:"ingest"`
	}
	if err := getJSON(context.Background(), "http://"+addr+status.PathSLOs, &list); err != nil {
		t.Fatalf("failed to read the status API: %v", err)
	}
	if list.Ingest == nil {
		t.Fatal("status API reports no ingest, so the page cannot warn when the engine stores no samples")
	}
	if list.Ingest.State != status.IngestCurrent {
		t.Errorf("ingest state = %q, want %q", list.Ingest.State, status.IngestCurrent)
	}
}

// newBrowser starts headless chromium with a fresh profile and no network
// services of its own, and closes it when the test ends.
func newBrowser(t *testing.T, chromium string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(2200, 1400),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	}
	allocator, cancelAllocator := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(allocator, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancelBrowser()
		cancelAllocator()
	})

	// The first action starts the browser, which lives as long as ctx, so
	// it runs without a timeout of its own.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("failed to start %s: %v", chromium, err)
	}
	return ctx
}

// browserRun runs one action in the browser within browserTimeout and
// returns its value. It fails the test with the purpose of the action.
func browserRun[T any](t *testing.T, ctx context.Context, purpose string, action chromedp.Action[T]) T {
	t.Helper()
	stepCtx, cancel := context.WithTimeout(ctx, browserTimeout)
	defer cancel()

	value, err := chromedp.Run(stepCtx, action)
	if err != nil {
		t.Fatalf("failed to %s in chromium: %v", purpose, err)
	}
	return value
}

// exampleSLOs returns service/slo of every objective in the example's specs.
func exampleSLOs(t *testing.T, config string) []string {
	t.Helper()
	slos, problems := slo.Load([]string{filepath.Join(filepath.Dir(config), "slos")}, slo.LoadOptions{})
	if len(problems) > 0 {
		t.Fatalf("invalid example specs: %v", problems)
	}
	ids := make([]string, 0, len(slos))
	for _, s := range slos {
		ids = append(ids, s.Service+"/"+s.Name)
	}
	slices.Sort(ids)
	return ids
}

func checkListsExample(t *testing.T, rows []statusRow, want []string) {
	t.Helper()
	got := make([]string, 0, len(rows))
	for _, row := range rows {
		got = append(got, row.Service+"/"+row.SLO)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("overview lists:\n %v\nwant every example objective:\n %v", got, want)
	}
}

// checkWorstFirst checks that the rows with a remaining budget come first,
// lowest budget first.
func checkWorstFirst(t *testing.T, rows []statusRow) {
	t.Helper()
	previous := -1e308
	withBudget := true
	for i, row := range rows {
		if row.Budget == "" {
			withBudget = false
			continue
		}
		if !withBudget {
			t.Errorf("row %d, %s/%s, has a budget after a row without one", i, row.Service, row.SLO)
		}
		budget, err := parsePercent(row.Budget)
		if err != nil {
			t.Errorf("row %d, %s/%s: %v", i, row.Service, row.SLO, err)
			continue
		}
		if budget < previous {
			t.Errorf("row %d, %s/%s, has the budget %s below the row above it", i, row.Service, row.SLO, row.Budget)
		}
		previous = budget
	}
	if len(rows) == 0 || rows[0].Budget == "" {
		t.Errorf("first row has no remaining budget: %+v", rows)
	}
}

// parsePercent reads the page's percentages, such as "-403.333 %".
func parsePercent(text string) (float64, error) {
	number, ok := strings.CutSuffix(strings.TrimSpace(text), " %")
	if !ok {
		return 0, fmt.Errorf("budget %q is not a percentage", text)
	}
	return strconv.ParseFloat(number, 64)
}

func checkBurningMarked(t *testing.T, rows []statusRow) {
	t.Helper()
	i := slices.IndexFunc(rows, func(row statusRow) bool { return row.Service == burningService && row.SLO == burningSLO })
	if i < 0 {
		t.Fatalf("overview does not list %s/%s", burningService, burningSLO)
	}
	row := rows[i]
	if row.State != status.StateBurning {
		t.Errorf("%s/%s has the state %q, want %q", burningService, burningSLO, row.State, status.StateBurning)
	}
	if row.Badge != "▲ Burning" {
		t.Errorf("%s/%s shows %q, want the marker and the word: %q", burningService, burningSLO, row.Badge, "▲ Burning")
	}
}

// checkStyledUnderPolicy checks on the open overview that the stylesheet
// applies under the page's Content-Security-Policy, and that the policy
// is in force: it refuses a style attribute, which the page never uses.
func checkStyledUnderPolicy(t *testing.T, ctx context.Context) {
	t.Helper()
	background := browserRun(t, ctx, "read the burning badge's background", chromedp.Evaluate[string](
		`getComputedStyle(document.querySelector('tr.burning .badge-burning')).backgroundColor`))
	probe := browserRun(t, ctx, "set a style attribute", chromedp.Evaluate[string](`(() => {
		const probe = document.createElement('p');
		probe.setAttribute('style', 'color: rgb(1, 2, 3)');
		document.body.append(probe);
		const color = getComputedStyle(probe).color;
		probe.remove();
		return color;
	})()`))

	if background != burningBackground {
		t.Errorf("burning badge background = %q, want %q from the stylesheet", background, burningBackground)
	}
	if probe == "rgb(1, 2, 3)" {
		t.Error("the page applied a style attribute, so no Content-Security-Policy restricts its styles")
	}
}

// checkNoSidewaysScroll checks that the open page is no wider than the
// window, whatever the length of the names on it.
func checkNoSidewaysScroll(t *testing.T, ctx context.Context, view string) {
	t.Helper()
	widths := browserRun(t, ctx, "measure the "+view, chromedp.Evaluate[[]int](
		`[document.documentElement.scrollWidth, document.documentElement.clientWidth]`))
	if len(widths) != 2 {
		t.Fatalf("measuring the %s returned %v", view, widths)
	}
	if widths[0] > widths[1] {
		t.Errorf("%s is %d px wide in a window of %d px, so it scrolls sideways", view, widths[0], widths[1])
	}
}

// checkLongNameCellsWrap checks on the open overview that the service and
// name cells of the long objective wrap, so that they take at most a
// quarter of the window each and leave room for the other columns.
func checkLongNameCellsWrap(t *testing.T, ctx context.Context) {
	t.Helper()
	row := fmt.Sprintf(`#objectives tr[data-service=%q][data-slo=%q]`, longService, longSLO)
	widths := browserRun(t, ctx, "measure the long names", chromedp.Evaluate[[]float64](fmt.Sprintf(
		`[%q, %q, 'html'].map(selector => document.querySelector(selector).getBoundingClientRect().width)`,
		row+" > td:nth-child(2)", row+" > th")))
	if len(widths) != 3 {
		t.Fatalf("measuring the long names returned %v", widths)
	}

	window := widths[2]
	for i, cell := range []string{"service", "name"} {
		if widths[i] > window/4 {
			t.Errorf("%s cell of the long objective is %.0f px wide, want at most a quarter of the %.0f px window", cell, widths[i], window)
		}
	}
}

// checkDetailChart opens the burning objective's detail view and checks
// that its chart draws the data.
func checkDetailChart(t *testing.T, ctx context.Context, addr string) {
	t.Helper()
	browserRun(t, ctx, "open the detail view", chromedp.Steps(
		chromedp.Navigate("http://"+addr+status.DetailPath(burningService, burningSLO)),
		chromedp.WaitVisible(chromedp.CSS("svg.chart")),
	))
	// The engine has run for seconds of a 30-day period, so the chart may
	// hold a single point, which it draws as a dot instead of a line.
	marks := browserRun(t, ctx, "count the chart's marks", chromedp.Evaluate[int](
		`document.querySelectorAll('svg.chart path.line, svg.chart circle.dot').length`))
	title := browserRun(t, ctx, "read the chart title", chromedp.TextContent(chromedp.CSS("svg.chart title")))
	writeArtifact(t, "status-detail.png", browserRun(t, ctx, "take a screenshot of the detail view", chromedp.FullScreenshot(pngQuality)))

	if marks == 0 {
		t.Error("chart draws neither a line nor a dot")
	}
	if want := "Error budget remaining of security-posture / privilege-drift"; !strings.HasPrefix(title, want) {
		t.Errorf("chart title = %q, want it to start with %q", title, want)
	}
}

// writeArtifact stores a screenshot in the test's artifact folder, which
// go test -artifacts keeps, and logs where it is.
func writeArtifact(t *testing.T, name string, data []byte) {
	t.Helper()
	file := filepath.Join(t.ArtifactDir(), name)
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Errorf("failed to write the screenshot: %v", err)
		return
	}
	t.Logf("wrote the screenshot %s", file)
}
