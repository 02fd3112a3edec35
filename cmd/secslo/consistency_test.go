package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secslo/secslo/slo"
)

// The consistency test runs the embedded engine and Debian's Prometheus
// side by side on the same data. Both start from the same backfilled
// blocks. Prometheus scrapes the secslo serve whose engine it is compared
// with, and it evaluates the rule files that this engine evaluates. The
// test then compares the alerts and the error budgets of both.

// consistencyAlertSlack is how far apart the two may start the same alert.
// Each samples the exporter on its own timer with the same interval, so
// before the burn one of them may hold one clean sample more than the
// other, and after it one burned sample more. The 1h error ratio is a ratio
// of sums of 5-minute sums, and in the test's short history every one of
// those sums starts at the first sample. So with k clean samples the page
// needs about 2.4 k burned ones, and one clean sample more moves the page
// by about 2.4 intervals. With one more
// interval for the burn's edge and one for the evaluation phase, the page
// may start 4.4 intervals apart (measured: 0.2 to 6.5 seconds at a
// 2-second interval). With the same samples the two evaluate the same
// series: the budgets, which the test compares too, are equal.
const consistencyAlertSlack = 5 * e2eInterval

// consistencyBudgetTolerance bounds the difference between the budgets
// that the two compute for the same instant. Each evaluation adds one
// sample to the period's sums, against the 9,000 samples of the five
// backfilled hours. So one interval of phase moves a budget by about 1e-4
// of its burn, and the tolerance leaves an order of magnitude above that.
const consistencyBudgetTolerance = 2e-3

func TestEngineMatchesPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("the consistency test runs for about a minute; skipped with -short")
	}
	prometheusBin := requireE2ETool(t, "prometheus", "prometheus")
	promtool := requireE2ETool(t, "promtool", "prometheus")

	dir := filepath.Join(t.TempDir(), "example")
	config := copyExample(t, dir)
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), []string{"generate", "--config.file=" + config.file, "--output.dir=" + out, "--output.no-tests"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("generate exited with %d, want %d; stderr:\n%s", code, exitOK, stderr.String())
	}

	// The history comes from the example's values, as a serve without the
	// engine reports them. The engine's storage gets a copy of the blocks
	// that Prometheus gets.
	prometheusData := filepath.Join(t.TempDir(), "prometheus")
	backfillCleanHistory(t, promtool, prometheusData, filepath.Join(out, "rules", "security-posture.yml"), startE2EServe(t, config.file))
	storage := t.TempDir()
	if err := os.CopyFS(filepath.Join(storage, "tsdb"), os.DirFS(prometheusData)); err != nil {
		t.Fatalf("failed to copy the backfilled blocks: %v", err)
	}

	// Prometheus starts first and scrapes an address where nothing listens
	// yet, so that both keep their first live sample in the same interval.
	// Prometheus adds a target some seconds after it starts, so serve
	// starts once Prometheus reports the failed scrapes. Prometheus
	// evaluates the rule files that generate wrote for the services that
	// the engine evaluates, and the test checks that the engine's files
	// are the same.
	rulesDir := filepath.Join(t.TempDir(), "rules")
	for _, service := range []string{"security-posture", "incident-response"} {
		copyFile(t, filepath.Join(out, "rules", service+".yml"), filepath.Join(rulesDir, service+".yml"))
	}
	engineAddr := freeAddress(t)
	prometheus := startE2EPrometheus(t, prometheusBin, prometheusData, rulesDir, engineAddr, nil)
	waitForScrapes(t, prometheus, engineAddr)
	startServeOn(t, engineAddr, "--config.file="+config.file, "--storage.path="+storage,
		"--engine.evaluation-interval="+e2eInterval.String(), "--ledger.path="+filepath.Join(t.TempDir(), "ledger.db"))
	started := time.Now()
	t.Run("engine evaluates the generated rule files", func(t *testing.T) {
		compareFolders(t, filepath.Join(storage, "rules"), rulesDir)
	})
	servers := map[string]string{"engine": "http://" + engineAddr, "prometheus": prometheus.url}

	ctx, cancel := context.WithTimeout(context.Background(), e2eFlowTimeout)
	defer cancel()
	watch := watchFiring(ctx, servers)

	// The example's log coverage fires its ticket at once in both.
	watch.waitFor(t, e2eTicket)
	time.Sleep(3 * e2eInterval)
	compareBudgets(t, servers, time.Now().Add(-2*e2eInterval))

	lastSeen := filepath.Join(dir, "data", "last-seen.csv")
	original, err := os.ReadFile(lastSeen)
	if err != nil {
		t.Fatal(err)
	}
	burned, _ := stopHalfTheCriticalAssets(t, filepath.Join(dir, "data"), original)
	replaceFile(t, lastSeen, burned)
	watch.waitFor(t, e2ePage)
	time.Sleep(3 * e2eInterval)
	compareBudgets(t, servers, time.Now().Add(-2*e2eInterval))

	cancel()
	<-watch.done
	t.Run("same alerts at the same time", func(t *testing.T) {
		watch.compare(t, started, consistencyAlertSlack)
	})
	// Grafana's Prometheus data source can point at secslo itself.
	t.Run("dashboard queries run on the engine", func(t *testing.T) {
		checkDashboardQueries(t, "http://"+engineAddr, filepath.Join(out, "dashboards"))
	})
}

