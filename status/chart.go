package status

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/promql"
)

// Size of the error budget chart in SVG user units. The SVG shrinks to
// narrow pages, and the margins leave room for the axis labels.
const (
	chartWidth        = 720
	chartHeight       = 260
	chartMarginLeft   = 76
	chartMarginRight  = 24
	chartMarginTop    = 16
	chartMarginBottom = 44
	// chartMinTickGap is the smallest vertical distance between two y-axis
	// labels, so that they never overlap.
	chartMinTickGap = 14
)

// chart is a server-rendered line chart of the remaining error budget.
type chart struct {
	// ID makes the ids of the chart's title and description unique within
	// the page.
	ID    string
	Title string
	// Desc summarises the data in words for screen readers.
	Desc          string
	Width, Height int
	// Left, Right, Top and Bottom bound the plot area.
	Left, Right, Top, Bottom float64
	// Path is the d attribute of the line, empty when no point has a
	// neighbour. A gap in the data starts a new subpath.
	Path string
	// Dots are the points without a neighbour within one and a half steps.
	Dots   []chartDot
	ZeroY  float64
	YTicks []chartTick
	XTicks []chartTick
	// AxisTitleX and AxisTitleY place the x axis title, and MiddleY the
	// rotated y axis title.
	AxisTitleX, AxisTitleY, MiddleY float64
}

// chartTick is one axis label: Pos is the tick's position along its axis,
// LabelX and LabelY place its text, all in SVG user units.
type chartTick struct {
	Pos, LabelX, LabelY float64
	Label               string
	// Anchor is the SVG text-anchor of the label.
	Anchor string
}

// chartDot is a point of the chart without a neighbour, in SVG user units.
type chartDot struct {
	X, Y float64
}

// chartScale maps times and values to SVG coordinates.
type chartScale struct {
	start, end time.Time
	yMin, yMax float64
	c          *chart
}

func (s chartScale) x(t time.Time) float64 {
	share := float64(t.Sub(s.start)) / float64(s.end.Sub(s.start))
	return s.c.Left + share*(s.c.Right-s.c.Left)
}

func (s chartScale) y(v float64) float64 {
	share := (s.yMax - v) / (s.yMax - s.yMin)
	return s.c.Top + share*(s.c.Bottom-s.c.Top)
}

// newBudgetChart draws points, the remaining budget between start and
// end, evaluated every step. The y axis spans at least 0 to 100 %, and
// further down when the budget is overspent.
func newBudgetChart(id, title string, points []promql.FPoint, start, end time.Time, step time.Duration) *chart {
	c := &chart{
		ID: id, Title: title, Width: chartWidth, Height: chartHeight,
		Left: chartMarginLeft, Right: chartWidth - chartMarginRight,
		Top: chartMarginTop, Bottom: chartHeight - chartMarginBottom,
	}
	scale := chartScale{start: start, end: end, yMin: 0, yMax: 1, c: c}
	for _, p := range points {
		if isFinite(p.F) {
			scale.yMin = min(scale.yMin, p.F)
			scale.yMax = max(scale.yMax, p.F)
		}
	}

	c.Path, c.Dots = linePath(points, scale, step)
	c.ZeroY = round1(scale.y(0))
	c.AxisTitleX = round1((c.Left + c.Right) / 2)
	c.AxisTitleY = chartHeight - 6
	c.MiddleY = round1((c.Top + c.Bottom) / 2)
	c.YTicks = yTicks(scale)
	c.XTicks = xTicks(scale)
	c.Desc = describeBudget(points, start, end)
	return c
}

// linePath returns the d attribute of the line through points, and the
// points without a neighbour, which a line cannot show. A point more than one
// and a half steps after the previous one starts a new subpath, so that a
// gap in the data shows as a gap.
func linePath(points []promql.FPoint, scale chartScale, step time.Duration) (string, []chartDot) {
	var b strings.Builder
	var dots []chartDot
	for _, run := range contiguousRuns(points, step) {
		if len(run) == 1 {
			dots = append(dots, chartDot{X: round1(scale.x(time.UnixMilli(run[0].T))), Y: round1(scale.y(run[0].F))})
			continue
		}
		for i, p := range run {
			command := "L"
			if i == 0 {
				command = "M"
			}
			fmt.Fprintf(&b, "%s%s %s ", command, formatCoordinate(scale.x(time.UnixMilli(p.T))), formatCoordinate(scale.y(p.F)))
		}
	}
	return strings.TrimSpace(b.String()), dots
}

