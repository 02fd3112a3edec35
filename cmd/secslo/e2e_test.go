package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"maps"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/secslo/secslo/rules"
	"github.com/secslo/secslo/slo"
)

// The end-to-end test runs the bundled example the way a deployment does.
// secslo serve reads a copy of the example data. Debian's Prometheus
// scrapes it and evaluates the rules that secslo generate wrote, unchanged.
// Debian's Alertmanager runs the generated routing, whose receivers are
// webhooks inside the test.

// e2eInterval is the scrape and rule evaluation interval of the test's
// Prometheus.
const e2eInterval = 2 * time.Second

// e2eFlowTimeout bounds the whole burn, page, repair and resolve sequence,
// which took under a minute on a loaded machine with two CPUs.
const e2eFlowTimeout = 4 * time.Minute

// The objective that the test burns, and the labels that its page must
// carry, as the example's spec and config set them.
var (
	e2ePage = map[string]string{
		slo.LabelService: "security-posture", slo.LabelSLO: "log-coverage",
		slo.LabelTier: slo.TierPage, slo.LabelAlertKind: slo.AlertKindBurnRate,
	}
	e2eTicket = map[string]string{
		slo.LabelService: "security-posture", slo.LabelSLO: "log-coverage",
		slo.LabelTier: slo.TierTicket, slo.LabelAlertKind: slo.AlertKindBurnRate,
	}
	// The example's privilege drift (84.9 % against 97 %) fires a ticket
	// and no page, in the same service as log coverage.
	e2eOtherTicket = map[string]string{
		slo.LabelService: "security-posture", slo.LabelSLO: "privilege-drift",
		slo.LabelTier: slo.TierTicket, slo.LabelAlertKind: slo.AlertKindBurnRate,
	}
	e2ePageLabels = map[string]string{
		slo.LabelSeverity: "page", slo.LabelSLO: "log-coverage",
		slo.LabelService: "security-posture", slo.LabelControls: "A.8.15,A.8.16",
	}
)

// pagePath names what checkPagePath expects of one Alertmanager.
type pagePath struct {
	pageReceiver, ticketReceiver string
}

// routingEvidence is what one Alertmanager delivered and reported during
// the burn, and when Prometheus listed the page alert as firing.
type routingEvidence struct {
	notifications []notification
	samples       []inhibitionSample
	firingFrom    time.Time
	firingUntil   time.Time
}

// e2eRouting is one Alertmanager of the test with the routing it runs.
type e2eRouting struct {
	name     string
	wantErr  string // what checkPagePath reports; "" for the generated routing
	recorder *webhookRecorder
	process  *e2eProcess
	watcher  *inhibitionWatcher
}

// brokenRouting is a deliberate fault in the generated routing, and the
// problem that checkPagePath must report for it.
type brokenRouting struct {
	name    string
	wantErr string
	apply   func(config map[string]any, path pagePath)
}

var brokenRoutings = []brokenRouting{
	{"page route to ticket receiver", "never reached receiver", func(config map[string]any, path pagePath) {
		routeToReceiver(config["route"], `secslo_tier="page"`, path.ticketReceiver)
	}},
	{"no inhibit rule", "while the page fired", func(config map[string]any, _ pagePath) {
		delete(config, "inhibit_rules")
	}},
	{"page receiver without resolved", "no resolved notification", func(config map[string]any, path pagePath) {
		for _, r := range config["receivers"].([]any) {
			receiver := r.(map[string]any)
			if receiver["name"] == path.pageReceiver {
				receiver["webhook_configs"].([]any)[0].(map[string]any)["send_resolved"] = false
			}
		}
	}},
}