// waitForScrapes waits until Prometheus reports a scrape of target, failed
// or not.
func waitForScrapes(t *testing.T, prometheus *e2eProcess, target string) {
	t.Helper()
	query := fmt.Sprintf("up{instance=%q}", target)
	deadline := time.Now().Add(e2eStartTimeout)
	for time.Now().Before(deadline) {
		result, err := queryPrometheus(context.Background(), prometheus.url, query)
		if err == nil && !result.empty() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("Prometheus did not scrape %s within %s; output:\n%s", target, e2eStartTimeout, prometheus.output)
}

// copyFile copies from to to, creating the folder of to.
func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// compareFolders checks that two folders hold the same files with the
// same contents.
func compareFolders(t *testing.T, got, want string) {
	t.Helper()
	gotFiles, err := os.ReadDir(got)
	if err != nil {
		t.Fatal(err)
	}
	wantFiles, err := os.ReadDir(want)
	if err != nil {
		t.Fatal(err)
	}
	names := func(entries []os.DirEntry) []string {
		var out []string
		for _, e := range entries {
			out = append(out, e.Name())
		}
		return out
	}
	if !slices.Equal(names(gotFiles), names(wantFiles)) {
		t.Fatalf("%s holds %v, want %v", got, names(gotFiles), names(wantFiles))
	}
	for _, name := range names(wantFiles) {
		g, _ := os.ReadFile(filepath.Join(got, name))
		w, _ := os.ReadFile(filepath.Join(want, name))
		if !bytes.Equal(g, w) {
			t.Errorf("%s differs from %s", filepath.Join(got, name), filepath.Join(want, name))
		}
	}
}

// startServeWith runs secslo serve through Run with args on a free
// loopback port until the test ends, and returns its address once ready.
// It fails the test if serve exits with an error when the test ends.
func startServeWith(t *testing.T, args ...string) string {
	t.Helper()
	addr := freeAddress(t)
	startServeOn(t, addr, args...)
	return addr
}

// startServeOn is startServeWith on a given address.
func startServeOn(t *testing.T, addr string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuffer{}
	exit := make(chan int, 1)
	go func() {
		exit <- Run(ctx, append([]string{"serve", "--web.listen-address=" + addr}, args...), io.Discard, stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-exit:
			if code != exitOK {
				t.Errorf("serve exited with %d after cancel, want %d; log:\n%s", code, exitOK, stderr.String())
			}
		case <-time.After(shutdownTimeout + 5*time.Second):
			t.Errorf("serve did not return within %s of cancel", shutdownTimeout+5*time.Second)
		}
	})
	if err := pollReady(addr, e2eStartTimeout, exit); err != nil {
		t.Fatalf("%v; log:\n%s", err, stderr.String())
	}
}

// firingWatch records when each server first listed each firing alert.
type firingWatch struct {
	servers map[string]string
	done    chan struct{}
	// first maps server name to alert key to the first time it was seen.
	first  map[string]map[string]time.Time
	update chan struct{}
	mu     sync.Mutex
}

func watchFiring(ctx context.Context, servers map[string]string) *firingWatch {
	w := &firingWatch{servers: servers, done: make(chan struct{}), first: map[string]map[string]time.Time{}, update: make(chan struct{}, 1)}
	for name := range servers {
		w.first[name] = map[string]time.Time{}
	}
	go func() {
		defer close(w.done)
		for ctx.Err() == nil {
			w.poll(ctx)
			time.Sleep(200 * time.Millisecond)
		}
	}()
	return w
}

// alertKey names an alert by the labels that tell the test's alerts apart.
func alertKey(labels map[string]string) string {
	return fmt.Sprintf("%s{%s=%q,%s=%q}", labels[slo.LabelAlertName], slo.LabelSLO, labels[slo.LabelSLO], slo.LabelTier, labels[slo.LabelTier])
}

func (w *firingWatch) poll(ctx context.Context) {
	query := fmt.Sprintf("%s{%s=%q}", slo.MetricAlerts, slo.LabelAlertState, slo.AlertStateFiring)
	for name, url := range w.servers {
		result, err := queryPrometheus(ctx, url, query)
		if err != nil {
			continue
		}
		var series []struct {
			Metric map[string]string `json:"metric"`
		}
		if err := json.Unmarshal(result.Data.Result, &series); err != nil {
			continue
		}
		now := time.Now()
		w.mu.Lock()
		for _, s := range series {
			key := alertKey(s.Metric)
			if _, seen := w.first[name][key]; !seen {
				w.first[name][key] = now
			}
		}
		w.mu.Unlock()
	}
}

