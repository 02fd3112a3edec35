package sources

import (
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/common/version"

	"github.com/secslo/secslo/slo"
)

// Paths served by the exporter, for links and tests.
const (
	PathMetrics = "/metrics"
	PathHealthy = "/-/healthy"
	PathReady   = "/-/ready"
	PathReload  = "/-/reload"
	// PathSources lists every source and its state as JSON.
	PathSources = "/api/v1/sources"
)

// NoncompliantPath returns the URL path of a source's triage endpoint.
func NoncompliantPath(source string) string {
	return PathSources + "/" + source + "/noncompliant"
}

// webHandlers serves the landing page, health, readiness, reload and the
// JSON API from a Manager's State.
type webHandlers struct {
	manager   *Manager
	reload    func() error
	lifecycle bool
	logger    *slog.Logger
}

// register adds every handler except /metrics and the landing page to mux.
func (h *webHandlers) register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+PathHealthy, h.healthy)
	mux.HandleFunc("GET "+PathReady, h.ready)
	mux.HandleFunc("POST "+PathReload, h.reloadConfig)
	mux.HandleFunc("GET "+PathSources, h.listSources)
	mux.HandleFunc("GET "+PathSources+"/{name}/noncompliant", h.noncompliant)
}

func (h *webHandlers) healthy(w http.ResponseWriter, _ *http.Request) {
	fmt.Fprintln(w, "Healthy.")
}

// ready returns 200 once every source has refreshed successfully at least
// once, and 503 with the sources still waiting before that.
func (h *webHandlers) ready(w http.ResponseWriter, _ *http.Request) {
	state := h.manager.State()
	if state.Ready() {
		fmt.Fprintln(w, "Ready.")
		return
	}

	var waiting []string
	for _, st := range state.Sources {
		if st.LastSuccess.IsZero() {
			waiting = append(waiting, st.Name)
		}
	}
	http.Error(w, "Not ready: no successful refresh yet for "+strings.Join(waiting, ", "), http.StatusServiceUnavailable)
}

