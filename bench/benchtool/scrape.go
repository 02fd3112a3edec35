package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// runScrape requests a /metrics URL from -concurrency clients in a loop for
// -duration and prints the latency percentiles in milliseconds:
// "requests <n> p50 <ms> p99 <ms> max <ms>".
func runScrape(args []string) error {
	fs := flag.NewFlagSet("scrape", flag.ContinueOnError)
	target := fs.String("url", "", "URL to request, such as http://127.0.0.1:9000/metrics")
	concurrency := fs.Int("concurrency", 4, "clients requesting at once")
	duration := fs.Duration("duration", 20*time.Second, "how long to request")
	if err := fs.Parse(args); err != nil {
		return err
	}

	var mu sync.Mutex
	var latencies []time.Duration
	var firstErr error
	deadline := time.Now().Add(*duration)
	var wg sync.WaitGroup
	for range *concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 30 * time.Second}
			for time.Now().Before(deadline) {
				start := time.Now()
				err := scrapeOnce(client, *target)
				elapsed := time.Since(start)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				latencies = append(latencies, elapsed)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}

	slices.Sort(latencies)
	ms := func(q float64) float64 {
		return float64(latencies[int(q*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	fmt.Printf("requests %d p50 %.2f p99 %.2f max %.2f\n", len(latencies), ms(0.5), ms(0.99), ms(1))
	return nil
}

func scrapeOnce(client *http.Client, target string) error {
	resp, err := client.Get(target)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %s", target, resp.Status)
	}
	return nil
}
