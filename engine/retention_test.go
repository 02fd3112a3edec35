package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func openWithRetention(t *testing.T, dir string, retention time.Duration, fixed bool) *Engine {
	t.Helper()
	e, err := Open(Options{StoragePath: dir, Interval: time.Minute, Retention: retention, FixedRetention: fixed, Gatherer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return e
}

func TestRetentionSurvivesRestart(t *testing.T) {
	tests := []struct {
		name          string
		first, second time.Duration
		fixed         bool
		want          time.Duration
	}{
		{"a shorter retention after a restart keeps the longer one", 33 * 24 * time.Hour, 24 * time.Hour, false, 33 * 24 * time.Hour},
		{"a longer retention after a restart applies", 24 * time.Hour, 93 * 24 * time.Hour, false, 93 * 24 * time.Hour},
		{"a fixed retention lowers it on purpose", 33 * 24 * time.Hour, 2 * 24 * time.Hour, true, 2 * 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := openWithRetention(t, dir, tt.first, false).Stop(); err != nil {
				t.Fatal(err)
			}

			e := openWithRetention(t, dir, tt.second, tt.fixed)
			defer e.Stop()
			if e.retention != tt.want {
				t.Errorf("retention = %s, want %s", e.retention, tt.want)
			}
			recorded, err := readRetention(dir)
			if err != nil || recorded != tt.want {
				t.Errorf("recorded retention = %s (err %v), want %s", recorded, err, tt.want)
			}
		})
	}
}

func TestRetentionFileMustParse(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, retentionFile), []byte("a month\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	_, err := Open(Options{StoragePath: dir, Interval: time.Minute, Retention: time.Hour, Gatherer: prometheus.NewRegistry()})
	if err == nil || !strings.Contains(err.Error(), "write a duration such as 33d") {
		t.Errorf("Open with an invalid retention file returned %v, want an error that says how to fix it", err)
	}
}

func TestQueriesWaitForAFreeSlot(t *testing.T) {
	e, err := Open(Options{StoragePath: t.TempDir(), Interval: time.Minute, Retention: time.Hour, Gatherer: prometheus.NewRegistry(), MaxConcurrentQueries: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop()

	e.querySlots <- struct{}{}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := e.Query(ctx, "1", time.Now()); err == nil || !strings.Contains(err.Error(), "waited for a free slot") {
		t.Errorf("Query with every slot taken returned %v, want a wait error", err)
	}

	<-e.querySlots
	if _, err := e.Query(context.Background(), "1", time.Now()); err != nil {
		t.Errorf("Query with a free slot returned %v", err)
	}
}

func TestMaxBlockDurationFollowsRetention(t *testing.T) {
	tests := []struct {
		name      string
		retention time.Duration
		want      time.Duration
	}{
		{"33 days build blocks of 3.3 days", 33 * 24 * time.Hour, 33 * 24 * time.Hour / 10},
		{"twelve hours keep the 2-hour head block", 12 * time.Hour, 2 * time.Hour},
		{"two years stop at 31 days", 2 * 365 * 24 * time.Hour, 31 * 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := maxBlockDuration(tt.retention); got != tt.want {
				t.Errorf("maxBlockDuration(%s) = %s, want %s", tt.retention, got, tt.want)
			}
		})
	}
}
