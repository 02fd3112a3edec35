package rules

import (
	"fmt"
	"testing"
)

// These tests replay traffic through real promtool against the generated
// rules, unchanged, and check when alerts fire.

const apiSpec = `
version: secslo/v1
service: api
slos:
  - name: availability
    objective: %s
    controls: [A.8.16]
    sli:
      events:
        bad: http_requests_total{job="api",code="500"}
        total: http_requests_total{job="api"}
`

// requests returns the input series of apiSpec: errors and successes, in
// promtool's expanding notation.
func requests(errors, successes string) []testSeries {
	return []testSeries{
		{Series: `http_requests_total{job="api",code="500"}`, Values: errors},
		{Series: `http_requests_total{job="api",code="200"}`, Values: successes},
	}
}

// firingCount checks how many alerts of a tier fire at evalTime: 0 or 1.
func firingCount(tier, evalTime string, firing bool) promqlTest {
	test := promqlTest{
		Expr:       fmt.Sprintf(`count(ALERTS{slo="availability",secslo_tier=%q,alertstate="firing"})`, tier),
		EvalTime:   evalTime,
		ExpSamples: []testSample{},
	}
	if firing {
		test.ExpSamples = []testSample{{Labels: "{}", Value: 1}}
	}
	return test
}

// holds checks that a boolean PromQL expression returns 1 at evalTime.
func holds(expr, evalTime string) promqlTest {
	return promqlTest{Expr: "min(" + expr + ")", EvalTime: evalTime, ExpSamples: []testSample{{Labels: "{}", Value: 1}}}
}

func TestNinetyPercentObjectivePagesWithinTwoHours(t *testing.T) {
	slos := parseSpec(t, fmt.Sprintf(apiSpec, "90"))

	// Six clean hours at 100 requests a minute, then every request fails.
	// A page tier at burn rate 14.4 would need an error ratio of 1.44; the
	// lengthened window fires after about 90 minutes (Sloth: never; with a
	// 6x tier alone, 3.6 hours).
	runScenario(t, slos, testGroup{
		Name:        "total outage after clean traffic",
		Interval:    "1m",
		InputSeries: requests("0+0x360 0+100x120", "0+100x360 36000+0x120"),
		PromQLExprTest: []promqlTest{
			firingCount("page", "5h59m", false),
			firingCount("page", "7h", false),
			firingCount("page", "7h40m", true),
		},
	})
}

func TestPageFiresAfterTwoPercentOfBudget(t *testing.T) {
	slos := parseSpec(t, fmt.Sprintf(apiSpec, "99.9"))

	// Six clean hours at 1,000 requests a minute, then a burn rate of 20
	// (2 % errors). Spending 2 % of a 30-day budget at 20x takes 43.2
	// minutes; the page must not fire well before and must fire soon after.
	runScenario(t, slos, testGroup{
		Name:        "burn rate 20 after six clean hours",
		Interval:    "1m",
		InputSeries: requests("0+0x360 20+20x60", "0+1000x360 360980+980x60"),
		PromQLExprTest: []promqlTest{
			firingCount("page", "6h40m", false),
			firingCount("page", "6h50m", true),
		},
	})
}

func TestSteadyBurnBelowOneRaisesNoAlert(t *testing.T) {
	slos := parseSpec(t, fmt.Sprintf(apiSpec, "99.9"))

	// Burn rate 0.9 for longer than the three-day ticket window.
	runScenario(t, slos, testGroup{
		Name:        "steady burn rate 0.9",
		Interval:    "1m",
		InputSeries: requests("0+9x4330", "0+9991x4330"),
		PromQLExprTest: []promqlTest{
			firingCount("page", "1h", false),
			firingCount("ticket", "1d", false),
			firingCount("ticket", "3d10m", false),
			firingCount("page", "3d10m", false),
			holds(`abs(slo:secslo_sli_error:ratio_3d{slo="availability"} - 0.0009) < bool 1e-12`, "3d10m"),
		},
	})
}

