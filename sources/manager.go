package sources

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// SourceStatus is the published state of one source. The manager replaces a
// whole SourceStatus after each refresh and never changes a published one, so
// readers may keep and read it without locks.
type SourceStatus struct {
	Name            string
	Type            string
	RefreshInterval time.Duration

	// Up is true when the latest refresh succeeded.
	Up bool
	// LastAttempt and LastDuration describe the latest refresh, good or not.
	LastAttempt  time.Time
	LastDuration time.Duration
	// LastSuccess is the end of the latest good refresh, or zero before the first.
	LastSuccess time.Time
	// LastError is the error of the latest failed refresh, or nil if none
	// failed. It is kept after a recovery so the landing page still shows it.
	LastError error
	// Refreshes and Failures count refresh attempts and failed attempts since
	// the source was configured.
	Refreshes uint64
	Failures  uint64
	// Result is the latest good result, nil before the first good refresh.
	// A failed refresh keeps the previous one.
	Result *Result
}

// State is one consistent view of every configured source, sorted by name.
type State struct {
	Sources []*SourceStatus
}

// Source returns the status of the named source, or nil.
func (s *State) Source(name string) *SourceStatus {
	for _, st := range s.Sources {
		if st.Name == name {
			return st
		}
	}
	return nil
}

// Ready reports whether every source has refreshed successfully at least once.
// A config with no sources is ready.
func (s *State) Ready() bool {
	for _, st := range s.Sources {
		if st.LastSuccess.IsZero() {
			return false
		}
	}
	return true
}

// Attempted reports whether every source has finished at least one
// refresh, good or not, so that the metrics no longer change because a
// source is still starting.
func (s *State) Attempted() bool {
	for _, st := range s.Sources {
		if st.Refreshes == 0 {
			return false
		}
	}
	return true
}

// Manager refreshes each configured source in the background on its own
// interval and publishes the results as an immutable State. Readers call
// State, which never waits for a refresh.
type Manager struct {
	registry Registry
	logger   *slog.Logger

	// mu serialises Apply, Stop and publishing, so each publish starts from
	// the latest State and no stopped runner publishes after it was replaced.
	mu      sync.Mutex
	runners map[string]*runner
	stopped bool
	wg      sync.WaitGroup

	state atomic.Pointer[State]

	// ledger counts the events of every source; nil until UseLedger.
	ledger *ledgerHandle
}

// runner drives the refreshes of one source until its context is cancelled.
type runner struct {
	cfg    Config
	source Source
	cancel context.CancelFunc
	// key identifies the config the runner was built from, so Apply can tell
	// an unchanged source from a changed one.
	key string
}

