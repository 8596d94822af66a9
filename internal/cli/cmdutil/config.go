package cmdutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/ferryhq/ferry/internal/fsutil"

	"gopkg.in/yaml.v3"
)

// Config is ferry's configuration file. Every field is optional.
type Config struct {
	Indexes    []IndexConfig    `yaml:"indexes,omitempty"`
	Registries []RegistryConfig `yaml:"registries,omitempty"`
	// Engine declares the versions of the consuming engine, against which
	// artifact requirements are checked.
	Engine EngineConfig `yaml:"engine,omitempty"`
	// Events configures the CDEvents ferry emits (see `ferry events --help`).
	Events EventsConfig `yaml:"events,omitempty"`
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

// EventsConfig is the config file's events section. Flags and FERRY_EVENTS_*
// variables win over it; --events-sink replaces its sinks, taking the
// headers and mode of a configured sink with the same URL.
type EventsConfig struct {
	Sinks []EventSinkConfig `yaml:"sinks,omitempty"`
	// Source is the CDEvents context.source (default /ferry/<hostname>).
	Source string `yaml:"source,omitempty"`
	// User is subject.content.user for anonymous pulls (default: the local user).
	User string `yaml:"user,omitempty"`
	// File appends every event as one JSON line.
	File string `yaml:"file,omitempty"`
	// Spec is the CDEvents spec version, "0.5" (default) or "0.4".
	Spec string `yaml:"spec,omitempty"`
	// Timeout bounds one delivery to one sink, e.g. "3s".
	Timeout string `yaml:"timeout,omitempty"`
}

// EventSinkConfig is a CloudEvents HTTP receiver. Header values may name
// environment variables as ${NAME}, e.g. Authorization: "Bearer ${TOKEN}".
type EventSinkConfig struct {
	URL     string            `yaml:"url"`
	Headers map[string]string `yaml:"headers,omitempty"`
	Binary  bool              `yaml:"binary,omitempty"`
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
	return fsutil.WriteFile(path, data, 0o644)
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
