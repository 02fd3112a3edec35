package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/secslo/secslo/slo"
)

// retentionFile records, in the storage folder, the retention that the
// storage applied last.
const retentionFile = "retention"

// applyRecordedRetention raises o.Retention to the retention recorded by
// the previous run, unless o.FixedRetention is set.
func (o *Options) applyRecordedRetention() error {
	if o.FixedRetention {
		return nil
	}
	recorded, err := readRetention(o.StoragePath)
	if err != nil {
		return err
	}
	o.Retention = max(o.Retention, recorded)
	return nil
}

// readRetention returns the recorded retention, or zero when none is.
func readRetention(storage string) (time.Duration, error) {
	path := filepath.Join(storage, retentionFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("failed to read the recorded retention: %w", err)
	}

	d, err := model.ParseDuration(strings.TrimSpace(string(data)))
	if err != nil {
		return 0, fmt.Errorf("invalid retention in %s: %w; write a duration such as 33d into it, or delete it to derive the retention from the SLOs", path, err)
	}
	return time.Duration(d), nil
}

// recordRetention writes the retention into the storage folder through a
// temporary file and a rename.
func recordRetention(storage string, retention time.Duration) error {
	path := filepath.Join(storage, retentionFile)
	if err := writeFileAtomic(path, []byte(slo.FormatDuration(retention)+"\n")); err != nil {
		return fmt.Errorf("failed to record the retention: %w", err)
	}
	return nil
}
