#!/bin/sh
# The do-it-yourself privilege drift SLI over `aws iam
# get-account-authorization-details`: a role drifts when an action that its
# inline and attached managed policies allow is not covered by its baseline
# entries, or when it is granted the `*` action or kms:Decrypt on every
# resource.
# A Deny of an action on "*" removes the grants it covers. Patterns are IAM
# globs matched without regard to case. Writes the roles and those that
# drift for node_exporter's textfile collector.
# Usage: iam.sh EXPORT_JSON BASELINE_JSON OUTPUT_PROM
set -eu
jq -nr '
  def list: if type == "array" then . else [.] end;
  def glob: "^" + (gsub("(?<c>[.+^$()\\[\\]{}|\\\\])"; "\\\(.c)") | gsub("\\*"; ".*") | gsub("\\?"; ".")) + "$";
  def covers($pattern): if $pattern | test("[*?]") then test($pattern | glob; "i") else ascii_downcase == ($pattern | ascii_downcase) end;
  input as $export | input as $baseline
  | ($export.Policies | map({key: .Arn, value: (.PolicyVersionList[] | select(.IsDefaultVersion) | .Document)}) | from_entries) as $managed
  | [$export.RoleDetailList[]
     | . as $role
     | ([.RolePolicyList[].PolicyDocument] + [.AttachedManagedPolicies[] | $managed[.PolicyArn]]
        | map(.Statement | list[]) ) as $statements
     | ([$statements[] | select(.Effect == "Deny" and (.Resource | list | index("*")) and (has("Condition") | not)) | .Action | list[]]) as $denied
     | ([$statements[] | select(.Effect == "Allow") | {resource: (.Resource | list), action: (.Action | list[])}]
        | map(select(.action as $a | all($denied[]; . as $d | $a | covers($d) | not)))) as $grants
     | ([$baseline.principals[] | select(. as $e | ($role.RoleName | covers($e.principal)) or ($role.Arn | covers($e.principal))) | .allowed_actions[]]) as $allowed
     | ($grants | any(.action as $a | all($allowed[]; . as $p | $a | covers($p) | not))) as $outside
     | ($grants | any(.action as $a | $a == "*" or $a == "*:*" or (("kms:Decrypt" | covers($a)) and (.resource | index("*"))))) as $risky
     | $outside or $risky]
  | "objects{sli=\"privilege_drift\"} \(length)\nnoncompliant{sli=\"privilege_drift\"} \(map(select(.)) | length)"
' "$1" "$2" >"$3.tmp"
mv "$3.tmp" "$3"
