package sources

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkScrapeWhileRefreshing measures /metrics latency over loopback
// HTTP while the source refreshes back to back from a 100,000-record file,
// so that nearly every scrape overlaps a refresh. It reports the latency
// percentiles and the refreshes completed during the run.
func BenchmarkScrapeWhileRefreshing(b *testing.B) {
	b.Run("idle", func(b *testing.B) { benchmarkScrape(b, false) })
	b.Run("refreshing", func(b *testing.B) { benchmarkScrape(b, true) })
}

func benchmarkScrape(b *testing.B, refreshing bool) {
	const records = 100_000
	slis := []string{"log_coverage", "patch_compliance", "privilege_drift", "evidence_automation"}

	var csv strings.Builder
	csv.WriteString("id,sli,status\n")
	for i := range records {
		status := "ok"
		if i%7 == 0 {
			status = "bad"
		}
		fmt.Fprintf(&csv, "asset-%d,%s,%s\n", i, slis[i%len(slis)], status)
	}

	srv := startTestServer(b, fileCountRegistry(), fmt.Sprintf(oneSourceConfig, "1h"), map[string]string{"hosts.csv": csv.String()})
	waitFor(b, "the first refresh", func() bool { return srv.manager.State().Ready() })

	srv.manager.mu.Lock()
	r := srv.manager.runners["hosts"]
	srv.manager.mu.Unlock()

	ctx, cancel := context.WithCancel(context.Background())
	var refreshes atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for refreshing && ctx.Err() == nil {
			srv.manager.refresh(ctx, r, time.Minute)
			refreshes.Add(1)
		}
	}()

	client := &http.Client{}
	latencies := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		resp, err := client.Get(srv.baseURL + PathMetrics)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		latencies = append(latencies, time.Since(start))
	}
	b.StopTimer()

	cancel()
	wg.Wait()

	slices.Sort(latencies)
	percentile := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(percentile(0.50), "p50-ms")
	b.ReportMetric(percentile(0.99), "p99-ms")
	b.ReportMetric(float64(latencies[len(latencies)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(refreshes.Load()), "refreshes")
}
