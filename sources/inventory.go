package sources

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/secslo/secslo/slo"
)

// Last-seen formats of the inventory source.
const (
	lastSeenSSM        = "ssm"
	lastSeenCSV        = "csv"
	lastSeenJSON       = "json"
	lastSeenPrometheus = "prometheus"
)

// Defaults of the inventory options.
const (
	defaultFreshness       = model.Duration(time.Hour)
	defaultPrometheusQuery = model.Duration(30 * time.Second)
)

// inventoryOptions are the options of an inventory source.
type inventoryOptions struct {
	// Format is csv or json; empty means from each file's extension.
	Format  string       `yaml:"format"`
	Columns assetColumns `yaml:"columns"`
	// Criticalities lists the criticality values in scope, matched without
	// regard to case.
	Criticalities []string        `yaml:"criticalities"`
	Freshness     model.Duration  `yaml:"freshness"`
	LastSeen      lastSeenOptions `yaml:"last_seen"`
}

// assetColumns names the columns (CSV) or fields (JSON) of the asset list.
type assetColumns struct {
	ID          string `yaml:"id"`
	Name        string `yaml:"name"`
	Criticality string `yaml:"criticality"`
	Owner       string `yaml:"owner"`
}

// lastSeenOptions select the input of the time each asset last shipped logs.
type lastSeenOptions struct {
	// Format is ssm, csv, json or prometheus.
	Format string `yaml:"format"`
	// Paths lists the last-seen files of the ssm, csv and json formats.
	Paths   []string        `yaml:"paths"`
	Columns lastSeenColumns `yaml:"columns"`
	// Query, IDLabel and Timeout configure the prometheus format, which
	// queries the Prometheus server at the source's url.
	Query   string         `yaml:"query"`
	IDLabel string         `yaml:"id_label"`
	Timeout model.Duration `yaml:"timeout"`
}

// lastSeenColumns names the columns (CSV) or fields (JSON) of a last-seen list.
type lastSeenColumns struct {
	ID       string `yaml:"id"`
	LastSeen string `yaml:"last_seen"`
}

// inventory computes log_coverage: the in-scope assets of an asset list, and
// those whose logs were last seen outside the freshness window.
type inventory struct {
	name       string
	logger     *slog.Logger
	assetFiles []string
	opts       inventoryOptions
	prometheus promv1.API
	// prometheusURL is the source's url, for messages.
	prometheusURL string
	// now is the refresh clock; tests replace it.
	now func() time.Time
	// assetsHint is the asset count of the last refresh, used to size the
	// next one's tables so that they do not grow and rehash row by row. The
	// first refresh estimates it from the files.
	assetsHint atomic.Int64
}

// NewInventory builds an inventory source, which yields the log_coverage SLI.
// Paths lists the asset files (CSV or JSON arrays of objects); the
// last_seen option names where last-seen times come from: AWS SSM
// describe-instance-information output, a CSV or JSON list, or a Prometheus
// instant query.
func NewInventory(cfg Config, logger *slog.Logger) (Source, error) {
	opts := inventoryOptions{
		Columns:       assetColumns{ID: "id", Name: "name", Criticality: "criticality", Owner: "owner"},
		Criticalities: []string{"critical"},
		Freshness:     defaultFreshness,
		LastSeen: lastSeenOptions{
			Columns: lastSeenColumns{ID: "id", LastSeen: "last_seen"},
			Timeout: defaultPrometheusQuery,
		},
	}
	if err := DecodeOptions(cfg, &opts); err != nil {
		return nil, err
	}
	for i, p := range opts.LastSeen.Paths {
		opts.LastSeen.Paths[i] = cfg.ResolvePath(p)
	}
	if err := checkInventoryConfig(cfg, opts); err != nil {
		return nil, fmt.Errorf("source %q: %w", cfg.Name, err)
	}

	src := &inventory{name: cfg.Name, logger: logger, assetFiles: cfg.Paths, opts: opts, now: time.Now}
	if opts.LastSeen.Format == lastSeenPrometheus {
		client, err := api.NewClient(api.Config{Address: cfg.URL})
		if err != nil {
			return nil, fmt.Errorf("source %q: invalid url %q: %w", cfg.Name, cfg.URL, err)
		}
		src.prometheus = promv1.NewAPI(client)
		src.prometheusURL = cfg.URL
	}
	return src, nil
}

