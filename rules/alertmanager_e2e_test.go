package rules

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/secslo/secslo/slo"
)

// e2eTimeout bounds each wait of the end-to-end test. With the test's
// group_wait and group_interval of 1s, every step takes a few seconds.
const e2eTimeout = 20 * time.Second

// webhookConfig and webhookReceiver replace the placeholder receivers in
// the test's copy of the example config.
type webhookConfig struct {
	URL          string `yaml:"url"`
	SendResolved bool   `yaml:"send_resolved"`
}

type webhookReceiver struct {
	Name           string          `yaml:"name"`
	WebhookConfigs []webhookConfig `yaml:"webhook_configs"`
}

type webhookTestConfig struct {
	Route        amRoute           `yaml:"route"`
	InhibitRules []amInhibitRule   `yaml:"inhibit_rules"`
	Receivers    []webhookReceiver `yaml:"receivers"`
}

// webhookMessage is the part of Alertmanager's webhook payload that the
// test reads.
type webhookMessage struct {
	Receiver string `json:"receiver"`
	Alerts   []struct {
		Status string            `json:"status"`
		Labels map[string]string `json:"labels"`
	} `json:"alerts"`
}

// delivery is one alert of one webhook message, with the time the test
// server received it.
type delivery struct {
	receiver string
	status   string
	labels   map[string]string
	at       time.Time
}

// webhookRecorder stores every alert that Alertmanager delivers.
type webhookRecorder struct {
	mu         sync.Mutex
	deliveries []delivery
}

func (rec *webhookRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var msg webhookMessage
	if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
		http.Error(w, "invalid webhook payload: "+err.Error(), http.StatusBadRequest)
		return
	}
	now := time.Now()

	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, a := range msg.Alerts {
		rec.deliveries = append(rec.deliveries, delivery{receiver: msg.Receiver, status: a.Status, labels: a.Labels, at: now})
	}
}

// find returns the deliveries of alert to receiver with status.
func (rec *webhookRecorder) find(receiver, status string, alert firingAlert) []delivery {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var found []delivery
	for _, d := range rec.deliveries {
		if d.receiver == receiver && d.status == status && maps.Equal(d.labels, alert.labels) {
			found = append(found, d)
		}
	}
	return found
}

// lockedBuffer collects the output of the Alertmanager process, which
// writes from its own goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// alertmanager is a running prometheus-alertmanager process.
type alertmanager struct {
	url    string
	output *lockedBuffer
}

