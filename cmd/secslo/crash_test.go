package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/secslo/secslo/slo"
)

// The crash test runs the built secslo binary as a child process over a
// large incident export, kills it with SIGKILL while a refresh runs, and
// starts it again on the same ledger with a newer export. Debian's
// Prometheus scrapes every run on the same address, so the test reads the
// counters across the restarts as a dashboard would.

const (
	// crashIncidents is the size of the first export. Its 400,000 events
	// took 1.4 to 3.7 s to read and commit the first time, measured by this
	// test on a loaded machine with two CPUs, which leaves room to kill
	// secslo inside a refresh.
	crashIncidents = 200_000
	// crashDropped is how many of the oldest incidents of the first export
	// the newer, rolling export no longer lists.
	crashDropped = 50_000
	// crashNewIncidents is how many incidents only the newer export lists.
	crashNewIncidents = 1_000
	// crashRefreshInterval is the refresh interval of the test's source. A
	// refresh that takes longer is cancelled, so it leaves a wide margin over
	// the first refresh.
	crashRefreshInterval = 10 * time.Second
	// crashSource is the source name, the source label of every series.
	crashSource = "incidents"
	// crashWaitTimeout bounds each wait for a log line or a counter value.
	crashWaitTimeout = 60 * time.Second
)

// Bounds of the incident SLIs, the defaults of the incidents source.
const (
	crashDetectionBound   = 15 * time.Minute
	crashContainmentBound = 4 * time.Hour
)

func TestServeCountsEventsOnceAcrossSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("the crash test builds secslo and runs it six times over 200,000 incidents; skipped with -short")
	}
	prometheusBin := requireE2ETool(t, "prometheus", "prometheus")
	began := time.Now()
	dir := t.TempDir()
	secslo := buildSecslo(t, dir)

	base := time.Now().UTC().Truncate(time.Second).Add(-72 * time.Hour)
	first, newer := crashExports(base)
	writeIncidentCSV(t, filepath.Join(dir, "incidents-1.csv"), first)
	writeIncidentCSV(t, filepath.Join(dir, "incidents-2.csv"), newer)
	firstConfig := writeCrashConfig(t, dir, "first.yaml", "incidents-1.csv")
	bothConfig := writeCrashConfig(t, dir, "both.yaml", "incidents-1.csv", "incidents-2.csv")
	rollingConfig := writeCrashConfig(t, dir, "rolling.yaml", "incidents-2.csv")
	ledger := filepath.Join(dir, "state", "ledger.db")

	wantFirst := expectedCounters(first)
	wantFinal := expectedCounters(first, newer)
	t.Logf("counters after the first export: %v; after the newer one: %v", wantFirst, wantFinal)

	addr := freeAddress(t)
	prometheus := startCrashPrometheus(t, prometheusBin, filepath.Join(dir, "prometheus"), addr)
	poller := pollCounters(addr)
	t.Cleanup(poller.stop)

	// Run 1 counts the first export and is killed during its second
	// refresh, which starts one interval after the ticker started, a few
	// milliseconds around the "started source" line. That refresh re-reads
	// a counted export and took about 55 % as long as the first, so a delay
	// of 10 to 25 % of the first refresh lands inside it.
	run := startServeProcess(t, secslo, firstConfig, ledger, addr, "--engine.disabled")
	started := run.waitStarted(t)
	committed := run.waitCommits(t, 1)[0]
	firstRefresh := committed.Sub(started)
	poller.waitFor(t, wantFirst, committed)
	t.Logf("run 1 counted the first export in %s", firstRefresh.Round(time.Millisecond))
	delay := crashRefreshInterval + time.Duration((0.1+0.15*rand.Float64())*float64(firstRefresh))
	time.Sleep(time.Until(started.Add(delay)))
	run.kill(t)
	if n := run.commitCount(); n != 1 {
		t.Errorf("run 1 was killed %s after start, after its refresh %d committed; want the kill inside refresh 2 (refresh 1 took %s)",
			delay, n, firstRefresh)
	}

	// Runs 2 to 4 start on both exports, so their first refresh counts the
	// events that only the newer export has, and each is killed during that
	// refresh. The refresh took 70 to 90 % as long as the first refresh of
	// run 1, so run 2, killed at random early on, dies before its commit.
	// Run 3 is killed as soon as its commit starts writing the ledger file,
	// inside the bbolt transaction. Run 4 is killed at random within 40 ms
	// of that moment, while bbolt writes and syncs the file or just after.
	for n := 2; n <= 4; n++ {
		run := startServeProcess(t, secslo, bothConfig, ledger, addr, "--engine.disabled")
		started := run.waitStarted(t)
		t.Logf("run %d started with the counters of %s", n, describeCounters(scrapeAtStart(t, addr), wantFirst, wantFinal))

		var moment string
		switch n {
		case 2:
			moment = killAfter(t, run, started, (0.1+0.25*rand.Float64())*firstRefresh.Seconds())
		case 3:
			moment = killAtLedgerWrite(t, run, started, started.Add(2*firstRefresh), 0)
		case 4:
			moment = killAtLedgerWrite(t, run, started, started.Add(2*firstRefresh), time.Duration(rand.Float64()*float64(40*time.Millisecond)))
		}

		landed := "inside its first refresh"
		if run.commitCount() > 0 {
			landed = fmt.Sprintf("after its first commit, which counted %d events", run.counted())
		}
		t.Logf("run %d killed %s, %s", n, moment, landed)
		if n == 2 && run.commitCount() > 0 {
			t.Errorf("run 2 was killed %s, after its first commit; want the kill inside the refresh (refresh 1 of run 1 took %s)", moment, firstRefresh)
		}
	}

	// Run 5 reads both exports to the end and is killed when idle. Run 6
	// reads the newer export alone, as a rolling export that dropped the
	// oldest incidents. Once the newer export is counted, neither run may
	// change a counter.
	run = startServeProcess(t, secslo, bothConfig, ledger, addr, "--engine.disabled")
	started = run.waitStarted(t)
	t.Logf("run 5 started with the counters of %s", describeCounters(scrapeAtStart(t, addr), wantFirst, wantFinal))
	committed = run.waitCommits(t, 1)[0]
	poller.waitFor(t, wantFinal, committed)
	t.Logf("run 5 read both exports in %s and counted %d events", committed.Sub(started).Round(time.Millisecond), run.counted())
	run.kill(t)

	run = startServeProcess(t, secslo, rollingConfig, ledger, addr, "--engine.disabled")
	rollingStarted := run.waitStarted(t)
	poller.waitFor(t, wantFinal, run.waitCommits(t, 1)[0])
	samples := waitForPrometheusSamples(t, prometheus.url, wantFinal, rollingStarted)
	run.stop(t)
	poller.stop()

	checkPolledCounters(t, poller.all(), wantFirst, wantFinal)
	checkPrometheusCounters(t, prometheus.url, samples, wantFirst, wantFinal)
	checkRangeQuery(t, prometheus.url, began)
	t.Logf("crash test took %s", time.Since(began).Round(time.Millisecond))
}

// buildSecslo builds this package into dir and returns the binary's path.
func buildSecslo(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "secslo")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build failed: %v\n%s", err, out)
	}
	return bin
}

// incidentRow is one line of a generic incident CSV. A zero time is an
// empty field.
type incidentRow struct {
	id                            string
	occurred, detected, contained time.Time
}

// syntheticIncident returns incident i, which began i seconds after base.
// Every 11th incident is not detected yet, and every 7th of the others not
// contained. Every 3rd detection takes 20 minutes, which misses the
// 15-minute bound, and every 5th containment takes 5 hours, which misses
// the 4-hour bound.
func syntheticIncident(base time.Time, i int) incidentRow {
	row := incidentRow{id: fmt.Sprintf("INC-%07d", i), occurred: base.Add(time.Duration(i) * time.Second)}
	if i%11 == 0 {
		return row
	}
	row.detected = row.occurred.Add(5 * time.Minute)
	if i%3 == 0 {
		row.detected = row.occurred.Add(20 * time.Minute)
	}
	if i%7 == 0 {
		return row
	}
	row.contained = row.detected.Add(time.Hour)
	if i%5 == 0 {
		row.contained = row.detected.Add(5 * time.Hour)
	}
	return row
}

