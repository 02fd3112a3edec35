package sources

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// epochMillisThreshold separates epoch seconds from epoch milliseconds: a
// number above it read as seconds would fall after the year 5138, so it is
// taken as milliseconds.
const epochMillisThreshold = 1e11

// ParseTimestamp reads the timestamp forms that real exports use: RFC 3339
// with or without fractional seconds, epoch seconds with an optional
// fraction, and epoch milliseconds. The result is in UTC.
func ParseTimestamp(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("empty timestamp")
	}

	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return parseEpoch(f, s)
	}

	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700", "2006-01-02 15:04:05Z07:00", "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid timestamp %q: expected RFC 3339 (2024-05-01T12:00:00Z), epoch seconds or epoch milliseconds", s)
}

// ParseTimestampNumber reads a JSON number as epoch seconds or milliseconds.
func ParseTimestampNumber(f float64) (time.Time, error) {
	return parseEpoch(f, strconv.FormatFloat(f, 'f', -1, 64))
}

func parseEpoch(f float64, spelled string) (time.Time, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return time.Time{}, fmt.Errorf("invalid timestamp %q: expected a non-negative epoch time", spelled)
	}
	if f > epochMillisThreshold {
		f /= 1000
	}
	if f > epochMillisThreshold {
		return time.Time{}, fmt.Errorf("invalid timestamp %q: too large for epoch seconds or milliseconds", spelled)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC(), nil
}
