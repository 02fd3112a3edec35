#!/bin/sh
# Regenerates the generated files of deploy/ from the bundled example:
# the Prometheus rule files, the Alertmanager config, the Grafana
# dashboards and the PrometheusRule resources. Run it from anywhere after a
# change to examples/ or to the generators. A test fails while deploy/ is
# out of date.
set -eu
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go build -o "$tmp/secslo" ./cmd/secslo
"$tmp/secslo" generate --config.file=examples/secslo.yaml --output.dir="$tmp/prometheus" --output.no-tests >/dev/null
"$tmp/secslo" generate --config.file=examples/secslo.yaml --output.dir="$tmp/operator" --output.format=prometheus-operator >/dev/null

rm -rf deploy/prometheus/rules deploy/alertmanager deploy/grafana/dashboards deploy/kubernetes/prometheusrules
mkdir -p deploy/prometheus/rules deploy/alertmanager deploy/grafana/dashboards deploy/kubernetes/prometheusrules
cp "$tmp"/prometheus/rules/*.yml deploy/prometheus/rules/
cp "$tmp"/prometheus/alertmanager/*.yml deploy/alertmanager/
cp "$tmp"/prometheus/dashboards/*.json deploy/grafana/dashboards/
cp "$tmp"/operator/rules/*.yml deploy/kubernetes/prometheusrules/

echo "Regenerated deploy/ from examples/secslo.yaml. If the list of PrometheusRule files changed, update resources in deploy/kubernetes/kustomization.yaml:"
ls deploy/kubernetes/prometheusrules
