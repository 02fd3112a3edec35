#!/bin/sh
# The do-it-yourself evidence automation SLI: a control of an ISO 27001
# compliance mapping is evidenced when one of its checks has a PASS or FAIL
# finding in the Prowler OCSF output no older than 7 days. Writes the mapped
# controls and those not evidenced for node_exporter's textfile collector.
# Usage: prowler.sh OCSF_JSON MAPPING_JSON OUTPUT_PROM
set -eu
jq -nr --argjson now "$(date +%s)" --argjson freshness 604800 '
  input as $findings | input as $mapping
  | (reduce ($findings[] | select(.status_code == "PASS" or .status_code == "FAIL")) as $f
      ({}; .[$f.metadata.event_code] = ([.[$f.metadata.event_code] // 0, $f.time] | max))) as $latest
  | [$mapping.Requirements[] | select(.Checks | length > 0)
      | {id: .Id, fresh: any(.Checks[]; ($latest[.] // 0) >= $now - $freshness)}]
  | group_by(.id) | map({id: .[0].id, fresh: any(.[]; .fresh)})
  | "objects{sli=\"evidence_automation\"} \(length)\nnoncompliant{sli=\"evidence_automation\"} \(map(select(.fresh | not)) | length)"
' "$1" "$2" >"$3.tmp"
mv "$3.tmp" "$3"
