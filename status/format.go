package status

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/secslo/secslo/slo"
	"github.com/secslo/secslo/sources"
)

// noData is shown in place of a missing or NaN value.
const noData = "no data"

// formatPercent prints a ratio as a percentage with at most three
// decimals, such as "84.933 %".
func formatPercent(ratio float64) string {
	if !isFinite(ratio) {
		return noData
	}
	return formatDecimal(ratio*100, 3) + " %"
}

// formatObjective prints the objective as the spec wrote it, such as "99.9 %".
func formatObjective(s *slo.SLO) string {
	return strconv.FormatFloat(s.Objective, 'f', -1, 64) + " %"
}

// formatBurnRate prints a burn rate with at most two decimals, such as "2.31×".
func formatBurnRate(rate float64) string {
	if !isFinite(rate) {
		return noData
	}
	return formatDecimal(rate, 2) + "×"
}

// formatDecimal rounds v to at most the given decimals and drops trailing
// zeros, so that 14.4 prints as "14.4" and never as "-0".
func formatDecimal(v float64, decimals int) string {
	scale := math.Pow10(decimals)
	rounded := math.Round(v*scale) / scale
	if rounded == 0 {
		rounded = 0
	}
	return strconv.FormatFloat(rounded, 'f', -1, 64)
}

// formatTimestamp prints t in RFC 3339 in UTC, or "never" for the zero time.
func formatTimestamp(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

// formatGroup prints group labels as PromQL matchers, such as
// region="eu", or "" for an objective without group_by.
func formatGroup(lbls labels.Labels) string {
	parts := make([]string, 0, lbls.Len())
	lbls.Range(func(l labels.Label) {
		parts = append(parts, l.Name+"="+strconv.Quote(l.Value))
	})
	return strings.Join(parts, ", ")
}

// formatRecords prints the records of a source's latest good refresh.
func formatRecords(st *sources.SourceStatus) string {
	if st.Result == nil {
		return "none yet"
	}
	return fmt.Sprintf("%d read, %d rejected", st.Result.RecordsRead, st.Result.RecordsRejected)
}

// formatError prints err, or "" for nil.
func formatError(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// stateLabels are the words the page shows for each objective state.
var stateLabels = map[string]string{
	StateBurning:      "Burning",
	StateOK:           "OK",
	StateNoData:       "No data",
	StateExternal:     "External",
	StateNotEvaluated: "Not evaluated here",
}

func stateLabel(state string) string {
	return stateLabels[state]
}

// stateMarkers are symbols shown before each state label, so that a state
// never shows by its color alone.
var stateMarkers = map[string]string{
	StateBurning:      "▲",
	StateOK:           "✓",
	StateNoData:       "○",
	StateExternal:     "↗",
	StateNotEvaluated: "○",
}

func stateMarker(state string) string {
	return stateMarkers[state]
}
