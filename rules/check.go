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

// CheckRuleFile parses every expression of file with the parser of the
// target (PromQL, or MetricsQL for vmalert) and the whole file with
// Prometheus's rule file loader with the legacy name rules that Prometheus 2
// enforces, and returns every problem found.
func CheckRuleFile(file *RuleFile, format Format) error {
	var errs []error
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			if err := checkExpr(r.Expr, format); err != nil {
				errs = append(errs, fmt.Errorf("group %q, rule %q: %w", g.Name, r.Record+r.Alert, err))
			}
		}
	}

	data, err := marshalYAML(file)
	if err != nil {
		return err
	}
	if _, loadErrs := rulefmt.Parse(data, false, model.LegacyValidation, slo.PromQL, slog.New(slog.DiscardHandler)); len(loadErrs) > 0 {
		errs = append(errs, loadErrs...)
	}
	return errors.Join(errs...)
}

func checkExpr(expr string, format Format) error {
	if format == FormatVMAlert {
		if _, err := metricsql.Parse(expr); err != nil {
			return fmt.Errorf("invalid MetricsQL %q: %w", expr, err)
		}
		return nil
	}
	if _, err := slo.PromQL.ParseExpr(expr); err != nil {
		return fmt.Errorf("invalid PromQL %q: %w", expr, err)
	}
	return nil
}
