package status

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql"

	"github.com/secslo/secslo/slo"
)

// generatedSLOs returns n objectives on built-in SLIs, ten per service,
// parsed from a generated spec as secslo serve would read it.
func generatedSLOs(tb testing.TB, n int) []*slo.SLO {
	tb.Helper()
	builtins := slo.BuiltinIDs()

	var spec strings.Builder
	for i := range n {
		if i%10 == 0 {
			fmt.Fprintf(&spec, "---\nversion: secslo/v1\nservice: service-%03d\nowner: team-%03d@example.com\nslos:\n", i/10, i/10)
		}
		fmt.Fprintf(&spec, "  - name: objective-%04d\n    sli:\n      builtin: %s\n    alerting:\n      runbook_url: https://runbooks.example.com/%d\n",
			i, builtins[i%len(builtins)], i)
	}

	slos, problems := slo.Parse("generated.yaml", []byte(spec.String()), slo.LoadOptions{})
	if len(problems) > 0 {
		tb.Fatalf("invalid generated spec: %v", problems)
	}
	if len(slos) != n {
		tb.Fatalf("generated spec has %d objectives, want %d", len(slos), n)
	}
	return slos
}

// writeGenerated writes every series of slos at testNow, with error ratios
// spread from 0 to twice the budget, and a firing alert on every tenth.
func writeGenerated(tb testing.TB, engine *testEngine, slos []*slo.SLO) {
	tb.Helper()
	w := engine.writer(tb)
	for i, s := range slos {
		ratio := float64(i%100) / 50 * s.ErrorBudget()
		w.objective(s, testNow, ratio)
		if i%10 == 0 {
			w.alert(s, testNow, slo.AlertStateFiring, slo.TierTicket, slo.AlertKindBurnRate)
		}
	}
	w.commit()
}

// countingEvaluator counts the queries that reach a real engine.
type countingEvaluator struct {
	engine       *testEngine
	queries      atomic.Int64
	rangeQueries atomic.Int64
}

func (c *countingEvaluator) Query(ctx context.Context, query string, ts time.Time) (promql.Vector, error) {
	c.queries.Add(1)
	return c.engine.Query(ctx, query, ts)
}

func (c *countingEvaluator) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) (promql.Matrix, error) {
	c.rangeQueries.Add(1)
	return c.engine.QueryRange(ctx, query, start, end, step)
}

func TestQueryCountDoesNotGrowWithObjectives(t *testing.T) {
	for _, n := range []int{10, 1000} {
		t.Run(fmt.Sprintf("%d objectives", n), func(t *testing.T) {
			slos := generatedSLOs(t, n)
			engine := openTestEngine(t, promql.EngineOpts{})
			writeGenerated(t, engine, slos)
			counter := &countingEvaluator{engine: engine}
			page := New(Options{SLOs: func() []*slo.SLO { return slos }, Evaluator: counter, Now: func() time.Time { return testNow }})

			resp, body := get(t, page, "/")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET / returned %d", resp.StatusCode)
			}
			if rows := objectiveRows(t, parseHTML(t, body)); len(rows) != n {
				t.Errorf("overview lists %d objectives, want %d", len(rows), n)
			}
			if got := counter.queries.Load(); got != 3 {
				t.Errorf("overview ran %d instant queries, want 3", got)
			}
			if got := counter.rangeQueries.Load(); got != 0 {
				t.Errorf("overview ran %d range queries, want 0", got)
			}
		})
	}
}

// BenchmarkOverview1000 renders the overview of 1,000 objectives read from
// a real TSDB through a real PromQL engine.
func BenchmarkOverview1000(b *testing.B) {
	slos := generatedSLOs(b, 1000)
	engine := openTestEngine(b, promql.EngineOpts{})
	writeGenerated(b, engine, slos)
	page, _ := newTestPage(slos, engine, fixtureSources())
	req := httptest.NewRequest(http.MethodGet, "/", nil)

	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		page.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET / returned %d", rec.Code)
		}
	}
}
