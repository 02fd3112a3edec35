package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/secslo/secslo/slo"
)

// The engine end-to-end test runs the bundled example through the built
// secslo binary with its embedded rule engine and no Prometheus. The engine
// sends its alerts to Debian's Alertmanager, which runs the generated
// routing with webhook receivers inside the test. The test kills secslo
// with SIGKILL while the page fires and again after it resolved, and
// restarts it on the same storage and ledger each time.

const (
	// engineE2EInterval is the engine's evaluation interval in the test.
	engineE2EInterval = time.Second
	// engineE2EWaitTimeout bounds each wait for the engine or Alertmanager.
	// Each wait took 10 seconds or less on a machine with two CPUs, and the
	// margin is for a loaded machine.
	engineE2EWaitTimeout = 90 * time.Second
	// engineQuietIntervals is how many evaluations the last run of secslo
	// makes before the test checks that the resolved page stayed resolved.
	// An alert that the engine sends at its first evaluation reaches the
	// webhook after the shortened group_wait of 1 second.
	engineQuietIntervals = 5
	// budgetRestartTolerance bounds how far the error budget remaining may
	// move from the last evaluation before a SIGKILL to the first after the
	// restart. The period's error ratio weighs the 18,000 recorded sums of
	// five backfilled hours. Each second of the burn adds one recorded sum,
	// which weighs at most as much as a backfilled one, with 39 instead of 3
	// of the 73 critical assets without logs, against a budget of 0.02. So
	// each second lowers the budget remaining by at most
	// (36/73)/18,000/0.02, about 0.0014, and the tolerance covers a restart
	// of about 15 seconds. A budget computed without the stored history
	// would be off by more than 20.
	budgetRestartTolerance = 0.02
)

// The series of the burned SLO that the test reads from the engine: the
// error budget remaining, the error ratio over the period, and the error
// budget, 1 minus the objective.
var (
	logCoverageSLO         = map[string]string{slo.LabelService: e2ePage[slo.LabelService], slo.LabelSLO: e2ePage[slo.LabelSLO]}
	logCoverageBudget      = series(slo.RecordBudgetRemaining, logCoverageSLO)
	logCoverageRatio       = series(slo.RecordErrorRatioPeriod, logCoverageSLO)
	logCoverageErrorBudget = series(slo.RecordErrorBudget, logCoverageSLO)
)

func TestEngineEndToEndPageAcrossSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("the engine end-to-end test builds secslo and runs for about 40 seconds; skipped with -short")
	}
	promtool := requireE2ETool(t, "promtool", "prometheus")
	alertmanagerBin := requireE2ETool(t, "prometheus-alertmanager", "prometheus-alertmanager")
	began := time.Now()

	dir := t.TempDir()
	secslo := buildSecslo(t, dir)
	config := copyExample(t, filepath.Join(dir, "example"))
	out := filepath.Join(dir, "out")
	generateExample(t, config.file, out)
	dataDir := filepath.Join(filepath.Dir(config.file), "data")

	path := pagePath{pageReceiver: config.pageReceiver, ticketReceiver: config.ticketReceiver}
	generated, err := os.ReadFile(filepath.Join(out, "alertmanager", "alertmanager.yml"))
	if err != nil {
		t.Fatal(err)
	}
	routing := startRouting(t, alertmanagerBin, "generated", "", webhookRouting(t, generated, path, nil))

	// A serve without the engine reports the example's values, from which
	// the clean history is computed. The TSDB reads blocks only when it
	// opens, so the history is written before the engine first starts.
	addr := freeAddress(t)
	storage := filepath.Join(dir, "engine")
	reference := startServeProcess(t, secslo, config.file, filepath.Join(dir, "reference-ledger.db"), addr, "--engine.disabled")
	reference.waitReady(t, addr)
	backfillCleanHistoryEvery(t, promtool, filepath.Join(storage, "tsdb"), filepath.Join(out, "rules", "security-posture.yml"), addr, engineE2EInterval)
	reference.stop(t)

	run := &engineRun{t: t, bin: secslo, config: config.file, ledger: filepath.Join(dir, "ledger", "secslo-ledger.db"), addr: addr,
		flags:   []string{"--storage.path=" + storage, "--engine.evaluation-interval=" + engineE2EInterval.String(), "--alertmanager.url=" + routing.process.url},
		routing: routing}
	firstStart := run.start()
	watchCtx, stopWatching := context.WithCancel(context.Background())
	defer stopWatching()
	routing.watcher = watchInhibition(watchCtx, routing.process.url, e2ePage, e2eTicket)

	// The example's log coverage (70 of 73 critical assets, against 98 %)
	// fires its ticket and no page.
	run.wait("the log coverage ticket to fire in the engine", func() (bool, error) { return run.alertFiring(e2eTicket) })
	if firing, err := run.alertFiring(e2ePage); err != nil || firing {
		t.Fatalf("page alert of log coverage is firing=%t before the burn (err %v), want inactive", firing, err)
	}

	lastSeen := filepath.Join(dataDir, "last-seen.csv")
	original, err := os.ReadFile(lastSeen)
	if err != nil {
		t.Fatal(err)
	}
	burned, noncompliant := stopHalfTheCriticalAssets(t, dataDir, original)
	replaceFile(t, lastSeen, burned)
	run.wait(fmt.Sprintf("secslo to report %g assets without logs", noncompliant), func() (bool, error) {
		return logCoverageNoncompliant(t, addr) == noncompliant, nil
	})
	run.wait("the log coverage page to fire in the engine", func() (bool, error) { return run.alertFiring(e2ePage) })
	firingFrom := time.Now()
	run.waitForPagePath(path)

	// SIGKILL while the page fires: the restarted engine continues the
	// error budget from the stored samples and recorded sums.
	budget := run.sampleAfter(logCoverageErrorBudget, firstStart)
	before := run.sampleAfter(logCoverageBudget, firstStart)
	ratioBefore := run.sampleAfter(logCoverageRatio, firstStart)
	history := run.budgetHistory(firstStart, before.at)
	t.Logf("before the kill, at %s: budget remaining %g, period error ratio %g, %d raw budget samples",
		before.at.Format(time.StampMilli), before.value, ratioBefore.value, history.count)
	run.kill()
	killedAt := time.Now()

	run.start()
	after := run.waitForSample(logCoverageBudget, killedAt)
	ratioAfter := run.sampleAfter(logCoverageRatio, killedAt)
	t.Logf("after the restart, at %s: budget remaining %g, period error ratio %g", after.at.Format(time.StampMilli), after.value, ratioAfter.value)
	checkBudgetContinues(t, budget.value, before, after, ratioBefore, ratioAfter)
	checkHistoryKept(t, history, run.budgetHistory(firstStart, before.at))

	// Once the data is repaired, the page resolves at Alertmanager and the
	// ticket that it inhibited is delivered again.
	replaceFile(t, lastSeen, original)
	run.wait("secslo to report the example's 3 assets without logs", func() (bool, error) {
		return logCoverageNoncompliant(t, addr) == 3, nil
	})
	run.wait("the log coverage page to resolve in the engine", func() (bool, error) {
		firing, err := run.alertFiring(e2ePage)
		return err == nil && !firing, err
	})
	firingUntil := time.Now()
	resolved := run.waitForNotification("the resolved page at the page receiver", func(n notification) bool {
		return hasLabelSubset(n.labels, e2ePage) && n.status == "resolved" && n.receiver == path.pageReceiver
	})
	run.waitForNotification("the ticket at the ticket receiver after the page resolved", func(n notification) bool {
		return hasLabelSubset(n.labels, e2eTicket) && n.status == "firing" && n.receiver == path.ticketReceiver && n.at.After(resolved.at)
	})

	// SIGKILL after the resolve: the restarted engine does not send the
	// resolved page as a new alert.
	run.kill()
	killedAt = time.Now()
	run.start()
	evaluated := run.waitForSample(logCoverageBudget, killedAt)
	run.waitForSample(logCoverageBudget, evaluated.at.Add(engineQuietIntervals*engineE2EInterval))
	firingAtEnd, err := run.alertFiring(e2ePage)
	if err != nil {
		t.Fatal(err)
	}
	stopWatching()
	<-routing.watcher.done
	run.current.stop(t)
	t.Logf("engine end-to-end test took %s", time.Since(began).Round(time.Second))

	notifications := routing.recorder.all()
	t.Run("page path through the generated routing", func(t *testing.T) {
		evidence := routingEvidence{notifications: notifications, samples: routing.watcher.all(), firingFrom: firingFrom, firingUntil: firingUntil}
		if err := checkPagePath(path, evidence); err != nil {
			t.Errorf("the page path from the engine through the generated routing failed:\n%v\nAlertmanager output:\n%s", err, routing.process.output)
		}
	})
	t.Run("page stays resolved after restart", func(t *testing.T) {
		if firingAtEnd {
			t.Errorf("engine lists the page alert of log coverage as firing %d evaluations after the restart that followed its resolve", engineQuietIntervals)
		}
		if err := checkNoFiringAfter(notifications, e2ePage, resolved.at); err != nil {
			t.Error(err)
		}
	})
	t.Run("alert log of each run", func(t *testing.T) {
		checkAlertLog(t, run.runs, e2ePage)
	})
}