func TestEndToEndExampleBurn(t *testing.T) {
	if testing.Short() {
		t.Skip("the end-to-end test runs for up to a minute; skipped with -short")
	}
	prometheusBin := requireE2ETool(t, "prometheus", "prometheus")
	promtool := requireE2ETool(t, "promtool", "prometheus")
	alertmanagerBin := requireE2ETool(t, "prometheus-alertmanager", "prometheus-alertmanager")

	dir := filepath.Join(t.TempDir(), "example")
	config := copyExample(t, dir)
	out := filepath.Join(dir, "out")
	generateExample(t, config.file, out)
	secsloAddr := startE2EServe(t, config.file)

	path := pagePath{pageReceiver: config.pageReceiver, ticketReceiver: config.ticketReceiver}
	generated, err := os.ReadFile(filepath.Join(out, "alertmanager", "alertmanager.yml"))
	if err != nil {
		t.Fatal(err)
	}
	routings := []*e2eRouting{startRouting(t, alertmanagerBin, "generated", "", webhookRouting(t, generated, path, nil))}
	for _, broken := range brokenRoutings {
		config := webhookRouting(t, generated, path, broken.apply)
		routings = append(routings, startRouting(t, alertmanagerBin, broken.name, broken.wantErr, config))
	}

	dataDir := filepath.Join(t.TempDir(), "prometheus")
	backfillCleanHistory(t, promtool, dataDir, filepath.Join(out, "rules", "security-posture.yml"), secsloAddr)
	prometheus := startE2EPrometheus(t, prometheusBin, dataDir, filepath.Join(out, "rules"), secsloAddr, routings)

	watchCtx, stopWatching := context.WithCancel(context.Background())
	defer stopWatching()
	for _, r := range routings {
		r.watcher = watchInhibition(watchCtx, r.process.url, e2ePage, e2eTicket)
	}

	firingFrom, firingUntil := burnAndRepair(t, prometheus, secsloAddr, filepath.Join(dir, "data"), routings)
	stopWatching()
	for _, r := range routings {
		<-r.watcher.done
	}

	for _, r := range routings {
		evidence := routingEvidence{notifications: r.recorder.all(), samples: r.watcher.all(), firingFrom: firingFrom, firingUntil: firingUntil}
		err := checkPagePath(path, evidence)
		if r.wantErr == "" {
			t.Run("generated routing", func(t *testing.T) {
				if err != nil {
					t.Errorf("the page path through the generated routing failed:\n%v\nAlertmanager output:\n%s", err, r.process.output)
				}
			})
			// Routing cannot change labels, so a page with a wrong label is
			// made from the real notifications.
			t.Run("page without controls", func(t *testing.T) {
				err := checkPagePath(path, withoutLabel(evidence, slo.LabelControls))
				if err == nil || !strings.Contains(err.Error(), "has controls=") {
					t.Errorf("checkPagePath on a page without controls returned %v, want an error naming controls", err)
				}
			})
			continue
		}
		t.Run("broken "+r.name, func(t *testing.T) {
			switch {
			case err == nil:
				t.Errorf("checkPagePath passed the routing broken by %q; want an error containing %q", r.name, r.wantErr)
			case !strings.Contains(err.Error(), r.wantErr):
				t.Errorf("checkPagePath on the routing broken by %q returned:\n%v\nwant an error containing %q", r.name, err, r.wantErr)
			}
			t.Logf("checkPagePath reported:\n%v", err)
		})
	}

	t.Run("dashboard queries", func(t *testing.T) {
		checkDashboardQueries(t, prometheus.url, filepath.Join(out, "dashboards"))
	})
}