// waitFor waits until every server lists the alert whose labels contain
// selector as firing.
func (w *firingWatch) waitFor(t *testing.T, selector map[string]string) {
	t.Helper()
	key := alertKey(map[string]string{slo.LabelAlertName: "", slo.LabelSLO: selector[slo.LabelSLO], slo.LabelTier: selector[slo.LabelTier]})
	for {
		if w.allSee(key) {
			return
		}
		select {
		case <-w.done:
			t.Fatalf("timed out waiting for every server to fire %s; seen: %v", key, w.snapshot())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (w *firingWatch) allSee(suffix string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, first := range w.first {
		if !slices.ContainsFunc(keysOf(first), func(k string) bool { return strings.HasSuffix(k, suffix) }) {
			return false
		}
	}
	return true
}

func (w *firingWatch) snapshot() map[string][]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string][]string{}
	for name, first := range w.first {
		out[name] = keysOf(first)
	}
	return out
}

// compare checks that both servers fired the same alerts, and each within
// slack of the other. Prometheus runs before the engine starts, so an
// alert that the backfilled history alone fires is firing in Prometheus
// before the engine runs. The rules manager, in Prometheus and in the
// engine, writes a group's alerts only from its second evaluation on,
// after it has restored their state. So times before the engine's third
// interval count as that time.
func (w *firingWatch) compare(t *testing.T, start time.Time, slack time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	engine, prometheus := w.first["engine"], w.first["prometheus"]
	if !slices.Equal(keysOf(engine), keysOf(prometheus)) {
		t.Errorf("firing alerts differ:\nengine:     %v\nprometheus: %v", keysOf(engine), keysOf(prometheus))
	}
	for key, at := range engine {
		other, ok := prometheus[key]
		if !ok {
			continue
		}
		warm := start.Add(3 * e2eInterval)
		at, other = maxTime(at, warm), maxTime(other, warm)
		diff := at.Sub(other).Abs()
		t.Logf("%s: engine fired %s %s Prometheus", key, diff.Round(time.Millisecond), map[bool]string{true: "after", false: "before"}[at.After(other)])
		if diff > slack {
			t.Errorf("%s fired %s apart in the engine and in Prometheus, want at most %s", key, diff.Round(time.Millisecond), slack)
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func keysOf(m map[string]time.Time) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// compareBudgets checks that both servers return the same error budget
// remaining for every SLO at the instant at.
func compareBudgets(t *testing.T, servers map[string]string, at time.Time) {
	t.Helper()
	budgets := map[string]map[string]float64{}
	for name, url := range servers {
		budgets[name] = queryBudgets(t, url, at)
	}

	engine, prometheus := budgets["engine"], budgets["prometheus"]
	if len(engine) == 0 {
		t.Fatalf("the engine returned no budgets at %s", at)
	}
	for key, want := range prometheus {
		got, ok := engine[key]
		switch {
		case !ok:
			t.Errorf("%s: Prometheus returns a budget of %g, the engine none", key, want)
		case math.Abs(got-want) > consistencyBudgetTolerance:
			t.Errorf("%s: the engine returns a budget of %.6f, Prometheus %.6f; want at most %g apart", key, got, want, consistencyBudgetTolerance)
		default:
			t.Logf("%s: budget %.6f in the engine, %.6f in Prometheus", key, got, want)
		}
	}
	for key := range engine {
		if _, ok := prometheus[key]; !ok {
			t.Errorf("%s: the engine returns a budget, Prometheus none", key)
		}
	}
}

func queryBudgets(t *testing.T, url string, at time.Time) map[string]float64 {
	t.Helper()
	result, err := queryPrometheusAt(context.Background(), url, slo.RecordBudgetRemaining, at)
	if err != nil {
		t.Fatalf("failed to query %s: %v", url, err)
	}
	var series []struct {
		Metric map[string]string `json:"metric"`
		Value  [2]any            `json:"value"`
	}
	if err := json.Unmarshal(result.Data.Result, &series); err != nil {
		t.Fatalf("%s returned %s: %v", url, result.Data.Result, err)
	}

	budgets := map[string]float64{}
	for _, s := range series {
		var v float64
		if _, err := fmt.Sscan(s.Value[1].(string), &v); err != nil {
			t.Fatalf("%s returned value %v: %v", url, s.Value, err)
		}
		budgets[s.Metric[slo.LabelService]+"/"+s.Metric[slo.LabelSLO]] = v
	}
	return budgets
}