// NewManager returns a Manager with no sources, which Apply starts. A nil
// logger discards logs.
func NewManager(registry Registry, logger *slog.Logger) *Manager {
	if registry == nil {
		registry = Registry{}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Manager{registry: registry, logger: logger, runners: map[string]*runner{}}
	m.state.Store(&State{})
	return m
}

// UseLedger makes the manager commit every successful refresh's events to
// the ledger file at path. An existing file is opened and checked at once; a
// missing one is created at the first refresh that returns events. Call it
// before Apply.
func (m *Manager) UseLedger(path string, opts LedgerOptions) error {
	h, err := openLedgerHandle(path, opts)
	if err != nil {
		return err
	}
	m.ledger = h
	return nil
}

// Ledger returns the open ledger, or nil when none is in use or none has been
// opened yet.
func (m *Manager) Ledger() *Ledger {
	return m.ledger.opened()
}

// State returns the latest published state. It never blocks on a refresh.
func (m *Manager) State() *State {
	return m.state.Load()
}

// Apply switches the manager to the sources of cfg. It first validates cfg
// against the registry and builds every source. If anything fails, it returns
// every error, joined, and the running sources stay untouched. Otherwise a
// source whose config is unchanged keeps running with its state, and every
// new or changed source starts with a refresh at once.
func (m *Manager) Apply(cfg *FileConfig) error {
	if err := cfg.Validate(m.registry); err != nil {
		return err
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return errors.New("source manager is stopped")
	}

	next, err := m.buildRunners(cfg)
	if err != nil {
		return err
	}

	m.swapRunners(next)
	return nil
}

// CheckConfig validates cfg against registry and builds every source, as
// Apply does, without starting anything. It returns every error, joined, so
// that validate reports invalid adapter options before serve would.
func CheckConfig(cfg *FileConfig, registry Registry, logger *slog.Logger) error {
	if err := cfg.Validate(registry); err != nil {
		return err
	}
	_, err := NewManager(registry, logger).buildRunners(cfg)
	return err
}

// buildRunners returns a runner per source of cfg, reusing the current runner
// of every unchanged source. Factory errors are joined with their field path.
func (m *Manager) buildRunners(cfg *FileConfig) (map[string]*runner, error) {
	next := make(map[string]*runner, len(cfg.Sources))
	var errs []error

	for i, src := range cfg.Sources {
		key, err := configKey(src)
		if err != nil {
			errs = append(errs, cfg.fieldError(fmt.Sprintf("sources[%d]", i), err))
			continue
		}
		if old := m.runners[src.Name]; old != nil && old.key == key {
			next[src.Name] = old
			continue
		}

		source, err := m.registry[src.Type](src, m.logger.With(LogKeySource, src.Name))
		if err != nil {
			errs = append(errs, cfg.fieldError(fmt.Sprintf("sources[%d]", i), fmt.Errorf("invalid %s source: %w", src.Type, err)))
			continue
		}
		next[src.Name] = &runner{cfg: src, source: source, key: key}
	}
	return next, errors.Join(errs...)
}

// swapRunners stops the runners that next does not keep, starts the new
// ones and publishes a State with exactly the sources of next. m.mu is held.
func (m *Manager) swapRunners(next map[string]*runner) {
	for name, old := range m.runners {
		if next[name] != old {
			old.cancel()
			m.logger.Info("stopped source", LogKeySource, name)
		}
	}

	current := m.State()
	state := &State{}
	for name, r := range next {
		if r.cancel != nil {
			state.Sources = append(state.Sources, current.Source(name))
			continue
		}

		ctx, cancel := context.WithCancel(context.Background())
		r.cancel = cancel
		state.Sources = append(state.Sources, &SourceStatus{
			Name: name, Type: r.cfg.Type, RefreshInterval: time.Duration(r.cfg.RefreshInterval),
		})

		m.wg.Add(1)
		go m.loop(ctx, r)
		m.logger.Info("started source", LogKeySource, name, "type", r.cfg.Type, "refresh_interval", r.cfg.RefreshInterval)
	}

	sortStatuses(state.Sources)
	m.runners = next
	m.state.Store(state)
}

// Stop cancels every refresh and waits until the background goroutines end.
// A stopped Manager keeps its last State and rejects Apply.
func (m *Manager) Stop() {
	m.mu.Lock()
	m.stopped = true
	for _, r := range m.runners {
		r.cancel()
	}
	m.mu.Unlock()

	m.wg.Wait()

	if m.ledger != nil {
		if err := m.ledger.close(); err != nil {
			m.logger.Error("failed to close the ledger", "err", err)
		}
	}
}

// loop refreshes r at once and then on every tick of its interval.
func (m *Manager) loop(ctx context.Context, r *runner) {
	defer m.wg.Done()

	interval := time.Duration(r.cfg.RefreshInterval)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()

	for {
		m.refresh(ctx, r, interval)

		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// refresh runs one refresh of r, bounded by its interval, and publishes the
// outcome unless r was stopped in the meantime.
func (m *Manager) refresh(ctx context.Context, r *runner, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	start := time.Now()
	result, err := callRefresh(ctx, r.source)
	if err == nil {
		err = checkResult(result)
	}
	if err == nil {
		err = m.commitEvents(r, result)
	}
	duration := time.Now().Sub(start)

	if ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
		return
	}
	if err != nil {
		m.logFailure(r.cfg.Name, err)
	}
	m.publish(r, start, duration, result, err)
}

// commitEvents passes the events and scans of a good result through the
// ledger. A failed commit fails the refresh and counts nothing.
func (m *Manager) commitEvents(r *runner, result *Result) error {
	if len(result.Events) == 0 && len(result.Scans) == 0 {
		return nil
	}
	if m.ledger == nil {
		return errNoLedger
	}

	ledger, err := m.ledger.get()
	if err != nil {
		return err
	}
	stats, err := ledger.Commit(r.cfg.Name, result.Events, result.Scans, time.Now())
	if err != nil {
		return err
	}

	m.logger.Debug("committed events", LogKeySource, r.cfg.Name, "events", len(result.Events), "scans", len(result.Scans),
		"counted", stats.Counted, "bad", stats.Bad, "opened", stats.Opened, "expired", stats.Expired,
		"scans_skipped", stats.ScansSkipped, "pruned", stats.Pruned)
	return nil
}

// callRefresh calls the adapter and turns a panic into an error, so one
// adapter's bug on odd input marks its source down instead of ending the
// process.
func callRefresh(ctx context.Context, source Source) (result *Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			result = nil
			err = fmt.Errorf("adapter panicked: %v\n%s", p, debug.Stack())
		}
	}()

	result, err = source.Refresh(ctx)
	if err == nil && result == nil {
		err = errors.New("adapter returned no result and no error")
	}
	return result, err
}

