package cmdutil

import (
	"fmt"
	"reflect"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// schemaNode is one level of the config file's shape, built from Keys.
type schemaNode struct {
	name     string
	children map[string]*schemaNode // by lower-cased name
	any      *schemaNode            // a free name (a flag, a version name, a header)
	item     *schemaNode            // the items of a list
}

func (n *schemaNode) child(seg string) *schemaNode {
	switch seg {
	case "*":
		if n.any == nil {
			n.any = &schemaNode{name: "*"}
		}
		return n.any
	case "[]":
		if n.item == nil {
			n.item = &schemaNode{name: "[]"}
		}
		return n.item
	}
	if n.children == nil {
		n.children = map[string]*schemaNode{}
	}
	c, ok := n.children[strings.ToLower(seg)]
	if !ok {
		c = &schemaNode{name: seg}
		n.children[strings.ToLower(seg)] = c
	}
	return c
}

// keySegments splits a key name into levels: "indexes[].url" is
// indexes, [], url. registries.*.FIELD (as config set names it) is
// registries[].FIELD in the file.
func keySegments(name string) []string {
	if rest, ok := strings.CutPrefix(name, "registries.*."); ok {
		name = "registries[]." + rest
	}
	var out []string
	for _, s := range strings.Split(name, ".") {
		if base, ok := strings.CutSuffix(s, "[]"); ok {
			out = append(out, base, "[]")
			continue
		}
		out = append(out, s)
	}
	return out
}

var (
	schemaOnce sync.Once
	schemaRoot *schemaNode
)

func fileSchema() *schemaNode {
	schemaOnce.Do(func() {
		schemaRoot = &schemaNode{}
		// The fields of Config (a key added there is known at once), then
		// the table, which adds falcoctl's sections.
		addStruct(schemaRoot, reflect.TypeOf(Config{}))
		for _, k := range Keys {
			n := schemaRoot
			for _, seg := range keySegments(k.Name) {
				n = n.child(seg)
			}
		}
	})
	return schemaRoot
}

var nodeType = reflect.TypeOf(yaml.Node{})

// addStruct adds the yaml fields of struct type t under n.
func addStruct(n *schemaNode, t reflect.Type) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || name == "" || !f.IsExported() || f.Type == nodeType {
			continue
		}
		addType(n.child(name), f.Type)
	}
}

func addType(n *schemaNode, t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		addStruct(n, t)
	case reflect.Slice:
		if e := t.Elem(); e.Kind() == reflect.Struct || e.Kind() == reflect.Map {
			addType(n.child("[]"), e)
		}
	case reflect.Map:
		addType(n.child("*"), t.Elem())
	}
}

// canonicalize rewrites the keys of a config document to the spelling of
// the key table (matching case-insensitively) and returns the keys it does
// not know.
func canonicalize(n *yaml.Node, s *schemaNode, path string) []string {
	var unknown []string
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			name := path + k.Value
			c := s.children[strings.ToLower(k.Value)]
			switch {
			case c != nil:
				k.Value = c.name
				name = path + c.name
			case s.any != nil:
				c = s.any
			default:
				unknown = append(unknown, name)
				continue
			}
			unknown = append(unknown, canonicalize(v, c, name+".")...)
		}
	case yaml.SequenceNode:
		if s.item == nil {
			return nil
		}
		for _, item := range n.Content {
			unknown = append(unknown, canonicalize(item, s.item, strings.TrimSuffix(path, ".")+"[].")...)
		}
	}
	return unknown
}

// Value returns the value of a key of the file, such as
// "artifact.follow.every": a scalar as one string, a list as its items.
func (c *Config) Value(key string) (values []string, isList, ok bool) {
	if c == nil || c.root == nil {
		return nil, false, false
	}
	n := lookupNode(c.root, key)
	if n == nil {
		return nil, false, false
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return nil, false, false
		}
		return []string{n.Value}, false, true
	case yaml.SequenceNode:
		out := []string{}
		for _, item := range n.Content {
			if item.Kind == yaml.ScalarNode {
				out = append(out, item.Value)
			}
		}
		return out, true, true
	}
	return nil, false, false
}

// Refs returns the references a falcoctl key lists (artifact.install.refs,
// artifact.follow.refs). A single string is split at semicolons, as
// falcoctl does.
func (c *Config) Refs(key string) []string {
	v, isList, ok := c.Value(key)
	if !ok {
		return nil
	}
	if !isList {
		return SplitList(v[0], false)
	}
	return v
}

// SplitList splits a list given as one string, as falcoctl reads one from
// the environment: at semicolons and whitespace, and with commas too when
// commas is set.
func SplitList(s string, commas bool) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ';' || r == ' ' || r == '\t' || r == '\n' || (commas && r == ',')
	})
}

// BasicAuth is a registry.auth.basic entry of falcoctl's config.
type BasicAuth struct {
	Registry string `yaml:"registry"`
	User     string `yaml:"user"`
	Password string `yaml:"password"`
}

// OAuthAuth is a registry.auth.oauth entry: client credentials for a
// registry's token endpoint.
type OAuthAuth struct {
	Registry     string `yaml:"registry"`
	ClientSecret string `yaml:"clientSecret"`
	ClientID     string `yaml:"clientID"`
	TokenURL     string `yaml:"tokenURL"`
}

// GCPAuth is a registry.auth.gcp entry: a registry whose credentials come
// from Google's application default credentials.
type GCPAuth struct {
	Registry string `yaml:"registry"`
}

// RegistryAuth is falcoctl's registry.auth section, typed.
type RegistryAuth struct {
	Basic []BasicAuth `yaml:"basic"`
	OAuth []OAuthAuth `yaml:"oauth"`
	GCP   []GCPAuth   `yaml:"gcp"`
}

// Auth returns the registry.auth section.
func (c *Config) Auth() (RegistryAuth, error) {
	var out struct {
		Auth  RegistryAuth `yaml:"auth"`
		Creds struct {
			Config string `yaml:"config"`
		} `yaml:"creds"`
	}
	if c == nil || c.FalcoctlRegistry.Kind == 0 {
		return RegistryAuth{}, nil
	}
	if err := c.FalcoctlRegistry.Decode(&out); err != nil {
		return RegistryAuth{}, fmt.Errorf("registry.auth: %w", err)
	}
	return out.Auth, nil
}

// CredentialsFile is registry.creds.config, or "".
func (c *Config) CredentialsFile() string {
	if v, isList, ok := c.Value("registry.creds.config"); ok && !isList {
		return v[0]
	}
	return ""
}
