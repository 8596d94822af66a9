package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ferryhq/ferry/internal/fsutil"
)

// driverSection is the config file's driver section, as falcoctl's
// `driver config` writes it (driver.{type, name, repos, version, hostRoot})
// and its driver commands read it: the driver-loader image runs
// `driver config --type X` and then `driver install` with no --type.
type driverSection struct {
	Type     []string `yaml:"type,omitempty"`
	Name     string   `yaml:"name,omitempty"`
	Repos    []string `yaml:"repos,omitempty"`
	Version  string   `yaml:"version,omitempty"`
	HostRoot string   `yaml:"hostRoot,omitempty"`
}

// storeDriverSection replaces the driver section of the config file at
// path, keeping the rest of the file (and its mode) as it is, atomically.
func storeDriverSection(path string, ds driverSection) error {
	data, err := os.ReadFile(path)
	perm := fs.FileMode(0o644)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("reading config: %w", err)
	default:
		if fi, err := os.Stat(path); err == nil {
			perm = fi.Mode().Perm()
		}
	}
	var doc yaml.Node
	if len(bytes.TrimSpace(data)) > 0 {
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return fmt.Errorf("config %s: %w", path, err)
		}
	}
	if doc.Kind == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}}
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return fmt.Errorf("config %s: not a mapping", path)
	}
	var val yaml.Node
	if err := val.Encode(ds); err != nil {
		return err
	}
	replaced := false
	for i := 0; i+1 < len(top.Content); i += 2 {
		if strings.EqualFold(top.Content[i].Value, "driver") {
			top.Content[i+1] = &val
			replaced = true
			break
		}
	}
	if !replaced {
		top.Content = append(top.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "driver"}, &val)
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return err
	}
	if err := fsutil.WriteFile(path, out.Bytes(), perm); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
