package sources

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/secslo/secslo/slo"
)

// Input formats of the patches source.
const (
	patchesSSM  = "ssm"
	patchesCSV  = "csv"
	patchesJSON = "json"
)

// defaultCriticalSLA is how long a critical host may miss a critical patch
// by default: the 7 days that common ISO/IEC 27001 metric sets allow for
// critical fixes.
const defaultCriticalSLA = model.Duration(7 * 24 * time.Hour)

// patchesOptions are the options of a patches source.
type patchesOptions struct {
	// Format is ssm, csv or json. Empty means csv for .csv files. For .json
	// files it means ssm when the document is an object and json when it is
	// an array.
	Format  string      `yaml:"format"`
	Columns hostColumns `yaml:"columns"`
	// SLA maps a host criticality to the longest time a critical patch may
	// stay missing. Hosts of other criticalities are out of scope.
	SLA map[string]model.Duration `yaml:"sla"`
	// MaxScanAge, when set, marks an SSM instance whose last patch operation
	// ended longer ago as out of compliance, because its counts are stale.
	MaxScanAge model.Duration `yaml:"max_scan_age"`
}

// hostColumns names the columns (CSV) or fields (JSON) of a host list.
type hostColumns struct {
	ID          string `yaml:"id"`
	Name        string `yaml:"name"`
	Criticality string `yaml:"criticality"`
	// Released holds the release time of the oldest missing critical patch.
	Released string `yaml:"released"`
	// Age holds the age of the oldest missing critical patch.
	Age string `yaml:"age"`
}

// patches computes patch_compliance: hosts in scope, and those with a
// missing critical patch older than the SLA of their criticality.
type patches struct {
	name   string
	logger *slog.Logger
	files  []string
	opts   patchesOptions
	sla    map[string]time.Duration // keyed by lower-case criticality
	// now is the refresh clock; tests replace it.
	now func() time.Time
}

// NewPatches builds a patches source, which yields the patch_compliance SLI.
// Paths lists AWS SSM describe-instance-patch-states exports, or CSV or JSON
// host lists with the oldest missing critical patch of each host.
func NewPatches(cfg Config, logger *slog.Logger) (Source, error) {
	opts := patchesOptions{
		Columns: hostColumns{ID: "id", Name: "name", Criticality: "criticality", Released: "released", Age: "age"},
	}
	if err := DecodeOptions(cfg, &opts); err != nil {
		return nil, err
	}
	// The default applies only when sla is absent: decoding into a filled
	// map would merge the user's keys into it.
	if opts.SLA == nil {
		opts.SLA = map[string]model.Duration{"critical": defaultCriticalSLA}
	}

	sla, err := checkPatchesConfig(cfg, opts)
	if err != nil {
		return nil, fmt.Errorf("source %q: %w", cfg.Name, err)
	}
	return &patches{name: cfg.Name, logger: logger, files: cfg.Paths, opts: opts, sla: sla, now: time.Now}, nil
}

// checkPatchesConfig rejects options that cannot work and returns the SLA
// map keyed by lower-case criticality.
func checkPatchesConfig(cfg Config, opts patchesOptions) (map[string]time.Duration, error) {
	var problems []error
	if len(cfg.Paths) == 0 {
		problems = append(problems, errors.New("paths is empty: list the SSM patch-state exports or host lists"))
	}
	if cfg.URL != "" {
		problems = append(problems, errors.New("url is not used by patches sources: remove it"))
	}
	if !slices.Contains([]string{"", patchesSSM, patchesCSV, patchesJSON}, opts.Format) {
		problems = append(problems, fmt.Errorf("invalid options.format %q: expected ssm, csv or json", opts.Format))
	}
	if opts.Columns.ID == "" || opts.Columns.Criticality == "" {
		problems = append(problems, errors.New("options.columns.id and options.columns.criticality must not be empty"))
	}
	if opts.MaxScanAge < 0 {
		problems = append(problems, fmt.Errorf("invalid options.max_scan_age %s: expected a positive duration, or 0 to turn the check off", opts.MaxScanAge))
	}
	if len(opts.SLA) == 0 {
		problems = append(problems, errors.New("options.sla is empty: map each criticality in scope to its SLA, such as {critical: 7d}"))
	}

	sla := make(map[string]time.Duration, len(opts.SLA))
	for criticality, d := range opts.SLA {
		key := strings.ToLower(strings.TrimSpace(criticality))
		if _, dup := sla[key]; dup {
			problems = append(problems, fmt.Errorf("options.sla names criticality %q twice (keys match without regard to case)", key))
		}
		if d <= 0 {
			problems = append(problems, fmt.Errorf("invalid options.sla.%s %s: expected a positive duration such as 7d", criticality, d))
		}
		sla[key] = time.Duration(d)
	}
	return sla, errors.Join(problems...)
}