func (h *webHandlers) reloadConfig(w http.ResponseWriter, _ *http.Request) {
	if !h.lifecycle {
		http.Error(w, "the lifecycle API is disabled; start secslo serve with --web.enable-lifecycle, or send SIGHUP to reload", http.StatusForbidden)
		return
	}
	if err := h.reload(); err != nil {
		http.Error(w, "failed to reload config: "+err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "Config reloaded.")
}

// sourceJSON is the JSON form of a SourceStatus.
type sourceJSON struct {
	Name            string     `json:"name"`
	Type            string     `json:"type"`
	RefreshInterval string     `json:"refresh_interval"`
	Up              bool       `json:"up"`
	LastAttempt     *time.Time `json:"last_attempt,omitempty"`
	LastSuccess     *time.Time `json:"last_success,omitempty"`
	LastError       string     `json:"last_error,omitempty"`
	RecordsRead     *int       `json:"records_read,omitempty"`
	RecordsRejected *int       `json:"records_rejected,omitempty"`
	Snapshots       []Snapshot `json:"snapshots,omitempty"`
}

func newSourceJSON(st *SourceStatus) sourceJSON {
	out := sourceJSON{
		Name: st.Name, Type: st.Type, Up: st.Up,
		RefreshInterval: st.RefreshInterval.String(),
		LastAttempt:     timeOrNil(st.LastAttempt),
		LastSuccess:     timeOrNil(st.LastSuccess),
	}
	if st.LastError != nil {
		out.LastError = st.LastError.Error()
	}
	if st.Result != nil {
		out.RecordsRead = &st.Result.RecordsRead
		out.RecordsRejected = &st.Result.RecordsRejected
		out.Snapshots = st.Result.Snapshots
	}
	return out
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func (h *webHandlers) listSources(w http.ResponseWriter, _ *http.Request) {
	state := h.manager.State()
	out := make([]sourceJSON, 0, len(state.Sources))
	for _, st := range state.Sources {
		out = append(out, newSourceJSON(st))
	}
	h.writeJSON(w, map[string]any{"sources": out})
}

// noncompliantJSON is the body of the triage endpoint.
type noncompliantJSON struct {
	Source      string     `json:"source"`
	LastSuccess *time.Time `json:"last_success"`
	Objects     []Object   `json:"objects"`
}

// noncompliant returns the objects out of compliance at the latest good
// refresh of one source. The optional "sli" query parameter filters them.
func (h *webHandlers) noncompliant(w http.ResponseWriter, r *http.Request) {
	sli := r.URL.Query().Get("sli")
	if _, ok := slo.LookupBuiltin(sli); sli != "" && !ok {
		http.Error(w, fmt.Sprintf("unknown SLI %q in the sli parameter; use one of %s", sli, strings.Join(slo.BuiltinIDs(), ", ")), http.StatusBadRequest)
		return
	}

	name := r.PathValue("name")
	st := h.manager.State().Source(name)
	if st == nil {
		http.Error(w, fmt.Sprintf("source %q not found; GET %s lists the configured sources", name, PathSources), http.StatusNotFound)
		return
	}
	if st.Result == nil {
		http.Error(w, fmt.Sprintf("source %q has no successful refresh yet; retry later", name), http.StatusServiceUnavailable)
		return
	}

	objects := make([]Object, 0, len(st.Result.Noncompliant))
	for _, obj := range st.Result.Noncompliant {
		if sli == "" || obj.SLI == sli {
			objects = append(objects, obj)
		}
	}
	h.writeJSON(w, noncompliantJSON{Source: name, LastSuccess: timeOrNil(st.LastSuccess), Objects: objects})
}

func (h *webHandlers) writeJSON(w http.ResponseWriter, body any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(body); err != nil {
		h.logger.Warn("failed to write JSON response", "err", err)
	}
}

// landingRow is one source on the landing page.
type landingRow struct {
	Name, Type, State, LastSuccess, LastError, Records, Link string
}

func (h *webHandlers) landingPage(w http.ResponseWriter, _ *http.Request) {
	var rows []landingRow
	for _, st := range h.manager.State().Sources {
		rows = append(rows, newLandingRow(st))
	}

	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	data := map[string]any{"Version": version.Info(), "Rows": rows, "Metrics": PathMetrics,
		"Healthy": PathHealthy, "Ready": PathReady, "Sources": PathSources}
	if err := landingTemplate.Execute(w, data); err != nil {
		h.logger.Warn("failed to write landing page", "err", err)
	}
}

func newLandingRow(st *SourceStatus) landingRow {
	row := landingRow{Name: st.Name, Type: st.Type, State: "waiting for first refresh",
		LastSuccess: "never", Records: "-", Link: NoncompliantPath(st.Name)}
	switch {
	case st.Up:
		row.State = "up"
	case !st.LastAttempt.IsZero():
		row.State = "down"
	}
	if !st.LastSuccess.IsZero() {
		row.LastSuccess = st.LastSuccess.UTC().Format(time.RFC3339)
	}
	if st.LastError != nil {
		row.LastError = st.LastError.Error()
	}
	if st.Result != nil {
		row.Records = fmt.Sprintf("%d read, %d rejected", st.Result.RecordsRead, st.Result.RecordsRejected)
	}
	return row
}

var landingTemplate = template.Must(template.New("landing").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>secslo exporter</title>
<style>
body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
td.err { font-family: monospace; white-space: pre-wrap; max-width: 50em; }
</style>
</head>
<body>
<h1>secslo exporter</h1>
<p>Security SLIs from exports, as Prometheus metrics. {{.Version}}</p>
<ul>
<li><a href="{{.Metrics}}">Metrics</a></li>
<li><a href="{{.Healthy}}">Health</a> and <a href="{{.Ready}}">readiness</a></li>
<li><a href="{{.Sources}}">Sources as JSON</a></li>
</ul>
<h2>Sources</h2>
{{if .Rows}}<table>
<tr><th>Name</th><th>Type</th><th>State</th><th>Last success</th><th>Records</th><th>Last error</th><th>Triage</th></tr>
{{range .Rows}}<tr><td>{{.Name}}</td><td>{{.Type}}</td><td>{{.State}}</td><td>{{.LastSuccess}}</td><td>{{.Records}}</td><td class="err">{{.LastError}}</td><td><a href="{{.Link}}">noncompliant objects</a></td></tr>
{{end}}</table>{{else}}<p>No sources are configured.</p>{{end}}
</body>
</html>
`))
