package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

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

// readDriverSection reads the driver section of the config file; keys
// are matched case-insensitively, as viper matches them, and a list may
// be one string of ";"-separated values, as falcoctl reads its
// environment. A missing file or section is an empty section.
func readDriverSection(path string) (driverSection, error) {
	var ds driverSection
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ds, nil
	}
	if err != nil {
		return ds, fmt.Errorf("reading config: %w", err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return ds, fmt.Errorf("config %s: %w", path, err)
	}
	sec, _ := lookupFold(doc, "driver").(map[string]any)
	ds.Type = stringList(lookupFold(sec, "type"))
	ds.Name = scalar(lookupFold(sec, "name"))
	ds.Repos = stringList(lookupFold(sec, "repos"))
	ds.Version = scalar(lookupFold(sec, "version"))
	ds.HostRoot = scalar(lookupFold(sec, "hostRoot"))
	return ds, nil
}

func lookupFold(m map[string]any, key string) any {
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return nil
}

func scalar(v any) string {
	if v == nil {
		return ""
	}
	return strings.TrimSpace(fmt.Sprint(v))
}

func stringList(v any) []string {
	var out []string
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			if s := scalar(e); s != "" {
				out = append(out, s)
			}
		}
	case string:
		for _, s := range strings.Split(v, ";") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// apply fills the driver flags the user left at their defaults.
func (ds driverSection) apply(fs *pflag.FlagSet) error {
	set := func(name string, vals ...string) error {
		fl := fs.Lookup(name)
		if fl == nil || fl.Changed || len(vals) == 0 || vals[0] == "" || fl.Value.String() != fl.DefValue {
			return nil
		}
		if sv, ok := fl.Value.(pflag.SliceValue); ok {
			return sv.Replace(vals)
		}
		return fl.Value.Set(vals[0])
	}
	for _, e := range []struct {
		flag string
		vals []string
	}{
		{"type", ds.Type}, {"repo", ds.Repos}, {"name", []string{ds.Name}},
		{"version", []string{ds.Version}}, {"host-root", []string{ds.HostRoot}},
	} {
		if err := set(e.flag, e.vals...); err != nil {
			return fmt.Errorf("config driver section, %s: %w", e.flag, err)
		}
	}
	return nil
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
