package rules

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"

	"github.com/VictoriaMetrics/metricsql"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"

	"github.com/secslo/secslo/slo"
)

type bytesBuffer = bytes.Buffer

// CheckRuleFile encodes file and checks it as CheckEncodedRuleFile does.
func CheckRuleFile(file *RuleFile, format Format) error {
	data, err := marshalYAML(file)
	if err != nil {
		return err
	}
	return CheckEncodedRuleFile(file, data, format)
}

// CheckEncodedRuleFile checks data, the encoded form of file, with
// Prometheus's rule file loader, which parses every expression with the
// PromQL parser and every template, under the legacy name rules that
// Prometheus 2 enforces. For vmalert it also parses every expression with
// the MetricsQL parser. It returns every problem found.
func CheckEncodedRuleFile(file *RuleFile, data []byte, format Format) error {
	var errs []error
	if _, loadErrs := rulefmt.Parse(data, false, model.LegacyValidation, slo.PromQL, slog.New(slog.DiscardHandler)); len(loadErrs) > 0 {
		errs = append(errs, loadErrs...)
	}
	if format != FormatVMAlert {
		return errors.Join(errs...)
	}

	for _, g := range file.Groups {
		for _, r := range g.Rules {
			if _, err := metricsql.Parse(r.Expr); err != nil {
				errs = append(errs, fmt.Errorf("group %q, rule %q: invalid MetricsQL %q: %w", g.Name, r.Record+r.Alert, r.Expr, err))
			}
		}
	}
	return errors.Join(errs...)
}
