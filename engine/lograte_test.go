package engine

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestRepeatLimiterCountsDroppedLines(t *testing.T) {
	var out bytes.Buffer
	limiter := newRepeatLimiter(slog.NewTextHandler(&out, nil), 3, time.Minute)
	now := time.Unix(0, 0)
	limiter.state.now = func() time.Time { return now }
	logger := slog.New(limiter).With("component", "tsdb")

	for range 10 {
		logger.Warn("append failed", "err", "no space left on device")
	}
	logger.Warn("another line")
	if got := strings.Count(out.String(), "append failed"); got != 3 {
		t.Errorf("passed %d repeats in the first window, want 3:\n%s", got, out.String())
	}
	if !strings.Contains(out.String(), "another line") {
		t.Errorf("a different line was dropped:\n%s", out.String())
	}

	now = now.Add(time.Minute)
	out.Reset()
	logger.Warn("append failed", "err", "no space left on device")
	if !strings.Contains(out.String(), "suppressed_repeats=7") {
		t.Errorf("the first line of the next window does not count the 7 dropped:\n%s", out.String())
	}
}