// crashExports returns the first export, incidents 0 to crashIncidents-1,
// and a newer one. The newer export drops the oldest crashDropped
// incidents, repeats the rest, contains every even one that the first
// export left uncontained, and adds crashNewIncidents new ones.
func crashExports(base time.Time) (first, newer []incidentRow) {
	for i := range crashIncidents {
		first = append(first, syntheticIncident(base, i))
	}
	for i := crashDropped; i < crashIncidents; i++ {
		row := syntheticIncident(base, i)
		if !row.detected.IsZero() && row.contained.IsZero() && i%2 == 0 {
			row.contained = row.detected.Add(2 * time.Hour)
		}
		newer = append(newer, row)
	}
	for i := crashIncidents; i < crashIncidents+crashNewIncidents; i++ {
		newer = append(newer, syntheticIncident(base, i))
	}
	return first, newer
}

// writeIncidentCSV writes rows as a generic incident CSV, then reads the
// file once. That sets its access time now, so that under the relatime
// mount option, the Linux default, the reads of secslo change no access
// time, which killAtLedgerWrite would take for a ledger write.
func writeIncidentCSV(t *testing.T, file string, rows []incidentRow) {
	t.Helper()
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(f)
	formatTime := func(at time.Time) string {
		if at.IsZero() {
			return ""
		}
		return at.Format(time.RFC3339)
	}

	_ = w.Write([]string{"id", "occurred_at", "detected_at", "contained_at"})
	for _, row := range rows {
		_ = w.Write([]string{row.id, formatTime(row.occurred), formatTime(row.detected), formatTime(row.contained)})
	}
	w.Flush()
	if err := errors.Join(w.Error(), f.Close()); err != nil {
		t.Fatalf("failed to write %s: %v", file, err)
	}

	f, err = os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Read(make([]byte, 1)); err != nil {
		t.Fatalf("failed to read %s: %v", file, err)
	}
}

// writeCrashConfig writes a secslo config with one incidents source over
// paths and returns its path.
func writeCrashConfig(t *testing.T, dir, name string, paths ...string) string {
	t.Helper()
	config := map[string]any{"sources": []any{map[string]any{
		"name":             crashSource,
		"type":             "incidents",
		"refresh_interval": crashRefreshInterval.String(),
		"paths":            paths,
		"options":          map[string]any{"format": "csv"},
	}}}
	data, err := yaml.Marshal(config)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, name)
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// counterKey names one of the four counters of the test's source.
type counterKey struct {
	metric, sli string
}

func (k counterKey) String() string {
	return fmt.Sprintf("%s{sli=%q}", k.metric, k.sli)
}

// counterValues are the values of the counters of the test's source.
type counterValues map[counterKey]float64

func (v counterValues) String() string {
	keys := slices.SortedFunc(maps.Keys(v), func(a, b counterKey) int { return strings.Compare(a.String(), b.String()) })
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%g", k, v[k]))
	}
	return strings.Join(parts, " ")
}

// expectedCounters returns the counters that the ledger must reach after
// reading exports: every distinct closed event once, bad when it took
// longer than its bound. An incident listed in several exports counts by
// its first closed copy, and a dropped incident keeps its count.
func expectedCounters(exports ...[]incidentRow) counterValues {
	detections := map[string]time.Duration{}
	containments := map[string]time.Duration{}
	for _, rows := range exports {
		for _, row := range rows {
			if _, counted := detections[row.id]; !counted && !row.detected.IsZero() {
				detections[row.id] = row.detected.Sub(row.occurred)
			}
			if _, counted := containments[row.id]; !counted && !row.contained.IsZero() {
				containments[row.id] = row.contained.Sub(row.detected)
			}
		}
	}

	values := counterValues{}
	tally := func(sli string, durations map[string]time.Duration, bound time.Duration) {
		values[counterKey{slo.MetricEvents, sli}] = float64(len(durations))
		bad := 0
		for _, d := range durations {
			if d > bound {
				bad++
			}
		}
		values[counterKey{slo.MetricBadEvents, sli}] = float64(bad)
	}
	tally(slo.SLIDetectionTime, detections, crashDetectionBound)
	tally(slo.SLIContainmentTime, containments, crashContainmentBound)
	return values
}

