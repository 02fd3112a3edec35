package slo

import (
	"fmt"
	"math"
	"time"

	"github.com/prometheus/common/model"
)

// BaseWindow is the shortest window, recorded from raw metrics. Every other
// window is a multiple of it, computed from the recorded base sums.
const BaseWindow = 5 * time.Minute

// tierSpec is one row of the multi-window, multi-burn-rate table of the SRE
// workbook ("Alerting on SLOs", table 5-8), stated for a 30-day period and
// scaled here to any period by keeping each row's budget share and long window.
type tierSpec struct {
	name string
	tier string
	// budgetShare is the share of the period's error budget that, spent
	// within longWindow, raises the alert.
	budgetShare float64
	longWindow  time.Duration
	shortWindow time.Duration
}

var tierTable = []tierSpec{
	// Page: 2 % of the budget in one hour; at 30 days a burn rate of 14.4.
	{"page-fast", TierPage, 0.02, time.Hour, 5 * time.Minute},
	// Page: 5 % of the budget in six hours; at 30 days a burn rate of 6.
	{"page-slow", TierPage, 0.05, 6 * time.Hour, 30 * time.Minute},
	// Ticket: 10 % of the budget in a day; at 30 days a burn rate of 3.
	{"ticket-fast", TierTicket, 0.10, 24 * time.Hour, 2 * time.Hour},
	// Ticket: 10 % of the budget in three days; at 30 days a burn rate of 1.
	{"ticket-slow", TierTicket, 0.10, 72 * time.Hour, 6 * time.Hour},
}

// AlertWindow is one burn-rate condition: the alert fires while the error
// ratio over both the long and the short window exceeds Threshold.
type AlertWindow struct {
	// Name is "page-fast", "page-slow", "ticket-fast" or "ticket-slow".
	Name string
	// Tier is TierPage or TierTicket.
	Tier        string
	BudgetShare float64
	LongWindow  time.Duration
	ShortWindow time.Duration
	// BurnFactor is the burn rate that spends BudgetShare of the period's
	// budget within LongWindow: BudgetShare × period / LongWindow.
	BurnFactor float64
	// Threshold is the error ratio BurnFactor × error budget; always below
	// 1, so the alert can fire.
	Threshold float64
	// Adjustment says why the windows differ from the table, or is empty.
	Adjustment string
}

// AlertWindows returns the burn-rate conditions of s, page tiers first.
// Zero-tolerance SLOs have none: any bad event alerts instead.
//
// A condition can fire only if BurnFactor × error budget < 1, because an
// error ratio never exceeds 1. At 30 days the page-fast factor of 14.4 fails
// that test for objectives up to about 93 %. Such a tier keeps its budget
// share and takes the shortest long window, in whole BaseWindows, that makes
// the threshold fall below 1; its short window stays a twelfth of the long.
// A long window longer than the period is cut to the period.
func (s *SLO) AlertWindows() []AlertWindow {
	if s.ZeroTolerance() {
		return nil
	}
	budget := s.ErrorBudget()
	windows := make([]AlertWindow, 0, len(tierTable))
	for _, t := range tierTable {
		windows = append(windows, scaleTier(t, s.Period, budget))
	}
	return windows
}

func scaleTier(t tierSpec, period time.Duration, budget float64) AlertWindow {
	w := AlertWindow{Name: t.name, Tier: t.tier, BudgetShare: t.budgetShare, LongWindow: t.longWindow, ShortWindow: t.shortWindow}

	if w.LongWindow > period {
		w.LongWindow = period
		w.ShortWindow = shortFor(period)
		w.Adjustment = fmt.Sprintf("long window cut from %s to the period %s", FormatDuration(t.longWindow), FormatDuration(period))
	}

	factor := burnFactor(t.budgetShare, period, w.LongWindow)
	if factor*budget >= 1 {
		original := w.LongWindow
		w.LongWindow = shortestFeasibleWindow(t.budgetShare, period, budget)
		w.ShortWindow = shortFor(w.LongWindow)
		factor = burnFactor(t.budgetShare, period, w.LongWindow)
		w.Adjustment = fmt.Sprintf("long window lengthened from %s to %s and short window to %s: at burn rate %.4g over %s the threshold would be an error ratio of %.4g, which can never be exceeded",
			FormatDuration(original), FormatDuration(w.LongWindow), FormatDuration(w.ShortWindow),
			burnFactor(t.budgetShare, period, original), FormatDuration(original), burnFactor(t.budgetShare, period, original)*budget)
	}

	w.BurnFactor = factor
	w.Threshold = factor * budget
	return w
}

func burnFactor(share float64, period, window time.Duration) float64 {
	return roundFactor(share * float64(period) / float64(window))
}

// roundFactor drops the binary noise of share × period / window, so that
// the factor at 28 days prints as 13.44 and not 13.440000000000001.
func roundFactor(f float64) float64 {
	return math.Round(f*1e9) / 1e9
}

// shortestFeasibleWindow returns the shortest multiple of BaseWindow, W,
// with share × period / W × budget < 1.
func shortestFeasibleWindow(share float64, period time.Duration, budget float64) time.Duration {
	minimum := share * float64(period) * budget
	steps := math.Floor(minimum/float64(BaseWindow)) + 1
	return time.Duration(steps) * BaseWindow
}

// shortFor returns the short window of a long window: a twelfth of it, as
// in the SRE workbook, rounded up to whole minutes and at least BaseWindow.
func shortFor(long time.Duration) time.Duration {
	short := (long/12 + time.Minute - 1).Truncate(time.Minute)
	if short < BaseWindow {
		short = BaseWindow
	}
	return short
}

// ZeroToleranceWindows returns the windows of a zero-tolerance SLO's page
// and ticket alerts: any bad event within the window raises the alert.
func (s *SLO) ZeroToleranceWindows() (page, ticket time.Duration) {
	return min(tierTable[0].longWindow, s.Period), min(tierTable[2].longWindow, s.Period)
}

// NoDataDelay is how long the SLI must be absent before the no-data alert
// fires: the page tier's long window, so that a gap long enough to hide a
// page is reported.
func (s *SLO) NoDataDelay() time.Duration {
	if s.ZeroTolerance() {
		page, _ := s.ZeroToleranceWindows()
		return page
	}
	return s.AlertWindows()[0].LongWindow
}

// QuietBurnRate is the highest steady burn rate at which no alert of s
// fires: 1, or lower where a tier's factor is below 1 (ticket-slow at 28
// days is 0.933).
func (s *SLO) QuietBurnRate() float64 {
	quiet := 1.0
	for _, w := range s.AlertWindows() {
		quiet = min(quiet, w.BurnFactor)
	}
	return quiet
}

// FormatDuration prints d as a Prometheus duration, such as 1h30m or 3d.
// Whole days print as days, so that a 28-day period reads as the spec
// wrote it, 28d, and not as 4w.
func FormatDuration(d time.Duration) string {
	const day = 24 * time.Hour
	if d > 0 && d%day == 0 {
		return fmt.Sprintf("%dd", d/day)
	}
	return model.Duration(d).String()
}
