package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// maxQueryPoints stays under the 11,000 points that the Prometheus HTTP API
// allows per series in one range query.
const maxQueryPoints = 10000

// runBackfill evaluates the recording rules whose names match -record over
// a past range, with range queries against a running Prometheus, and writes
// the results as OpenMetrics with each rule's labels. This is what
// Prometheus would have recorded had it evaluated the rules every -step over
// that range; promtool tsdb create-blocks-from openmetrics then turns the
// file into blocks. It does the work of promtool tsdb create-blocks-from
// rules with one query per 10,000 steps instead of one per 2 hours.
func runBackfill(args []string) error {
	fs := flag.NewFlagSet("backfill", flag.ContinueOnError)
	prom := fs.String("prometheus", "", "base URL of Prometheus, such as http://127.0.0.1:9090")
	record := fs.String("record", "", "regular expression matching the names of the recording rules to evaluate")
	start := fs.Int64("start", 0, "first evaluation time, Unix seconds")
	end := fs.Int64("end", 0, "last evaluation time, Unix seconds")
	step := fs.Int64("step", 60, "seconds between evaluations")
	out := fs.String("out", "", "OpenMetrics file to write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	match, err := regexp.Compile("^(?:" + *record + ")$")
	if err != nil {
		return fmt.Errorf("invalid -record: %w", err)
	}
	if *end <= *start || *step <= 0 {
		return fmt.Errorf("invalid range: -start %d, -end %d, -step %d", *start, *end, *step)
	}

	byName := map[string][]recordingRule{}
	for _, path := range fs.Args() {
		groups, err := readRuleFile(path)
		if err != nil {
			return err
		}
		for _, g := range groups.Groups {
			for _, r := range g.Rules {
				if r.Record != "" && match.MatchString(r.Record) {
					byName[r.Record] = append(byName[r.Record], r)
				}
			}
		}
	}
	if len(byName) == 0 {
		return fmt.Errorf("no recording rule matches -record %q", *record)
	}
	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
	}
	sort.Strings(names)

	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	client := &http.Client{Timeout: 5 * time.Minute}
	for _, name := range names {
		fmt.Fprintf(w, "# TYPE %s gauge\n", name)
		for _, r := range byName[name] {
			if err := backfillRule(client, *prom, r, *start, *end, *step, w); err != nil {
				return fmt.Errorf("rule %s: %w", name, err)
			}
		}
	}
	w.WriteString("# EOF\n")
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// backfillRule writes one rule's series, chunk by chunk of the range. A
// series that appears in several chunks is written once per chunk, which
// OpenMetrics allows as long as its samples stay in time order.
func backfillRule(client *http.Client, prom string, r recordingRule, start, end, step int64, w *bufio.Writer) error {
	chunk := step * maxQueryPoints
	for from := start; from <= end; from += chunk {
		to := min(from+chunk-step, end)
		matrix, err := queryRange(client, prom, r.Expr, from, to, step)
		if err != nil {
			return err
		}
		for _, series := range matrix {
			labels := series.Metric
			delete(labels, "__name__")
			for k, v := range r.Labels {
				labels[k] = v
			}
			prefix := r.Record + formatLabels(labels) + " "
			for _, point := range series.Values {
				fmt.Fprintf(w, "%s%s %d\n", prefix, point[1], int64(point[0].(float64)))
			}
		}
	}
	return nil
}

// ruleFile is the part of a Prometheus rule file that the backfill reads.
type ruleFile struct {
	Groups []struct {
		Rules []recordingRule `yaml:"rules"`
	} `yaml:"groups"`
}

type recordingRule struct {
	Record string            `yaml:"record"`
	Expr   string            `yaml:"expr"`
	Labels map[string]string `yaml:"labels"`
}

func readRuleFile(path string) (*ruleFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f ruleFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &f, nil
}

type matrixSeries struct {
	Metric map[string]string `json:"metric"`
	Values [][2]any          `json:"values"`
}

func queryRange(client *http.Client, prom, expr string, start, end, step int64) ([]matrixSeries, error) {
	form := url.Values{
		"query": {expr},
		"start": {strconv.FormatInt(start, 10)},
		"end":   {strconv.FormatInt(end, 10)},
		"step":  {strconv.FormatInt(step, 10)},
	}
	resp, err := client.PostForm(prom+"/api/v1/query_range", form)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []matrixSeries `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("decoding the query_range response: %w", err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("query_range failed: %s", body.Error)
	}
	return body.Data.Result, nil
}

// formatLabels writes labels in name order, with values quoted as
// OpenMetrics requires.
func formatLabels(labels map[string]string) string {
	names := make([]string, 0, len(labels))
	for k := range labels {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = k + "=" + strconv.Quote(labels[k])
	}
	return "{" + strings.Join(parts, ",") + "}"
}
