#!/usr/bin/env bash
# Measures what the embedded rule engine of `secslo serve` costs. It reads
# the CPU time (utime + stime from /proc/PID/stat) and resident memory
# (VmRSS, VmHWM from /proc/PID/status) of whole serve processes over a
# window. It also reads the rule evaluation time that the engine reports on
# /metrics (prometheus_rule_group_last_duration_seconds, summed over the
# groups).
#
# The config is examples/secslo.yaml, whose eleven sources feed every
# built-in SLI, with OBJECTIVES objectives on the built-in SLIs in place of
# the example's specs, PER_SERVICE per service (benchtool objectives). Each
# variant runs as its own serve process on a free port of 127.0.0.1, all at
# the same time, so that they share the machine's load:
#
#   history      engine on, its storage filled with HISTORY_DAYS days of
#                every series the rules record, one sample per 30 seconds
#                (benchtool engine-history). This is the steady state of an
#                engine that has run for a whole SLO period. The blocks are
#                written 2 hours long, and the engine compacts them into
#                blocks of a tenth of the retention during the warm-up
#   history-54h  the same history in 54-hour blocks, the largest that
#                Prometheus 3 compacts to at a 33-day retention (its
#                maximum block is a tenth of the retention)
#   fresh        engine on, empty storage: the first minutes after start
#   disabled     --engine.disabled: the sources' refresh and nothing else
#
# Usage: bench/engine.sh [variant ...]; without arguments history, fresh
# and disabled run. Settings from the environment (defaults in brackets):
# OBJECTIVES [100], PER_SERVICE [10], HISTORY_DAYS [33, the retention the
# engine keeps for 30-day SLOs], WARMUP [120] seconds before measuring,
# WINDOW [600] seconds measured, READ_EVERY [30] seconds between readings,
# BENCH_REV builds from a commit instead of the working tree. Everything
# goes to a temporary folder that is removed at exit; KEEP=1 keeps it.
#
# Needs go, python3 (to find free ports) and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"

OBJECTIVES=${OBJECTIVES:-100}
PER_SERVICE=${PER_SERVICE:-10}
HISTORY_DAYS=${HISTORY_DAYS:-33}
WARMUP=${WARMUP:-120}
WINDOW=${WINDOW:-600}
READ_EVERY=${READ_EVERY:-30}
EVAL_INTERVAL=30s
variants=("$@")
[[ ${#variants[@]} -gt 0 ]] || variants=(history fresh disabled)

start_work_dir


build() {
	local src=$root
	if [[ -n ${BENCH_REV:-} ]]; then
		src=$work/src
		mkdir -p "$src"
		git archive "$BENCH_REV" | tar -x -C "$src"
	fi
	log "building secslo and benchtool from ${BENCH_REV:-the working tree}"
	commit=$(built_commit)
	(cd "$src" && go build -o "$work/secslo" ./cmd/secslo && go build -o "$work/benchtool" ./bench/benchtool)
}

# write_config: the example's config next to a link to its data, so that
# its relative paths resolve, with generated specs in slos/.
write_config() {
	cp "$root/examples/secslo.yaml" "$work/secslo.yaml"
	ln -s "$root/examples/data" "$work/data"
	"$work/benchtool" objectives -count "$OBJECTIVES" -per-service "$PER_SERVICE" -out "$work/slos"
	"$work/secslo" generate --config.file="$work/secslo.yaml" --output.dir="$work/generated" --output.no-tests >/dev/null
}

# prepare VARIANT: fills the storage of VARIANT and prints the serve flags
# that select it.
prepare() {
	local variant=$1 dir=$work/$1
	mkdir -p "$dir"
	case $variant in
	history | history-54h)
		local block=2h
		[[ $variant == history-54h ]] && block=54h
		log "writing $HISTORY_DAYS days of recorded series in $block blocks for $variant"
		"$work/benchtool" engine-history -out "$dir/storage/tsdb" -days "$HISTORY_DAYS" -block "$block" "$work"/generated/rules/*.yml >&2
		;;
	fresh | disabled) ;;
	*)
		echo "unknown variant $variant; use history, history-54h, fresh or disabled" >&2
		return 1
		;;
	esac
	if [[ $variant == disabled ]]; then
		echo "--engine.disabled"
	else
		echo "--storage.path=$dir/storage --engine.evaluation-interval=$EVAL_INTERVAL"
	fi
}

# start VARIANT FLAGS: starts serve for VARIANT and records its pid and port.
start() {
	local variant=$1 flags=$2 port
	port=$(free_port)
	# shellcheck disable=SC2086 # FLAGS is a list of flags.
	"$work/secslo" serve --config.file="$work/secslo.yaml" --web.listen-address="127.0.0.1:$port" \
		--ledger.path="$work/$variant/ledger.db" $flags >"$work/$variant/serve.log" 2>&1 &
	pids+=("$!")
	echo "$!" >"$work/$variant/pid"
	echo "$port" >"$work/$variant/port"
	for _ in $(seq 300); do
		curl -fs "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	echo "secslo serve for $variant did not become ready; its log:" >&2
	cat "$work/$variant/serve.log" >&2
	return 1
}

main() {
	build
	write_config
	declare -A flags
	for variant in "${variants[@]}"; do
		flags[$variant]=$(prepare "$variant")
	done
	for variant in "${variants[@]}"; do
		start "$variant" "${flags[$variant]}"
	done

	log "started ${variants[*]}; warming up for $WARMUP s"
	sleep "$WARMUP"
	log "measuring for $WINDOW s, reading every $READ_EVERY s"
	measurers=()
	for variant in "${variants[@]}"; do
		"$work/benchtool" procstat -pid "$(cat "$work/$variant/pid")" -window "${WINDOW}s" -interval "${READ_EVERY}s" \
			-metrics "http://127.0.0.1:$(cat "$work/$variant/port")/metrics" -samples "$work/$variant/samples.tsv" \
			>"$work/$variant/summary" &
		measurers+=("$!")
	done
	for pid in "${measurers[@]}"; do
		wait "$pid"
	done
	log "done"

	echo "commit $commit; $OBJECTIVES objectives, $PER_SERVICE per service; warm-up ${WARMUP}s, window ${WINDOW}s"
	echo "nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo | sed 's/\t//'); memory $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
	for variant in "${variants[@]}"; do
		echo "== $variant"
		cat "$work/$variant/summary"
		errors=$(grep -c 'level=ERROR' "$work/$variant/serve.log" || true)
		echo "log_errors $errors"
	done
}

# The whole file is read before main runs, so that editing the script
# during a run cannot change the run.
main "$@"
exit
