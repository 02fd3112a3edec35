#!/usr/bin/env bash
# Times `secslo generate` on the 1,000 SLOs of the Go benchmark
# BenchmarkValidateAndGenerate1000SLOs: whole-process wall time and peak
# resident memory, several runs. Usage: bench/generate.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/specs"

go build -o "$work/secslo" ./cmd/secslo
SECSLO_BENCH_SPECS="$work/specs" go test ./rules -run TestWriteBenchmarkSpecs -count=1 >/dev/null

echo "run wall_seconds peak_rss_kib"
for i in $(seq "$runs"); do
	/usr/bin/time -f "$i %e %M" -o "$work/time" "$work/secslo" generate --spec="$work/specs" --output.dir="$work/out" >/dev/null
	cat "$work/time"
done
