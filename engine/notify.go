package engine

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	commonconfig "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery/targetgroup"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/notifier"
	"github.com/prometheus/prometheus/rules"

	"github.com/secslo/secslo/slo"
)

// notifierQueueCapacity is the number of alerts the notifier queues while
// Alertmanagers are unreachable, as Prometheus's
// --alertmanager.notification-queue-capacity defaults to.
const notifierQueueCapacity = 10000

// alertmanagerTimeout bounds each request to an Alertmanager.
const alertmanagerTimeout = 10 * time.Second

func newNotifier(opts Options) *notifier.Manager {
	return notifier.NewManager(&notifier.Options{
		QueueCapacity:   notifierQueueCapacity,
		DrainOnShutdown: true,
		Registerer:      opts.Registerer,
	}, model.UTF8Validation, opts.libraryLogger("notifier"))
}

// startNotifier configures one Alertmanager set per URL, each with a static
// target, and runs the notifier in the background.
func (e *Engine) startNotifier() {
	cfg := &config.Config{}
	targets := make(map[string][]*targetgroup.Group, len(e.opts.Alertmanagers))
	for i, u := range e.opts.Alertmanagers {
		am := config.DefaultAlertmanagerConfig
		am.Scheme = u.Scheme
		am.PathPrefix = strings.TrimSuffix(u.Path, "/")
		am.Timeout = model.Duration(alertmanagerTimeout)
		if u.User != nil {
			password, _ := u.User.Password()
			am.HTTPClientConfig.BasicAuth = &commonconfig.BasicAuth{Username: u.User.Username(), Password: commonconfig.Secret(password)}
		}
		cfg.AlertingConfig.AlertmanagerConfigs = append(cfg.AlertingConfig.AlertmanagerConfigs, &am)

		// ToMap names the sets config-0, config-1 and so on, in this order.
		key := fmt.Sprintf("config-%d", i)
		targets[key] = []*targetgroup.Group{{
			Source:  key,
			Targets: []model.LabelSet{{model.AddressLabel: model.LabelValue(u.Host)}},
		}}
	}
	if err := e.notifier.ApplyConfig(cfg); err != nil {
		e.logger.Error("failed to configure the Alertmanagers", "err", err)
		return
	}

	updates := make(chan map[string][]*targetgroup.Group, 1)
	updates <- targets
	go e.notifier.Run(updates)
}

// notify receives the alerts the rules manager sends: it logs each alert
// when it starts and when it resolves, and queues all of them for the
// Alertmanagers, if any. Each alert links to the status page of its SLO.
func (e *Engine) notify(_ context.Context, _ string, alerts ...*rules.Alert) {
	e.alerts.record(alerts)
	if e.notifier == nil || len(alerts) == 0 {
		return
	}

	sent := make([]*notifier.Alert, 0, len(alerts))
	for _, a := range alerts {
		n := &notifier.Alert{
			Labels:       a.Labels,
			Annotations:  a.Annotations,
			StartsAt:     a.FiredAt,
			EndsAt:       a.ValidUntil,
			GeneratorURL: e.statusURL(a.Labels),
		}
		if !a.ResolvedAt.IsZero() {
			n.EndsAt = a.ResolvedAt
		}
		sent = append(sent, n)
	}
	e.notifier.Send(sent...)
}

// statusURL returns the address of the status page of the SLO that ls
// names, or of the overview when ls names none.
func (e *Engine) statusURL(ls labels.Labels) string {
	base := strings.TrimSuffix(e.externalURL(), "/")
	service, name := ls.Get(slo.LabelService), ls.Get(slo.LabelSLO)
	if service == "" || name == "" {
		return base + "/"
	}
	return base + "/slos/" + url.PathEscape(service) + "/" + url.PathEscape(name)
}

// alertLog logs each alert once when it starts firing and once when it
// resolves, however often the rules manager resends it.
type alertLog struct {
	logger *slog.Logger
	mu     sync.Mutex
	firing map[uint64]bool
}

func newAlertLog(logger *slog.Logger) *alertLog {
	return &alertLog{logger: logger, firing: map[uint64]bool{}}
}

func (l *alertLog) record(alerts []*rules.Alert) {
	l.mu.Lock()
	defer l.mu.Unlock()

	for _, a := range alerts {
		key := a.Labels.Hash()
		switch {
		case a.ResolvedAt.IsZero() && !l.firing[key]:
			l.firing[key] = true
			l.logger.Warn("alert firing", "alert", a.Labels.Get(labels.AlertName), "labels", a.Labels.String(), "active_since", a.ActiveAt)
		case !a.ResolvedAt.IsZero() && l.firing[key]:
			delete(l.firing, key)
			l.logger.Info("alert resolved", "alert", a.Labels.Get(labels.AlertName), "labels", a.Labels.String(), "resolved_at", a.ResolvedAt)
		}
	}
}
