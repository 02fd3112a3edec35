package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// The traffic model of the counter history. Every objective has
// historyInstances instances, each with a counter of good requests
// (code="ok") and one of bad requests (code="error"): 100 series per
// objective. Requests arrive per minute:
//   - busy hours: about busyRate requests a minute per instance, with an
//     error ratio of 0.3 times the error budget;
//   - quiet hours (01:00 to 06:00 UTC): about quietRate a minute, which is
//     about 125 requests per objective in 5 minutes and never none. Their
//     error ratio is 5 times the budget, so averaging 5-minute ratios, as
//     Sloth does, weighs these few requests as much as a busy hour's;
//   - spikes: on about one day in four, 20 minutes at a 30 % error ratio.
//
// The counts are pseudo-random but a pure function of objective, instance
// and minute, so the history file, the live counters and the exact ratios
// agree without sharing state.
const (
	historyInstances = 50
	busyRate         = 40.0
	quietRate        = 0.5
	spikeMinutes     = 20
	spikeErrorRatio  = 0.3
)

// splitmix64 is a fast, well-mixed hash of one 64-bit word.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func unitFloat(x uint64) float64 { return float64(x>>11) / (1 << 53) }

// errorBudget returns 1 - objective of the objective with index o.
func errorBudget(o int) float64 {
	return 1 - benchObjectives[o%len(benchObjectives)]/100
}

// errorRatio returns the probability that a request of objective o in the
// given Unix minute fails.
func errorRatio(o int, minute int64) float64 {
	day := minute / 1440
	h := splitmix64(uint64(o)<<40 ^ uint64(day) ^ 0x5bd1e995)
	if h%4 == 0 {
		start := int64(h>>8) % (1440 - spikeMinutes)
		if offset := minute % 1440; offset >= start && offset < start+spikeMinutes {
			return spikeErrorRatio
		}
	}
	if isQuiet(minute) {
		return 5 * errorBudget(o)
	}
	return 0.3 * errorBudget(o)
}

func isQuiet(minute int64) bool {
	hour := (minute / 60) % 24
	return hour >= 1 && hour < 6
}

// increments returns the good and bad requests of one instance of objective
// o during the given Unix minute.
func increments(o, instance int, minute int64, ratio float64) (good, bad int64) {
	rate := busyRate
	if isQuiet(minute) {
		rate = quietRate
	}
	h := splitmix64(uint64(o)<<48 ^ uint64(instance)<<36 ^ uint64(minute))
	h2 := splitmix64(h)
	total := int64(rate*(0.5+unitFloat(h)) + unitFloat(h2))
	bad = int64(float64(total)*ratio + unitFloat(splitmix64(h2)))
	bad = min(bad, total)
	return total - bad, bad
}

// counterState holds the good and bad counters of every series at one
// minute, starting from 0 at the start of the history.
type counterState struct {
	objectives int
	minute     int64   // the counters hold every minute before this one
	good, bad  []int64 // index o*historyInstances + instance
}

func newCounterState(objectives int, start int64) *counterState {
	n := objectives * historyInstances
	return &counterState{objectives: objectives, minute: start, good: make([]int64, n), bad: make([]int64, n)}
}

// advance adds the requests of every minute up to, not including, until.
func (c *counterState) advance(until int64) {
	for ; c.minute < until; c.minute++ {
		for o := range c.objectives {
			ratio := errorRatio(o, c.minute)
			for i := range historyInstances {
				g, b := increments(o, i, c.minute, ratio)
				c.good[o*historyInstances+i] += g
				c.bad[o*historyInstances+i] += b
			}
		}
	}
}

// seriesPrefixes returns the metric name and labels of every series, in the
// order of counterState: the good series at 2*i and the bad at 2*i+1.
func seriesPrefixes(objectives int) [][]byte {
	var prefixes [][]byte
	for o := range objectives {
		for i := range historyInstances {
			for _, code := range []string{"ok", "error"} {
				prefixes = append(prefixes, fmt.Appendf(nil, `bench_requests_total{objective="%s",instance="i%02d",code="%s"} `, objectiveLabel(o), i, code))
			}
		}
	}
	return prefixes
}

// historyFlags are the flags shared by history, counters and accuracy.
type historyFlags struct {
	objectives int
	start, end int64 // Unix seconds, whole minutes
}

