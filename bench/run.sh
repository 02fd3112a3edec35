#!/usr/bin/env bash
# Runs the benchmarks of secslo against its peers side by side on this
# machine and prints a table of ratios. Rule generation and rule evaluation
# are compared with Sloth. The secslo exporter is compared with a jq script
# for node_exporter's textfile collector and with the time to read and
# decode the same files. docs/benchmarks.md explains the method.
#
# Usage: bench/run.sh [part ...], where a part is generation, evaluation or
# exporter; without arguments all three run. Sizes and repetitions come from
# the environment (defaults in brackets): RUNS [3] runs per generation and
# exporter measurement, DAYS [30] days of counter history, OBJECTIVES [50],
# INTERVAL [120] seconds between history samples, ROUNDS [6] rule
# evaluations measured per Prometheus after WARMUP [90] seconds, ASSETS
# [1000000], ROLES [10000], FINDINGS [100000]. SLOTH=/path/to/sloth skips
# the installation of Sloth v0.16.0.
#
# Needs go, promtool and prometheus (Debian's 2.42 packages), jq, curl,
# python3 and /usr/bin/time. Everything it writes goes to a temporary folder
# that is removed at exit; set KEEP=1 to keep it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"

RUNS=${RUNS:-3}
DAYS=${DAYS:-30}
OBJECTIVES=${OBJECTIVES:-50}
INTERVAL=${INTERVAL:-120}
ROUNDS=${ROUNDS:-6}
ASSETS=${ASSETS:-1000000}
ROLES=${ROLES:-10000}
FINDINGS=${FINDINGS:-100000}
WARMUP=${WARMUP:-90}
EVAL_INTERVAL=30

start_work_dir
results=$work/results.tsv
: >"$results"


# result WHAT SECSLO PEER UNIT GOAL: records a row. The ratio is secslo over
# the peer. GOAL is the largest ratio that meets the goal, "abs N" a largest
# secslo value, and "-" none.
result() {
	printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$results"
}

median() { sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }


# build: compiles secslo and benchtool from the working tree, or from the
# commit in BENCH_REV (such as HEAD) when the working tree does not build.
build() {
	local src=$root
	if [[ -n ${BENCH_REV:-} ]]; then
		src=$work/src
		mkdir -p "$src"
		git archive "$BENCH_REV" | tar -x -C "$src"
	fi
	log "building secslo and benchtool from ${BENCH_REV:-the working tree}"
	(cd "$src" && go build -o "$work/secslo" ./cmd/secslo && go build -o "$work/benchtool" ./bench/benchtool)
}

install_sloth() {
	if [[ -n ${SLOTH:-} ]]; then
		sloth=$SLOTH
		return
	fi
	log "installing sloth v0.16.0 into $work/bin"
	GOBIN=$work/bin go install github.com/slok/sloth/cmd/sloth@v0.16.0
	sloth=$work/bin/sloth
}

# timed NAME COMMAND...: runs COMMAND RUNS times under /usr/bin/time and
# appends "wall_seconds peak_rss_kib" per run to $work/time-NAME. A command
# whose first run takes over 30 seconds runs once, to keep within the time
# budget. Its stdout is kept in $work/stdout-NAME.
timed() {
	local name=$1
	shift
	: >"$work/time-$name"
	for _ in $(seq "$RUNS"); do
		/usr/bin/time -f '%e %M' -a -o "$work/time-$name" "$@" >"$work/stdout-$name" 2>"$work/stderr-$name" ||
			{ cat "$work/stderr-$name" >&2; return 1; }
		awk '$1 > 30 {exit 1}' "$work/time-$name" || break
	done
}
median_wall() { awk '{print $1}' "$work/time-$1" | median; }
median_rss_mib() { awk '{print $2/1024}' "$work/time-$1" | median; }

# --- generation ------------------------------------------------------------