func TestZeroToleranceAlertsOnOneBadEvent(t *testing.T) {
	slos := parseSpec(t, fmt.Sprintf(apiSpec, "100"))

	// Two clean hours, then a single failed request among 100 a minute.
	runScenario(t, slos, testGroup{
		Name:        "one bad event",
		Interval:    "1m",
		InputSeries: requests("0+0x120 1+0x60", "0+100x120 12099+100x60"),
		PromQLExprTest: []promqlTest{
			firingCount("page", "2h", false),
			firingCount("page", "2h5m", true),
			holds(`slo:secslo_error_budget_remaining:ratio{slo="availability"} == bool 0`, "2h5m"),
		},
	})
}

func TestQuietHourLeavesPeriodRatioUnchanged(t *testing.T) {
	slos := parseSpec(t, fmt.Sprintf(apiSpec, "99"))

	// Two hours at 0.5 % errors, then an hour in which no request arrives:
	// the counters stay flat, and no ratio may turn into NaN.
	runScenario(t, slos, testGroup{
		Name:        "quiet hour",
		Interval:    "1m",
		InputSeries: requests("0+5x120 600+0x70", "0+995x120 119400+0x70"),
		PromQLExprTest: []promqlTest{
			holds(`slo:secslo_sli_error:ratio_period{slo="availability"} == bool 0.005`, "2h"),
			holds(`slo:secslo_sli_error:ratio_period{slo="availability"} == bool 0.005`, "3h10m"),
			holds(`slo:secslo_sli_error:ratio_1h{slo="availability"} == bool 0`, "3h10m"),
			holds(`abs(slo:secslo_error_budget_remaining:ratio{slo="availability"} - 0.5) < bool 1e-9`, "3h10m"),
			firingCount("page", "3h10m", false),
		},
	})
}

func TestMixedTrafficGivesRatioOfSums(t *testing.T) {
	slos := parseSpec(t, fmt.Sprintf(apiSpec, "99"))

	// 10,000 good requests in the first hour, then 10 requests with 5
	// errors in the second. The error ratio over both hours is 5 / 10,010,
	// about 0.05 %; averaging the two hourly ratios would report 25 %.
	runScenario(t, slos, testGroup{
		Name:     "busy hour then a quiet, failing hour",
		Interval: "1m",
		InputSeries: requests(
			fmt.Sprintf("0+0x60 %g+%gx59", 5.0/60, 5.0/60),
			fmt.Sprintf("0+%gx60 %g+%gx59", 10000.0/60, 10000.0+5.0/60, 5.0/60)),
		PromQLExprTest: []promqlTest{
			holds(`abs(slo:secslo_sli_error:ratio_2h{slo="availability"} - 5 / 10010) < bool 0.00005`, "2h"),
		},
	})
}

func TestBuiltinCountsTwoReplicasOnce(t *testing.T) {
	slos := parseSpec(t, `
version: secslo/v1
service: isms
slos:
  - name: log-coverage
    sli: {builtin: log_coverage}
`)

	// Two exporter replicas report the same 50 assets, 5 of them stale.
	// Summed naively the ratio would stay 0.1 but every count would double;
	// the recorded sums must count the objects once.
	var series []testSeries
	for _, instance := range []string{"secslo-0:20027", "secslo-1:20027"} {
		series = append(series,
			testSeries{Series: fmt.Sprintf(`secslo_sli_objects{sli="log_coverage",source="inventory",instance=%q}`, instance), Values: "50x30"},
			testSeries{Series: fmt.Sprintf(`secslo_sli_noncompliant_objects{sli="log_coverage",source="inventory",instance=%q}`, instance), Values: "5x30"},
		)
	}
	runScenario(t, slos, testGroup{
		Name:        "two replicas",
		Interval:    "1m",
		InputSeries: series,
		PromQLExprTest: []promqlTest{
			holds(`slo:secslo_sli_error:ratio_5m{slo="log-coverage"} == bool 0.1`, "30m"),
			holds(`slo:secslo_sli_total:sum5m{slo="log-coverage"} / slo:secslo_sli_bad:sum5m{slo="log-coverage"} == bool 10`, "30m"),
			holds(`slo:secslo_sli_total:sum5m{slo="log-coverage"} <= bool 50 * 6`, "30m"),
		},
	})
}