// checkInventoryConfig rejects options that cannot work, naming the option
// and the fix.
func checkInventoryConfig(cfg Config, opts inventoryOptions) error {
	var problems []error
	if len(cfg.Paths) == 0 {
		problems = append(problems, errors.New("paths is empty: list the asset files (CSV or JSON)"))
	}
	if opts.Format != "" && opts.Format != "csv" && opts.Format != "json" {
		problems = append(problems, fmt.Errorf("invalid options.format %q: expected csv or json", opts.Format))
	}
	if opts.Columns.ID == "" || opts.Columns.Criticality == "" {
		problems = append(problems, errors.New("options.columns.id and options.columns.criticality must not be empty"))
	}
	if len(opts.Criticalities) == 0 {
		problems = append(problems, errors.New("options.criticalities is empty: list the criticality values in scope, such as [critical]"))
	}
	if opts.Freshness <= 0 {
		problems = append(problems, fmt.Errorf("invalid options.freshness %s: expected a positive duration such as 1h", opts.Freshness))
	}
	problems = append(problems, checkLastSeenOptions(cfg, opts.LastSeen)...)
	return errors.Join(problems...)
}

func checkLastSeenOptions(cfg Config, opts lastSeenOptions) []error {
	var problems []error
	switch opts.Format {
	case lastSeenSSM, lastSeenCSV, lastSeenJSON:
		if len(opts.Paths) == 0 {
			problems = append(problems, fmt.Errorf("options.last_seen.paths is empty: list the %s files", opts.Format))
		}
		if cfg.URL != "" || opts.Query != "" || opts.IDLabel != "" {
			problems = append(problems, fmt.Errorf("url, options.last_seen.query and id_label apply only to the prometheus last-seen format, not %s", opts.Format))
		}
		if opts.Columns.ID == "" || opts.Columns.LastSeen == "" {
			problems = append(problems, errors.New("options.last_seen.columns.id and last_seen must not be empty"))
		}
	case lastSeenPrometheus:
		if len(opts.Paths) != 0 {
			problems = append(problems, errors.New("options.last_seen.paths does not apply to the prometheus format: remove it"))
		}
		if cfg.URL == "" || opts.Query == "" || opts.IDLabel == "" {
			problems = append(problems, errors.New("the prometheus last-seen format needs the source's url (the Prometheus server) and options.last_seen.query and id_label (the label that holds the asset id)"))
		}
		if opts.Timeout <= 0 {
			problems = append(problems, fmt.Errorf("invalid options.last_seen.timeout %s: expected a positive duration such as 30s", opts.Timeout))
		}
	case "":
		problems = append(problems, errors.New("options.last_seen.format is missing: set it to ssm, csv, json or prometheus"))
	default:
		problems = append(problems, fmt.Errorf("invalid options.last_seen.format %q: expected ssm, csv, json or prometheus", opts.Format))
	}
	return problems
}

// Refresh reads every asset file and every last-seen input and returns the
// log_coverage snapshot. Any file-level problem fails the whole refresh.
func (s *inventory) Refresh(ctx context.Context) (*Result, error) {
	now := s.now()
	rejected := newTableRejects(s.logger, s.name)
	defer rejected.summarize()

	hint := int(s.assetsHint.Load())
	if hint == 0 {
		hint = estimateRecords(s.assetFiles)
	}
	assets := newAssetTable(hint)
	assetsRead, err := s.readAssets(ctx, assets, rejected)
	if err != nil {
		return nil, err
	}
	s.assetsHint.Store(int64(len(assets.assets)))

	seenRead, err := s.readLastSeen(ctx, assets, rejected, now)
	if err != nil {
		return nil, err
	}
	if assets.unknownIDs > 0 {
		s.logger.Debug("last-seen records name assets that are not in the asset list", "records", assets.unknownIDs)
	}

	result := assets.evaluate(now, time.Duration(s.opts.Freshness))
	result.RecordsRead = assetsRead + seenRead
	result.RecordsRejected = rejected.total
	return result, nil
}

