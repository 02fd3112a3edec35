package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// e2eStartTimeout bounds how long Prometheus or Alertmanager may take to
// become ready. Both start in a second or two on an idle machine; the
// margin is for a machine busy with other tests.
const e2eStartTimeout = 60 * time.Second

// requireE2ETool returns the path of the program name from the Debian
// package pkg, or skips the test when it is missing, unless
// SECSLO_REQUIRE_TOOLS=1 makes that a failure.
func requireE2ETool(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("SECSLO_REQUIRE_TOOLS") == "1" {
		t.Fatalf("%s not found on PATH and SECSLO_REQUIRE_TOOLS=1: install Debian's %s package", name, pkg)
	}
	t.Skipf("%s not found on PATH: install Debian's %s package to run this test", name, pkg)
	return ""
}

// e2eProcess is a Prometheus or Alertmanager process that the test started
// on a loopback port.
type e2eProcess struct {
	name   string
	url    string
	output *syncBuffer
	cmd    *exec.Cmd
	exited chan struct{}
}

// startE2EProcess starts bin with args, waits until url/-/ready returns
// 200 and stops the process when the test ends.
func startE2EProcess(t *testing.T, name, bin, url string, args ...string) *e2eProcess {
	t.Helper()
	p := &e2eProcess{name: name, url: url, output: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.output, p.output
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("failed to start %s: %v", bin, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() { p.stop(t) })

	deadline := time.Now().Add(e2eStartTimeout)
	for !p.ready() {
		select {
		case <-p.exited:
			t.Fatalf("%s exited before it was ready; output:\n%s", name, p.output)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not ready within %s; output:\n%s", name, e2eStartTimeout, p.output)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return p
}

func (p *e2eProcess) ready() bool {
	resp, err := http.Get(p.url + "/-/ready")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// stop sends SIGTERM and kills the process if it has not exited within 15
// seconds.
func (p *e2eProcess) stop(t *testing.T) {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Logf("failed to signal %s: %v", p.name, err)
	}
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		t.Errorf("%s did not stop within 15s of SIGTERM; killing it", p.name)
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// getJSON decodes the JSON response of GET url into v.
func getJSON(ctx context.Context, url string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s returned %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// hasLabelSubset reports whether labels contain every pair of subset.
func hasLabelSubset(labels, subset map[string]string) bool {
	for name, value := range subset {
		if labels[name] != value {
			return false
		}
	}
	return true
}

// prometheusAlertState returns the state ("pending" or "firing") of the
// alert whose labels contain selector, as Prometheus's /api/v1/alerts
// lists it, or "" when no such alert is active.
func prometheusAlertState(ctx context.Context, prometheusURL string, selector map[string]string) (string, error) {
	var body struct {
		Data struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		} `json:"data"`
	}
	if err := getJSON(ctx, prometheusURL+"/api/v1/alerts", &body); err != nil {
		return "", err
	}
	for _, a := range body.Data.Alerts {
		if hasLabelSubset(a.Labels, selector) {
			return a.State, nil
		}
	}
	return "", nil
}

// promQueryResult is the part of a /api/v1/query response that the test
// reads.
type promQueryResult struct {
	Status    string   `json:"status"`
	ErrorType string   `json:"errorType"`
	Error     string   `json:"error"`
	Warnings  []string `json:"warnings"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// empty reports whether an instant query returned no series.
func (r promQueryResult) empty() bool {
	if r.Data.ResultType == "scalar" || r.Data.ResultType == "string" {
		return false
	}
	var series []json.RawMessage
	if err := json.Unmarshal(r.Data.Result, &series); err != nil {
		return true
	}
	return len(series) == 0
}

// queryPrometheus runs an instant query through /api/v1/query. Prometheus
// returns status 400 or 422 for a query it rejects, with a JSON body that
// names the error, so the body is decoded whatever the status.
func queryPrometheus(ctx context.Context, prometheusURL, query string) (promQueryResult, error) {
	return queryPrometheusAt(ctx, prometheusURL, query, time.Time{})
}

// queryPrometheusAt runs an instant query at the time at, or at the
// server's current time when at is zero.
func queryPrometheusAt(ctx context.Context, prometheusURL, query string, at time.Time) (promQueryResult, error) {
	var result promQueryResult
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	form := url.Values{"query": {query}}
	if !at.IsZero() {
		form.Set("time", fmt.Sprintf("%.3f", float64(at.UnixMilli())/1000))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, prometheusURL+"/api/v1/query", strings.NewReader(form.Encode()))
	if err != nil {
		return result, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return result, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&result); err != nil {
		return result, fmt.Errorf("failed to decode the response (%s): %w", resp.Status, err)
	}
	return result, nil
}

// notification is one alert of one webhook message from Alertmanager,
// with the time the test's receiver got it.
type notification struct {
	receiver string
	status   string // "firing" or "resolved"
	labels   map[string]string
	endsAt   time.Time
	at       time.Time
}

// webhookRecorder is the webhook receiver of one Alertmanager: it stores
// every alert of every message.
type webhookRecorder struct {
	mu            sync.Mutex
	notifications []notification
}

func (rec *webhookRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var msg struct {
		Receiver string `json:"receiver"`
		Alerts   []struct {
			Status string            `json:"status"`
			Labels map[string]string `json:"labels"`
			EndsAt time.Time         `json:"endsAt"`
		} `json:"alerts"`
	}
	if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
		http.Error(w, "invalid webhook payload: "+err.Error(), http.StatusBadRequest)
		return
	}
	now := time.Now()

	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, a := range msg.Alerts {
		rec.notifications = append(rec.notifications, notification{
			receiver: msg.Receiver, status: a.Status, labels: a.Labels, endsAt: a.EndsAt, at: now,
		})
	}
}

// all returns a copy of every notification received so far.
func (rec *webhookRecorder) all() []notification {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]notification(nil), rec.notifications...)
}

// inhibitionSample is the state of the ticket alert in one poll of
// Alertmanager's /api/v2/alerts, with the fingerprint of the page alert
// if Alertmanager listed it.
type inhibitionSample struct {
	at              time.Time
	ticketState     string // "active", "suppressed", or "" when not listed
	inhibitedBy     []string
	pageFingerprint string
}

// inhibitionWatcher polls an Alertmanager's alert list in the background
// and stores what it reports about a page alert and a ticket alert.
type inhibitionWatcher struct {
	mu      sync.Mutex
	samples []inhibitionSample
	done    chan struct{}
}

// watchInhibition polls alertmanagerURL every 500ms until ctx ends.
func watchInhibition(ctx context.Context, alertmanagerURL string, page, ticket map[string]string) *inhibitionWatcher {
	w := &inhibitionWatcher{done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			if sample, err := pollInhibition(ctx, alertmanagerURL, page, ticket); err == nil {
				w.mu.Lock()
				w.samples = append(w.samples, sample)
				w.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

func pollInhibition(ctx context.Context, alertmanagerURL string, page, ticket map[string]string) (inhibitionSample, error) {
	var alerts []struct {
		Fingerprint string            `json:"fingerprint"`
		Labels      map[string]string `json:"labels"`
		Status      struct {
			State       string   `json:"state"`
			InhibitedBy []string `json:"inhibitedBy"`
		} `json:"status"`
	}
	sample := inhibitionSample{at: time.Now()}
	if err := getJSON(ctx, alertmanagerURL+"/api/v2/alerts", &alerts); err != nil {
		return sample, err
	}
	for _, a := range alerts {
		switch {
		case hasLabelSubset(a.Labels, page):
			sample.pageFingerprint = a.Fingerprint
		case hasLabelSubset(a.Labels, ticket):
			sample.ticketState = a.Status.State
			sample.inhibitedBy = a.Status.InhibitedBy
		}
	}
	return sample, nil
}

// all returns a copy of every sample taken so far.
func (w *inhibitionWatcher) all() []inhibitionSample {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]inhibitionSample(nil), w.samples...)
}
