#!/usr/bin/env bash
# Measures how long the status page of `secslo serve` takes to serve with
# many objectives. It first runs the Go benchmark BenchmarkOverview1000,
# which renders the overview of 1,000 objectives in process. Then it
# starts serve with the engine on, on a free port of 127.0.0.1, with
# OBJECTIVES objectives on the built-in SLIs over the sources of
# examples/secslo.yaml, as bench/engine.sh configures them. Once every
# rule group has been evaluated EVALUATIONS times, one client requests
# GET /, GET /api/v1/slos and the detail view of one objective, one
# request after the other, for DURATION seconds each, and prints the
# latency percentiles in milliseconds. The engine keeps evaluating every 30 seconds meanwhile,
# as it does in production.
#
# Usage: bench/status.sh. Settings from the environment (defaults in
# brackets): OBJECTIVES [1000], PER_SERVICE [10], EVALUATIONS [3],
# DURATION [60] seconds per path, BENCH_COUNT [5] runs of the Go
# benchmark (0 skips it), BENCH_REV builds from a commit instead of the
# working tree. Everything goes to a temporary folder that is removed at
# exit; KEEP=1 keeps it.
#
# Needs go, python3 (to find a free port) and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"

OBJECTIVES=${OBJECTIVES:-1000}
PER_SERVICE=${PER_SERVICE:-10}
EVALUATIONS=${EVALUATIONS:-3}
DURATION=${DURATION:-60}
BENCH_COUNT=${BENCH_COUNT:-5}

work=$(mktemp -d)
serve_pid=
cleanup() {
	if [[ -n $serve_pid ]]; then
		kill "$serve_pid" 2>/dev/null || true
		wait "$serve_pid" 2>/dev/null || true
	fi
	if [[ -z ${KEEP:-} ]]; then
		rm -rf "$work"
	else
		echo "kept $work" >&2
	fi
}
trap cleanup EXIT


# metric_sum NAME: sums every series of NAME on serve's /metrics.
metric_sum() {
	curl -fs "$base/metrics" | awk -v name="$1" '$1 == name || index($1, name "{") == 1 {sum += $2} END {printf "%d\n", sum}'
}

main() {
	local src=$root
	if [[ -n ${BENCH_REV:-} ]]; then
		src=$work/src
		mkdir -p "$src"
		git archive "$BENCH_REV" | tar -x -C "$src"
	fi

	if ((BENCH_COUNT > 0)); then
		log "running BenchmarkOverview1000 $BENCH_COUNT times"
		(cd "$src" && go test ./status -run '^$' -bench BenchmarkOverview1000 -benchmem -count "$BENCH_COUNT") |
			grep -E '^(Benchmark|cpu:)'
	fi

	log "building secslo and benchtool from ${BENCH_REV:-the working tree}"
	local commit
	commit=$(built_commit)
	(cd "$src" && go build -o "$work/secslo" ./cmd/secslo && go build -o "$work/benchtool" ./bench/benchtool)
	cp "$root/examples/secslo.yaml" "$work/secslo.yaml"
	ln -s "$root/examples/data" "$work/data"
	"$work/benchtool" objectives -count "$OBJECTIVES" -per-service "$PER_SERVICE" -out "$work/slos"

	local port
	port=$(free_port)
	base=http://127.0.0.1:$port
	"$work/secslo" serve --config.file="$work/secslo.yaml" --web.listen-address="127.0.0.1:$port" \
		--ledger.path="$work/ledger.db" --storage.path="$work/storage" --engine.evaluation-interval=30s \
		>"$work/serve.log" 2>&1 &
	serve_pid=$!

	log "waiting for $EVALUATIONS evaluations of every rule group"
	local want=$((OBJECTIVES * EVALUATIONS)) evaluated=0
	for _ in $(seq 600); do
		evaluated=$(metric_sum prometheus_rule_group_iterations_total 2>/dev/null) || evaluated=0
		((evaluated >= want)) && break
		sleep 1
	done
	if ((evaluated < want)); then
		echo "only $evaluated of $want rule group evaluations after 10 minutes; serve's log:" >&2
		tail -20 "$work/serve.log" >&2
		return 1
	fi

	# The overview must list the last objective, or it is not the status
	# page of these objectives.
	local last
	last=$(printf 'objective-%04d' $((OBJECTIVES - 1)))
	for path in / /api/v1/slos; do
		# A file, not a pipe: grep -q stops reading at the first match, which
		# would fail curl under pipefail.
		curl -fs -o "$work/body" "$base$path"
		if ! grep -q "$last" "$work/body"; then
			echo "GET $path does not list $last; is the status page wired into serve?" >&2
			return 1
		fi
	done

	echo "commit $commit; $OBJECTIVES objectives, $PER_SERVICE per service, after $EVALUATIONS evaluations"
	# The detail view of the first objective also runs a range query over
	# its period, which covers only the minutes since start here.
	for path in / /api/v1/slos /slos/service-000/objective-0000; do
		log "requesting GET $path for $DURATION s"
		echo "GET $path: $(curl -fs -o /dev/null -w '%{size_download}' "$base$path") bytes; $("$work/benchtool" scrape -url "$base$path" -concurrency 1 -duration "${DURATION}s") ms; load $(cut -d' ' -f1 /proc/loadavg)"
	done
	echo "rule evaluation round, s (summed prometheus_rule_group_last_duration_seconds): $(curl -fs "$base/metrics" | awk '/^prometheus_rule_group_last_duration_seconds\{/ {sum += $2} END {printf "%.3f\n", sum}')"
	echo "serve VmRSS: $(awk '/VmRSS/ {print $2 / 1024 " MiB"}' "/proc/$serve_pid/status")"
	log "done"
}

# The whole file is read before main runs, so that editing the script
# during a run cannot change the run.
main "$@"
exit
