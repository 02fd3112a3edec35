package sources

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"
)

// DecodeOptions decodes a source's options strictly into out: an unknown
// option is an error that names it, so a typo never falls back to a default
// in silence. Empty options leave out unchanged.
func DecodeOptions(cfg Config, out any) error {
	if cfg.Options.Kind == 0 {
		return nil
	}

	raw, err := yaml.Marshal(&cfg.Options)
	if err != nil {
		return fmt.Errorf("source %q: failed to read options: %w", cfg.Name, err)
	}

	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(out); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("source %q: invalid options (lines counted from the options key): %w", cfg.Name, err)
	}
	return nil
}
