package status

import (
	"math"
	"strconv"
	"testing"
	"time"
)

func TestFormatPercent(t *testing.T) {
	cases := []struct {
		name  string
		ratio float64
		want  string
	}{
		{"whole percent prints without decimals", 0.5, "50 %"},
		{"overspent budget prints negative", -4.0333333, "-403.333 %"},
		{"small ratio keeps three decimals", 0.0001234, "0.012 %"},
		{"tiny negative rounds to zero without a sign", -0.0000001, "0 %"},
		{"NaN reads as no data", math.NaN(), "no data"},
		{"infinity reads as no data", math.Inf(-1), "no data"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := formatPercent(tc.ratio); got != tc.want {
				t.Errorf("formatPercent(%v) = %q, want %q", tc.ratio, got, tc.want)
			}
		})
	}
}

func TestFormatBurnRate(t *testing.T) {
	cases := []struct {
		name string
		rate float64
		want string
	}{
		{"factor prints as the table spells it", 14.4, "14.4×"},
		{"rate rounds to two decimals", 5.0333, "5.03×"},
		{"NaN reads as no data", math.NaN(), "no data"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := formatBurnRate(tc.rate); got != tc.want {
				t.Errorf("formatBurnRate(%v) = %q, want %q", tc.rate, got, tc.want)
			}
		})
	}
}

func TestChartStep(t *testing.T) {
	const day = 24 * time.Hour
	cases := []struct {
		name               string
		period, evaluation time.Duration
		want               time.Duration
	}{
		{"30-day period steps three hours", 30 * day, time.Minute, 3 * time.Hour},
		{"28-day period steps in whole seconds", 28 * day, time.Minute, 2*time.Hour + 48*time.Minute},
		{"one-day period steps six minutes", day, time.Minute, 6 * time.Minute},
		{"step never undercuts the evaluation interval", day, 10 * time.Minute, 10 * time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := chartStep(tc.period, tc.evaluation); got != tc.want {
				t.Errorf("chartStep(%s, %s) = %s, want %s", tc.period, tc.evaluation, got, tc.want)
			}
		})
	}
}

// contrastRatio returns the WCAG 2.1 contrast ratio of two #rrggbb colors.
func contrastRatio(t *testing.T, a, b string) float64 {
	t.Helper()
	la, lb := relativeLuminance(t, a), relativeLuminance(t, b)
	return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)
}

// relativeLuminance follows the WCAG 2.1 definition for sRGB.
func relativeLuminance(t *testing.T, color string) float64 {
	t.Helper()
	if len(color) != 7 || color[0] != '#' {
		t.Fatalf("color %q is not #rrggbb", color)
	}
	var channels [3]float64
	for i := range channels {
		v, err := strconv.ParseUint(color[1+2*i:3+2*i], 16, 8)
		if err != nil {
			t.Fatalf("color %q: %v", color, err)
		}
		c := float64(v) / 255
		if c <= 0.04045 {
			channels[i] = c / 12.92
		} else {
			channels[i] = math.Pow((c+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*channels[0] + 0.7152*channels[1] + 0.0722*channels[2]
}

func TestPaletteContrast(t *testing.T) {
	// WCAG 2.1 AA: 4.5:1 for normal text.
	for _, pair := range contrastPairs {
		if ratio := contrastRatio(t, pair[0], pair[1]); ratio < 4.5 {
			t.Errorf("text %s on %s has the contrast ratio %.2f:1, want at least 4.5:1", pair[0], pair[1], ratio)
		}
	}
	// WCAG 2.1 AA: 3:1 for the focus outline, the burning row marker and
	// the chart line against the page.
	for _, color := range []string{colors.Focus, colors.BurningBackground, colors.Chart} {
		if ratio := contrastRatio(t, color, colors.Background); ratio < 3 {
			t.Errorf("graphic %s on %s has the contrast ratio %.2f:1, want at least 3:1", color, colors.Background, ratio)
		}
	}
}