// Refresh reads every input file and returns the patch_compliance snapshot.
// Any file-level problem fails the whole refresh.
func (s *patches) Refresh(ctx context.Context) (*Result, error) {
	now := s.now()
	rejected := newTableRejects(s.logger, s.name)
	defer rejected.summarize()

	hosts := newHostTable()
	read := 0
	for _, file := range s.files {
		n, err := s.readFile(ctx, file, hosts, rejected, now)
		if err != nil {
			return nil, err
		}
		read += n
	}

	result := hosts.evaluate()
	result.RecordsRead = read
	result.RecordsRejected = rejected.total
	return result, nil
}

// readFile reads one input in its configured or detected format.
func (s *patches) readFile(ctx context.Context, file string, hosts *hostTable, rejected *tableRejects, now time.Time) (int, error) {
	format, err := s.fileFormat(file)
	if err != nil {
		return 0, err
	}
	if format == patchesSSM {
		return s.readSSMPatchStates(ctx, file, hosts, rejected, now)
	}
	return s.readHostList(ctx, file, format, hosts, rejected, now)
}

// fileFormat returns the configured format, or detects it: .csv files are
// host lists, and a .json file is an SSM export when its document is an
// object and a host list when it is an array.
func (s *patches) fileFormat(file string) (string, error) {
	format, err := tableFormat(s.opts.Format, file)
	if err != nil {
		return "", fmt.Errorf("%w, or ssm for AWS SSM patch states", err)
	}
	if format != patchesJSON || s.opts.Format != "" {
		return format, nil
	}

	first, err := firstJSONByte(file)
	if err != nil {
		return "", err
	}
	if first == '{' {
		return patchesSSM, nil
	}
	return patchesJSON, nil
}

// firstJSONByte returns the first byte of a JSON file after a byte-order
// mark and whitespace, or 0 when there is none.
func firstJSONByte(file string) (byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, fmt.Errorf("failed to open input: %w", err)
	}
	defer f.Close()

	head := make([]byte, 4096)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("failed to read input: %w", err)
	}
	for _, b := range strings.TrimPrefix(string(head[:n]), string(tableBOM)) {
		if !strings.ContainsRune(" \t\r\n", b) {
			return byte(b), nil
		}
	}
	return 0, nil
}

// readHostList reads a CSV or JSON host list: one record per host with its
// criticality and the release time or age of its oldest missing critical
// patch. A record with neither has no missing critical patch. When a record
// has both, the older one counts.
func (s *patches) readHostList(ctx context.Context, file, format string, hosts *hostTable, rejected *tableRejects, now time.Time) (int, error) {
	c := s.opts.Columns
	columns := []tableColumn{
		{name: c.ID, fallback: "id", option: "options.columns.id", content: "the host id", required: true},
		{name: c.Criticality, fallback: "criticality", option: "options.columns.criticality", content: "the host criticality", required: true},
		{name: c.Name, fallback: "name", option: "options.columns.name", content: "the host name"},
		{name: c.Released, fallback: "released", option: "options.columns.released", content: "the release time of the oldest missing critical patch"},
		{name: c.Age, fallback: "age", option: "options.columns.age", content: "the age of the oldest missing critical patch"},
	}
	if format == patchesCSV {
		if err := checkHostListHeader(file, c); err != nil {
			return 0, err
		}
	}

	return readTable(ctx, file, format, columns, rejected, func(values []string, line int) error {
		host, err := s.hostFromRecord(values, now)
		if err != nil {
			return err
		}
		return hosts.add(host, file, line)
	})
}