bench_generation() {
	local specs=$work/generation
	"$work/benchtool" specs -set generation -secslo "$specs/secslo" -sloth "$specs/sloth"

	log "timing secslo generate and sloth generate on 1,000 SLOs, $RUNS runs each"
	timed secslo-own "$work/secslo" generate --spec="$specs/secslo" --output.dir="$specs/out-secslo"
	timed secslo-own-no-tests "$work/secslo" generate --spec="$specs/secslo" --output.dir="$specs/out-secslo-nt" --output.no-tests
	timed secslo-sloth-specs "$work/secslo" generate --spec="$specs/sloth" --output.dir="$specs/out-secslo-sloth" --output.no-tests
	mkdir -p "$specs/out-sloth"
	timed sloth "$sloth" generate --input="$specs/sloth" --out="$specs/out-sloth"

	local peer
	peer=$(median_wall sloth)
	result "generate 1,000 SLOs, wall s (secslo specs, with promtool tests)" "$(median_wall secslo-own)" "$peer" s 0.3333
	result "generate 1,000 SLOs, wall s (secslo specs, no tests)" "$(median_wall secslo-own-no-tests)" "$peer" s 0.3333
	result "generate 1,000 SLOs, wall s (the Sloth specs, no tests)" "$(median_wall secslo-sloth-specs)" "$peer" s 0.3333
	peer=$(median_rss_mib sloth)
	result "generate 1,000 SLOs, peak RSS MiB (secslo specs, with tests)" "$(median_rss_mib secslo-own)" "$peer" MiB -
	result "generate 1,000 SLOs, peak RSS MiB (the Sloth specs, no tests)" "$(median_rss_mib secslo-sloth-specs)" "$peer" MiB -
}

# --- rule evaluation -------------------------------------------------------

# start_prometheus NAME DATA RULES...: starts Prometheus on a free loopback
# port with DATA as its TSDB, scraping the live counters, and sets prom_url
# and prom_pid.
start_prometheus() {
	local name=$1 data=$2
	shift 2
	local port config=$work/prometheus-$name.yml
	port=$(free_port)
	{
		printf 'global:\n  scrape_interval: %ss\n  evaluation_interval: %ss\n' "$EVAL_INTERVAL" "$EVAL_INTERVAL"
		printf 'scrape_configs:\n  - job_name: counters\n    static_configs:\n      - targets: ["%s"]\n' "$counters_address"
		printf 'rule_files:\n'
		for f in "$@"; do printf '  - %s\n' "$f"; done
	} >"$config"
	prometheus --config.file="$config" --storage.tsdb.path="$data" \
		--web.listen-address="127.0.0.1:$port" --storage.tsdb.retention.time=400d \
		--storage.tsdb.max-block-duration=54h --log.level=warn >"$work/prometheus-$name.log" 2>&1 &
	prom_pid=$!
	pids+=("$prom_pid")
	prom_url=http://127.0.0.1:$port
	for _ in $(seq 600); do
		curl -sf "$prom_url/-/ready" >/dev/null 2>&1 && return 0
		kill -0 "$prom_pid" 2>/dev/null || { cat "$work/prometheus-$name.log" >&2; return 1; }
		sleep 0.5
	done
	echo "Prometheus $name did not become ready; see $work/prometheus-$name.log" >&2
	return 1
}

stop_prometheus() {
	kill "$prom_pid"
	wait "$prom_pid" 2>/dev/null || true
}

# query EXPR: prints the value of the first sample of an instant query.
query() {
	curl -sf --data-urlencode "query=$1" "$prom_url/api/v1/query" | jq -r '.data.result[0].value[1] // "NaN"'
}

# self_metric NAME [FACTOR]: prints the sum over all series of a metric that
# Prometheus exposes about itself, times FACTOR, read from its /metrics,
# because these Prometheus servers do not scrape themselves.
self_metric() {
	curl -sf "$prom_url/metrics" | awk -v name="$1" -v factor="${2:-1}" '
		$1 == name || index($1, name "{") == 1 {sum += $2} END {printf "%.6g\n", sum * factor}'
}

# blocks_from OM_FILE OUT_DIR: turns an OpenMetrics file into TSDB blocks.
blocks_from() {
	promtool tsdb create-blocks-from openmetrics --max-block-duration=54h "$1" "$2" >/dev/null
}