// serveProcess is one secslo serve child process. It reads the process's
// JSON log as it arrives and notes when the lines that mark a refresh come.
type serveProcess struct {
	cmd    *exec.Cmd
	exited chan struct{}

	mu      sync.Mutex
	log     []string
	started time.Time   // when the "started source" line arrived
	commits []time.Time // when each "committed events" line arrived
	// countedEvents sums the counted field of the commit lines.
	countedEvents int
}

// startServeProcess starts bin serve with config and ledger on addr and
// the further flags, at debug level so that every commit is logged. The
// process is killed when the test ends, if it still runs.
func startServeProcess(t *testing.T, bin, config, ledger, addr string, flags ...string) *serveProcess {
	t.Helper()
	p := &serveProcess{exited: make(chan struct{})}
	args := []string{"serve",
		"--config.file=" + config, "--ledger.path=" + ledger, "--web.listen-address=" + addr,
		"--log.level=debug", "--log.format=json"}
	p.cmd = exec.Command(bin, append(args, flags...)...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("failed to start %s: %v", bin, err)
	}
	go p.readLog(stderr)
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		p.checkNoErrorLogged(t)
	})
	return p
}

// readLog stores every log line until the process closes stderr, then
// waits for the process, as os/exec requires after reading a pipe.
func (p *serveProcess) readLog(stderr io.Reader) {
	scanner := bufio.NewScanner(stderr)
	scanner.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for scanner.Scan() {
		line := scanner.Text()
		var entry struct {
			Msg     string `json:"msg"`
			Counted int    `json:"counted"`
		}
		_ = json.Unmarshal([]byte(line), &entry)
		now := time.Now()

		p.mu.Lock()
		p.log = append(p.log, line)
		switch entry.Msg {
		case "started source":
			p.started = now
		case "committed events":
			p.commits = append(p.commits, now)
			p.countedEvents += entry.Counted
		}
		p.mu.Unlock()
	}
	// A line too long for the scanner ends the loop early. Reading on keeps
	// the process from blocking on a full pipe.
	_, _ = io.Copy(io.Discard, stderr)
	_ = p.cmd.Wait()
	close(p.exited)
}

func (p *serveProcess) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.log, "\n")
}

// counted returns how many events the logged commits counted.
func (p *serveProcess) counted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.countedEvents
}

func (p *serveProcess) commitCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.commits)
}

// waitFor polls done until it returns true, failing when the process exits
// or crashWaitTimeout passes first.
func (p *serveProcess) waitFor(t *testing.T, what string, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(crashWaitTimeout)
	for {
		p.mu.Lock()
		ok := done()
		p.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-p.exited:
			t.Fatalf("secslo serve exited while the test waited for %s; log:\n%s", what, p.logText())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; log:\n%s", crashWaitTimeout, what, p.logText())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitStarted returns when the "started source" line arrived. The first
// refresh starts right after that line.
func (p *serveProcess) waitStarted(t *testing.T) time.Time {
	t.Helper()
	p.waitFor(t, "the source to start", func() bool { return !p.started.IsZero() })
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.started
}

// waitCommits returns the arrival times of the first n commit lines.
func (p *serveProcess) waitCommits(t *testing.T, n int) []time.Time {
	t.Helper()
	p.waitFor(t, fmt.Sprintf("%d commits", n), func() bool { return len(p.commits) >= n })
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.commits[:n])
}

// kill sends SIGKILL and waits until the process is gone. It fails when
// the process had already exited, because then the kill tested nothing.
func (p *serveProcess) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("failed to send SIGKILL to secslo serve: %v; log:\n%s", err, p.logText())
	}
	<-p.exited
	status, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !status.Signaled() || status.Signal() != syscall.SIGKILL {
		t.Fatalf("secslo serve ended with %s before SIGKILL; log:\n%s", p.cmd.ProcessState, p.logText())
	}
}

