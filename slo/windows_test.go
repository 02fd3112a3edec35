package slo

import (
	"fmt"
	"testing"
	"time"
)

const day = 24 * time.Hour

func TestAlertWindowsEqualSlothWhereObjectiveAllows(t *testing.T) {
	tests := []struct {
		name    string
		period  time.Duration
		factors []float64
	}{
		{"30 days", 30 * day, []float64{14.4, 6, 3, 1}},
		{"28 days", 28 * day, []float64{13.44, 5.6, 2.8, 0.933333333}},
	}
	windows := [][2]time.Duration{{time.Hour, 5 * time.Minute}, {6 * time.Hour, 30 * time.Minute}, {day, 2 * time.Hour}, {3 * day, 6 * time.Hour}}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &SLO{Objective: 99.9, Period: tt.period}

			got := s.AlertWindows()

			for i, w := range got {
				if w.BurnFactor != tt.factors[i] {
					t.Errorf("%s factor: got %v, want %v", w.Name, w.BurnFactor, tt.factors[i])
				}
				if w.LongWindow != windows[i][0] || w.ShortWindow != windows[i][1] {
					t.Errorf("%s windows: got %v/%v, want %v/%v", w.Name, w.LongWindow, w.ShortWindow, windows[i][0], windows[i][1])
				}
				if w.Adjustment != "" {
					t.Errorf("%s: got adjustment %q, want none", w.Name, w.Adjustment)
				}
			}
		})
	}
}

func TestEveryAlertWindowCanFire(t *testing.T) {
	for _, objective := range []float64{1, 50, 80, 90, 93, 93.06, 95, 97, 98, 99, 99.9, 99.999} {
		for _, days := range []int{1, 7, 28, 30, 90, 400} {
			s := &SLO{Objective: objective, Period: time.Duration(days) * day}
			for _, w := range s.AlertWindows() {
				if w.Threshold >= 1 {
					t.Errorf("objective %v over %dd, %s: threshold %v can never be exceeded", objective, days, w.Name, w.Threshold)
				}
				if w.LongWindow > s.Period || w.ShortWindow > w.LongWindow {
					t.Errorf("objective %v over %dd, %s: windows %v/%v do not fit the period", objective, days, w.Name, w.LongWindow, w.ShortWindow)
				}
				if w.LongWindow%BaseWindow != 0 {
					t.Errorf("objective %v over %dd, %s: long window %v is not a multiple of %v", objective, days, w.Name, w.LongWindow, BaseWindow)
				}
			}
		}
	}
}

func TestNinetyPercentPageWindowIsLengthened(t *testing.T) {
	s := &SLO{Objective: 90, Period: 30 * day}

	page := s.AlertWindows()[0]

	// 2 % of a 30-day budget at a 10 % error budget is 86.4 minutes of
	// total outage, so the window becomes the next whole 5 minutes, 90.
	if page.LongWindow != 90*time.Minute {
		t.Errorf("long window: got %v, want 1h30m", page.LongWindow)
	}
	if page.ShortWindow != 8*time.Minute {
		t.Errorf("short window: got %v, want 8m", page.ShortWindow)
	}
	if want := 0.96; fmt.Sprintf("%.6f", page.Threshold) != fmt.Sprintf("%.6f", want) {
		t.Errorf("threshold: got %v, want %v", page.Threshold, want)
	}
	if page.Adjustment == "" {
		t.Error("got no adjustment note, want one that says the window was lengthened")
	}
}

func TestZeroToleranceHasNoBurnRateWindows(t *testing.T) {
	s := &SLO{Objective: 100, Period: 30 * day}

	if got := s.AlertWindows(); len(got) != 0 {
		t.Errorf("got %d burn-rate windows, want none", len(got))
	}
	if budget := s.ErrorBudget(); budget != 0 {
		t.Errorf("error budget: got %v, want 0", budget)
	}
}

func TestErrorBudgetIsDecimal(t *testing.T) {
	for objective, want := range map[float64]float64{99.9: 0.001, 95: 0.05, 99.99: 0.0001, 97: 0.03} {
		s := &SLO{Objective: objective}
		if got := s.ErrorBudget(); got != want {
			t.Errorf("objective %v: got budget %v, want %v", objective, got, want)
		}
	}
}

func TestQuietBurnRateFollowsLowestFactor(t *testing.T) {
	if got := (&SLO{Objective: 99.9, Period: 30 * day}).QuietBurnRate(); got != 1 {
		t.Errorf("30 days: got %v, want 1", got)
	}
	if got := (&SLO{Objective: 99.9, Period: 28 * day}).QuietBurnRate(); got != 0.933333333 {
		t.Errorf("28 days: got %v, want 0.933333333", got)
	}
}
