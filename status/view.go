package status

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/prometheus/common/version"

	"github.com/secslo/secslo/slo"
	"github.com/secslo/secslo/sources"
)

// maxCharts caps the error budget charts of one detail view. Only the
// JSON API has the history of the groups beyond it.
const maxCharts = 50

//go:embed templates/*.html
var templateFiles embed.FS

var templateFuncs = template.FuncMap{
	"percent":     formatPercent,
	"objective":   formatObjective,
	"burnRate":    formatBurnRate,
	"duration":    slo.FormatDuration,
	"timestamp":   formatTimestamp,
	"group":       formatGroup,
	"records":     formatRecords,
	"errorText":   formatError,
	"stateLabel":  stateLabel,
	"sourceState": sourceState,
	"triagePath":  sources.NoncompliantPath,
	"detailPath":  func(s *slo.SLO) string { return DetailPath(s.Service, s.Name) },
	"apiPath":     func(s *slo.SLO) string { return apiPath(s.Service, s.Name) },
	"join":        strings.Join,
	"stylesheet":  func() template.CSS { return stylesheet },
	"stateMarker": stateMarker,
	"sourceTable": newSourceTableView,
}

var (
	overviewTemplate = parseTemplate("overview.html")
	detailTemplate   = parseTemplate("detail.html")
	notFoundTemplate = parseTemplate("notfound.html")
)

// parseTemplate parses one page with the shared layout. Its entry point is
// the template "page".
func parseTemplate(page string) *template.Template {
	return template.Must(template.New(page).Funcs(templateFuncs).ParseFS(templateFiles, "templates/layout.html", "templates/"+page))
}

// pageLinks are the endpoints that every page links to.
type pageLinks struct {
	Overview, Metrics, Healthy, Ready, Sources, SLOs string
}

var links = pageLinks{
	Overview: "/", Metrics: sources.PathMetrics, Healthy: sources.PathHealthy,
	Ready: sources.PathReady, Sources: sources.PathSources, SLOs: PathSLOs,
}

// overviewView is the data of the overview template.
type overviewView struct {
	*overview
	Version string
	Links   pageLinks
	Counts  stateCounts
}

// stateCounts counts the objectives in each state, for the summary line.
type stateCounts struct {
	Burning, OK, NoData, External, NotEvaluated int
}

func newOverviewView(ov *overview) overviewView {
	var counts stateCounts
	for _, o := range ov.Objectives {
		switch o.State() {
		case StateBurning:
			counts.Burning++
		case StateOK:
			counts.OK++
		case StateNoData:
			counts.NoData++
		case StateExternal:
			counts.External++
		case StateNotEvaluated:
			counts.NotEvaluated++
		}
	}
	return overviewView{overview: ov, Version: version.Info(), Links: links, Counts: counts}
}

// detailView is the data of the detail template.
type detailView struct {
	*detail
	Links  pageLinks
	Charts []*chart
	// ChartsOmitted counts the groups beyond maxCharts, which get no chart.
	ChartsOmitted int
}

func newDetailView(d *detail) detailView {
	v := detailView{detail: d, Links: links}
	if d.History == nil {
		return v
	}

	for i, series := range d.History.Series {
		if i == maxCharts {
			v.ChartsOmitted = len(d.History.Series) - maxCharts
			break
		}
		v.Charts = append(v.Charts, newBudgetChart(fmt.Sprintf("chart-%d", i), chartTitle(d.Objective.SLO, formatGroup(series.Labels)),
			series.Points, d.History.Start, d.History.End, d.History.Step))
	}
	return v
}

func chartTitle(s *slo.SLO, group string) string {
	title := fmt.Sprintf("Error budget remaining of %s / %s over %s", s.Service, s.Name, slo.FormatDuration(s.Period))
	if group != "" {
		title += " for " + group
	}
	return title
}

// sourceTableView is the data of the shared sources table.
type sourceTableView struct {
	Caption string
	Sources []*sources.SourceStatus
}

func newSourceTableView(caption string, list []*sources.SourceStatus) sourceTableView {
	return sourceTableView{Caption: caption, Sources: list}
}

// notFoundView is the data of the 404 page.
type notFoundView struct {
	Service, Name string
	Links         pageLinks
}

// contentSecurityPolicy lets a browser apply the page's inline stylesheet,
// named by its hash, and nothing else: no script, no other style, no
// image, font or request. The charts are inline SVG, which needs no source.
var contentSecurityPolicy = "default-src 'none'; style-src '" + styleHash(stylesheet) +
	"'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// styleHash returns the CSP source expression of an inline stylesheet.
func styleHash(css template.CSS) string {
	sum := sha256.Sum256([]byte(css))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// writeHTML renders the page into memory first, so that a template error
// returns a 500 instead of half a page.
func (p *Page) writeHTML(w http.ResponseWriter, code int, tmpl *template.Template, data any) {
	var buf bytes.Buffer
	if err := tmpl.ExecuteTemplate(&buf, "page", data); err != nil {
		p.logger.Error("failed to render the status page", "template", tmpl.Name(), "err", err)
		http.Error(w, "failed to render the status page; the log has the details", http.StatusInternalServerError)
		return
	}

	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", contentSecurityPolicy)
	w.WriteHeader(code)
	if _, err := w.Write(buf.Bytes()); err != nil {
		p.logger.Debug("failed to write the status page", "err", err)
	}
}
