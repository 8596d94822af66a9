package cmdutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// Config is ferry's configuration file. Every field is optional.
type Config struct {
	Indexes    []IndexConfig    `yaml:"indexes,omitempty"`
	Registries []RegistryConfig `yaml:"registries,omitempty"`
	// Engine declares the versions of the consuming engine, against which
	// artifact requirements are checked.
	Engine EngineConfig `yaml:"engine,omitempty"`
	// Defaults gives values for flags by flag name (e.g. "state-dir"),
	// below flags and FERRY_* environment variables.
	Defaults map[string]string `yaml:"defaults,omitempty"`
}

// EngineConfig declares engine versions, e.g.
// {engine_version_semver: 0.41.0, plugin_api_version: 3.7.0}, or where to
// read them (Falco's /versions endpoint).
type EngineConfig struct {
	Versions    map[string]string `yaml:"versions,omitempty"`
	VersionsURL string            `yaml:"versionsURL,omitempty"`
}

// IndexConfig names an index a user added.
type IndexConfig struct {
	Name string `yaml:"name"`
	URL  string `yaml:"url"`
}

// RegistryConfig holds per-host registry settings.
type RegistryConfig struct {
	Host                  string   `yaml:"host"`
	PlainHTTP             *bool    `yaml:"plainHTTP,omitempty"`
	CAFile                string   `yaml:"caFile,omitempty"`
	InsecureSkipTLSVerify bool     `yaml:"insecureSkipTLSVerify,omitempty"`
	Mirrors               []string `yaml:"mirrors,omitempty"`
	FallbackOnly          bool     `yaml:"fallbackOnly,omitempty"`
}

// LoadConfig reads path; a missing file is an empty config.
func LoadConfig(path string) (*Config, error) {
	cfg := &Config{}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	if err := yaml.Unmarshal(data, cfg); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Save writes the config atomically, creating its directory.
func (c *Config) Save(path string) error {
	data, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, data, 0o644)
}

// Registry returns the settings for host, if any.
func (c *Config) Registry(host string) (RegistryConfig, bool) {
	for _, r := range c.Registries {
		if r.Host == host {
			return r, true
		}
	}
	return RegistryConfig{}, false
}

// WriteFileAtomic writes data to a temporary file beside path, syncs it and
// renames it over path, so readers see the old or the new content only.
func WriteFileAtomic(path string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