// checkHostListHeader fails a CSV host list that has neither a release-time
// nor an age column, because every host would then read as fully patched.
func checkHostListHeader(file string, c hostColumns) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("failed to open input: %w", err)
	}
	defer f.Close()

	table, err := openCSVTable(file, f)
	if err != nil {
		return err
	}
	if table.column(c.Released) >= 0 || table.column(c.Age) >= 0 {
		return nil
	}
	return &InputError{File: file, Line: 1, Err: fmt.Errorf(
		"missing required column %q or %q (found %s): set options.columns.released to the column that holds the release time of the oldest missing critical patch, or options.columns.age to the one that holds its age",
		c.Released, c.Age, tableQuoteList(table.header))}
}

// hostFromRecord builds a host from the values of one host-list record, in
// the column order of readHostList.
func (s *patches) hostFromRecord(values []string, now time.Time) (host, error) {
	h := host{id: strings.TrimSpace(values[0]), name: values[2]}
	if h.id == "" {
		return h, tableReject("empty host id")
	}
	criticality := strings.TrimSpace(values[1])
	if criticality == "" {
		return h, tableReject("host %q has an empty criticality", h.id)
	}

	sla, inScope := s.sla[strings.ToLower(criticality)]
	h.inScope = inScope
	age, missing, err := oldestMissingAge(values[3], values[4], now)
	if err != nil {
		return h, &tableRecordError{fmt.Errorf("host %q: %w", h.id, err)}
	}
	if missing && age > sla {
		h.reason = fmt.Sprintf("critical patch missing for %s, beyond the %s SLA for criticality %s",
			model.Duration(age.Truncate(time.Minute)), model.Duration(sla), strings.ToLower(criticality))
	}
	return h, nil
}

// oldestMissingAge returns the age of the oldest missing critical patch from
// its release time or its age, whichever is older when both are set.
func oldestMissingAge(released, age string, now time.Time) (time.Duration, bool, error) {
	released, age = strings.TrimSpace(released), strings.TrimSpace(age)
	var oldest time.Duration
	missing := false
	if released != "" {
		at, err := ParseTimestamp(released)
		if err != nil {
			return 0, false, fmt.Errorf("release time: %w", err)
		}
		oldest, missing = max(now.Sub(at), 0), true
	}
	if age != "" {
		d, err := parsePatchAge(age)
		if err != nil {
			return 0, false, err
		}
		oldest, missing = max(oldest, d), true
	}
	return oldest, missing, nil
}

// parsePatchAge reads an age as a Prometheus duration (12d, 36h) or as a
// bare number of days, the form scanner reports use.
func parsePatchAge(s string) (time.Duration, error) {
	if days, err := strconv.ParseFloat(s, 64); err == nil {
		if days < 0 || days > 1e5 {
			return 0, fmt.Errorf("invalid age %q: expected a number of days between 0 and 100000", s)
		}
		return time.Duration(days * float64(24*time.Hour)), nil
	}
	d, err := model.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid age %q: expected a duration such as 12d or 36h, or a number of days", s)
	}
	return time.Duration(d), nil
}

// ssmPatchState is the part of one InstancePatchStates element of
// `aws ssm describe-instance-patch-states` (or its -for-patch-group variant)
// that patch compliance reads.
type ssmPatchState struct {
	InstanceID       string        `json:"InstanceId"`
	PatchGroup       string        `json:"PatchGroup"`
	MissingCount     *int          `json:"MissingCount"`
	FailedCount      *int          `json:"FailedCount"`
	OperationEndTime tableJSONText `json:"OperationEndTime"`
}

// readSSMPatchStates reads an SSM patch-state export. The export has no
// criticality and no age per missing patch, so every instance is in scope
// and any missing or failed patch puts it out of compliance.
func (s *patches) readSSMPatchStates(ctx context.Context, file string, hosts *hostTable, rejected *tableRejects, now time.Time) (int, error) {
	return readJSONRecords(ctx, file, "InstancePatchStates", rejected, func(state *ssmPatchState, line int) error {
		h, err := s.hostFromSSM(*state, now)
		if err != nil {
			return err
		}
		return hosts.add(h, file, line)
	})
}

