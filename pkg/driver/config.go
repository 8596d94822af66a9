package driver

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"

	"github.com/ferryhq/ferry/internal/fsutil"
)

// DefaultFalcoConfigDir is Falco's configuration directory, as falcoctl's
// --falco-config-dir has it.
const DefaultFalcoConfigDir = "/etc/falco"

// EngineConfigName is the drop-in WriteEngineConfig writes, falcoctl's
// name for it, so that ferry replaces what falcoctl wrote.
const EngineConfigName = "engine-kind-falcoctl.yaml"

// EngineConfigPath is the drop-in under Falco's configuration directory:
// Falco (0.38+) reads every file of config.d over falco.yaml.
func EngineConfigPath(configDir string) string {
	if configDir == "" {
		configDir = DefaultFalcoConfigDir
	}
	return filepath.Join(configDir, "config.d", EngineConfigName)
}

// EngineConfig renders the drop-in selecting the engine kind, as falcoctl
// renders it.
func EngineConfig(t Type) []byte { return []byte("engine:\n    kind: " + string(t) + "\n") }

// ConfigResult is what WriteEngineConfig did.
type ConfigResult struct {
	Path string `json:"path"`
	Kind Type   `json:"kind"`
	// Changed is false when the file already said so, or when it was
	// skipped.
	Changed bool `json:"changed"`
	// Skipped says why Falco's configuration was left alone: its
	// falco.yaml runs an engine that is not a driver (a plugin, gvisor...).
	Skipped string `json:"skipped,omitempty"`
	DryRun  bool   `json:"dryRun,omitempty"`
}

// WriteEngineConfig writes EngineConfig(t) to EngineConfigPath(configDir),
// atomically, unless <configDir>/falco.yaml selects an engine kind that is
// not a driver, which falcoctl leaves alone too; with dryRun it only says
// whether it would change. (falcoctl fails without a falco.yaml; ferry
// writes the drop-in, which Falco reads when it starts.)
func WriteEngineConfig(configDir string, t Type, dryRun bool) (*ConfigResult, error) {
	if _, err := ParseType(string(t)); err != nil {
		return nil, err
	}
	if configDir == "" {
		configDir = DefaultFalcoConfigDir
	}
	res := &ConfigResult{Path: EngineConfigPath(configDir), Kind: t, DryRun: dryRun}
	main := filepath.Join(configDir, "falco.yaml")
	data, err := os.ReadFile(main)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("reading %s: %w", main, err)
	default:
		var cfg struct {
			Engine struct {
				Kind string `yaml:"kind"`
			} `yaml:"engine"`
		}
		if err := yaml.Unmarshal(data, &cfg); err != nil {
			return nil, fmt.Errorf("reading %s: %w", main, err)
		}
		if k := cfg.Engine.Kind; k != "" {
			if _, err := ParseType(k); err != nil {
				res.Skipped = fmt.Sprintf("%s runs engine kind %q, not a driver", main, k)
				return res, nil
			}
		}
	}
	want := EngineConfig(t)
	cur, err := os.ReadFile(res.Path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading %s: %w", res.Path, err)
	}
	if bytes.Equal(cur, want) {
		return res, nil
	}
	res.Changed = true
	if dryRun {
		return res, nil
	}
	if err := fsutil.WriteFile(res.Path, want, 0o644); err != nil {
		return nil, fmt.Errorf("writing %s: %w", res.Path, err)
	}
	return res, nil
}
