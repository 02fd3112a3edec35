package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// runAccuracy evaluates the period error-ratio rule of every SLO as an
// instant query at -time, the last evaluation time of the backfill, and
// compares it with the exact error ratio of the requests in the 30 days
// before. It prints one line per SLO and a summary line:
// "summary <max relative error> <median relative error>".
func runAccuracy(args []string) error {
	fs := flag.NewFlagSet("accuracy", flag.ContinueOnError)
	var h historyFlags
	h.register(fs)
	prom := fs.String("prometheus", "", "base URL of Prometheus")
	record := fs.String("record", "", "name of the recording rule of the period error ratio")
	sloLabel := fs.String("slo-label", "slo", "label of the rule that holds the SLO name")
	at := fs.Int64("time", 0, "evaluation time, Unix seconds, a whole minute")
	window := fs.Duration("window", 30*24*time.Hour, "window of the period error ratio")
	if err := fs.Parse(args); err != nil {
		return err
	}
	h.end = *at
	if err := h.check(); err != nil {
		return err
	}

	exact := exactRatios(h.objectives, h.start, *at-int64(window.Seconds()), *at)
	client := &http.Client{Timeout: 5 * time.Minute}
	var errs []float64
	for _, path := range fs.Args() {
		f, err := readRuleFile(path)
		if err != nil {
			return err
		}
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				if r.Record != *record {
					continue
				}
				got, err := queryInstant(client, *prom, r.Expr, *at)
				if err != nil {
					return fmt.Errorf("rule %s of %s: %w", r.Record, r.Labels[*sloLabel], err)
				}
				want, ok := exact[r.Labels[*sloLabel]]
				if !ok {
					return fmt.Errorf("rule %s has no known SLO in label %s", r.Record, *sloLabel)
				}
				rel := math.Abs(got-want) / want
				errs = append(errs, rel)
				fmt.Printf("%s got %.6g exact %.6g relative_error %.4f\n", r.Labels[*sloLabel], got, want, rel)
			}
		}
	}
	if len(errs) == 0 {
		return fmt.Errorf("no rule %s in the rule files", *record)
	}
	slices.Sort(errs)
	fmt.Printf("summary %.6f %.6f\n", errs[len(errs)-1], errs[len(errs)/2])
	return nil
}

// exactRatios returns, per objective label, bad over total requests counted
// between the samples at from and to.
func exactRatios(objectives int, start, from, to int64) map[string]float64 {
	state := newCounterState(objectives, start/60)
	state.advance(from / 60)
	before := *state
	before.good = slices.Clone(state.good)
	before.bad = slices.Clone(state.bad)
	state.advance(to / 60)

	ratios := map[string]float64{}
	for o := range objectives {
		var good, bad int64
		for i := range historyInstances {
			k := o*historyInstances + i
			good += state.good[k] - before.good[k]
			bad += state.bad[k] - before.bad[k]
		}
		ratios[objectiveLabel(o)] = float64(bad) / float64(good+bad)
	}
	return ratios
}

// queryInstant returns the value of a query that yields one sample.
func queryInstant(client *http.Client, prom, expr string, at int64) (float64, error) {
	form := url.Values{"query": {expr}, "time": {strconv.FormatInt(at, 10)}}
	resp, err := client.PostForm(prom+"/api/v1/query", form)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, fmt.Errorf("decoding the query response: %w", err)
	}
	if body.Status != "success" {
		return 0, fmt.Errorf("query failed: %s", body.Error)
	}
	if len(body.Data.Result) != 1 {
		return 0, fmt.Errorf("query returned %d samples, want 1", len(body.Data.Result))
	}
	text, _ := body.Data.Result[0].Value[1].(string)
	return strconv.ParseFloat(text, 64)
}
