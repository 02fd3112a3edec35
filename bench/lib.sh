# Functions that the benchmark scripts share. Source it after setting root
# to the repository root.

# log prints a message to stderr with the time and the load averages.
log() { echo "[$(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg)] $*" >&2; }

# built_commit prints the commit that the build reads, and whether the
# working tree differs from it.
built_commit() {
	local commit
	commit=$(git -C "$root" rev-parse --short "${BENCH_REV:-HEAD}")
	if [[ -z ${BENCH_REV:-} ]] && ! git -C "$root" diff --quiet HEAD; then
		commit+=" with uncommitted changes"
	fi
	echo "$commit"
}

# free_port prints a TCP port on 127.0.0.1 that is free now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start_work_dir makes the temporary folder $work and, when the script
# exits, stops every process listed in $pids and removes $work unless KEEP
# is set.
start_work_dir() {
	work=$(mktemp -d)
	pids=()
	trap stop_work_dir EXIT
}

stop_work_dir() {
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [[ -z ${KEEP:-} ]]; then
		rm -rf "$work"
	else
		echo "kept $work" >&2
	fi
}