// killAfter kills run the given number of seconds after started and
// describes when.
func killAfter(t *testing.T, run *serveProcess, started time.Time, seconds float64) string {
	t.Helper()
	delay := time.Duration(seconds * float64(time.Second))
	time.Sleep(time.Until(started.Add(delay)))
	run.kill(t)
	return fmt.Sprintf("at random, %s after start", delay.Round(time.Millisecond))
}

// killAtLedgerWrite kills run the given delay after it has written more
// than one page to files, or at deadline, and describes when. The kernel adds a file
// write to write_bytes of /proc/PID/io when the write dirties a page of the
// page cache, and counts no pipe or socket write. After its start, serve
// writes only the ledger, and bbolt writes it only when a transaction
// commits, so the count rises when the commit writes its pages. The one
// page allowed is for an access time update of an export, which
// writeIncidentCSV avoids under relatime. The count misses pages that are
// already dirty, but bbolt syncs the file at the end of each commit, so
// the next commit dirties clean pages.
func killAtLedgerWrite(t *testing.T, run *serveProcess, started, deadline time.Time, delay time.Duration) string {
	t.Helper()
	const pageSize = 4096
	before, err := run.writtenBytes()
	if err != nil {
		t.Logf("failed to read write_bytes (%v); killing at a random moment instead", err)
		return killAfter(t, run, started, rand.Float64()*deadline.Sub(started).Seconds())
	}
	for time.Now().Before(deadline) {
		if written, err := run.writtenBytes(); err == nil && written-before > pageSize {
			time.Sleep(delay)
			run.kill(t)
			return fmt.Sprintf("%s after the first ledger writes of its commit (%d bytes), %s after start",
				delay.Round(10*time.Microsecond), written-before, time.Since(started).Round(time.Millisecond))
		}
		time.Sleep(100 * time.Microsecond)
	}
	run.kill(t)
	return fmt.Sprintf("at the deadline, %s after start, without a ledger write", time.Since(started).Round(time.Millisecond))
}

// writtenBytes returns write_bytes from /proc/PID/io of the process.
func (p *serveProcess) writtenBytes() (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if value, ok := strings.CutPrefix(line, "write_bytes: "); ok {
			return strconv.ParseInt(value, 10, 64)
		}
	}
	return 0, fmt.Errorf("no write_bytes line in /proc/%d/io", p.cmd.Process.Pid)
}

// stop sends SIGTERM and checks that serve exits with status 0.
func (p *serveProcess) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("failed to send SIGTERM to secslo serve: %v", err)
	}
	select {
	case <-p.exited:
	case <-time.After(shutdownTimeout + 5*time.Second):
		t.Fatalf("secslo serve did not exit within %s of SIGTERM", shutdownTimeout+5*time.Second)
	}
	if code := p.cmd.ProcessState.ExitCode(); code != exitOK {
		t.Errorf("secslo serve exited with %d after SIGTERM, want %d; log:\n%s", code, exitOK, p.logText())
	}
}

// checkNoErrorLogged fails the test when the log has an error line, such
// as a refresh that failed or timed out and so committed nothing.
func (p *serveProcess) checkNoErrorLogged(t *testing.T) {
	for _, line := range strings.Split(p.logText(), "\n") {
		if strings.Contains(line, `"level":"ERROR"`) {
			t.Errorf("secslo serve logged an error: %s", line)
		}
	}
}

// scrapeCounters returns the counters of the test's source from one GET
// /metrics, or nil with an error while no server listens.
func scrapeCounters(ctx context.Context, addr string) (counterValues, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics returned %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("failed to parse /metrics: %w", err)
	}

	values := counterValues{}
	for _, name := range []string{slo.MetricEvents, slo.MetricBadEvents} {
		for _, m := range families[name].GetMetric() {
			labels := map[string]string{}
			for _, pair := range m.GetLabel() {
				labels[pair.GetName()] = pair.GetValue()
			}
			if labels["source"] == crashSource {
				values[counterKey{name, labels["sli"]}] = m.GetCounter().GetValue()
			}
		}
	}
	return values, nil
}