// burnAndRepair drives the example's log coverage from its usual state
// to a fast burn and back, and returns from when to when Prometheus listed
// the page alert as firing.
//
// The test's Prometheus holds clean history of log coverage only up to an
// hour before it started (see backfillCleanHistory), so its 5m, 30m and 1h
// windows contain nothing but the test's own minutes. When half the
// critical assets stop logging, the 5m and 1h error ratios pass the page
// threshold of the 1h tier within seconds. That threshold is 14.4 × the
// 2 % budget, an error ratio of 0.288, and a full hour of clean history
// would delay the page by about half an hour. While the history is shorter
// than 5 minutes, the 5m ratio is the ratio of all samples so far. Once the
// data is repaired, it falls back below the threshold after about as long
// again as the burn lasted, and the page resolves. The 6h window holds five
// hours of clean history, so the 6h tier (6 × the budget) does not fire in
// the test's minutes. Without that history its 6h and 30m ratios would
// cover only the test's minutes too, and would keep the page firing for
// many minutes after the repair.
func burnAndRepair(t *testing.T, prometheus *e2eProcess, secsloAddr, dataDir string, routings []*e2eRouting) (firingFrom, firingUntil time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e2eFlowTimeout)
	defer cancel()
	wait := func(what string, condition func() (bool, error)) {
		t.Helper()
		for {
			ok, err := condition()
			if ok {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("timed out waiting for %s (last error: %v); Prometheus output:\n%s", what, err, prometheus.output)
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
	alertState := func(selector map[string]string) func() (string, error) {
		return func() (string, error) { return prometheusAlertState(ctx, prometheus.url, selector) }
	}
	pageState, ticketState := alertState(e2ePage), alertState(e2eTicket)

	// The example's log coverage (70 of 73 critical assets, against 98 %)
	// burns the budget at about twice the sustainable rate: a ticket, no
	// page.
	wait("the log coverage ticket to fire in Prometheus", func() (bool, error) {
		state, err := ticketState()
		return state == "firing", err
	})
	if state, err := pageState(); err != nil || state != "" {
		t.Fatalf("page alert is %q before the burn (err %v), want inactive", state, err)
	}

	lastSeen := filepath.Join(dataDir, "last-seen.csv")
	original, err := os.ReadFile(lastSeen)
	if err != nil {
		t.Fatal(err)
	}
	burned, noncompliant := stopHalfTheCriticalAssets(t, dataDir, original)
	replaceFile(t, lastSeen, burned)
	wait(fmt.Sprintf("secslo to report %g assets without logs", noncompliant), func() (bool, error) {
		return logCoverageNoncompliant(t, secsloAddr) == noncompliant, nil
	})

	wait("the log coverage page to fire in Prometheus", func() (bool, error) {
		state, err := pageState()
		return state == "firing", err
	})
	firingFrom = time.Now()

	// The page reaches the generated routing's pager, and the ticket is
	// held back through several of its 3-second repeats before the data
	// is repaired.
	wait("the page at the generated routing's page receiver and 10 seconds of inhibition", func() (bool, error) {
		delivered := slices.ContainsFunc(routings[0].recorder.all(), func(n notification) bool {
			return n.status == "firing" && hasLabelSubset(n.labels, e2ePage)
		})
		return delivered && time.Since(firingFrom) >= 10*time.Second, nil
	})

	replaceFile(t, lastSeen, original)
	wait("secslo to report the example's 3 assets without logs", func() (bool, error) {
		return logCoverageNoncompliant(t, secsloAddr) == 3, nil
	})
	firingUntil = time.Now()
	wait("the log coverage page to resolve in Prometheus", func() (bool, error) {
		state, err := pageState()
		if state == "firing" {
			firingUntil = time.Now()
		}
		return err == nil && state == "", err
	})

	// Every Alertmanager sends the ticket again once the page has resolved:
	// the generated routing because the inhibition ends, the others because
	// it never held or still holds without the page.
	wait("the ticket at every Alertmanager after the page resolved", func() (bool, error) {
		for _, r := range routings {
			if !slices.ContainsFunc(r.recorder.all(), func(n notification) bool {
				return n.status == "firing" && hasLabelSubset(n.labels, e2eTicket) && n.at.After(firingUntil)
			}) {
				return false, nil
			}
		}
		return true, nil
	})
	return firingFrom, firingUntil
}

// checkPagePath returns an error that lists every way in which one
// Alertmanager's notifications fall short of the page path. The page must
// reach the page receiver with its labels, and its resolution must follow.
// While the page fires, the ticket of the same SLO must be inhibited and not
// delivered, but the ticket of another SLO must be. After the page resolves,
// the ticket must be delivered again.
func checkPagePath(path pagePath, ev routingEvidence) error {
	var errs []error
	isPage := func(n notification) bool { return hasLabelSubset(n.labels, e2ePage) }

	// The page fired from its first notification at any receiver to the end
	// time of its resolution. Without those notifications, the times at
	// which Prometheus listed the page as firing are used.
	start, end := ev.firingFrom, ev.firingUntil
	if i := slices.IndexFunc(ev.notifications, func(n notification) bool { return isPage(n) && n.status == "firing" }); i >= 0 {
		start = ev.notifications[i].at
	}
	if i := slices.IndexFunc(ev.notifications, func(n notification) bool { return isPage(n) && n.status == "resolved" }); i >= 0 {
		end = ev.notifications[i].endsAt
	}
	during := func(at time.Time) bool { return !at.Before(start) && !at.After(end) }

	if i := slices.IndexFunc(ev.notifications, func(n notification) bool {
		return isPage(n) && n.status == "firing" && n.receiver == path.pageReceiver
	}); i < 0 {
		errs = append(errs, fmt.Errorf("page alert never reached receiver %q; it reached %v", path.pageReceiver, receiversOf(ev.notifications, isPage)))
	} else {
		labels := ev.notifications[i].labels
		for _, name := range sortedKeys(e2ePageLabels) {
			if labels[name] != e2ePageLabels[name] {
				errs = append(errs, fmt.Errorf("page alert at %q has %s=%q, want %q", path.pageReceiver, name, labels[name], e2ePageLabels[name]))
			}
		}
	}
	for _, n := range ev.notifications {
		if isPage(n) && n.receiver != path.pageReceiver {
			errs = append(errs, fmt.Errorf("page alert reached receiver %q at %s", n.receiver, n.at.Format(time.RFC3339Nano)))
			break
		}
	}
	if !slices.ContainsFunc(ev.notifications, func(n notification) bool {
		return isPage(n) && n.status == "resolved" && n.receiver == path.pageReceiver
	}) {
		errs = append(errs, fmt.Errorf("no resolved notification of the page alert reached receiver %q", path.pageReceiver))
	}

	for _, n := range ev.notifications {
		if hasLabelSubset(n.labels, e2eTicket) && n.status == "firing" && during(n.at) {
			errs = append(errs, fmt.Errorf("ticket alert reached receiver %q at %s while the page fired, from %s to %s",
				n.receiver, n.at.Format(time.RFC3339Nano), start.Format(time.RFC3339Nano), end.Format(time.RFC3339Nano)))
			break
		}
	}
	if !slices.ContainsFunc(ev.samples, func(s inhibitionSample) bool {
		return during(s.at) && s.ticketState == "suppressed" && s.pageFingerprint != "" && slices.Contains(s.inhibitedBy, s.pageFingerprint)
	}) {
		errs = append(errs, fmt.Errorf("Alertmanager never listed the ticket alert as inhibited by the page alert while the page fired; it listed the ticket as %v",
			ticketStates(ev.samples, during)))
	}
	if !slices.ContainsFunc(ev.notifications, func(n notification) bool {
		return hasLabelSubset(n.labels, e2eOtherTicket) && n.status == "firing" && n.receiver == path.ticketReceiver && during(n.at)
	}) {
		errs = append(errs, fmt.Errorf("ticket alert of SLO %q did not reach receiver %q while the page of SLO %q fired",
			e2eOtherTicket[slo.LabelSLO], path.ticketReceiver, e2ePage[slo.LabelSLO]))
	}
	if !slices.ContainsFunc(ev.notifications, func(n notification) bool {
		return hasLabelSubset(n.labels, e2eTicket) && n.status == "firing" && n.receiver == path.ticketReceiver && n.at.After(end)
	}) {
		errs = append(errs, fmt.Errorf("ticket alert did not reach receiver %q after the page resolved", path.ticketReceiver))
	}
	return errors.Join(errs...)
}

// withoutLabel returns a copy of ev in which no page notification has the
// label name.
func withoutLabel(ev routingEvidence, name string) routingEvidence {
	ev.notifications = slices.Clone(ev.notifications)
	for i, n := range ev.notifications {
		if hasLabelSubset(n.labels, e2ePage) {
			labels := maps.Clone(n.labels)
			delete(labels, name)
			ev.notifications[i].labels = labels
		}
	}
	return ev
}

// ticketStates counts the ticket's states in the samples taken during the
// page, with "absent" for samples that do not list the ticket.
func ticketStates(samples []inhibitionSample, during func(time.Time) bool) map[string]int {
	states := map[string]int{}
	for _, s := range samples {
		if !during(s.at) {
			continue
		}
		state := s.ticketState
		if state == "" {
			state = "absent"
		}
		if state == "suppressed" && !slices.Contains(s.inhibitedBy, s.pageFingerprint) {
			state = "suppressed by another alert"
		}
		states[state]++
	}
	return states
}

func receiversOf(notifications []notification, match func(notification) bool) []string {
	var names []string
	for _, n := range notifications {
		if match(n) && !slices.Contains(names, n.receiver) {
			names = append(names, n.receiver)
		}
	}
	return names
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// exampleCopy is the test's copy of the example config.
type exampleCopy struct {
	file                         string
	pageReceiver, ticketReceiver string
}

// copyExample copies the example folder to dir and sets every source's
// refresh interval to 1s, so that a changed export shows on /metrics
// within seconds. Specs and data stay as they are.
func copyExample(t *testing.T, dir string) exampleCopy {
	t.Helper()
	if err := os.CopyFS(dir, os.DirFS(filepath.Dir(exampleConfig))); err != nil {
		t.Fatalf("failed to copy the example: %v", err)
	}
	file := filepath.Join(dir, filepath.Base(exampleConfig))
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var config map[string]any
	if err := yaml.Unmarshal(data, &config); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	for _, source := range config["sources"].([]any) {
		source.(map[string]any)["refresh_interval"] = "1s"
	}
	data, err = yaml.Marshal(config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}

	alerting := config["alerting"].(map[string]any)
	return exampleCopy{file: file, pageReceiver: alerting["page_receiver"].(string), ticketReceiver: alerting["ticket_receiver"].(string)}
}

// generateExample runs secslo generate on the config file into out,
// without the rule tests, which the end-to-end tests do not run.
func generateExample(t *testing.T, configFile, out string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), []string{"generate", "--config.file=" + configFile, "--output.dir=" + out, "--output.no-tests"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("generate exited with %d, want %d; stderr:\n%s", code, exitOK, stderr.String())
	}
}

// startE2EServe runs secslo serve without its engine, through Run, on a
// free loopback port until the test ends, and returns its address once it
// is ready.
func startE2EServe(t *testing.T, config string) string {
	t.Helper()
	return startServeWith(t, "--config.file="+config, "--ledger.path="+filepath.Join(t.TempDir(), "secslo-ledger.db"), "--engine.disabled")
}

// logCoverageNoncompliant returns the inventory's count of critical assets
// without fresh logs, as secslo serves it.
func logCoverageNoncompliant(t *testing.T, addr string) float64 {
	t.Helper()
	families := scrapeMetrics(t, addr)
	return gaugeValue(families, slo.MetricNoncompliantObjects, map[string]string{slo.LabelSource: "inventory", slo.LabelSLI: "log_coverage"})
}

// stopHalfTheCriticalAssets returns the last-seen export in which half of
// the critical assets that ship logs were last seen three hours ago, well
// outside the inventory's freshness of 1 hour, and the number of critical
// assets then without fresh logs.
func stopHalfTheCriticalAssets(t *testing.T, dataDir string, lastSeen []byte) ([]byte, float64) {
	t.Helper()
	assets := readCSV(t, filepath.Join(dataDir, "assets.csv"))
	critical := map[string]bool{}
	for _, row := range assets[1:] {
		if row[column(t, assets, "criticality")] == "critical" {
			critical[row[column(t, assets, "asset_id")]] = true
		}
	}

	rows, err := csv.NewReader(bytes.NewReader(lastSeen)).ReadAll()
	if err != nil {
		t.Fatalf("last-seen.csv: %v", err)
	}
	idColumn, timeColumn := column(t, rows, "asset_id"), column(t, rows, "last_event_at")
	now := time.Now()
	var fresh []int
	for i, row := range rows[1:] {
		seen, err := time.Parse(time.RFC3339, row[timeColumn])
		if err == nil && critical[row[idColumn]] && seen.After(now) {
			fresh = append(fresh, i+1)
		}
	}
	if len(fresh) < len(critical)/2 {
		t.Fatalf("only %d of the example's %d critical assets ship fresh logs; the burn needs half of them", len(fresh), len(critical))
	}
	stopped := fresh[:len(critical)/2]
	stale := now.Add(-3 * time.Hour).UTC().Format(time.RFC3339)
	for _, i := range stopped {
		rows[i][timeColumn] = stale
	}

	var out bytes.Buffer
	w := csv.NewWriter(&out)
	if err := w.WriteAll(rows); err != nil {
		t.Fatal(err)
	}
	// The example's 3 stale critical assets stay stale.
	return out.Bytes(), float64(3 + len(stopped))
}

func readCSV(t *testing.T, file string) [][]string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return rows
}

func column(t *testing.T, rows [][]string, name string) int {
	t.Helper()
	i := slices.Index(rows[0], name)
	if i < 0 {
		t.Fatalf("no column %q in header %v", name, rows[0])
	}
	return i
}

// replaceFile writes data to file through a rename, so that a refresh
// never reads a half-written export.
func replaceFile(t *testing.T, file string, data []byte) {
	t.Helper()
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
}

// webhookRouting returns the generated Alertmanager config with every
// receiver replaced by a webhook to a new recorder of the test. It shortens
// group_wait and group_interval to 1s and repeat_interval to 3s, so that a
// ticket that is not inhibited is sent again every few seconds. Routes,
// matchers and inhibit rules stay as generated unless breakRouting changes
// them.
func webhookRouting(t *testing.T, generated []byte, path pagePath, breakRouting func(map[string]any, pagePath)) *webhookConfig {
	t.Helper()
	recorder := &webhookRecorder{}
	server := httptest.NewServer(recorder)
	t.Cleanup(server.Close)

	var config map[string]any
	if err := yaml.Unmarshal(generated, &config); err != nil {
		t.Fatalf("generated alertmanager.yml: %v", err)
	}
	for _, r := range config["receivers"].([]any) {
		receiver := r.(map[string]any)
		name := receiver["name"].(string)
		receiver["webhook_configs"] = []any{map[string]any{"url": server.URL + "/" + name, "send_resolved": true}}
	}
	shortenRouteTiming(config["route"])
	if breakRouting != nil {
		breakRouting(config, path)
	}
	data, err := yaml.Marshal(config)
	if err != nil {
		t.Fatal(err)
	}
	return &webhookConfig{yaml: data, recorder: recorder}
}

// webhookConfig is an Alertmanager config and the recorder of its webhooks.
type webhookConfig struct {
	yaml     []byte
	recorder *webhookRecorder
}

func shortenRouteTiming(node any) {
	route, ok := node.(map[string]any)
	if !ok {
		return
	}
	for key, value := range map[string]string{"group_wait": "1s", "group_interval": "1s", "repeat_interval": "3s"} {
		if _, set := route[key]; set {
			route[key] = value
		}
	}
	if children, ok := route["routes"].([]any); ok {
		for _, child := range children {
			shortenRouteTiming(child)
		}
	}
}

// routeToReceiver sets the receiver of every route in the tree that has
// matcher to receiver.
func routeToReceiver(node any, matcher, receiver string) {
	route, ok := node.(map[string]any)
	if !ok {
		return
	}
	if matchers, ok := route["matchers"].([]any); ok && slices.Contains(matchers, any(matcher)) {
		route["receiver"] = receiver
	}
	if children, ok := route["routes"].([]any); ok {
		for _, child := range children {
			routeToReceiver(child, matcher, receiver)
		}
	}
}

// startRouting starts an Alertmanager on a free loopback port with config,
// without clustering.
func startRouting(t *testing.T, bin, name, wantErr string, config *webhookConfig) *e2eRouting {
	t.Helper()
	dir := t.TempDir()
	configFile := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(configFile, config.yaml, 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddress(t)
	process := startE2EProcess(t, "Alertmanager with the "+name+" routing", bin, "http://"+addr,
		"--config.file="+configFile,
		"--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--cluster.listen-address=",
	)
	return &e2eRouting{name: name, wantErr: wantErr, recorder: config.recorder, process: process}
}

// backfillCleanHistory writes blocks into dataDir with the two 5-minute
// sums that the log coverage rules record, at the values the example's
// data gives, one sample per e2eInterval, from 6 hours to 61 minutes
// before now. burnAndRepair explains why the history stops an
// hour early. The rules themselves run unchanged on the live data.
func backfillCleanHistory(t *testing.T, promtool, dataDir, ruleFile, secsloAddr string) {
	t.Helper()
	backfillCleanHistoryEvery(t, promtool, dataDir, ruleFile, secsloAddr, e2eInterval)
}

// backfillCleanHistoryEvery is backfillCleanHistory for rules evaluated
// every interval. Each 5-minute sum adds up 5m/interval samples of the
// values that secslo at secsloAddr serves, one sum per interval, so that
// the history weighs as much per second as the live data.
func backfillCleanHistoryEvery(t *testing.T, promtool, dataDir, ruleFile, secsloAddr string, interval time.Duration) {
	t.Helper()
	data, err := os.ReadFile(ruleFile)
	if err != nil {
		t.Fatal(err)
	}
	var file rules.RuleFile
	if err := yaml.Unmarshal(data, &file); err != nil {
		t.Fatalf("%s: %v", ruleFile, err)
	}
	sums := map[string]map[string]string{}
	for _, group := range file.Groups {
		for _, rule := range group.Rules {
			if (rule.Record == slo.RecordTotalSum || rule.Record == slo.RecordBadSum) && rule.Labels[slo.LabelSLO] == e2ePage[slo.LabelSLO] {
				sums[rule.Record] = rule.Labels
			}
		}
	}
	if len(sums) != 2 {
		t.Fatalf("%s records %d of the 5-minute sums of SLO %q, want 2", ruleFile, len(sums), e2ePage[slo.LabelSLO])
	}

	// Each recorded sum adds up the samples of one 5-minute range.
	families := scrapeMetrics(t, secsloAddr)
	selector := map[string]string{slo.LabelSource: "inventory", slo.LabelSLI: "log_coverage"}
	samplesPerRange := float64(5 * time.Minute / interval)
	values := map[string]float64{}
	for record, gauge := range map[string]string{slo.RecordTotalSum: slo.MetricObjects, slo.RecordBadSum: slo.MetricNoncompliantObjects} {
		value := gaugeValue(families, gauge, selector)
		if value < 0 {
			t.Fatalf("secslo at %s serves no %s of log coverage, which the history of %s is computed from", secsloAddr, gauge, record)
		}
		values[record] = value * samplesPerRange
	}

	var om bytes.Buffer
	now := time.Now()
	for _, record := range sortedKeys(map[string]string{slo.RecordTotalSum: "", slo.RecordBadSum: ""}) {
		fmt.Fprintf(&om, "# TYPE %s gauge\n", record)
		series := record + "{" + openMetricsLabels(sums[record]) + "}"
		for at := now.Add(-6 * time.Hour); at.Before(now.Add(-61 * time.Minute)); at = at.Add(interval) {
			fmt.Fprintf(&om, "%s %g %d\n", series, values[record], at.Unix())
		}
	}
	om.WriteString("# EOF\n")

	input := filepath.Join(t.TempDir(), "history.om")
	if err := os.WriteFile(input, om.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if output, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", input, dataDir).CombinedOutput(); err != nil {
		t.Fatalf("promtool tsdb create-blocks-from openmetrics failed: %v\n%s", err, output)
	}
}

func openMetricsLabels(labels map[string]string) string {
	pairs := make([]string, 0, len(labels))
	for _, name := range sortedKeys(labels) {
		pairs = append(pairs, fmt.Sprintf("%s=%q", name, labels[name]))
	}
	return strings.Join(pairs, ",")
}

// startE2EPrometheus starts Prometheus on a free loopback port with the
// backfilled dataDir. It scrapes secslo and itself every e2eInterval,
// evaluates every rule file in rulesDir as generated at the same interval,
// and sends alerts to every Alertmanager of routings.
func startE2EPrometheus(t *testing.T, bin, dataDir, rulesDir, secsloAddr string, routings []*e2eRouting) *e2eProcess {
	t.Helper()
	addr := freeAddress(t)
	var alertmanagers []string
	for _, r := range routings {
		alertmanagers = append(alertmanagers, strings.TrimPrefix(r.process.url, "http://"))
	}
	config := map[string]any{
		"global": map[string]any{
			"scrape_interval":     e2eInterval.String(),
			"scrape_timeout":      e2eInterval.String(),
			"evaluation_interval": e2eInterval.String(),
		},
		"rule_files": []string{filepath.Join(rulesDir, "*.yml")},
		"scrape_configs": []any{
			map[string]any{"job_name": "secslo", "static_configs": []any{map[string]any{"targets": []string{secsloAddr}}}},
			map[string]any{"job_name": "prometheus", "static_configs": []any{map[string]any{"targets": []string{addr}}}},
		},
		"alerting": map[string]any{
			"alertmanagers": []any{map[string]any{"static_configs": []any{map[string]any{"targets": alertmanagers}}}},
		},
	}
	data, err := yaml.Marshal(config)
	if err != nil {
		t.Fatal(err)
	}
	configFile := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(configFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return startE2EProcess(t, "Prometheus", bin, "http://"+addr,
		"--config.file="+configFile,
		"--storage.tsdb.path="+dataDir,
		"--web.listen-address="+addr,
		// Prometheus drops the alerts of evaluations that run before it has
		// found the Alertmanagers, and sends a firing alert again only after
		// the resend delay, 1 minute by default.
		"--rules.alert.resend-delay="+e2eInterval.String(),
	)
}