// checkResult rejects a result that would publish inconsistent metrics, such
// as two values for one SLI or more bad objects than objects.
func checkResult(res *Result) error {
	seen := map[string]bool{}
	for _, snap := range res.Snapshots {
		switch {
		case snap.SLI == "" || !utf8.ValidString(snap.SLI):
			return fmt.Errorf("adapter returned a snapshot with the invalid SLI id %q", snap.SLI)
		case seen[snap.SLI]:
			return fmt.Errorf("adapter returned SLI %q twice", snap.SLI)
		case snap.Objects < 0 || snap.Noncompliant < 0 || snap.Noncompliant > snap.Objects:
			return fmt.Errorf("adapter returned SLI %q with %d noncompliant of %d objects", snap.SLI, snap.Noncompliant, snap.Objects)
		}
		seen[snap.SLI] = true
	}

	if res.RecordsRejected < 0 || res.RecordsRejected > res.RecordsRead {
		return fmt.Errorf("adapter returned %d rejected of %d records read", res.RecordsRejected, res.RecordsRead)
	}
	return nil
}

// logFailure logs a failed refresh with the file and position when the error
// carries an InputError.
func (m *Manager) logFailure(source string, err error) {
	attrs := []any{LogKeySource, source}

	var inputErr *InputError
	if errors.As(err, &inputErr) {
		attrs = append(attrs, "file", inputErr.File)
		if inputErr.Line > 0 {
			attrs = append(attrs, "line", inputErr.Line)
		}
		if inputErr.Column > 0 {
			attrs = append(attrs, "column", inputErr.Column)
		}
		if inputErr.Offset > 0 {
			attrs = append(attrs, "offset", inputErr.Offset)
		}
	}

	attrs = append(attrs, "err", err)
	m.logger.Error("refresh failed, keeping the last good values", attrs...)
}

// publish stores a new State in which r's source reflects one refresh.
func (m *Manager) publish(r *runner, start time.Time, duration time.Duration, result *Result, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()

	if m.runners[r.cfg.Name] != r {
		return
	}

	current := m.State()
	state := &State{Sources: slices.Clone(current.Sources)}
	i := slices.IndexFunc(state.Sources, func(st *SourceStatus) bool { return st.Name == r.cfg.Name })
	if i < 0 {
		return
	}

	next := *state.Sources[i]
	next.Up = err == nil
	next.LastAttempt = start
	next.LastDuration = duration
	next.Refreshes++
	if err != nil {
		next.Failures++
		next.LastError = err
	} else {
		next.LastSuccess = start.Add(duration)
		next.Result = result
	}

	state.Sources[i] = &next
	m.state.Store(state)
}

// configKey returns a string that is equal for two configs only if they
// would build the same source.
func configKey(cfg Config) (string, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	if err := enc.Encode(cfg); err != nil {
		return "", fmt.Errorf("failed to encode source config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return "", fmt.Errorf("failed to encode source config: %w", err)
	}
	return buf.String(), nil
}

func sortStatuses(statuses []*SourceStatus) {
	sort.Slice(statuses, func(i, j int) bool { return statuses[i].Name < statuses[j].Name })
}
