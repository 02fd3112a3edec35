package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// userHZ is the unit of utime and stime in /proc/PID/stat: Linux reports
// them in clock ticks of USER_HZ, which is 100 on every architecture's
// user-space ABI.
const userHZ = 100

// procSample is one reading of a process and of its /metrics.
type procSample struct {
	at        time.Time
	cpu       float64 // utime + stime, seconds
	rss, anon float64 // VmRSS and RssAnon, MiB
	hwm       float64 // VmHWM, MiB
	load1     float64
	metrics   ruleMetrics
}

// ruleMetrics are the rules manager's metrics, summed over rule groups.
type ruleMetrics struct {
	groups       int
	lastDuration float64 // seconds of the latest evaluation of every group
	missed       float64
	failures     float64
	evaluations  float64
	blocksLoaded float64
	headSeries   float64
	// lastDurationOK is false when the scrape failed or served no rule
	// group, so that lastDuration is no measurement.
	lastDurationOK bool
}

// runProcStat reads the CPU time and resident memory of a process every
// -interval for -window, and the rule evaluation metrics it serves on
// -metrics if set, and prints a summary as "name value" lines. Every
// reading goes to -samples as a tab-separated line, for a second look.
func runProcStat(args []string) error {
	fs := flag.NewFlagSet("procstat", flag.ContinueOnError)
	pid := fs.Int("pid", 0, "process to measure")
	window := fs.Duration("window", 10*time.Minute, "how long to measure")
	interval := fs.Duration("interval", 30*time.Second, "time between readings")
	metricsURL := fs.String("metrics", "", "URL of the process's /metrics, for the rule evaluation metrics; empty reads none")
	samplesFile := fs.String("samples", "", "file for every reading; empty writes none")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *pid <= 0 || *window < *interval || *interval <= 0 {
		return fmt.Errorf("missing -pid, or -window %s shorter than -interval %s", *window, *interval)
	}

	var samplesOut io.Writer = io.Discard
	if *samplesFile != "" {
		f, err := os.Create(*samplesFile)
		if err != nil {
			return err
		}
		defer f.Close()
		samplesOut = f
	}
	fmt.Fprintln(samplesOut, "unix_seconds\tcpu_seconds\trss_mib\trss_anon_mib\thwm_mib\tload1\trule_groups\trule_last_duration_seconds_sum")

	client := &http.Client{Timeout: *interval}
	var samples []procSample
	deadline := time.Now().Add(*window)
	for {
		s, err := readProc(*pid)
		if err != nil {
			return err
		}
		if *metricsURL != "" {
			s.metrics = readRuleMetrics(client, *metricsURL)
		}
		samples = append(samples, s)
		fmt.Fprintf(samplesOut, "%d\t%.2f\t%.1f\t%.1f\t%.1f\t%.2f\t%d\t%.4f\n", s.at.Unix(), s.cpu, s.rss, s.anon, s.hwm, s.load1, s.metrics.groups, s.metrics.lastDuration)
		if !time.Now().Before(deadline) {
			break
		}
		time.Sleep(min(*interval, time.Until(deadline)))
	}

	printProcSummary(os.Stdout, samples)
	return nil
}

// readProc reads utime and stime from /proc/PID/stat and the memory lines
// of /proc/PID/status.
func readProc(pid int) (procSample, error) {
	s := procSample{at: time.Now()}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, fmt.Errorf("failed to read the CPU time of process %d: %w", pid, err)
	}
	// The command name, field 2, is in brackets and may contain spaces, so
	// the fields are counted from after its closing bracket: utime and
	// stime, fields 14 and 15, are the 12th and 13th from there.
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	if len(fields) < 13 {
		return s, fmt.Errorf("unexpected /proc/%d/stat: %q", pid, stat)
	}
	utime, err1 := strconv.ParseFloat(fields[11], 64)
	stime, err2 := strconv.ParseFloat(fields[12], 64)
	if err1 != nil || err2 != nil {
		return s, fmt.Errorf("unexpected utime or stime in /proc/%d/stat: %q", pid, stat)
	}
	s.cpu = (utime + stime) / userHZ

	status, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, fmt.Errorf("failed to read the memory of process %d: %w", pid, err)
	}
	defer status.Close()
	scanner := bufio.NewScanner(status)
	for scanner.Scan() {
		name, value, ok := strings.Cut(scanner.Text(), ":")
		if !ok {
			continue
		}
		kib, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 64)
		if err != nil {
			continue
		}
		switch name {
		case "VmRSS":
			s.rss = kib / 1024
		case "RssAnon":
			s.anon = kib / 1024
		case "VmHWM":
			s.hwm = kib / 1024
		}
	}

	if load, err := os.ReadFile("/proc/loadavg"); err == nil {
		s.load1, _ = strconv.ParseFloat(strings.Fields(string(load))[0], 64)
	}
	return s, scanner.Err()
}

