package driver

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ferryhq/ferry/internal/fsutil"
)

// EngineConfigPath is the Falco configuration file WriteEngineConfig writes
// under hostRoot: Falco (0.38+) reads every file of /etc/falco/config.d over
// falco.yaml.
func EngineConfigPath(hostRoot string) string {
	if hostRoot == "" {
		hostRoot = "/"
	}
	return filepath.Join(hostRoot, "etc", "falco", "config.d", "engine-kind-ferry.yaml")
}

// EngineConfig renders the configuration selecting the engine kind.
func EngineConfig(t Type) []byte { return []byte("engine:\n  kind: " + string(t) + "\n") }

// ConfigResult is what WriteEngineConfig did.
type ConfigResult struct {
	Path string `json:"path"`
	Kind Type   `json:"kind"`
	// Changed is false when the file already said so.
	Changed bool `json:"changed"`
	DryRun  bool `json:"dryRun,omitempty"`
}

// WriteEngineConfig writes EngineConfig(t) to EngineConfigPath(hostRoot),
// atomically; with dryRun it only says whether it would change.
func WriteEngineConfig(hostRoot string, t Type, dryRun bool) (*ConfigResult, error) {
	if _, err := ParseType(string(t)); err != nil {
		return nil, err
	}
	res := &ConfigResult{Path: EngineConfigPath(hostRoot), Kind: t, DryRun: dryRun}
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