// readAssets loads every asset file into assets and returns the records read.
func (s *inventory) readAssets(ctx context.Context, assets *assetTable, rejected *tableRejects) (int, error) {
	c := s.opts.Columns
	columns := []tableColumn{
		{name: c.ID, fallback: "id", option: "options.columns.id", content: "the asset id", required: true},
		{name: c.Criticality, fallback: "criticality", option: "options.columns.criticality", content: "the asset criticality", required: true},
		{name: c.Name, fallback: "name", option: "options.columns.name", content: "the asset name"},
		{name: c.Owner, fallback: "owner", option: "options.columns.owner", content: "the asset owner"},
	}

	total := 0
	for _, file := range s.assetFiles {
		format, err := tableFormat(s.opts.Format, file)
		if err != nil {
			return 0, err
		}
		fileIndex := assets.addFile(file)
		n, err := readTable(ctx, file, format, columns, rejected, func(values []string, line int) error {
			criticality := strings.TrimSpace(values[1])
			return assets.add(values[0], values[2], values[3], s.inScope(criticality), criticality == "", fileIndex, line)
		})
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// estimateRecords estimates the records of files from their sizes and the
// mean line length of their first 64 KiB. The estimate only sizes tables, so
// a wrong one costs memory or time but never changes a result. A file that
// cannot be opened counts as empty here and fails when it is read.
func estimateRecords(files []string) int {
	const sampleSize = 64 << 10
	total := 0
	sample := make([]byte, sampleSize)
	for _, file := range files {
		total += estimateFileRecords(file, sample)
	}
	return min(total, maxRecordsEstimate)
}

// maxRecordsEstimate caps estimateRecords so that a huge or odd file does
// not reserve memory before it is read.
const maxRecordsEstimate = 10_000_000

func estimateFileRecords(file string, sample []byte) int {
	f, err := os.Open(file)
	if err != nil {
		return 0
	}
	defer f.Close()

	info, err := f.Stat()
	if err != nil {
		return 0
	}
	n, _ := io.ReadFull(f, sample)
	lines := bytes.Count(sample[:n], []byte{'\n'})
	if lines == 0 {
		return 0
	}
	return int(info.Size() / int64(n/lines+1))
}

// inScope reports whether a criticality value is one of the configured ones.
func (s *inventory) inScope(criticality string) bool {
	for _, c := range s.opts.Criticalities {
		if strings.EqualFold(c, criticality) {
			return true
		}
	}
	return false
}

// readLastSeen joins the configured last-seen input into assets.
func (s *inventory) readLastSeen(ctx context.Context, assets *assetTable, rejected *tableRejects, now time.Time) (int, error) {
	opts := s.opts.LastSeen
	if opts.Format == lastSeenPrometheus {
		return s.queryLastSeen(ctx, assets, rejected, now)
	}

	total := 0
	for _, file := range opts.Paths {
		var n int
		var err error
		if opts.Format == lastSeenSSM {
			n, err = readSSMInstanceInformation(ctx, file, assets, rejected)
		} else {
			n, err = s.readLastSeenTable(ctx, file, assets, rejected)
		}
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// readLastSeenTable reads a CSV or JSON list of asset ids and last-seen
// times. When an asset has several records, the latest time counts.
func (s *inventory) readLastSeenTable(ctx context.Context, file string, assets *assetTable, rejected *tableRejects) (int, error) {
	c := s.opts.LastSeen.Columns
	columns := []tableColumn{
		{name: c.ID, fallback: "id", option: "options.last_seen.columns.id", content: "the asset id", required: true},
		{name: c.LastSeen, fallback: "last_seen", option: "options.last_seen.columns.last_seen", content: "the last-seen time", required: true},
	}
	return readTable(ctx, file, s.opts.LastSeen.Format, columns, rejected, func(values []string, line int) error {
		return assets.recordSeenText(values[0], values[1], file, line)
	})
}

// ssmInstanceInformation is the part of one InstanceInformationList element
// of `aws ssm describe-instance-information` that log coverage reads.
type ssmInstanceInformation struct {
	InstanceID string `json:"InstanceId"`
	PingStatus string `json:"PingStatus"`
	// LastPingDateTime is epoch seconds with a fraction in the AWS CLI's
	// output, and an ISO 8601 string in some SDKs' output.
	LastPingDateTime tableJSONText `json:"LastPingDateTime"`
}

// readSSMInstanceInformation reads the output of
// `aws ssm describe-instance-information` and takes LastPingDateTime as the
// time each instance was last seen.
func readSSMInstanceInformation(ctx context.Context, file string, assets *assetTable, rejected *tableRejects) (int, error) {
	return readJSONRecords(ctx, file, "InstanceInformationList", rejected, func(info *ssmInstanceInformation, line int) error {
		return assets.recordSSMPing(*info, file, line)
	})
}

// queryLastSeen runs the configured Prometheus instant query. Each sample
// names an asset in the id_label label and holds its last-seen time in epoch
// seconds as the value.
func (s *inventory) queryLastSeen(ctx context.Context, assets *assetTable, rejected *tableRejects, now time.Time) (int, error) {
	opts := s.opts.LastSeen
	ctx, cancel := context.WithTimeout(ctx, time.Duration(opts.Timeout))
	defer cancel()

	value, warnings, _, err := s.prometheus.Query(ctx, opts.Query, now)
	if err != nil {
		return 0, fmt.Errorf("prometheus query %q at %s failed: %w", opts.Query, s.prometheusURL, err)
	}
	for _, warning := range warnings {
		s.logger.Warn("prometheus query returned a warning", "query", opts.Query, "warning", warning)
	}

	vector, ok := value.(model.Vector)
	if !ok {
		return 0, fmt.Errorf("prometheus query %q returned a %s: expected an instant vector with one sample per asset", opts.Query, value.Type())
	}
	if len(vector) == 0 {
		return 0, fmt.Errorf("prometheus query %q returned no samples: check the query, because an empty result would count every asset as never seen", opts.Query)
	}

	tally := &tableFileTally{file: s.prometheusURL}
	for _, sample := range vector {
		err := assets.recordSeenSample(sample, model.LabelName(opts.IDLabel))
		if err := tally.settle(0, err, rejected); err != nil {
			return 0, err
		}
	}
	return tally.read, tally.check()
}

// assetTable holds the asset list of one refresh, keyed by asset id, and the
// last-seen times joined into it.
type assetTable struct {
	files  []string
	index  map[string]int32
	assets []asset
	// duplicates lists, for an asset id that occurs more than once, the
	// position of every occurrence.
	duplicates map[int32][]string
	// problems contains, per asset, the last rejected last-seen record, so
	// that the reason explains why the asset has no valid time.
	problems map[int32]string
	// pingStatus holds the SSM PingStatus of assets that are not Online.
	pingStatus map[int32]string
	unknownIDs int
}

// asset is one row of the asset list.
type asset struct {
	id, name, owner string
	lastSeen        int64 // Unix nanoseconds, 0 when never seen
	line            int32
	file            uint16
	inScope         bool
}

func newAssetTable(sizeHint int) *assetTable {
	return &assetTable{
		index:      make(map[string]int32, sizeHint),
		assets:     make([]asset, 0, sizeHint),
		duplicates: make(map[int32][]string),
		problems:   make(map[int32]string),
		pingStatus: make(map[int32]string),
	}
}

func (t *assetTable) addFile(file string) uint16 {
	t.files = append(t.files, file)
	return uint16(len(t.files) - 1)
}

// add adds one asset row. A row whose id is already known is rejected, and
// the id is marked so that every row of it stays out of the join. Only the
// inventory's owner can decide which row is right, so secslo does not guess.
func (t *assetTable) add(id, name, owner string, inScope, noCriticality bool, file uint16, line int) error {
	id = strings.TrimSpace(id)
	if id == "" {
		return tableReject("empty asset id")
	}
	if noCriticality {
		return tableReject("asset %q has an empty criticality", id)
	}

	if i, ok := t.index[id]; ok {
		first := &t.assets[i]
		first.inScope = first.inScope || inScope
		if t.duplicates[i] == nil {
			t.duplicates[i] = []string{fmt.Sprintf("%s:%d", t.files[first.file], first.line)}
		}
		t.duplicates[i] = append(t.duplicates[i], fmt.Sprintf("%s:%d", t.files[file], line))
		return tableReject("duplicate asset id %q, first at %s: the asset counts as out of compliance until the asset list names it once", id, t.duplicates[i][0])
	}

	t.index[id] = int32(len(t.assets))
	t.assets = append(t.assets, asset{id: id, name: name, owner: owner, inScope: inScope, file: file, line: int32(line)})
	return nil
}

// recordSeenText parses a last-seen time and joins it to its asset.
func (t *assetTable) recordSeenText(id, lastSeen, file string, line int) error {
	id = strings.TrimSpace(id)
	if id == "" {
		return tableReject("empty asset id")
	}

	at, err := parseLastSeen(lastSeen)
	if err != nil {
		t.noteProblem(id, fmt.Sprintf("%s:%d: %v", file, line, err))
		return &tableRecordError{fmt.Errorf("asset %q: %w", id, err)}
	}
	t.recordSeen(id, at)
	return nil
}

// recordSSMPing joins one SSM instance's last ping to its asset.
func (t *assetTable) recordSSMPing(info ssmInstanceInformation, file string, line int) error {
	if info.InstanceID == "" {
		return tableReject("missing InstanceId")
	}
	if !info.LastPingDateTime.set {
		return tableReject("instance %q has no LastPingDateTime", info.InstanceID)
	}

	at, err := ParseTimestamp(info.LastPingDateTime.text)
	if err != nil {
		t.noteProblem(info.InstanceID, fmt.Sprintf("%s:%d: LastPingDateTime: %v", file, line, err))
		return tableReject("instance %q: LastPingDateTime: %v", info.InstanceID, err)
	}
	t.recordSeen(info.InstanceID, at)

	if i, ok := t.index[info.InstanceID]; ok && info.PingStatus != "" && info.PingStatus != "Online" {
		t.pingStatus[i] = info.PingStatus
	}
	return nil
}

// recordSeenSample joins one Prometheus sample to its asset.
func (t *assetTable) recordSeenSample(sample *model.Sample, idLabel model.LabelName) error {
	id := string(sample.Metric[idLabel])
	if id == "" {
		return tableReject("sample %s has no label %q: set options.last_seen.id_label to the label that holds the asset id", sample.Metric, idLabel)
	}

	at, err := ParseTimestampNumber(float64(sample.Value))
	if err != nil {
		t.noteProblem(id, fmt.Sprintf("prometheus sample %s: %v", sample.Metric, err))
		return tableReject("sample %s: %v", sample.Metric, err)
	}
	t.recordSeen(id, at)
	return nil
}

// recordSeen keeps the latest last-seen time of an asset. Records for ids
// that are not in the asset list are counted and otherwise ignored.
func (t *assetTable) recordSeen(id string, at time.Time) {
	i, ok := t.index[id]
	if !ok {
		t.unknownIDs++
		return
	}
	if a := &t.assets[i]; at.UnixNano() > a.lastSeen {
		a.lastSeen = at.UnixNano()
	}
}

// parseLastSeen is ParseTimestamp with a fast path for RFC 3339 text, the
// common form of large last-seen lists: it skips the failed number parse,
// which allocates an error per record.
func parseLastSeen(s string) (time.Time, error) {
	if len(s) >= len("2006-01-02T15:04:05Z") && s[4] == '-' && s[10] == 'T' {
		if at, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return at.UTC(), nil
		}
	}
	return ParseTimestamp(s)
}

func (t *assetTable) noteProblem(id, problem string) {
	if i, ok := t.index[strings.TrimSpace(id)]; ok {
		t.problems[i] = problem
	}
}

// evaluate counts the in-scope assets and lists those out of compliance.
func (t *assetTable) evaluate(now time.Time, freshness time.Duration) *Result {
	snapshot := Snapshot{SLI: slo.SLILogCoverage}
	var noncompliant []Object
	for i := range t.assets {
		a := &t.assets[i]
		if !a.inScope {
			continue
		}
		snapshot.Objects++

		reason := t.noncompliance(int32(i), now, freshness)
		if reason == "" {
			continue
		}
		if a.owner != "" {
			reason += "; owner " + a.owner
		}
		noncompliant = append(noncompliant, Object{SLI: slo.SLILogCoverage, ID: a.id, Name: a.name, Reason: reason})
	}

	snapshot.Noncompliant = len(noncompliant)
	return &Result{Snapshots: []Snapshot{snapshot}, Noncompliant: noncompliant}
}

// noncompliance returns why an asset is out of compliance, or "" when its
// logs were seen within the freshness window. A last-seen time in the future
// counts as fresh.
func (t *assetTable) noncompliance(i int32, now time.Time, freshness time.Duration) string {
	a := &t.assets[i]
	if positions, ok := t.duplicates[i]; ok {
		return "duplicate asset id in the asset list at " + strings.Join(positions, ", ")
	}
	if a.lastSeen == 0 {
		if problem, ok := t.problems[i]; ok {
			return "no valid last-seen record: " + problem
		}
		return "never seen"
	}

	lastSeen := time.Unix(0, a.lastSeen).UTC()
	age := now.Sub(lastSeen)
	if age <= freshness {
		return ""
	}
	reason := fmt.Sprintf("last seen %s, %s before the refresh, outside the %s freshness window",
		lastSeen.Format(time.RFC3339), model.Duration(age.Truncate(time.Second)), model.Duration(freshness))
	if status, ok := t.pingStatus[i]; ok {
		reason += "; SSM PingStatus " + status
	}
	return reason
}
