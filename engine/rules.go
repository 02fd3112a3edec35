package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/rules"

	secsloRules "github.com/secslo/secslo/rules"
	"github.com/secslo/secslo/slo"
)

// External is an SLO that the engine does not evaluate, because its SLI
// reads metrics that the secslo exporter does not serve. An external
// Prometheus that scrapes those metrics evaluates it from the same rules.
type External struct {
	Service, SLO string
	// Metrics are the metrics the SLI needs that secslo does not serve.
	Metrics []string
}

// String describes e for logs and validate's output.
func (e External) String() string {
	return fmt.Sprintf("SLO %q of service %q is evaluated only by an external Prometheus: secslo does not serve %s",
		e.SLO, e.Service, strings.Join(e.Metrics, ", "))
}

// Split separates the SLOs that the engine evaluates from those that only
// an external Prometheus can evaluate.
func Split(slos []*slo.SLO) (local []*slo.SLO, external []External) {
	for _, s := range slos {
		metrics := s.ExternalMetrics()
		if len(metrics) == 0 {
			local = append(local, s)
			continue
		}
		external = append(external, External{Service: s.Service, SLO: s.Name, Metrics: metrics})
	}
	return local, external
}

func (e *Engine) newRulesManager() *rules.Manager {
	return rules.NewManager(&rules.ManagerOptions{
		ExternalURL:     e.opts.ExternalURL,
		QueryFunc:       rules.EngineQueryFunc(e.queries, e.db),
		NotifyFunc:      e.notify,
		Context:         context.Background(),
		AppendableV2:    e.db,
		Queryable:       e.db,
		Logger:          e.opts.libraryLogger("rule manager"),
		Registerer:      e.opts.Registerer,
		OutageTolerance: outageTolerance,
		ForGracePeriod:  forGracePeriod,
		ResendDelay:     resendDelay,
		Parser:          slo.PromQL,
	})
}

// Update generates the rule files of slos as secslo generate writes them,
// stores them under the storage folder, and makes the rules manager
// evaluate them from its next interval on. SLOs that need metrics secslo
// does not serve are left out and returned. On error the previous rules
// keep running.
func (e *Engine) Update(slos []*slo.SLO) ([]External, error) {
	local, external := Split(slos)

	out, err := secsloRules.Generate(local, secsloRules.Options{Format: secsloRules.FormatPrometheus})
	if err != nil {
		return nil, fmt.Errorf("failed to generate the rules of the engine: %w", err)
	}
	files, err := e.writeRuleFiles(out.Files)
	if err != nil {
		return nil, err
	}

	err = e.rules.Update(e.opts.Interval, files, labels.EmptyLabels(), e.externalURL(), nil)
	if err != nil {
		return nil, fmt.Errorf("failed to load the generated rules into the engine: %w", err)
	}

	if err := e.growRetention(Retention(slos, e.opts.Retention)); err != nil {
		return nil, err
	}

	e.mu.Lock()
	e.slos, e.external = slos, external
	e.mu.Unlock()
	e.metrics.externalSLOs.Set(float64(len(external)))
	for _, x := range external {
		e.logger.Warn("not evaluated by the embedded engine", "service", x.Service, "slo", x.SLO, "missing_metrics", strings.Join(x.Metrics, ","))
	}
	e.logger.Info("loaded the generated rules", "slos", len(local), "external_slos", len(external), "files", len(files))
	return external, nil
}

// writeRuleFiles writes the generated rule files into the rules folder,
// each through a temporary file and a rename, removes the files of
// services that no longer exist, and returns the paths of the files.
func (e *Engine) writeRuleFiles(generated map[string][]byte) ([]string, error) {
	dir := filepath.Join(e.opts.StoragePath, rulesDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("failed to create the rules folder: %w", err)
	}

	var paths []string
	for name, data := range generated {
		if !strings.HasPrefix(name, secsloRules.RulesDir+"/") {
			continue // Routing and tests are not evaluated.
		}
		path := filepath.Join(dir, filepath.Base(name))
		if err := writeFileAtomic(path, data); err != nil {
			return nil, err
		}
		paths = append(paths, path)
	}
	slices.Sort(paths)

	if err := removeOtherFiles(dir, paths); err != nil {
		return nil, err
	}
	return paths, nil
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("failed to write rule file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("failed to replace rule file: %w", err)
	}
	return nil
}

// removeOtherFiles deletes the rule files of dir that keep does not list.
func removeOtherFiles(dir string, keep []string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("failed to list the rules folder: %w", err)
	}
	for _, entry := range entries {
		path := filepath.Join(dir, entry.Name())
		if entry.IsDir() || slices.Contains(keep, path) {
			continue
		}
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("failed to remove stale rule file: %w", err)
		}
	}
	return nil
}

// growRetention raises the retention of the storage to at least want and
// records it. It never lowers it, so that a reload with a shorter period
// deletes no history that a later reload may need again. With
// FixedRetention it changes nothing.
func (e *Engine) growRetention(want time.Duration) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if want <= e.retention || e.opts.FixedRetention {
		return nil
	}

	cfg := &config.Config{StorageConfig: config.StorageConfig{TSDBConfig: &config.TSDBConfig{
		Retention: &config.TSDBRetentionConfig{Time: model.Duration(want)},
	}}}
	if err := e.db.ApplyConfig(cfg); err != nil {
		return fmt.Errorf("failed to raise the retention of the engine storage to %s: %w", want, err)
	}
	e.retention = want
	if err := recordRetention(e.opts.StoragePath, want); err != nil {
		return err
	}
	e.logger.Info("raised the retention of the engine storage", "retention", slo.FormatDuration(want))
	return nil
}

// SLOs returns the SLOs of the latest Update, evaluated or not.
func (e *Engine) SLOs() []*slo.SLO {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.slos
}

// ExternalSLOs returns the SLOs that the latest Update left out.
func (e *Engine) ExternalSLOs() []External {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.external
}

func (e *Engine) externalURL() string {
	if e.opts.ExternalURL == nil {
		return ""
	}
	return e.opts.ExternalURL.String()
}

// ActiveAlerts returns the pending and firing alerts of every alerting
// rule as the rules manager holds them. They are current from the first
// evaluation on, while the ALERTS series appear only once the rules
// manager has restored the state of alerts with a for duration, one
// evaluation later.
func (e *Engine) ActiveAlerts() []*rules.Alert {
	var alerts []*rules.Alert
	for _, rule := range e.rules.AlertingRules() {
		alerts = append(alerts, rule.ActiveAlerts()...)
	}
	return alerts
}