// readRuleMetrics scrapes target and sums the rules manager's metrics over
// rule groups. A failed scrape returns zero metrics.
func readRuleMetrics(client *http.Client, target string) ruleMetrics {
	var m ruleMetrics
	resp, err := client.Get(target)
	if err != nil {
		return m
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return m
	}

	sum := func(name string) (float64, int) {
		family := families[name]
		if family == nil {
			return 0, 0
		}
		total := 0.0
		for _, metric := range family.GetMetric() {
			total += metric.GetGauge().GetValue() + metric.GetCounter().GetValue() + metric.GetUntyped().GetValue()
		}
		return total, len(family.GetMetric())
	}
	m.lastDuration, m.groups = sum("prometheus_rule_group_last_duration_seconds")
	m.lastDurationOK = m.groups > 0
	m.missed, _ = sum("prometheus_rule_group_iterations_missed_total")
	m.failures, _ = sum("prometheus_rule_evaluation_failures_total")
	m.evaluations, _ = sum("prometheus_rule_group_iterations_total")
	m.blocksLoaded, _ = sum("prometheus_tsdb_blocks_loaded")
	m.headSeries, _ = sum("prometheus_tsdb_head_series")
	return m
}

// printProcSummary prints the CPU share over the whole window, the
// largest share of one interval, the resident memory and, when the
// process served them, the rule evaluation metrics.
func printProcSummary(w io.Writer, samples []procSample) {
	first, last := samples[0], samples[len(samples)-1]
	elapsed := last.at.Sub(first.at).Seconds()
	cpu := last.cpu - first.cpu
	maxShare := 0.0
	for i := 1; i < len(samples); i++ {
		if d := samples[i].at.Sub(samples[i-1].at).Seconds(); d > 0 {
			maxShare = max(maxShare, (samples[i].cpu-samples[i-1].cpu)/d)
		}
	}

	rss := make([]float64, len(samples))
	anon := make([]float64, len(samples))
	var durations []float64
	for i, s := range samples {
		rss[i], anon[i] = s.rss, s.anon
		if s.metrics.lastDurationOK {
			durations = append(durations, s.metrics.lastDuration)
		}
	}

	fmt.Fprintf(w, "window_seconds %.0f\n", elapsed)
	fmt.Fprintf(w, "cpu_seconds %.2f\n", cpu)
	fmt.Fprintf(w, "cpu_percent_of_one_core %.2f\n", 100*cpu/elapsed)
	fmt.Fprintf(w, "cpu_percent_of_one_core_max_interval %.2f\n", 100*maxShare)
	fmt.Fprintf(w, "rss_mib_median %.1f\n", median(rss))
	fmt.Fprintf(w, "rss_mib_max %.1f\n", slices.Max(rss))
	fmt.Fprintf(w, "rss_mib_first %.1f\n", first.rss)
	fmt.Fprintf(w, "rss_mib_last %.1f\n", last.rss)
	fmt.Fprintf(w, "rss_anon_mib_median %.1f\n", median(anon))
	fmt.Fprintf(w, "hwm_mib %.1f\n", last.hwm)
	fmt.Fprintf(w, "load1_first %.2f\n", first.load1)
	fmt.Fprintf(w, "load1_last %.2f\n", last.load1)
	if len(durations) == 0 {
		return
	}
	fmt.Fprintf(w, "rule_groups %d\n", last.metrics.groups)
	fmt.Fprintf(w, "rule_round_seconds_median %.3f\n", median(durations))
	fmt.Fprintf(w, "rule_round_seconds_max %.3f\n", slices.Max(durations))
	fmt.Fprintf(w, "rule_group_iterations %.0f\n", last.metrics.evaluations-first.metrics.evaluations)
	fmt.Fprintf(w, "rule_group_iterations_missed %.0f\n", last.metrics.missed-first.metrics.missed)
	fmt.Fprintf(w, "rule_evaluation_failures %.0f\n", last.metrics.failures-first.metrics.failures)
	fmt.Fprintf(w, "tsdb_blocks_loaded %.0f\n", last.metrics.blocksLoaded)
	fmt.Fprintf(w, "tsdb_head_series %.0f\n", last.metrics.headSeries)
}

func median(values []float64) float64 {
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}