func (h *historyFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&h.objectives, "objectives", 50, "number of objectives, each with 100 series")
	fs.Int64Var(&h.start, "start", 0, "start of the history, Unix seconds; counters are 0 there")
	fs.Int64Var(&h.end, "end", 0, "end of the history, Unix seconds")
}

func (h *historyFlags) check() error {
	if h.start <= 0 || h.end <= h.start || h.start%60 != 0 || h.end%60 != 0 {
		return fmt.Errorf("invalid -start %d and -end %d: both must be whole minutes, start before end", h.start, h.end)
	}
	return nil
}

// blockSeconds is the block duration that bench/run.sh passes to promtool
// and Prometheus (54h, one of Prometheus's exponential block ranges). Each
// history file covers one aligned block, because promtool parses its whole
// input once per block that the input spans.
const blockSeconds = 54 * 3600

// runHistory writes the counters from start to end as OpenMetrics for
// promtool tsdb create-blocks-from openmetrics, one sample per series every
// -interval. It writes one file per 54-hour block and prints each path on
// stdout when the file is complete, so that promtool can start on it.
func runHistory(args []string) error {
	fs := flag.NewFlagSet("history", flag.ContinueOnError)
	var h historyFlags
	h.register(fs)
	interval := fs.Int64("interval", 60, "seconds between samples, a whole number of minutes")
	dir := fs.String("dir", "", "folder to write the OpenMetrics files into")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := h.check(); err != nil {
		return err
	}
	if *interval%60 != 0 || *interval <= 0 {
		return fmt.Errorf("invalid -interval %d: use a whole number of minutes in seconds", *interval)
	}

	prefixes := seriesPrefixes(h.objectives)
	state := newCounterState(h.objectives, h.start/60)
	t := h.start
	for block := h.start / blockSeconds; t <= h.end; block++ {
		path := filepath.Join(*dir, fmt.Sprintf("history-%06d.om", block))
		blockEnd := min((block+1)*blockSeconds, h.end+1)
		if err := writeHistoryFile(path, prefixes, state, t, blockEnd, *interval); err != nil {
			return err
		}
		fmt.Println(path)
		for t < blockEnd {
			t += *interval
		}
	}
	return nil
}

// writeHistoryFile writes the samples at from, from+interval, ... before
// until.
func writeHistoryFile(path string, prefixes [][]byte, state *counterState, from, until, interval int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 4<<20)
	w.WriteString("# TYPE bench_requests counter\n")

	var line []byte
	for t := from; t < until; t += interval {
		state.advance(t / 60)
		for s := range state.good {
			for k, value := range []int64{state.good[s], state.bad[s]} {
				line = append(line[:0], prefixes[2*s+k]...)
				line = strconv.AppendInt(line, value, 10)
				line = append(line, ' ')
				line = strconv.AppendInt(line, t, 10)
				line = append(line, '\n')
				w.Write(line)
			}
		}
	}
	w.WriteString("# EOF\n")
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// runCounters serves the counters of the history, continued to the current
// minute, in the Prometheus text format on /metrics, so that Prometheus
// keeps scraping the series after the backfilled history ends. It writes
// its address to -address-file once it listens.
func runCounters(args []string) error {
	fs := flag.NewFlagSet("counters", flag.ContinueOnError)
	var h historyFlags
	h.register(fs)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	addressFile := fs.String("address-file", "", "file to write the listening address to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	h.end = h.start + 60
	if err := h.check(); err != nil {
		return err
	}

	prefixes := seriesPrefixes(h.objectives)
	state := newCounterState(h.objectives, h.start/60)
	state.advance(time.Now().Unix() / 60)
	var mu sync.Mutex

	handler := func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		state.advance(time.Now().Unix() / 60)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		bw := bufio.NewWriter(w)
		bw.WriteString("# TYPE bench_requests_total counter\n")
		for s := range state.good {
			for k, value := range []int64{state.good[s], state.bad[s]} {
				bw.Write(prefixes[2*s+k])
				bw.WriteString(strconv.FormatInt(value, 10))
				bw.WriteByte('\n')
			}
		}
		bw.Flush()
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	if *addressFile != "" {
		if err := os.WriteFile(*addressFile, []byte(ln.Addr().String()), 0o644); err != nil {
			return err
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", handler)
	return http.Serve(ln, mux)
}