// freeAddress returns a loopback address with a port that was free a
// moment ago.
func freeAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("failed to find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startAlertmanager starts prometheus-alertmanager with config on a free
// loopback port, without clustering, waits until it is ready and stops it
// when the test ends.
func startAlertmanager(t *testing.T, config []byte) *alertmanager {
	t.Helper()
	bin := requireAlertmanagerTool(t, "prometheus-alertmanager")
	dir := t.TempDir()
	configFile := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(configFile, config, 0o644); err != nil {
		t.Fatal(err)
	}

	address := freeAddress(t)
	output := &lockedBuffer{}
	cmd := exec.Command(bin,
		"--config.file="+configFile,
		"--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+address,
		"--cluster.listen-address=",
		"--log.level=debug",
	)
	cmd.Stdout, cmd.Stderr = output, output
	if err := cmd.Start(); err != nil {
		t.Fatalf("failed to start %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() { stopProcess(t, cmd, exited) })

	am := &alertmanager{url: "http://" + address, output: output}
	waitFor(t, am, "Alertmanager to be ready", func() bool {
		select {
		case <-exited:
			t.Fatalf("Alertmanager exited before it was ready:\n%s", output)
		default:
		}
		resp, err := http.Get(am.url + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return am
}

// stopProcess stops cmd with SIGTERM and kills it if it has not exited
// within 10 seconds.
func stopProcess(t *testing.T, cmd *exec.Cmd, exited <-chan struct{}) {
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Logf("failed to signal Alertmanager: %v", err)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Errorf("Alertmanager did not stop within 10s of SIGTERM; killing it")
		_ = cmd.Process.Kill()
		<-exited
	}
}

// waitFor polls condition every 50ms until it returns true, and fails the
// test with the Alertmanager output after e2eTimeout.
func waitFor(t *testing.T, am *alertmanager, what string, condition func() bool) {
	t.Helper()
	deadline := time.Now().Add(e2eTimeout)
	for !condition() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; Alertmanager output:\n%s", e2eTimeout, what, am.output)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// postableAlert is an alert in the form that /api/v2/alerts accepts.
type postableAlert struct {
	Labels   map[string]string `json:"labels"`
	StartsAt time.Time         `json:"startsAt"`
	EndsAt   time.Time         `json:"endsAt"`
}

// post sends alerts to Alertmanager as Prometheus does, all starting at
// startsAt and ending at endsAt.
func (am *alertmanager) post(t *testing.T, startsAt, endsAt time.Time, alerts ...firingAlert) {
	t.Helper()
	var body []postableAlert
	for _, a := range alerts {
		body = append(body, postableAlert{Labels: a.labels, StartsAt: startsAt, EndsAt: endsAt})
	}
	data, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}

	resp, err := http.Post(am.url+"/api/v2/alerts", "application/json", bytes.NewReader(data))
	if err != nil {
		t.Fatalf("failed to post alerts: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		reply, _ := io.ReadAll(resp.Body)
		t.Fatalf("posting alerts returned %s: %s", resp.Status, reply)
	}
}

// gettableAlert is the part of an alert from /api/v2/alerts that the test
// reads.
type gettableAlert struct {
	Fingerprint string            `json:"fingerprint"`
	Labels      map[string]string `json:"labels"`
	Status      struct {
		State       string   `json:"state"`
		InhibitedBy []string `json:"inhibitedBy"`
	} `json:"status"`
}

// status returns the state of alert as Alertmanager reports it, or nil if
// Alertmanager does not list the alert.
func (am *alertmanager) status(t *testing.T, alert firingAlert) *gettableAlert {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, am.url+"/api/v2/alerts", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("failed to list alerts: %v", err)
	}
	defer resp.Body.Close()
	var alerts []gettableAlert
	if err := json.NewDecoder(resp.Body).Decode(&alerts); err != nil {
		t.Fatalf("failed to decode the alert list: %v", err)
	}
	for i := range alerts {
		if maps.Equal(alerts[i].Labels, alert.labels) {
			return &alerts[i]
		}
	}
	return nil
}

// fingerprint returns the fingerprint that Alertmanager gives alert.
func fingerprint(alert firingAlert) string {
	set := model.LabelSet{}
	for name, value := range alert.labels {
		set[model.LabelName(name)] = model.LabelValue(value)
	}
	return set.Fingerprint().String()
}

// webhookConfigFor returns the example config of slos with each
// placeholder receiver sending to server, and with group_wait and
// group_interval shortened to 1s. Matchers, receivers and the inhibit rule
// stay as generated.
func webhookConfigFor(t *testing.T, slos []*slo.SLO, routing Routing, server string) []byte {
	t.Helper()
	files, err := GenerateRouting(slos, routing)
	if err != nil {
		t.Fatal(err)
	}
	var config amConfig
	decodeStrict(t, AlertmanagerFile, files[AlertmanagerFile], &config)
	shortenTiming(&config.Route)

	test := webhookTestConfig{Route: config.Route, InhibitRules: config.InhibitRules}
	for _, r := range config.Receivers {
		test.Receivers = append(test.Receivers, webhookReceiver{
			Name:           r.Name,
			WebhookConfigs: []webhookConfig{{URL: server + "/" + r.Name, SendResolved: true}},
		})
	}
	data, err := marshalYAML(test)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// shortenTiming sets every group_wait and group_interval in the tree to
// 1s, so that the test does not wait minutes for a ticket.
func shortenTiming(route *amRoute) {
	if route.GroupWait != "" {
		route.GroupWait = "1s"
	}
	if route.GroupInterval != "" {
		route.GroupInterval = "1s"
	}
	for i := range route.Routes {
		shortenTiming(&route.Routes[i])
	}
}

// pickAlert returns the burn-rate alert of tier of the SLO name.
func pickAlert(t *testing.T, slos []*slo.SLO, name, tier string) firingAlert {
	t.Helper()
	for _, s := range slos {
		if s.Name != name {
			continue
		}
		for _, alert := range firingAlerts(s) {
			if alert.tier == tier && alert.kind == slo.AlertKindBurnRate {
				return alert
			}
		}
	}
	t.Fatalf("no %s burn-rate alert for SLO %q in the test specs", tier, name)
	return firingAlert{}
}

func TestAlertmanagerRoutesAndInhibitsTiers(t *testing.T) {
	slos := loadTestSpecs(t)
	routing := Routing{PageReceiver: "pager", TicketReceiver: "jira"}
	recorder := &webhookRecorder{}
	server := httptest.NewServer(recorder)
	defer server.Close()
	am := startAlertmanager(t, webhookConfigFor(t, slos, routing, server.URL))

	page := pickAlert(t, slos, "api-availability", slo.TierPage)
	ticket := pickAlert(t, slos, "api-availability", slo.TierTicket)
	otherTicket := pickAlert(t, slos, "logins-succeed", slo.TierTicket)

	// The page reaches the pager with the labels that on-call needs. Its
	// start in the past makes Alertmanager send it without group_wait.
	pageStart := time.Now().Add(-10 * time.Minute)
	am.post(t, pageStart, time.Now().Add(time.Hour), page)
	waitFor(t, am, "the page alert at the pager", func() bool { return len(recorder.find("pager", "firing", page)) > 0 })
	delivered := recorder.find("pager", "firing", page)[0].labels
	for label, want := range map[string]string{
		slo.LabelSeverity: "page",
		slo.LabelSLO:      "api-availability",
		slo.LabelService:  "payments",
		slo.LabelControls: "A.8.16",
	} {
		if delivered[label] != want {
			t.Errorf("page alert at the pager has %s=%q, want %q", label, delivered[label], want)
		}
	}

	// Tickets start now, as Prometheus sends a new alert, so group_wait
	// applies to them. The ticket of another SLO is not inhibited.
	am.post(t, time.Now(), time.Now().Add(time.Hour), ticket, otherTicket)
	waitFor(t, am, "the ticket of another SLO at jira", func() bool { return len(recorder.find("jira", "firing", otherTicket)) > 0 })

	// The ticket of the paging SLO is inhibited. Alertmanager runs the
	// notification of a group to its end before it flushes the group again,
	// so after two more flushes one whole notification ran while inhibited.
	waitFor(t, am, "the ticket of the paging SLO to be inhibited", func() bool {
		status := am.status(t, ticket)
		return status != nil && status.Status.State == "suppressed" && slices.Contains(status.Status.InhibitedBy, fingerprint(page))
	})
	flushes := countFlushes(am.output.String(), ticket)
	waitFor(t, am, "two flushes of the inhibited ticket's group", func() bool {
		return countFlushes(am.output.String(), ticket) >= flushes+2
	})
	if got := recorder.find("jira", "firing", ticket); len(got) > 0 {
		t.Fatalf("ticket alert reached jira at %s while its page fired", got[0].at.Format(time.RFC3339Nano))
	}

	// Once the page resolves, the ticket is delivered.
	resolvedAt := time.Now()
	am.post(t, pageStart, resolvedAt.Add(-time.Minute), page)
	waitFor(t, am, "the resolved page at the pager", func() bool { return len(recorder.find("pager", "resolved", page)) > 0 })
	waitFor(t, am, "the ticket at jira after the page resolved", func() bool { return len(recorder.find("jira", "firing", ticket)) > 0 })
	for _, d := range recorder.find("jira", "firing", ticket) {
		if d.at.Before(resolvedAt) {
			t.Errorf("ticket alert reached jira at %s, before the page resolved at %s", d.at.Format(time.RFC3339Nano), resolvedAt.Format(time.RFC3339Nano))
		}
	}
	for _, d := range recorder.find("jira", "firing", page) {
		t.Errorf("page alert reached jira at %s", d.at.Format(time.RFC3339Nano))
	}
	for _, d := range recorder.find("pager", "firing", ticket) {
		t.Errorf("ticket alert reached the pager at %s", d.at.Format(time.RFC3339Nano))
	}
}

// countFlushes counts the flushes of the group of alert in the Alertmanager
// debug log. Alertmanager 0.25 logs each flush as msg=flushing with the
// alerts as name[fingerprint prefix][state].
// NOTE: this reads a debug log line, which other Alertmanager versions may
// word differently; the test then times out waiting for the flushes.
func countFlushes(log string, alert firingAlert) int {
	id := fmt.Sprintf("%s[%s]", alert.name, fingerprint(alert)[:7])
	count := 0
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "msg=flushing") && strings.Contains(line, id) {
			count++
		}
	}
	return count
}
