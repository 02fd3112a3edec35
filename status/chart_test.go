package status

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql"
)

func TestBudgetChartGapsAndDots(t *testing.T) {
	start := testNow.Add(-24 * time.Hour)
	step := time.Hour
	at := func(hours int, v float64) promql.FPoint {
		return promql.FPoint{T: start.Add(time.Duration(hours) * time.Hour).UnixMilli(), F: v}
	}

	cases := []struct {
		name      string
		points    []promql.FPoint
		wantMoves int
		wantDots  int
	}{
		{"steady data draws one line", []promql.FPoint{at(0, 1), at(1, 0.9), at(2, 0.8)}, 1, 0},
		{"gap splits the line in two", []promql.FPoint{at(0, 1), at(1, 0.9), at(5, 0.5), at(6, 0.4)}, 2, 0},
		{"lone point draws a dot", []promql.FPoint{at(0, 1), at(5, 0.5), at(6, 0.4)}, 1, 1},
		{"single point draws only a dot", []promql.FPoint{at(24, -4)}, 0, 1},
		{"no data draws nothing", nil, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newBudgetChart("chart-0", "title", tc.points, start, testNow, step)
			if got := strings.Count(c.Path, "M"); got != tc.wantMoves {
				t.Errorf("path %q has %d subpaths, want %d", c.Path, got, tc.wantMoves)
			}
			if len(c.Dots) != tc.wantDots {
				t.Errorf("chart has %d dots, want %d", len(c.Dots), tc.wantDots)
			}
		})
	}
}

func TestBudgetChartDescription(t *testing.T) {
	start := testNow.Add(-24 * time.Hour)

	empty := newBudgetChart("chart-0", "title", nil, start, testNow, time.Hour)
	if want := "No error budget data from 2026-11-30 00:00 UTC to 2026-12-01 00:00 UTC."; empty.Desc != want {
		t.Errorf("description without data = %q, want %q", empty.Desc, want)
	}

	points := []promql.FPoint{
		{T: start.UnixMilli(), F: 1},
		{T: start.Add(time.Hour).UnixMilli(), F: -0.5},
		{T: start.Add(2 * time.Hour).UnixMilli(), F: 0.25},
	}
	c := newBudgetChart("chart-0", "title", points, start, testNow, time.Hour)
	want := "Error budget remaining from 2026-11-30 00:00 UTC to 2026-12-01 00:00 UTC: " +
		"100 % at 2026-11-30 00:00 UTC, 25 % at 2026-11-30 02:00 UTC, lowest -50 % at 2026-11-30 01:00 UTC."
	if c.Desc != want {
		t.Errorf("description:\n got %q\nwant %q", c.Desc, want)
	}
	if c.ZeroY <= c.Top || c.ZeroY >= c.Bottom {
		t.Errorf("zero line at %.1f lies outside the plot from %.1f to %.1f", c.ZeroY, c.Top, c.Bottom)
	}
}