// hostFromSSM builds a host from one SSM patch state.
func (s *patches) hostFromSSM(state ssmPatchState, now time.Time) (host, error) {
	h := host{id: state.InstanceID, inScope: true}
	if h.id == "" {
		return h, tableReject("missing InstanceId")
	}
	if state.MissingCount == nil || state.FailedCount == nil {
		return h, tableReject("instance %q has no MissingCount or FailedCount", h.id)
	}

	var reasons []string
	if *state.MissingCount > 0 || *state.FailedCount > 0 {
		reasons = append(reasons, fmt.Sprintf("SSM reports %d missing and %d failed patches (the export has no patch age, so any counts)", *state.MissingCount, *state.FailedCount))
	}
	if stale, err := s.ssmScanStale(state, now); err != nil {
		return h, &tableRecordError{fmt.Errorf("instance %q: %w", h.id, err)}
	} else if stale != "" {
		reasons = append(reasons, stale)
	}
	h.reason = strings.Join(reasons, "; ")
	return h, nil
}

// ssmScanStale returns a reason when max_scan_age is set and the instance's
// last patch operation ended longer ago.
func (s *patches) ssmScanStale(state ssmPatchState, now time.Time) (string, error) {
	if s.opts.MaxScanAge == 0 {
		return "", nil
	}
	if !state.OperationEndTime.set {
		return "no OperationEndTime, so the patch counts cannot be shown to be current", nil
	}

	end, err := ParseTimestamp(state.OperationEndTime.text)
	if err != nil {
		return "", fmt.Errorf("OperationEndTime: %w", err)
	}
	if age := now.Sub(end); age > time.Duration(s.opts.MaxScanAge) {
		return fmt.Sprintf("last patch operation ended %s ago, beyond max_scan_age %s", model.Duration(age.Truncate(time.Minute)), s.opts.MaxScanAge), nil
	}
	return "", nil
}

// hostTable holds the hosts of one refresh, keyed by host id.
type hostTable struct {
	index map[string]int
	hosts []host
	// duplicates lists, for a host id that occurs more than once, the
	// position of every occurrence.
	duplicates map[int][]string
}

// host is one host of a patch export; reason is empty when it is compliant.
type host struct {
	id, name string
	reason   string
	position string
	inScope  bool
}

func newHostTable() *hostTable {
	return &hostTable{index: make(map[string]int), duplicates: make(map[int][]string)}
}

// add adds one host. A host id seen before is rejected, and the host counts
// as out of compliance until the export names it once: which record is right
// is not for secslo to guess.
func (t *hostTable) add(h host, file string, line int) error {
	h.position = fmt.Sprintf("%s:%d", file, line)
	if i, ok := t.index[h.id]; ok {
		first := &t.hosts[i]
		first.inScope = first.inScope || h.inScope
		if t.duplicates[i] == nil {
			t.duplicates[i] = []string{first.position}
		}
		t.duplicates[i] = append(t.duplicates[i], h.position)
		return tableReject("duplicate host id %q, first at %s: the host counts as out of compliance until the export names it once", h.id, first.position)
	}

	t.index[h.id] = len(t.hosts)
	t.hosts = append(t.hosts, h)
	return nil
}

// evaluate counts the hosts in scope and lists those out of compliance.
func (t *hostTable) evaluate() *Result {
	snapshot := Snapshot{SLI: slo.SLIPatchCompliance}
	var noncompliant []Object
	for i := range t.hosts {
		h := &t.hosts[i]
		if !h.inScope {
			continue
		}
		snapshot.Objects++

		reason := h.reason
		if positions, ok := t.duplicates[i]; ok {
			reason = "duplicate host id at " + strings.Join(positions, ", ")
		}
		if reason != "" {
			noncompliant = append(noncompliant, Object{SLI: slo.SLIPatchCompliance, ID: h.id, Name: h.name, Reason: reason})
		}
	}

	snapshot.Noncompliant = len(noncompliant)
	return &Result{Snapshots: []Snapshot{snapshot}, Noncompliant: noncompliant}
}
