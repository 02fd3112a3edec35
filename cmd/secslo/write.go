package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// writeFiles writes files under dir so that a failure leaves nothing
// half-written: every file goes to a staging folder inside dir first, and
// only once all are written are they renamed into place, each rename atomic.
func writeFiles(dir string, files map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("failed to create output folder: %w", err)
	}
	staging, err := os.MkdirTemp(dir, ".secslo-staging-")
	if err != nil {
		return fmt.Errorf("failed to create staging folder in %s: %w", dir, err)
	}
	defer os.RemoveAll(staging)

	for rel, data := range files {
		path := filepath.Join(staging, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("failed to stage %s: %w", rel, err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return fmt.Errorf("failed to stage %s: %w; nothing was written", rel, err)
		}
	}

	for rel := range files {
		target := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return fmt.Errorf("failed to create folder for %s: %w", rel, err)
		}
		if err := os.Rename(filepath.Join(staging, filepath.FromSlash(rel)), target); err != nil {
			return fmt.Errorf("failed to move %s into place: %w", rel, err)
		}
	}
	return nil
}