// engineRun starts the secslo serve processes of the engine end-to-end
// test, one after another on the same address, storage and ledger, and
// reads the engine through its query API.
type engineRun struct {
	t                   *testing.T
	bin, config, ledger string
	addr                string
	flags               []string
	routing             *e2eRouting
	current             *serveProcess
	runs                []*serveProcess
}

// start starts a new secslo serve and returns when it began, once it is
// ready.
func (r *engineRun) start() time.Time {
	r.t.Helper()
	began := time.Now()
	r.current = startServeProcess(r.t, r.bin, r.config, r.ledger, r.addr, r.flags...)
	r.runs = append(r.runs, r.current)
	r.current.waitReady(r.t, r.addr)
	return began
}

// kill sends SIGKILL to the current secslo serve and waits until it is
// gone.
func (r *engineRun) kill() {
	r.t.Helper()
	r.current.kill(r.t)
	r.t.Logf("killed run %d with SIGKILL", len(r.runs))
}

func (r *engineRun) url() string {
	return "http://" + r.addr
}

// wait polls condition every 250 ms until it returns true. It fails when
// the current secslo exits or engineE2EWaitTimeout passes first, with the
// last error and the end of the secslo and Alertmanager output.
func (r *engineRun) wait(what string, condition func() (bool, error)) {
	r.t.Helper()
	deadline := time.Now().Add(engineE2EWaitTimeout)
	for {
		ok, err := condition()
		if ok {
			return
		}
		select {
		case <-r.current.exited:
			r.t.Fatalf("secslo serve exited while the test waited for %s; log:\n%s", what, r.current.logTail(40))
		default:
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out after %s waiting for %s (last error: %v); end of the secslo log:\n%s\nAlertmanager output:\n%s",
				engineE2EWaitTimeout, what, err, r.current.logTail(40), r.routing.process.output)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// alertFiring reports whether the engine's ALERTS series lists the alert
// with the labels of alert as firing.
func (r *engineRun) alertFiring(alert map[string]string) (bool, error) {
	selector := map[string]string{slo.LabelAlertState: slo.AlertStateFiring}
	for name, value := range alert {
		selector[name] = value
	}
	samples, err := queryEngine(r.url(), series(slo.MetricAlerts, selector), time.Time{})
	return len(samples) > 0, err
}

// engineSample is one sample of an instant query, at the time the sample
// was stored.
type engineSample struct {
	at    time.Time
	value float64
}

// latestSample returns the latest sample of the series that selector
// selects, or false when the engine has none within the lookback delta.
func (r *engineRun) latestSample(selector string) (engineSample, bool, error) {
	samples, err := queryEngine(r.url(), fmt.Sprintf("timestamp(%s)", selector), time.Time{})
	if err != nil || len(samples) == 0 {
		return engineSample{}, false, err
	}
	if len(samples) > 1 {
		return engineSample{}, false, fmt.Errorf("%s selects %d series, want 1", selector, len(samples))
	}
	at := time.UnixMilli(int64(math.Round(samples[0].value * 1000)))

	values, err := queryEngine(r.url(), selector, at)
	if err != nil || len(values) != 1 {
		return engineSample{}, false, fmt.Errorf("%s at %s returned %d samples (err %v), want 1", selector, at.Format(time.StampMilli), len(values), err)
	}
	return engineSample{at: at, value: values[0].value}, true, nil
}

// sampleAfter returns the latest sample of selector, which the engine must
// have stored after since.
func (r *engineRun) sampleAfter(selector string, since time.Time) engineSample {
	r.t.Helper()
	sample, ok, err := r.latestSample(selector)
	switch {
	case err != nil:
		r.t.Fatalf("failed to read %s from the engine: %v", selector, err)
	case !ok || !sample.at.After(since):
		r.t.Fatalf("engine has no sample of %s after %s; latest %v", selector, since.Format(time.StampMilli), sample)
	}
	return sample
}

// waitForSample waits until the engine has stored a sample of selector
// after since, and returns it.
func (r *engineRun) waitForSample(selector string, since time.Time) engineSample {
	r.t.Helper()
	var sample engineSample
	r.wait(fmt.Sprintf("a sample of %s after %s", selector, since.Format(time.StampMilli)), func() (bool, error) {
		latest, ok, err := r.latestSample(selector)
		sample = latest
		return ok && latest.at.After(since), err
	})
	return sample
}

// waitForPagePath waits until the page has reached the page receiver, and
// Alertmanager has since listed the ticket of the same SLO as suppressed
// and delivered the ticket of another SLO, which checkPagePath requires to
// happen while the page fires.
func (r *engineRun) waitForPagePath(path pagePath) {
	r.t.Helper()
	paged := r.waitForNotification("the page at the page receiver", func(n notification) bool {
		return hasLabelSubset(n.labels, e2ePage) && n.status == "firing" && n.receiver == path.pageReceiver
	})
	r.waitForNotification("the ticket of privilege drift at the ticket receiver while the page fires", func(n notification) bool {
		return hasLabelSubset(n.labels, e2eOtherTicket) && n.status == "firing" && n.receiver == path.ticketReceiver && n.at.After(paged.at)
	})
	r.wait("Alertmanager to list the ticket of log coverage as suppressed", func() (bool, error) {
		return slices.ContainsFunc(r.routing.watcher.all(), func(s inhibitionSample) bool {
			return s.at.After(paged.at) && s.ticketState == "suppressed"
		}), nil
	})
}

// waitForNotification waits until a webhook of the test's Alertmanager
// received a notification that match accepts, and returns the first.
func (r *engineRun) waitForNotification(what string, match func(notification) bool) notification {
	r.t.Helper()
	var found notification
	r.wait(what, func() (bool, error) {
		notifications := r.routing.recorder.all()
		i := slices.IndexFunc(notifications, match)
		if i < 0 {
			return false, nil
		}
		found = notifications[i]
		return true, nil
	})
	return found
}

// budgetHistory is what the engine returns for the budget remaining of log
// coverage over one time range.
type budgetHistory struct {
	start, end time.Time
	// points are the values of a range query at a step of one evaluation
	// interval.
	points []promSample
	// count is the number of raw samples in the range.
	count int
}

// budgetHistory reads the budget remaining of log coverage from start to
// end through the query API: a range query and count_over_time.
func (r *engineRun) budgetHistory(start, end time.Time) budgetHistory {
	r.t.Helper()
	start = start.Truncate(time.Second)
	history := budgetHistory{start: start, end: end}

	params := url.Values{
		"query": {logCoverageBudget},
		"start": {formatAPITime(start)},
		"end":   {formatAPITime(end)},
		"step":  {strconv.FormatFloat(engineE2EInterval.Seconds(), 'f', -1, 64)},
	}
	var matrix []promSeries
	if err := queryPrometheusAPI(r.url(), "query_range", params, &matrix); err != nil {
		r.t.Fatalf("failed to run a range query on the engine: %v", err)
	}
	if len(matrix) > 1 {
		r.t.Fatalf("range query of %s returned %d series, want at most 1", logCoverageBudget, len(matrix))
	}
	if len(matrix) == 1 {
		points, err := matrix[0].samples()
		if err != nil {
			r.t.Fatalf("range query of %s: %v", logCoverageBudget, err)
		}
		history.points = points
	}

	window := end.Sub(start).Truncate(time.Millisecond) + time.Millisecond
	count := fmt.Sprintf("count_over_time(%s[%dms])", logCoverageBudget, window.Milliseconds())
	samples, err := queryEngine(r.url(), count, end)
	if err != nil {
		r.t.Fatalf("failed to count the raw samples in the engine: %v", err)
	}
	if len(samples) == 1 {
		history.count = int(samples[0].value)
	}
	return history
}

// checkBudgetContinues checks that the budget remaining and the period
// error ratio of the first evaluation after the restart continue from the
// last before the kill, instead of restarting from the samples that the
// new process stored. The budget remaining is 1 - ratio/budget, so the
// ratio's tolerance is budget times the budget remaining's.
func checkBudgetContinues(t *testing.T, budget float64, before, after, ratioBefore, ratioAfter engineSample) {
	t.Helper()
	if diff := math.Abs(after.value - before.value); diff > budgetRestartTolerance {
		t.Errorf("budget remaining of log coverage is %g after the restart and was %g before the kill, %g apart; want at most %g apart",
			after.value, before.value, diff, budgetRestartTolerance)
	}
	if diff := math.Abs(ratioAfter.value - ratioBefore.value); diff > budgetRestartTolerance*budget {
		t.Errorf("period error ratio of log coverage is %g after the restart and was %g before the kill, %g apart; want at most %g apart",
			ratioAfter.value, ratioBefore.value, diff, budgetRestartTolerance*budget)
	}
}

// checkHistoryKept checks that the restarted engine returns the budget
// history that the killed one returned, except for the last evaluation
// interval before the kill, whose samples SIGKILL may have lost.
func checkHistoryKept(t *testing.T, before, after budgetHistory) {
	t.Helper()
	if len(before.points) == 0 {
		t.Fatalf("range query of %s from %s to %s returned no points before the kill", logCoverageBudget,
			before.start.Format(time.StampMilli), before.end.Format(time.StampMilli))
	}

	kept := map[int64]float64{}
	for _, p := range after.points {
		kept[p.ms] = p.value
	}
	lossAllowedFrom := before.end.Add(-engineE2EInterval).UnixMilli()
	var missing, changed []string
	for _, p := range before.points {
		value, ok := kept[p.ms]
		switch {
		case p.ms > lossAllowedFrom:
		case !ok:
			missing = append(missing, time.UnixMilli(p.ms).Format(time.StampMilli))
		case value != p.value:
			changed = append(changed, fmt.Sprintf("%s: %g, was %g", time.UnixMilli(p.ms).Format(time.StampMilli), value, p.value))
		}
	}
	if len(missing) > 0 || len(changed) > 0 {
		t.Errorf("after the restart, the range query of %s over the %d points before the kill lacks %d points %s and changed %d %s",
			logCoverageBudget, len(before.points), len(missing), firstItems(missing), len(changed), firstItems(changed))
	}
	if after.count < before.count-1 {
		t.Errorf("after the restart, the engine stores %d raw samples of %s from %s to %s, and stored %d before the kill; want at most one lost",
			after.count, logCoverageBudget, before.start.Format(time.StampMilli), before.end.Format(time.StampMilli), before.count)
	}
}

// firstItems formats the first five items, enough to see a pattern.
func firstItems(items []string) string {
	const shown = 5
	if len(items) <= shown {
		return fmt.Sprint(items)
	}
	return fmt.Sprintf("%v and %d more", items[:shown], len(items)-shown)
}

// checkNoFiringAfter returns an error that lists every firing notification
// of alert that Alertmanager delivered after resolvedAt.
func checkNoFiringAfter(notifications []notification, alert map[string]string, resolvedAt time.Time) error {
	var errs []error
	for _, n := range notifications {
		if hasLabelSubset(n.labels, alert) && n.status == "firing" && n.at.After(resolvedAt) {
			errs = append(errs, fmt.Errorf("page alert reached receiver %q as firing at %s, after its resolved notification at %s",
				n.receiver, n.at.Format(time.StampMilli), resolvedAt.Format(time.StampMilli)))
		}
	}
	return errors.Join(errs...)
}

// checkAlertLog checks the "alert firing" and "alert resolved" log lines
// of the page alert in the three runs. The first run logs the page firing.
// The second, started while the page fired, logs it firing and resolving.
// The third, started after the resolve, logs nothing of the page.
func checkAlertLog(t *testing.T, runs []*serveProcess, page map[string]string) {
	t.Helper()
	if len(runs) != 3 {
		t.Fatalf("test started %d runs with the engine, want 3", len(runs))
	}
	want := []struct {
		run              int
		firing, resolved bool
	}{
		{1, true, false},
		{2, true, true},
		{3, false, false},
	}
	for _, w := range want {
		lines := runs[w.run-1].alertLogLines(page)
		if got := lines["alert firing"] > 0; got != w.firing {
			t.Errorf("run %d logged \"alert firing\" of the page %d times, want logged=%t", w.run, lines["alert firing"], w.firing)
		}
		if got := lines["alert resolved"] > 0; got != w.resolved {
			t.Errorf("run %d logged \"alert resolved\" of the page %d times, want logged=%t", w.run, lines["alert resolved"], w.resolved)
		}
	}
}

// alertLogLines counts the log lines of each message about the alert whose
// labels contain alert.
func (p *serveProcess) alertLogLines(alert map[string]string) map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	counts := map[string]int{}
	for _, line := range p.log {
		var entry struct {
			Msg    string `json:"msg"`
			Labels string `json:"labels"`
		}
		if json.Unmarshal([]byte(line), &entry) != nil || entry.Labels == "" {
			continue
		}
		ls, err := slo.PromQL.ParseMetric(entry.Labels)
		if err == nil && hasLabelSubset(ls.Map(), alert) {
			counts[entry.Msg]++
		}
	}
	return counts
}

// waitReady returns once /-/ready of the process at addr returns 200, and
// fails when the process exits or e2eStartTimeout passes first.
func (p *serveProcess) waitReady(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(e2eStartTimeout)
	for {
		select {
		case <-p.exited:
			t.Fatalf("secslo serve exited before /-/ready returned 200; log:\n%s", p.logTail(40))
		default:
		}
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/-/ready of secslo serve did not return 200 within %s; log:\n%s", e2eStartTimeout, p.logTail(40))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// logTail returns the last n log lines above debug level, which leaves out
// the line that every refresh of every source logs.
func (p *serveProcess) logTail(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var lines []string
	for _, line := range slices.Backward(p.log) {
		if len(lines) == n {
			break
		}
		if !strings.Contains(line, `"level":"DEBUG"`) {
			lines = append(lines, line)
		}
	}
	slices.Reverse(lines)
	return strings.Join(lines, "\n")
}

// queryEngine runs an instant query through the query API at base, at the
// time at or now when at is zero, and returns the values of the vector.
func queryEngine(base, query string, at time.Time) ([]engineSample, error) {
	params := url.Values{"query": {query}}
	if !at.IsZero() {
		params.Set("time", formatAPITime(at))
	}
	var vector []struct {
		Value [2]any `json:"value"`
	}
	if err := queryPrometheusAPI(base, "query", params, &vector); err != nil {
		return nil, err
	}

	samples := make([]engineSample, 0, len(vector))
	for _, v := range vector {
		seconds, ok := v.Value[0].(float64)
		text, ok2 := v.Value[1].(string)
		if !ok || !ok2 {
			return nil, fmt.Errorf("invalid sample %v in the result of %s", v.Value, query)
		}
		value, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return nil, fmt.Errorf("invalid value in the result of %s: %w", query, err)
		}
		samples = append(samples, engineSample{at: time.UnixMilli(int64(math.Round(seconds * 1000))), value: value})
	}
	return samples, nil
}

// formatAPITime formats t as the query API's Unix seconds with
// milliseconds.
func formatAPITime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}