// contiguousRuns splits points into runs without gaps: a point that is not
// finite, or that comes more than one and a half steps after the previous
// one, ends a run.
func contiguousRuns(points []promql.FPoint, step time.Duration) [][]promql.FPoint {
	maxGap := (step + step/2).Milliseconds()
	var runs [][]promql.FPoint
	var run []promql.FPoint
	for _, p := range points {
		if !isFinite(p.F) {
			runs, run = appendRun(runs, run), nil
			continue
		}
		if len(run) > 0 && p.T-run[len(run)-1].T > maxGap {
			runs, run = appendRun(runs, run), nil
		}
		run = append(run, p)
	}
	return appendRun(runs, run)
}

func appendRun(runs [][]promql.FPoint, run []promql.FPoint) [][]promql.FPoint {
	if len(run) == 0 {
		return runs
	}
	return append(runs, run)
}

// round1 rounds an SVG coordinate to a tenth of a unit, which is below
// one pixel at the chart's size.
func round1(v float64) float64 {
	return math.Round(v*10) / 10
}

func formatCoordinate(v float64) string {
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// yTicks labels 100 %, 50 %, 0 % and, when the budget is overspent, half
// the lowest value and the lowest value, in whole percent. It leaves out
// labels too close to the one above.
func yTicks(scale chartScale) []chartTick {
	values := []float64{scale.yMax, scale.yMax / 2, 0}
	if scale.yMin < 0 {
		values = append(values, scale.yMin/2, scale.yMin)
	}

	var ticks []chartTick
	for _, v := range values {
		pos := scale.y(v)
		if len(ticks) > 0 && pos-ticks[len(ticks)-1].Pos < chartMinTickGap {
			continue
		}
		label := formatDecimal(v*100, 0) + " %"
		ticks = append(ticks, chartTick{Pos: round1(pos), LabelX: scale.c.Left - 6, LabelY: round1(pos + 4), Label: label, Anchor: "end"})
	}
	return ticks
}

// xTicks labels the start, the end and three times between them, with
// dates for periods of two days or more and times otherwise.
func xTicks(scale chartScale) []chartTick {
	layout := "Jan 2 15:04"
	if scale.end.Sub(scale.start) >= 48*time.Hour {
		layout = "Jan 2"
	}

	const count = 5
	ticks := make([]chartTick, 0, count)
	for i := range count {
		t := scale.start.Add(time.Duration(float64(scale.end.Sub(scale.start)) * float64(i) / (count - 1)))
		anchor := "middle"
		switch i {
		case 0:
			anchor = "start"
		case count - 1:
			anchor = "end"
		}
		x := round1(scale.x(t))
		ticks = append(ticks, chartTick{Pos: x, LabelX: x, LabelY: scale.c.Bottom + 18, Label: t.UTC().Format(layout), Anchor: anchor})
	}
	return ticks
}

// describeBudget summarises the history in one sentence: the first, last
// and lowest values and when they were reached.
func describeBudget(points []promql.FPoint, start, end time.Time) string {
	span := fmt.Sprintf("from %s to %s", formatChartTime(start), formatChartTime(end))

	var first, last, lowest *promql.FPoint
	for i := range points {
		p := &points[i]
		if !isFinite(p.F) {
			continue
		}
		if first == nil {
			first = p
		}
		last = p
		if lowest == nil || p.F < lowest.F {
			lowest = p
		}
	}
	if first == nil {
		return "No error budget data " + span + "."
	}

	return fmt.Sprintf("Error budget remaining %s: %s at %s, %s at %s, lowest %s at %s.", span,
		formatPercent(first.F), formatChartTime(time.UnixMilli(first.T)),
		formatPercent(last.F), formatChartTime(time.UnixMilli(last.T)),
		formatPercent(lowest.F), formatChartTime(time.UnixMilli(lowest.T)))
}

func formatChartTime(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func isFinite(v float64) bool {
	return !math.IsNaN(v) && !math.IsInf(v, 0)
}
