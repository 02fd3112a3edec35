package sources

import (
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// Config is one entry of the sources list in secslo.yaml.
type Config struct {
	Name            string         `yaml:"name"`
	Type            string         `yaml:"type"`
	Paths           []string       `yaml:"paths,omitempty"`
	URL             string         `yaml:"url,omitempty"`
	RefreshInterval model.Duration `yaml:"refresh_interval,omitempty"`
	// Options holds the adapter's own settings; the adapter decodes them strictly.
	Options yaml.Node `yaml:"options,omitempty"`
}
