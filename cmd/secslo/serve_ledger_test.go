package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// restoreJobs returns an AWS Backup list-restore-jobs document with jobs
// first..last; even jobs failed. The jobs are an hour old, well within the
// ledger's retention.
func restoreJobs(first, last int) string {
	created := time.Now().UTC().Add(-time.Hour)
	var jobs []string
	for i := first; i <= last; i++ {
		status := "COMPLETED"
		if i%2 == 0 {
			status = "FAILED"
		}
		jobs = append(jobs, fmt.Sprintf(`{"RestoreJobId": "job-%d", "Status": %q, "CreationDate": %q, "CompletionDate": %q}`,
			i, status, created.Format(time.RFC3339), created.Add(time.Duration(i)*time.Minute).Format(time.RFC3339)))
	}
	return `{"RestoreJobs": [` + strings.Join(jobs, ",") + `]}`
}

// runServe runs secslo serve until the returned function cancels it.
func runServe(t *testing.T, args ...string) (addr string, stop func()) {
	t.Helper()
	addr = freeAddress(t)
	ctx, cancel := context.WithCancel(context.Background())
	var stderr syncBuffer
	exit := make(chan int, 1)
	go func() {
		exit <- Run(ctx, append([]string{"serve", "--web.listen-address=" + addr, "--storage.path=" + t.TempDir()}, args...), io.Discard, &stderr)
	}()

	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if code := <-exit; code != exitOK {
			t.Errorf("serve exited with %d, want %d; log:\n%s", code, exitOK, stderr.String())
		}
	}
	t.Cleanup(stop)
	return addr, stop
}

func TestServeKeepsEventCountsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	configFile := filepath.Join(dir, "secslo.yaml")
	export := filepath.Join(dir, "restore-jobs.json")
	ledger := filepath.Join(dir, "state", "ledger.db")
	config := "sources:\n  - {name: backup, type: restores, refresh_interval: 1s, paths: [restore-jobs.json], options: {format: aws_backup}}\n"
	for path, content := range map[string]string{configFile: config, export: restoreJobs(1, 4)} {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	total := `secslo_sli_events_total{sli="restore_tests",source="backup"} `
	bad := `secslo_sli_bad_events_total{sli="restore_tests",source="backup"} `

	addr, stop := runServe(t, "--config.file="+configFile, "--ledger.path="+ledger)
	waitUntil(t, "4 restore tests counted", func() bool {
		body := metricsBody(addr)
		return strings.Contains(body, total+"4\n") && strings.Contains(body, bad+"2\n")
	})
	stop()

	// The restarted server reads the same jobs and one more: only job 5 counts.
	if err := os.WriteFile(export, []byte(restoreJobs(2, 5)), 0o644); err != nil {
		t.Fatal(err)
	}
	addr, _ = runServe(t, "--config.file="+configFile, "--ledger.path="+ledger)
	waitUntil(t, "job 5 counted after the restart", func() bool {
		return strings.Contains(metricsBody(addr), total+"5\n")
	})
	time.Sleep(1500 * time.Millisecond) // at least one more refresh
	if body := metricsBody(addr); !strings.Contains(body, total+"5\n") || !strings.Contains(body, bad+"2\n") {
		t.Errorf("after more refreshes the counters changed; want total 5 and bad 2:\n%s", grepLines(body, "secslo_sli_"))
	}
}

// grepLines returns the lines of text that contain substr.
func grepLines(text, substr string) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
