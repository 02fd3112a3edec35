#!/bin/sh
# The do-it-yourself log coverage SLI. It joins an asset list (CSV: id, name,
# criticality, ...) with last-seen records (CSV: id, last_seen as RFC 3339).
# For node_exporter's textfile collector, it writes the number of critical
# assets and of those not seen within the freshness window (1 hour) or never.
# Usage: inventory.sh ASSETS_CSV LAST_SEEN_CSV OUTPUT_PROM
set -eu
jq -nrR --argjson now "$(date +%s)" --argjson freshness 3600 --rawfile seen "$2" '
  (reduce ($seen | split("\n")[1:][] | select(length > 0) | split(",")) as $f
    ({}; ($f[1] | fromdateiso8601) as $t | if (.[$f[0]] // 0) < $t then .[$f[0]] = $t else . end)) as $last
  | reduce (inputs | select(startswith("id,") | not) | split(",") | select(.[2] | ascii_downcase == "critical")) as $f
    ([0, 0]; .[0] += 1 | if $now - ($last[$f[0]] // 0) > $freshness then .[1] += 1 else . end)
  | "objects{sli=\"log_coverage\"} \(.[0])\nnoncompliant{sli=\"log_coverage\"} \(.[1])"
' "$1" >"$3.tmp"
mv "$3.tmp" "$3"