// scrapeAtStart returns the counters of the first scrape that lists them,
// polling every 10 ms while the server starts. Before the first commit of a
// run, they are the counters that the ledger file holds.
func scrapeAtStart(t *testing.T, addr string) counterValues {
	t.Helper()
	deadline := time.Now().Add(crashWaitTimeout)
	for {
		values, err := scrapeCounters(context.Background(), addr)
		if err == nil && len(values) > 0 {
			return values
		}
		if time.Now().After(deadline) {
			t.Fatalf("no scrape listed the counters within %s (last error: %v)", crashWaitTimeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// describeCounters returns which exports values are the counters of.
func describeCounters(values, wantFirst, wantFinal counterValues) string {
	switch values.String() {
	case wantFirst.String():
		return "the first export"
	case wantFinal.String():
		return "both exports"
	}
	return fmt.Sprintf("neither export: %v", values)
}

// counterPoll is one successful scrape of /metrics by the test.
type counterPoll struct {
	at     time.Time
	values counterValues
}

// counterPoller scrapes /metrics every 100 ms in the background, across
// every run and restart, and keeps each scrape that lists the counters.
type counterPoller struct {
	mu    sync.Mutex
	polls []counterPoll

	cancel context.CancelFunc
	done   chan struct{}
}

func pollCounters(addr string) *counterPoller {
	ctx, cancel := context.WithCancel(context.Background())
	p := &counterPoller{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if values, err := scrapeCounters(ctx, addr); err == nil && len(values) > 0 {
				p.mu.Lock()
				p.polls = append(p.polls, counterPoll{at: time.Now(), values: values})
				p.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

// stop ends the polling and waits for it. A second call does nothing.
func (p *counterPoller) stop() {
	p.cancel()
	<-p.done
}

func (p *counterPoller) all() []counterPoll {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.polls)
}

// waitFor returns once a scrape taken at or after since shows want. It
// fails at once when a counter went down or rose above want, because no
// later scrape can then be right.
func (p *counterPoller) waitFor(t *testing.T, want counterValues, since time.Time) {
	t.Helper()
	deadline := time.Now().Add(crashWaitTimeout)
	for {
		polls := p.all()
		if errs := decreases(polls); len(errs) > 0 {
			t.Fatal(errors.Join(errs...))
		}
		var last counterValues
		if n := len(polls); n > 0 && !polls[n-1].at.Before(since) {
			last = polls[n-1].values
		}
		if last.String() == want.String() {
			return
		}
		for key, value := range last {
			if value > want[key] {
				t.Fatalf("%s is %g, above the %g expected, so an event was counted more than once:\n got %v\nwant %v", key, value, want[key], last, want)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("counters did not reach their expected values within %s:\n got %v\nwant %v", crashWaitTimeout, last, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// decreases returns an error for every counter that went down from one
// scrape to the next.
func decreases(polls []counterPoll) []error {
	var errs []error
	for i := 1; i < len(polls); i++ {
		for key, value := range polls[i].values {
			if previous := polls[i-1].values[key]; value < previous {
				errs = append(errs, fmt.Errorf("%s went down from %g to %g in the scrape at %s", key, previous, value, polls[i].at.Format(time.StampMilli)))
			}
		}
	}
	return errs
}

// checkPolledCounters checks every scrape of the test: each shows the
// counters of a whole commit, either after the first export or after the
// newer one, and no counter ever goes down.
func checkPolledCounters(t *testing.T, polls []counterPoll, wantFirst, wantFinal counterValues) {
	t.Helper()
	if len(polls) == 0 {
		t.Fatal("no scrape of /metrics listed the counters")
	}
	t.Logf("%d scrapes of /metrics listed the counters", len(polls))

	for _, poll := range polls {
		if s := poll.values.String(); s != wantFirst.String() && s != wantFinal.String() {
			t.Errorf("scrape at %s shows counters of no whole commit:\n got %v\nwant %v\n  or %v",
				poll.at.Format(time.StampMilli), poll.values, wantFirst, wantFinal)
		}
	}
	for _, err := range decreases(polls) {
		t.Error(err)
	}
	if last := polls[len(polls)-1].values; last.String() != wantFinal.String() {
		t.Errorf("last scrape shows %v, want %v", last, wantFinal)
	}
}

// startCrashPrometheus starts Prometheus on a free loopback port, scraping
// secslo at target every second, with its storage in dataDir.
func startCrashPrometheus(t *testing.T, bin, dataDir, target string) *e2eProcess {
	t.Helper()
	addr := freeAddress(t)
	config := map[string]any{
		"global": map[string]any{"scrape_interval": "1s", "scrape_timeout": "1s"},
		"scrape_configs": []any{
			map[string]any{"job_name": "secslo", "static_configs": []any{map[string]any{"targets": []string{target}}}},
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
		"--config.file="+configFile, "--storage.tsdb.path="+dataDir, "--web.listen-address="+addr)
}

// promSample is one raw sample, with its timestamp in milliseconds as
// Prometheus stores it.
type promSample struct {
	ms    int64
	value float64
}

// promSeries is one series of a matrix result.
type promSeries struct {
	Metric map[string]string `json:"metric"`
	Values [][2]any          `json:"values"`
}

func (s promSeries) key() counterKey {
	return counterKey{s.Metric[model.MetricNameLabel], s.Metric["sli"]}
}

// samples converts the [seconds, "value"] pairs of the series.
func (s promSeries) samples() ([]promSample, error) {
	out := make([]promSample, 0, len(s.Values))
	for _, pair := range s.Values {
		seconds, ok := pair[0].(float64)
		text, ok2 := pair[1].(string)
		if !ok || !ok2 {
			return nil, fmt.Errorf("invalid sample %v", pair)
		}
		value, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return nil, err
		}
		out = append(out, promSample{ms: int64(math.Round(seconds * 1000)), value: value})
	}
	return out, nil
}

// crashSelector selects the four counters of the test's source.
var crashSelector = fmt.Sprintf(`{__name__=~"%s|%s",source=%q}`, slo.MetricEvents, slo.MetricBadEvents, crashSource)

// queryPrometheusAPI runs a query through the Prometheus HTTP API endpoint
// (query or query_range) with params and decodes a matrix or vector of
// series into v.
func queryPrometheusAPI(prometheusURL, endpoint string, params url.Values, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, prometheusURL+"/api/v1/"+endpoint, strings.NewReader(params.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()

	var result promQueryResult
	if err := json.NewDecoder(resp.Body).Decode(&result); err != nil {
		return fmt.Errorf("failed to decode the response (%s): %w", resp.Status, err)
	}
	if result.Status != "success" {
		return fmt.Errorf("query %q failed: %s: %s", params.Get("query"), result.ErrorType, result.Error)
	}
	return json.Unmarshal(result.Data.Result, v)
}

// rawSamples returns every raw sample of the four counters from the last
// ten minutes, which the test never exceeds.
func rawSamples(prometheusURL string) (map[counterKey][]promSample, error) {
	var series []promSeries
	if err := queryPrometheusAPI(prometheusURL, "query", url.Values{"query": {crashSelector + "[10m]"}}, &series); err != nil {
		return nil, err
	}
	out := map[counterKey][]promSample{}
	for _, s := range series {
		samples, err := s.samples()
		if err != nil {
			return nil, fmt.Errorf("series %v: %w", s.Metric, err)
		}
		out[s.key()] = samples
	}
	return out, nil
}

// waitForPrometheusSamples waits until Prometheus has stored, for every
// counter, at least two samples scraped after since with its final value,
// and returns every raw sample.
func waitForPrometheusSamples(t *testing.T, prometheusURL string, wantFinal counterValues, since time.Time) map[counterKey][]promSample {
	t.Helper()
	deadline := time.Now().Add(crashWaitTimeout)
	for {
		samples, err := rawSamples(prometheusURL)
		if err == nil && len(samples) == len(wantFinal) && finalSamplesScraped(samples, wantFinal, since) {
			return samples
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus did not scrape the final counters twice within %s (err %v); samples: %v", crashWaitTimeout, err, samples)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func finalSamplesScraped(samples map[counterKey][]promSample, wantFinal counterValues, since time.Time) bool {
	for key, want := range wantFinal {
		scraped := 0
		for _, s := range samples[key] {
			if s.ms >= since.UnixMilli() && s.value == want {
				scraped++
			}
		}
		if scraped < 2 {
			return false
		}
	}
	return true
}

// checkPrometheusCounters checks the raw samples of each counter and its
// increase() over the restarts.
//
// increase() extrapolates a range's first and last samples to its edges.
// The extrapolation adds nothing when the range starts exactly at the first
// raw sample and is evaluated exactly at the last one, because Prometheus
// 2.42, which the test runs, includes a sample that lies on the start of a
// range. So the test
// reads the raw samples first and evaluates increase() over exactly their
// span, which must then equal the last value minus the first.
func checkPrometheusCounters(t *testing.T, prometheusURL string, samples map[counterKey][]promSample, wantFirst, wantFinal counterValues) {
	t.Helper()
	for key, want := range wantFinal {
		series := samples[key]
		if len(series) < 2 {
			t.Errorf("%s has %d raw samples in Prometheus, want at least 2", key, len(series))
			continue
		}
		for i := 1; i < len(series); i++ {
			if series[i].value < series[i-1].value {
				t.Errorf("%s went down from %g to %g in Prometheus at %d ms", key, series[i-1].value, series[i].value, series[i].ms)
			}
		}
		first, last := series[0], series[len(series)-1]
		if first.value != wantFirst[key] {
			t.Errorf("first raw sample of %s is %g, want %g (the first export)", key, first.value, wantFirst[key])
		}
		if last.value != want {
			t.Errorf("last raw sample of %s is %g, want %g (both exports)", key, last.value, want)
		}

		query := fmt.Sprintf(`increase(%s{source=%q,sli=%q}[%dms])`, key.metric, crashSource, key.sli, last.ms-first.ms)
		at := strconv.FormatFloat(float64(last.ms)/1000, 'f', 3, 64)
		var vector []struct {
			Value [2]any `json:"value"`
		}
		if err := queryPrometheusAPI(prometheusURL, "query", url.Values{"query": {query}, "time": {at}}, &vector); err != nil {
			t.Errorf("%v", err)
			continue
		}
		if len(vector) != 1 {
			t.Errorf("%s at %s returned %d series, want 1", query, at, len(vector))
			continue
		}
		text, _ := vector[0].Value[1].(string)
		increase, err := strconv.ParseFloat(text, 64)
		if wantIncrease := want - wantFirst[key]; err != nil || increase != wantIncrease {
			t.Errorf("%s at %s = %q, want %g, the events that only the newer export closed", query, at, text, wantIncrease)
		}
		t.Logf("%s over %d raw samples: %s", query, len(series), text)
	}
}

// checkRangeQuery checks that a query_range of the counters over the whole
// test, at a 1 s step, never shows a counter going down.
func checkRangeQuery(t *testing.T, prometheusURL string, since time.Time) {
	t.Helper()
	params := url.Values{
		"query": {crashSelector},
		"start": {strconv.FormatInt(since.Unix(), 10)},
		"end":   {strconv.FormatInt(time.Now().Unix()+1, 10)},
		"step":  {"1"},
	}
	var series []promSeries
	if err := queryPrometheusAPI(prometheusURL, "query_range", params, &series); err != nil {
		t.Fatal(err)
	}
	if len(series) != 4 {
		t.Errorf("query_range returned %d series, want 4", len(series))
	}
	for _, s := range series {
		samples, err := s.samples()
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i < len(samples); i++ {
			if samples[i].value < samples[i-1].value {
				t.Errorf("query_range: %s went down from %g to %g at %d ms", s.key(), samples[i-1].value, samples[i].value, samples[i].ms)
			}
		}
	}
}
