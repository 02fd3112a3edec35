package engine

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Limits of the engine's log lines. The TSDB and the rules manager log one
// line per failed append or rule, so a full disk gives thousands a minute.
// The limiter passes the first repeats of each line per window and counts
// the rest.
const (
	logRepeatsPerWindow = 10
	logRepeatWindow     = time.Minute
	// logRepeatKeys bounds the distinct lines the limiter counts. Past it,
	// the limiter clears its counts and starts again.
	logRepeatKeys = 1000
)

// repeatLimiter is a slog.Handler that passes at most limit records with
// the same level and message per window. The first record it passes in a
// new window carries suppressed_repeats, the number it dropped in the
// previous one.
type repeatLimiter struct {
	next  slog.Handler
	state *repeatState
}

// repeatState is shared by a limiter and the handlers derived from it, so
// that a component's With attributes do not open a second budget.
type repeatState struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	now    func() time.Time
	counts map[string]*repeatCount
}

type repeatCount struct {
	start           time.Time
	passed, dropped int
}

func newRepeatLimiter(next slog.Handler, limit int, window time.Duration) *repeatLimiter {
	return &repeatLimiter{next: next, state: &repeatState{limit: limit, window: window, now: time.Now, counts: map[string]*repeatCount{}}}
}

func (h *repeatLimiter) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h *repeatLimiter) Handle(ctx context.Context, r slog.Record) error {
	pass, dropped := h.state.admit(r.Level.String() + "\x00" + r.Message)
	if !pass {
		return nil
	}
	if dropped > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int("suppressed_repeats", dropped))
	}
	return h.next.Handle(ctx, r)
}

func (h *repeatLimiter) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &repeatLimiter{next: h.next.WithAttrs(attrs), state: h.state}
}

func (h *repeatLimiter) WithGroup(name string) slog.Handler {
	return &repeatLimiter{next: h.next.WithGroup(name), state: h.state}
}

// admit reports whether a record with key may pass, and how many records
// with key were dropped in the window that just ended.
func (s *repeatState) admit(key string) (pass bool, dropped int) {
	s.mu.Lock()
	defer s.mu.Unlock()

	now := s.now()
	c := s.counts[key]
	if c == nil || now.Sub(c.start) >= s.window {
		if c != nil {
			dropped = c.dropped
		}
		if len(s.counts) >= logRepeatKeys {
			clear(s.counts)
		}
		c = &repeatCount{start: now}
		s.counts[key] = c
	}

	if c.passed >= s.limit {
		c.dropped++
		return false, 0
	}
	c.passed++
	return true, dropped
}
