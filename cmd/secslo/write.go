package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// writeFiles writes files under dir so that a failure leaves nothing
// half-written: every file goes to a staging folder inside dir first, then
// every target folder is created, and only then are the files renamed into
// place, each rename atomic. A failure before the renames changes nothing.
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
		if err := checkFolderPath(dir, filepath.Dir(filepath.FromSlash(rel))); err != nil {
			return fmt.Errorf("cannot write %s: %w; nothing was written", rel, err)
		}
	}
	for rel := range files {
		target := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return fmt.Errorf("failed to create folder for %s: %w; nothing was written", rel, err)
		}
	}

	for rel := range files {
		target := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.Rename(filepath.Join(staging, filepath.FromSlash(rel)), target); err != nil {
			return fmt.Errorf("failed to move %s into place: %w", rel, err)
		}
	}
	return nil
}

// manifestName lists, inside the output folder, the files that the last
// generate wrote, so that the next one removes those it no longer writes.
const manifestName = ".secslo-generated"

// removeStale deletes the files that the previous generate into dir wrote
// and that files no longer contains, such as the rules of a deleted
// service, then records files as the new manifest. It removes nothing it
// did not write itself, and returns the removed paths.
func removeStale(dir string, files map[string][]byte) ([]string, error) {
	previous, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("failed to read %s: %w", manifestName, err)
	}

	var removed []string
	for _, rel := range strings.Split(string(previous), "\n") {
		rel = strings.TrimSpace(rel)
		if rel == "" || files[rel] != nil || !filepath.IsLocal(filepath.FromSlash(rel)) {
			continue
		}
		err := os.Remove(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil && !os.IsNotExist(err) {
			return removed, fmt.Errorf("failed to remove %s, which the previous generate wrote: %w", rel, err)
		}
		if err == nil {
			removed = append(removed, rel)
		}
	}

	names := make([]string, 0, len(files))
	for rel := range files {
		names = append(names, rel)
	}
	slices.Sort(names)
	manifest := strings.Join(names, "\n") + "\n"
	return removed, writeFiles(dir, map[string][]byte{manifestName: []byte(manifest)})
}

// checkFolderPath returns an error if a file that is not a folder is in
// the place of a folder of rel, under dir, that would be created.
func checkFolderPath(dir, rel string) error {
	path := dir
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		if part == "." || part == "" {
			continue
		}
		path = filepath.Join(path, part)
		info, err := os.Stat(path)
		if os.IsNotExist(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if !info.IsDir() {
			return fmt.Errorf("%s is a file, not a folder; move it away", path)
		}
	}
	return nil
}
