// Package dashboards generates the Grafana dashboards of secslo from SLO
// models: an executive dashboard for management review, an on-call
// dashboard for triage and a debug dashboard for the exporter and the rules.
// Like the rules package, it is a pure generator: it reads nothing and writes
// nothing but what it returns.
//
// The dashboards query only the series that secslo serves and records, so
// they work for every spec that the rules package accepts, grouped SLOs
// included. No query reads a range longer than the 768 h that Mimir accepts
// by default.
package dashboards

import (
	"encoding/json"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/secslo/secslo/slo"
)

// Dir is the folder of the dashboards inside the output folder of
// secslo generate.
const Dir = "dashboards"

// Stable uids, so that provisioning and the import API update a dashboard
// in place instead of adding a copy.
const (
	UIDExecutive = "secslo-executive"
	UIDOnCall    = "secslo-oncall"
	UIDDebug     = "secslo-debug"
)

// generator builds one dashboard from the SLO models.
type generator struct {
	uid   string
	build func(slos []*slo.SLO) *dashboard.DashboardBuilder
}

// generators lists the dashboards in the order of their files.
var generators = []generator{
	{UIDExecutive, Executive},
	{UIDOnCall, OnCall},
	{UIDDebug, Debug},
}

// Generate builds every dashboard of slos and returns its JSON by path
// relative to the output folder, such as "dashboards/secslo-executive.json".
func Generate(slos []*slo.SLO) (map[string][]byte, error) {
	files := make(map[string][]byte, len(generators))
	for _, g := range generators {
		data, err := Encode(g.build(slos))
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", g.uid, err)
		}
		files[FileName(g.uid)] = data
	}
	return files, nil
}

// FileName is the path of a dashboard's JSON inside the output folder.
func FileName(uid string) string {
	return Dir + "/" + uid + ".json"
}

// Encode builds the dashboard, numbers its panels and returns its JSON, as
// Grafana's import and file provisioning read it.
func Encode(builder *dashboard.DashboardBuilder) ([]byte, error) {
	board, err := builder.Build()
	if err != nil {
		return nil, fmt.Errorf("failed to build the dashboard: %w", err)
	}
	numberPanels(&board)

	data, err := json.MarshalIndent(board, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("failed to encode the dashboard: %w", err)
	}
	return append(data, '\n'), nil
}

// numberPanels gives every panel and row a unique id in layout order.
// Grafana needs the ids for links to a panel and for repeated panels; the
// builder leaves them unset.
func numberPanels(board *dashboard.Dashboard) {
	id := uint32(0)
	next := func() *uint32 {
		id++
		value := id
		return &value
	}
	for _, item := range board.Panels {
		if item.Panel != nil {
			item.Panel.Id = next()
			continue
		}
		item.RowPanel.Id = *next()
		for i := range item.RowPanel.Panels {
			item.RowPanel.Panels[i].Id = next()
		}
	}
}
