package sources

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
)

// fileCountSource is a small real adapter for tests: it reads CSV files of
// "id,sli,status" records with a header line, where status is ok or bad, and
// counts objects per SLI. A line with the wrong number of fields fails the
// whole refresh; an unknown status rejects only that record.
type fileCountSource struct {
	cfg    Config
	logger *slog.Logger
}

// newFileCountSource is a Factory for fileCountSource. It rejects a config
// without paths and decodes its options strictly.
func newFileCountSource(cfg Config, logger *slog.Logger) (Source, error) {
	var opts struct {
		// FailOpen makes the factory fail, to test factory errors.
		Fail bool `yaml:"fail"`
	}
	if err := DecodeOptions(cfg, &opts); err != nil {
		return nil, err
	}
	if opts.Fail {
		return nil, errors.New("options.fail is set; remove it")
	}
	if len(cfg.Paths) == 0 {
		return nil, errors.New("missing paths; list at least one CSV file")
	}
	return &fileCountSource{cfg: cfg, logger: logger}, nil
}

func (s *fileCountSource) Refresh(ctx context.Context) (*Result, error) {
	counts := map[string]*Snapshot{}
	res := &Result{}
	for _, path := range s.cfg.Paths {
		if err := s.readFile(path, counts, res); err != nil {
			return nil, err
		}
	}

	for _, snap := range counts {
		res.Snapshots = append(res.Snapshots, *snap)
	}
	sort.Slice(res.Snapshots, func(i, j int) bool { return res.Snapshots[i].SLI < res.Snapshots[j].SLI })
	return res, nil
}

func (s *fileCountSource) readFile(path string, counts map[string]*Snapshot, res *Result) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("failed to open input: %w", err)
	}
	defer f.Close()

	scanner := bufio.NewScanner(f)
	line := 0
	for scanner.Scan() {
		line++
		if line == 1 {
			if scanner.Text() != "id,sli,status" {
				return &InputError{File: path, Line: 1, Err: fmt.Errorf("header %q is not id,sli,status", scanner.Text())}
			}
			continue
		}

		fields := strings.Split(scanner.Text(), ",")
		if len(fields) != 3 {
			return &InputError{File: path, Line: line, Err: fmt.Errorf("got %d fields, want 3", len(fields))}
		}
		res.RecordsRead++

		id, sli, status := fields[0], fields[1], fields[2]
		if status != "ok" && status != "bad" {
			res.RecordsRejected++
			s.logger.Warn("rejected record", "source", s.cfg.Name, "file", path, "line", line, "status", status)
			continue
		}

		snap := counts[sli]
		if snap == nil {
			snap = &Snapshot{SLI: sli}
			counts[sli] = snap
		}
		snap.Objects++
		if status == "bad" {
			snap.Noncompliant++
			res.Noncompliant = append(res.Noncompliant, Object{SLI: sli, ID: id, Reason: "status is bad"})
		}
	}
	if err := scanner.Err(); err != nil {
		return &InputError{File: path, Line: line + 1, Err: err}
	}
	if line == 0 {
		return &InputError{File: path, Err: errors.New("file is empty; want a header line")}
	}
	return nil
}