# data_dir NAME BLOCK_DIRS...: a fresh TSDB folder with hard links to the
# blocks, which Prometheus never modifies in place.
data_dir() {
	local dir=$work/data-$1
	shift
	mkdir -p "$dir"
	for src in "$@"; do
		for block in "$src"/*/; do cp -al "$block" "$dir/"; done
	done
	echo "$dir"
}

bench_evaluation() {
	local eval=$work/evaluation
	mkdir -p "$eval/history" "$eval/raw"
	"$work/benchtool" specs -set evaluation -objectives "$OBJECTIVES" -secslo "$eval/secslo-specs" -sloth "$eval/sloth-specs"
	"$work/secslo" generate --spec="$eval/secslo-specs" --output.dir="$eval/secslo" --output.no-tests >/dev/null
	"$sloth" generate --input="$eval/sloth-specs/bench.yaml" --out="$eval/sloth.yml" >/dev/null 2>&1
	local secslo_rules=$eval/secslo/rules/bench.yml sloth_rules=$eval/sloth.yml

	# The history ends at t0, which is the last evaluation of the backfill
	# and the time of the accuracy check. It starts an hour before the 30
	# days, so that the first 5-minute windows have data.
	t0=$(( $(date +%s) / 60 * 60 ))
	history_start=$(( t0 - DAYS * 86400 - 3600 ))
	local backfill_start=$(( t0 - DAYS * 86400 - 600 ))
	log "writing $DAYS days of history for $OBJECTIVES objectives ($(( OBJECTIVES * 100 )) series) and creating blocks"
	"$work/benchtool" history -objectives "$OBJECTIVES" -start "$history_start" -end "$t0" -interval "$INTERVAL" -dir "$eval/history" |
		xargs -P 2 -I{} sh -c 'promtool tsdb create-blocks-from openmetrics --max-block-duration=54h "$1" "$2" >/dev/null && rm "$1"' sh {} "$eval/raw"

	"$work/benchtool" counters -objectives "$OBJECTIVES" -start "$history_start" -address-file "$eval/counters-address" &
	pids+=($!)
	for _ in $(seq 120); do [[ -s $eval/counters-address ]] && break; sleep 0.5; done
	counters_address=$(cat "$eval/counters-address")

	log "backfilling the recorded 5-minute series of both tools"
	start_prometheus backfill "$(data_dir backfill "$eval/raw")"
	"$work/benchtool" backfill -prometheus "$prom_url" -record 'slo:secslo_sli_(total|bad):sum5m' \
		-start "$backfill_start" -end "$t0" -step 60 -out "$eval/secslo-recorded.om" "$secslo_rules"
	"$work/benchtool" backfill -prometheus "$prom_url" -record 'slo:sli_error:ratio_rate5m' \
		-start "$backfill_start" -end "$t0" -step 60 -out "$eval/sloth-recorded.om" "$sloth_rules"
	# The head series of a Prometheus without rules that has scraped the
	# counters once are the baseline of the series that the rules add.
	for _ in $(seq 120); do [[ $(query 'count(up == 1)') == 1 ]] && break; sleep 0.5; done
	local baseline_series
	baseline_series=$(self_metric prometheus_tsdb_head_series)
	stop_prometheus
	blocks_from "$eval/secslo-recorded.om" "$eval/secslo-recorded"
	blocks_from "$eval/sloth-recorded.om" "$eval/sloth-recorded"

	evaluate_tool secslo "$secslo_rules" slo:secslo_sli_error:ratio_period slo "$baseline_series"
	evaluate_tool sloth "$sloth_rules" slo:sli_error:ratio_rate30d sloth_slo "$baseline_series"

	result "rule evaluation, summed group duration per evaluation, ms" "$(cat "$eval/secslo-duration")" "$(cat "$eval/sloth-duration")" ms 0.5
	result "rule evaluation, series written per evaluation" "$(cat "$eval/secslo-samples")" "$(cat "$eval/sloth-samples")" series -
	result "rule evaluation, head series added by the rules" "$(cat "$eval/secslo-series")" "$(cat "$eval/sloth-series")" series -
	result "rule evaluation, samples appended per second by the rules" "$(cat "$eval/secslo-rate")" "$(cat "$eval/sloth-rate")" "1/s" -
	result "30-day error ratio, max relative error against exact" "$(cat "$eval/secslo-accuracy")" "$(cat "$eval/sloth-accuracy")" ratio "abs 0.01"
}

# evaluate_tool TOOL RULES PERIOD_RECORD SLO_LABEL BASELINE_SERIES: runs
# Prometheus with the raw history, the tool's backfilled series and its
# rules, and checks the period error ratio at t0. Then it waits WARMUP
# seconds, in which Prometheus compacts the overlapping backfilled blocks,
# and measures ROUNDS evaluations.
evaluate_tool() {
	local tool=$1 rules=$2 record=$3 label=$4 baseline=$5 eval=$work/evaluation
	log "evaluating the rules of $tool"
	start_prometheus "$tool" "$(data_dir "$tool" "$eval/raw" "$eval/$tool-recorded")" "$rules"

	"$work/benchtool" accuracy -prometheus "$prom_url" -record "$record" -slo-label "$label" \
		-objectives "$OBJECTIVES" -start "$history_start" -time "$t0" -window "$(( DAYS * 24 ))h" "$rules" >"$eval/$tool-accuracy.txt"
	awk '$1 == "summary" {print $2}' "$eval/$tool-accuracy.txt" >"$eval/$tool-accuracy"

	sleep "$WARMUP"
	local appended_before appended_after durations=() samples=()
	appended_before=$(self_metric prometheus_tsdb_head_samples_appended_total)
	local started=$SECONDS
	for _ in $(seq "$ROUNDS"); do
		sleep "$EVAL_INTERVAL"
		durations+=("$(self_metric prometheus_rule_group_last_duration_seconds 1000)")
		samples+=("$(self_metric prometheus_rule_group_last_evaluation_samples)")
	done
	appended_after=$(self_metric prometheus_tsdb_head_samples_appended_total)
	local elapsed=$(( SECONDS - started ))
	# Each scrape appends its samples plus 5 series that Prometheus adds
	# (up, scrape_duration_seconds and others); the rest comes from the rules.
	local scraped_per_second
	scraped_per_second=$(query "(sum(scrape_samples_post_metric_relabeling) + 5 * count(up)) / $EVAL_INTERVAL")

	printf '%s\n' "${durations[@]}" | median >"$eval/$tool-duration"
	printf '%s\n' "${samples[@]}" | median >"$eval/$tool-samples"
	awk -v now="$(self_metric prometheus_tsdb_head_series)" -v base="$baseline" 'BEGIN {print now - base}' >"$eval/$tool-series"
	awk -v a="$appended_after" -v b="$appended_before" -v t="$elapsed" -v s="$scraped_per_second" 'BEGIN {printf "%.1f\n", (a - b) / t - s}' >"$eval/$tool-rate"
	printf '%s\n' "${durations[@]}" >"$eval/$tool-durations.txt"
	stop_prometheus
}

# --- exporter --------------------------------------------------------------

# check_same NAME FILE: fails unless the command measured as NAME printed the
# same SLI numbers as FILE contains, so that no speed is compared between
# different results.
check_same() {
	if ! diff <(sort "$work/stdout-$1") <(sort "$2") >/dev/null; then
		echo "$1 and $2 computed different SLIs:" >&2
		diff <(sort "$work/stdout-$1") <(sort "$2") >&2
		return 1
	fi
}

bench_exporter() {
	local ex=$work/exports
	log "writing $ASSETS assets, $ROLES IAM roles and $FINDINGS Prowler findings"
	"$work/benchtool" exports -dir "$ex" -assets "$ASSETS" -roles "$ROLES" -findings "$FINDINGS"

	log "timing the inventory: secslo refresh, jq script, read-and-decode floor"
	timed inventory-secslo "$work/benchtool" refresh -config "$ex/secslo.yaml" -source inventory
	timed inventory-jq "$root/bench/diy/inventory.sh" "$ex/assets.csv" "$ex/last_seen.csv" "$ex/inventory.prom"
	timed inventory-floor "$work/benchtool" floor -input inventory "$ex/assets.csv" "$ex/last_seen.csv"
	check_same inventory-secslo "$ex/inventory.prom"

	log "timing the IAM export"
	timed iam-secslo "$work/benchtool" refresh -config "$ex/secslo.yaml" -source iam
	timed iam-jq "$root/bench/diy/iam.sh" "$ex/iam.json" "$ex/iam-baseline.json" "$ex/iam.prom"
	timed iam-floor "$work/benchtool" floor -input iam "$ex/iam.json"
	check_same iam-secslo "$ex/iam.prom"

	log "timing the Prowler output"
	timed prowler-secslo "$work/benchtool" refresh -config "$ex/secslo.yaml" -source prowler
	timed prowler-jq "$root/bench/diy/prowler.sh" "$ex/prowler.ocsf.json" "$ex/iso27001_2022_aws.json" "$ex/prowler.prom"
	timed prowler-floor "$work/benchtool" floor -input prowler "$ex/prowler.ocsf.json" "$ex/iso27001_2022_aws.json"
	check_same prowler-secslo "$ex/prowler.prom"

	local input
	for input in inventory iam prowler; do
		result "$input refresh, wall s, against the jq script" "$(median_wall "$input-secslo")" "$(median_wall "$input-jq")" s 0.2
		result "$input refresh, wall s, against reading and decoding" "$(median_wall "$input-secslo")" "$(median_wall "$input-floor")" s 3
		result "$input refresh, peak RSS MiB, against the jq script" "$(median_rss_mib "$input-secslo")" "$(median_rss_mib "$input-jq")" MiB -
	done

	log "measuring scrape latency while all three sources refresh back to back"
	local port
	port=$(free_port)
	"$work/secslo" serve --config.file="$ex/secslo.yaml" --web.listen-address="127.0.0.1:$port" --log.level=warn >"$work/serve.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 240); do
		curl -sf "http://127.0.0.1:$port/metrics" 2>/dev/null | grep -q '^secslo_source_up{source="inventory"} 1' && break
		sleep 0.5
	done
	"$work/benchtool" scrape -url "http://127.0.0.1:$port/metrics" -concurrency 4 -duration 30s >"$work/scrape.txt"
	local refreshes
	refreshes=$(curl -sf "http://127.0.0.1:$port/metrics" | awk '/^secslo_source_refreshes_total/ {n += $2} END {print n + 0}')
	log "scrape: $(cat "$work/scrape.txt"), $refreshes refreshes so far"
	result "scrape /metrics during refreshes, p50 ms (4 clients)" "$(awk '{print $4}' "$work/scrape.txt")" - ms -
	result "scrape /metrics during refreshes, p99 ms (4 clients)" "$(awk '{print $6}' "$work/scrape.txt")" - ms "abs 10"
}

# --- table -----------------------------------------------------------------

print_table() {
	echo
	printf '%-70s %12s %12s %8s %12s %s\n' what secslo peer ratio goal met?
	while IFS=$'\t' read -r what ours peer unit goal; do
		awk -v w="$what" -v a="$ours" -v b="$peer" -v g="$goal" 'BEGIN {
			ratio = (b != "-" && b + 0 != 0) ? sprintf("%.3f", a / b) : "-"
			met = "-"
			if (g ~ /^abs /) { split(g, p, " "); met = (a + 0 <= p[2] + 0) ? "yes" : "no"; gs = "secslo <= " p[2] }
			else if (g != "-") { met = (ratio != "-" && ratio + 0 <= g + 0) ? "yes" : "no"; gs = "<= " g }
			else gs = "-"
			printf "%-70s %12s %12s %8s %12s %s\n", w, a, b, ratio, gs, met
		}'
	done <"$results"
	echo
	echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; $(go version | cut -d' ' -f3); $(prometheus --version 2>&1 | head -1)"
}

parts=("$@")
[[ ${#parts[@]} -gt 0 ]] || parts=(generation evaluation exporter)
build
for part in "${parts[@]}"; do
	case $part in
	generation) install_sloth; bench_generation ;;
	evaluation) install_sloth; bench_evaluation ;;
	exporter) bench_exporter ;;
	*) echo "invalid part $part; use generation, evaluation or exporter" >&2; exit 2 ;;
	esac
done
print_table
