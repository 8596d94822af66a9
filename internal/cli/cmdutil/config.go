package cmdutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strings"

	"github.com/ferryhq/ferry/internal/fsutil"
	"github.com/ferryhq/ferry/internal/yamlerr"

	"go.yaml.in/yaml/v3"
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

	// falcoctl's sections (artifact, driver, registry), kept as written;
	// their keys feed flags through the key table (see Value).
	Artifact         yaml.Node `yaml:"artifact,omitempty"`
	Driver           yaml.Node `yaml:"driver,omitempty"`
	FalcoctlRegistry yaml.Node `yaml:"registry,omitempty"`

	// Unknown lists the keys of the file that no command reads.
	Unknown []string `yaml:"-"`
	// Exists says the file was there.
	Exists bool `yaml:"-"`

	root *yaml.Node
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
	// Backend is falcoctl's index backend (https, http, gcs, file); ferry
	// reads the scheme of URL.
	Backend string `yaml:"backend,omitempty"`
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

// LoadConfig reads path; a missing file is an empty config. Keys are
// matched case-insensitively (as falcoctl's viper does), so ferry's and
// falcoctl's files both load; keys no command reads are listed in Unknown.
func LoadConfig(path string) (*Config, error) {
	cfg := &Config{}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	cfg.Exists = true
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, malformed(path, err)
	}
	if len(doc.Content) == 0 {
		return cfg, nil
	}
	cfg.Unknown = canonicalize(doc.Content[0], fileSchema(), "")
	if err := doc.Decode(cfg); err != nil {
		return nil, malformed(path, err)
	}
	cfg.root = doc.Content[0]
	// falcoctl's sections are typed only when read: check them now, so
	// that a wrong type there is reported as every other one is.
	if _, err := cfg.Auth(); err != nil {
		return nil, malformed(path, err)
	}
	if err := checkFalcoctlValues(cfg.root); err != nil {
		return nil, Usage(fmt.Errorf("config %s: %w", path, err))
	}
	return cfg, nil
}

// checkFalcoctlValues refuses a mapping where one of falcoctl's keys
// (artifact.follow.every, driver.name, ...) holds a value or a list.
func checkFalcoctlValues(root *yaml.Node) error {
	for _, k := range Keys {
		if k.Kind == KindSection {
			continue
		}
		var names []string
		for _, a := range k.Falcoctl {
			names = append(names, a.Key)
		}
		if k.FalcoctlKey && !strings.ContainsAny(k.Name, "*[") {
			names = append(names, k.Name)
		}
		for _, name := range names {
			if n := lookupNode(root, name); n != nil && n.Kind == yaml.MappingNode {
				want := map[Kind]string{KindBool: "true or false", KindDuration: "a duration", KindList: "a list"}[k.Kind]
				if want == "" {
					want = "a string"
				}
				return fmt.Errorf("line %d: %s: want %s, not a mapping", n.Line, name, want)
			}
		}
	}
	return nil
}

// lookupNode returns the node of a dotted key in a canonicalized
// document, or nil.
func lookupNode(n *yaml.Node, key string) *yaml.Node {
	for _, seg := range strings.Split(key, ".") {
		if n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if strings.EqualFold(n.Content[i].Value, seg) {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}

// malformed is the error for a config file that does not parse as YAML or
// holds a value of the wrong type: invalid input (exit 2), reported as
// "config FILE: line N: problem".
func malformed(path string, err error) error {
	line, problem := yamlerr.Split(err)
	if m := typeProblem.FindStringSubmatch(problem); m != nil {
		problem = fmt.Sprintf("want %s, not %s", goTypeName(m[3]), yamlTypeName(m[1], m[2]))
	}
	if line != 0 {
		return Usage(fmt.Errorf("config %s: line %d: %s", path, line, problem))
	}
	return Usage(fmt.Errorf("config %s: %s", path, problem))
}

// typeProblem is yaml.v3's "cannot unmarshal !!str `hello` into []T".
var typeProblem = regexp.MustCompile("^cannot unmarshal !!(\\w+) (?:`(.*)` )?into (.+)$")

func goTypeName(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["), strings.Contains(t, "."), strings.HasPrefix(t, "struct"):
		return "a mapping"
	case t == "bool":
		return "true or false"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"), strings.HasPrefix(t, "float"):
		return "a number"
	}
	return "a " + t
}

func yamlTypeName(tag, value string) string {
	name := map[string]string{"str": "a string", "int": "a number", "float": "a number", "bool": "a boolean", "map": "a mapping", "seq": "a list", "null": "null"}[tag]
	if name == "" {
		name = "!!" + tag
	}
	if value != "" {
		name += " (" + value + ")"
	}
	return name
}

// Save writes the config atomically, creating its directory. A file that
// holds a credential (a password, a client secret, sink headers) is
// written 0600, as is one that already was.
func (c *Config) Save(path string) error {
	data, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	perm := fs.FileMode(0o644)
	if c.HoldsCredentials() {
		perm = 0o600
	} else if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 == 0 {
		perm = st.Mode().Perm()
	}
	return fsutil.WriteFile(path, data, perm)
}

// HoldsCredentials reports whether the config holds a secret.
func (c *Config) HoldsCredentials() bool {
	for name, v := range c.Defaults {
		if k := FlagKey(name); v != "" && k != nil && k.Secret {
			return true
		}
	}
	for _, s := range c.Events.Sinks {
		if len(s.Headers) > 0 {
			return true
		}
	}
	auth, _ := c.Auth()
	return len(auth.Basic) > 0 || len(auth.OAuth) > 0
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
