package status

import (
	"html/template"
	"strings"
	texttemplate "text/template"
)

// colors is the page's palette. Every text color and the background it is
// drawn on are listed in contrastPairs, which a test holds to the WCAG 2.1
// AA contrast ratio of 4.5:1.
var colors = struct {
	Text, Muted, Background, Link, Focus              string
	HeaderBackground, Border, Grid                    string
	BurningText, BurningBackground, BurningRow        string
	OKText, OKBackground                              string
	NoDataText, NoDataBackground                      string
	ExternalText, ExternalBackground                  string
	NoteBackground, ErrorText, ErrorBackground, Chart string
}{
	Text: "#1b1b1b", Muted: "#545454", Background: "#ffffff", Link: "#0645ad", Focus: "#0645ad",
	HeaderBackground: "#eef0f2", Border: "#b8bcc2", Grid: "#d9dce0",
	BurningText: "#ffffff", BurningBackground: "#a50e0e", BurningRow: "#fdecea",
	OKText: "#0f5323", OKBackground: "#e3f2e7",
	NoDataText: "#1b1b1b", NoDataBackground: "#e4e6e9",
	ExternalText: "#3b2a80", ExternalBackground: "#ece8fb",
	NoteBackground: "#fff6d6", ErrorText: "#7a0c0c", ErrorBackground: "#fdecea",
	Chart: "#0645ad",
}

// contrastPairs lists every text color with each background it is drawn
// on, for the contrast test.
var contrastPairs = [][2]string{
	{colors.Text, colors.Background},
	{colors.Muted, colors.Background},
	{colors.Link, colors.Background},
	{colors.Text, colors.HeaderBackground},
	{colors.Link, colors.HeaderBackground},
	{colors.Text, colors.BurningRow},
	{colors.Link, colors.BurningRow},
	{colors.Muted, colors.BurningRow},
	{colors.BurningText, colors.BurningBackground},
	{colors.OKText, colors.OKBackground},
	{colors.NoDataText, colors.NoDataBackground},
	{colors.ExternalText, colors.ExternalBackground},
	{colors.Text, colors.NoteBackground},
	{colors.ErrorText, colors.ErrorBackground},
	{colors.Muted, colors.HeaderBackground},
}

// stylesheet is the page's only CSS, inline in every page so that nothing
// loads from the network.
var stylesheet = renderStylesheet()

func renderStylesheet() template.CSS {
	var b strings.Builder
	texttemplate.Must(texttemplate.New("css").Parse(css)).Execute(&b, colors)
	return template.CSS(b.String())
}

const css = `
body { font-family: system-ui, sans-serif; line-height: 1.4; margin: 1.5em; color: {{.Text}}; background: {{.Background}}; overflow-wrap: anywhere; }
a { color: {{.Link}}; }
a:focus-visible, [tabindex]:focus-visible { outline: 3px solid {{.Focus}}; outline-offset: 2px; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 1.6em; }
h3 { font-size: 1.05em; }
.muted { color: {{.Muted}}; font-weight: normal; }
.nowrap li { white-space: nowrap; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
.skip { position: absolute; left: -999em; }
.skip:focus { position: static; }
nav ul, ul.plain { list-style: none; padding: 0; margin: 0; }
nav li { display: inline; margin-right: 1em; }
.scroll { overflow-x: auto; position: relative; }
table { border-collapse: collapse; margin: 0.5em 0; }
caption { text-align: left; font-weight: 600; padding: 0.3em 0; }
th, td { border: 1px solid {{.Border}}; padding: 0.3em 0.5em; text-align: left; vertical-align: top; max-width: 25em; overflow-wrap: break-word; }
thead th { background: {{.HeaderBackground}}; }
td.number { text-align: right; white-space: nowrap; }
td.rates { max-width: none; }
td.err, code { font-family: ui-monospace, monospace; }
td.err { white-space: pre-wrap; max-width: 40em; }
tr.burning { background: {{.BurningRow}}; }
tr.burning > :first-child { border-left: 6px solid {{.BurningBackground}}; }
.badge { display: inline-block; padding: 0.1em 0.5em; border-radius: 0.3em; font-weight: 600; white-space: nowrap; }
.badge-burning { color: {{.BurningText}}; background: {{.BurningBackground}}; }
.badge-ok { color: {{.OKText}}; background: {{.OKBackground}}; }
.badge-no_data, .badge-not_evaluated { color: {{.NoDataText}}; background: {{.NoDataBackground}}; }
.badge-external { color: {{.ExternalText}}; background: {{.ExternalBackground}}; }
.note { background: {{.NoteBackground}}; padding: 0.6em 0.8em; max-width: 60em; }
.errors { color: {{.ErrorText}}; background: {{.ErrorBackground}}; padding: 0.2em 0.8em 0.6em; }
.warning { color: {{.ErrorText}}; background: {{.ErrorBackground}}; border-left: 6px solid {{.BurningBackground}}; padding: 0.2em 0.8em 0.6em; max-width: 60em; }
.warning h2 { font-size: 1.1em; margin-top: 0.5em; }
dl { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 0.3em 1em; }
dt { font-weight: 600; }
dd { margin: 0; }
svg.chart { max-width: 100%; height: auto; }
svg.chart text { font-size: 12px; fill: {{.Text}}; }
svg.chart .grid { stroke: {{.Grid}}; stroke-width: 1; }
svg.chart .axis { stroke: {{.Text}}; stroke-width: 1; }
svg.chart .zero { stroke: {{.Text}}; stroke-width: 1.5; stroke-dasharray: 6 4; }
svg.chart .line { fill: none; stroke: {{.Chart}}; stroke-width: 2.5; stroke-linejoin: round; stroke-linecap: round; }
svg.chart .dot { fill: {{.Chart}}; }
`
