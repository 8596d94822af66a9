package index_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/internal/indexgen"
	"github.com/ferryhq/ferry/pkg/index"
)

func TestParseFalcoctlIndex(t *testing.T) {
	data, err := os.ReadFile("testdata/falcoctl-index.yaml")
	if err != nil {
		t.Fatal(err)
	}
	idx, err := index.Parse("falcosecurity", data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	types := map[string]int{}
	for _, e := range idx.Entries {
		types[e.Type]++
	}
	if diff := cmp.Diff(map[string]int{"plugin": 12, "rulesfile": 10}, types); diff != "" {
		t.Errorf("entry types (-want +got):\n%s", diff)
	}
	want := index.Entry{
		Name:       "k8saudit-rules",
		Type:       "rulesfile",
		Registry:   "ghcr.io",
		Repository: "falcosecurity/plugins/ruleset/k8saudit",
		Signature: &index.Signature{Cosign: &index.Cosign{
			CertificateOIDCIssuer:     "https://token.actions.githubusercontent.com",
			CertificateIdentityRegexp: "https://github.com/falcosecurity/plugins/",
		}},
		Description: "Read Kubernetes Audit Events and monitor Kubernetes Clusters",
		Home:        "https://github.com/falcosecurity/plugins/tree/main/plugins/k8saudit",
		Keywords:    []string{"audit", "audit-log", "audit-events", "kubernetes", "k8saudit-rules"},
		License:     "Apache-2.0",
		Maintainers: []index.Maintainer{{Name: "The Falco Authors", Email: "cncf-falco-dev@lists.cncf.io"}},
		Sources:     []string{"https://github.com/falcosecurity/plugins/tree/main/plugins/k8saudit/rules"},
	}
	e, _, err := index.NewSet(idx).Lookup("", "k8saudit-rules")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, e); diff != "" {
		t.Errorf("k8saudit-rules (-want +got):\n%s", diff)
	}
}

func TestParseDefaultIndex(t *testing.T) {
	idx, err := index.Parse("default", ferry.DefaultIndex)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	names := map[string]bool{}
	for _, e := range idx.Entries {
		names[e.Name] = true
		if e.Source == "" {
			t.Errorf("%s: no source", e.Name)
		}
		if err := index.CheckNamespace(e.Source, e.Repository); err != nil {
			t.Errorf("%s: %v", e.Name, err)
		}
		if e.Registry != "ghcr.io" {
			t.Errorf("%s: registry %q, want ghcr.io", e.Name, e.Registry)
		}
	}
	for _, n := range []string{
		"falco-rules", "falco-incubating-rules", "falco-sandbox-rules", "k8saudit", "k8saudit-rules",
		"cloudtrail", "cloudtrail-rules", "json", "github", "github-rules", "okta", "okta-rules",
		"container", "k8smeta", "gcpaudit", "gcpaudit-rules", "dummy",
	} {
		if !names[n] {
			t.Errorf("default index lacks %q", n)
		}
	}

	// Every entry of the official index is in the default one, unchanged but
	// for ferry's additions (source, mirrors).
	data, err := os.ReadFile("testdata/falcoctl-index.yaml")
	if err != nil {
		t.Fatal(err)
	}
	official, err := index.Parse("falcosecurity", data)
	if err != nil {
		t.Fatal(err)
	}
	set := index.NewSet(idx)
	for _, want := range official.Entries {
		got, _, err := set.Lookup("", want.Name)
		if err != nil {
			t.Errorf("%s: %v", want.Name, err)
			continue
		}
		got.Source, got.Mirrors = "", nil
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s differs from the official index (-want +got):\n%s", want.Name, diff)
		}
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		data string
		want []index.Entry
	}{
		{name: "empty file", data: ""},
		{name: "comments only", data: "# nothing here\n"},
		{name: "null", data: "~\n"},
		{name: "empty list", data: "[]\n"},
		{
			name: "unknown keys ignored",
			data: `- name: myrules
  type: rulesfile
  registry: example.com
  repository: acme/rules/myrules
  future-field: {a: 1}
  signature:
    cosign:
      key: /etc/keys/cosign.pub
      ignore-tlog: true
      something-new: x
`,
			want: []index.Entry{{
				Name: "myrules", Type: "rulesfile", Registry: "example.com", Repository: "acme/rules/myrules",
				Signature: &index.Signature{Cosign: &index.Cosign{Key: "/etc/keys/cosign.pub", IgnoreTlog: true}},
			}},
		},
		{
			name: "ferry fields",
			data: `- name: falco-rules
  type: rulesfile
  registry: ghcr.io
  repository: falcosecurity/rules/falco-rules
  source: https://github.com/falcosecurity/rules
  mirrors:
    - registry: docker.io
      repository: falcosecurity/falco-rules
    - url: https://download.falco.org/rules/{name}-{version}.tar.gz
- name: drv
  type: driver
  registry: localhost:5000
  repository: drivers/falco
- name: mirrored
  type: rulesfile
  registry: harbor.internal
  repository: proxy/falcosecurity/rules/falco-rules
  source: https://github.com/falcosecurity/rules
  sourcePrefix: proxy
`,
			want: []index.Entry{
				{
					Name: "falco-rules", Type: "rulesfile", Registry: "ghcr.io", Repository: "falcosecurity/rules/falco-rules",
					Source: "https://github.com/falcosecurity/rules",
					Mirrors: []index.Mirror{
						{Registry: "docker.io", Repository: "falcosecurity/falco-rules"},
						{URL: "https://download.falco.org/rules/{name}-{version}.tar.gz"},
					},
				},
				{Name: "drv", Type: "driver", Registry: "localhost:5000", Repository: "drivers/falco"},
				{
					Name: "mirrored", Type: "rulesfile", Registry: "harbor.internal", Repository: "proxy/falcosecurity/rules/falco-rules",
					Source: "https://github.com/falcosecurity/rules", SourcePrefix: "proxy",
				},
			},
		},
		{
			name: "anchors and aliases",
			data: `- &base
  name: a
  type: asset
  registry: r.io
  repository: x/a
- <<: *base
  name: b
  repository: x/b
`,
			want: []index.Entry{
				{Name: "a", Type: "asset", Registry: "r.io", Repository: "x/a"},
				{Name: "b", Type: "asset", Registry: "r.io", Repository: "x/b"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idx, err := index.Parse("x", []byte(tt.data))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if idx.Name != "x" {
				t.Errorf("Name = %q, want x", idx.Name)
			}
			if diff := cmp.Diff(tt.want, idx.Entries); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
		})
	}
}

const entryA = `- name: a
  type: plugin
  registry: ghcr.io
  repository: acme/plugins/a
`

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name     string
		data     string
		wantLine int
		wantErr  string
	}{
		{
			name:     "duplicate name",
			data:     entryA + "- name: b\n  type: plugin\n  registry: ghcr.io\n  repository: acme/b\n" + entryA,
			wantLine: 9,
			wantErr:  `index "default": line 9: duplicate name "a" (first at line 1)`,
		},
		{
			name:     "malformed yaml",
			data:     entryA + "- name: [oops\n",
			wantLine: 5,
			wantErr:  `index "default": line 5: did not find expected ',' or ']'`,
		},
		{
			name:     "bad indentation",
			data:     "- name: a\n  type: plugin\n registry: ghcr.io\n",
			wantLine: 3,
			wantErr:  `index "default": line 3: did not find expected '-' indicator`,
		},
		{
			name:     "scanner error",
			data:     entryA + "- name: b\n  type: plugin: x\n",
			wantLine: 6,
			wantErr:  `index "default": line 6: mapping values are not allowed in this context`,
		},
		{
			name:     "tab indentation",
			data:     "- name: a\n\ttype: plugin\n",
			wantLine: 2,
			wantErr:  `index "default": line 2: found a tab character that violates indentation`,
		},
		{
			name:     "unclosed flow mapping",
			data:     "\n\n- {name: a, type\n",
			wantLine: 3,
			wantErr:  `index "default": line 3: did not find expected ',' or '}'`,
		},
		{
			name:     "missing field",
			data:     entryA + "- name: b\n  type: plugin\n  repository: acme/b\n",
			wantLine: 5,
			wantErr:  `index "default": line 5: entry "b": missing required field "registry"`,
		},
		{
			name:     "missing name",
			data:     entryA + "- type: plugin\n  registry: ghcr.io\n  repository: acme/b\n",
			wantLine: 5,
			wantErr:  `index "default": line 5: entry: missing required field "name"`,
		},
		{
			name:     "invalid name",
			data:     "- type: plugin\n  name: Bad.Name\n  registry: ghcr.io\n  repository: acme/b\n",
			wantLine: 2,
			wantErr:  `index "default": line 2: invalid name "Bad.Name": must match ^[a-z]+[a-z0-9_-]*$`,
		},
		{
			name:     "unknown type",
			data:     entryA + "- name: b\n  registry: ghcr.io\n  repository: acme/b\n  type: library\n",
			wantLine: 8,
			wantErr:  `index "default": line 8: entry "b": unknown type "library" (want rulesfile, plugin, asset or driver)`,
		},
		{
			name:     "wrong field type",
			data:     entryA + "- name: b\n  type: plugin\n  registry: ghcr.io\n  repository: acme/b\n  keywords: {a: b}\n",
			wantLine: 9,
			wantErr:  `index "default": line 9: cannot unmarshal !!map into []string`,
		},
		{
			name:     "not a list",
			data:     "\nname: a\ntype: plugin\n",
			wantLine: 2,
			wantErr:  `index "default": line 2: an index must be a list of entries`,
		},
		{
			name:     "entry not a mapping",
			data:     entryA + "- just a string\n",
			wantLine: 5,
			wantErr:  `index "default": line 5: an entry must be a mapping`,
		},
		{
			name:     "duplicate key",
			data:     "- name: a\n  type: plugin\n  name: b\n",
			wantLine: 3,
			wantErr:  `index "default": line 3: mapping key "name" already defined at line 1`,
		},
		{
			name:     "source not namespaced",
			data:     entryA[:len(entryA)-1] + "\n  source: https://github.com/falcosecurity/plugins\n",
			wantLine: 5,
			wantErr:  `index "default": line 5: entry "a": repository not namespaced by its source: "acme/plugins/a" does not start with "falcosecurity/plugins" from "https://github.com/falcosecurity/plugins"`,
		},
		{
			name:     "mirror with nothing",
			data:     entryA + "  mirrors:\n    - registry: docker.io\n      repository: acme/a\n    - registry: docker.io\n",
			wantLine: 8,
			wantErr:  `index "default": line 8: entry "a": mirror 2: needs url, or registry and repository`,
		},
		{
			name:     "mirror with both",
			data:     entryA + "  mirrors:\n    - url: https://x.example/a\n      registry: docker.io\n",
			wantLine: 6,
			wantErr:  `index "default": line 6: entry "a": mirror 1: set either url or registry and repository, not both`,
		},
		{
			name:     "mirror from a merge key",
			data:     "- &a {name: a, type: asset, registry: r, repository: x/a}\n- <<: *a\n  name: b\n  mirrors: [{}]\n",
			wantLine: 4,
			wantErr:  `index "default": line 4: entry "b": mirror 1: needs url, or registry and repository`,
		},
		{
			name:     "mirrors only from a merge key",
			data:     "- {name: a, type: asset, registry: r, repository: x/a, x-m: &m [{url: x}]}\n- name: b\n  type: asset\n  registry: r\n  repository: x/b\n  <<: {mirrors: *m}\n",
			wantLine: 2,
			wantErr:  `index "default": line 2: entry "b": mirror 1: url "x" is not an http(s) URL`,
		},
		{
			name:     "repository escaping its namespace",
			data:     entryA + "- name: b\n  type: plugin\n  registry: ghcr.io\n  repository: falcosecurity/rules/../../acme/rules\n",
			wantLine: 8,
			wantErr:  `index "default": line 8: entry "b": repository "falcosecurity/rules/../../acme/rules" has a ".." path segment`,
		},
		{
			name:     "repository with an empty segment",
			data:     "- name: b\n  type: plugin\n  registry: ghcr.io\n  repository: acme//b\n",
			wantLine: 4,
			wantErr:  `index "default": line 4: entry "b": repository "acme//b" has an empty path segment`,
		},
		{
			name:     "repository in uppercase",
			data:     "- name: b\n  repository: Acme/B\n  type: plugin\n  registry: ghcr.io\n",
			wantLine: 2,
			wantErr:  `index "default": line 2: entry "b": repository "Acme/B" has uppercase letters (OCI repository names are lowercase)`,
		},
		{
			name:     "registry with a path",
			data:     entryA + "- name: b\n  type: plugin\n  registry: host/path\n  repository: acme/b\n",
			wantLine: 7,
			wantErr:  `index "default": line 7: entry "b": registry "host/path" must be a host[:port], without a path (put the path in repository)`,
		},
		{
			name:     "registry with a scheme",
			data:     "- name: b\n  type: plugin\n  registry: https://ghcr.io\n  repository: acme/b\n",
			wantLine: 3,
			wantErr:  `index "default": line 3: entry "b": registry "https://ghcr.io" must be a host[:port], without a scheme`,
		},
		{
			name:     "source segments not at the start",
			data:     "- name: x\n  type: rulesfile\n  registry: ghcr.io\n  repository: attacker/falcosecurity/rules/x\n  source: https://github.com/falcosecurity/rules\n",
			wantLine: 5,
			wantErr:  `index "default": line 5: entry "x": repository not namespaced by its source: "attacker/falcosecurity/rules/x" does not start with "falcosecurity/rules" from "https://github.com/falcosecurity/rules"`,
		},
		{
			name:     "sourcePrefix without source",
			data:     "- name: x\n  type: rulesfile\n  registry: ghcr.io\n  repository: proxy/x\n  sourcePrefix: proxy\n",
			wantLine: 5,
			wantErr:  `index "default": line 5: entry "x": sourcePrefix needs source`,
		},
		{
			name:     "sourcePrefix not a path",
			data:     "- name: x\n  type: rulesfile\n  registry: ghcr.io\n  repository: proxy/x\n  source: https://github.com/a/b\n  sourcePrefix: ../proxy\n",
			wantLine: 6,
			wantErr:  `index "default": line 6: entry "x": sourcePrefix: repository "../proxy" has a ".." path segment`,
		},
		{
			name:     "mirror repository escaping",
			data:     entryA + "  mirrors:\n    - registry: docker.io\n      repository: acme/../a\n",
			wantLine: 6,
			wantErr:  `index "default": line 6: entry "a": mirror 1: repository "acme/../a" has a ".." path segment`,
		},
		{
			name:     "mirror registry with a path",
			data:     entryA + "  mirrors:\n    - registry: docker.io/library\n      repository: acme/a\n",
			wantLine: 6,
			wantErr:  `index "default": line 6: entry "a": mirror 1: registry "docker.io/library" must be a host[:port], without a path (put the path in repository)`,
		},
		{
			name:     "mirror url scheme",
			data:     entryA + "  mirrors:\n    - url: ftp://x.example/a\n",
			wantLine: 6,
			wantErr:  `index "default": line 6: entry "a": mirror 1: url "ftp://x.example/a" is not an http(s) URL`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := index.Parse("default", []byte(tt.data))
			if err == nil {
				t.Fatal("Parse: no error")
			}
			if got := err.Error(); got != tt.wantErr {
				t.Errorf("error:\n got %s\nwant %s", got, tt.wantErr)
			}
			if !errors.Is(err, index.ErrInvalidIndex) {
				t.Errorf("errors.Is(err, ErrInvalidIndex) = false")
			}
			var pe *index.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error is %T, want *ParseError", err)
			}
			if pe.Line != tt.wantLine || pe.Index != "default" {
				t.Errorf("ParseError{Index: %q, Line: %d}, want {default, %d}", pe.Index, pe.Line, tt.wantLine)
			}
		})
	}
}

func TestCheckNamespace(t *testing.T) {
	tests := []struct {
		source, prefix, repository string
		ok                         bool
	}{
		{"https://github.com/falcosecurity/rules", "", "falcosecurity/rules/falco-rules", true},
		{"https://github.com/falcosecurity/rules", "", "falcosecurity/rules", true},
		{"https://github.com/falcosecurity/plugins", "", "falcosecurity/plugins/plugin/k8saudit", true},
		{"https://github.com/falcosecurity/plugins/tree/main/plugins/k8saudit", "", "falcosecurity/plugins/plugin/k8saudit", true},
		{"https://github.com/FalcoSecurity/Rules.git", "", "falcosecurity/rules/falco-rules", true},
		{"https://github.com/acme/rules/", "mirror", "mirror/acme/rules", true},
		{"https://github.com/acme/rules/", "/proxy/ghcr/", "proxy/ghcr/acme/rules/x", true},
		{"https://gitlab.com/group/sub/proj", "", "group/sub/proj/x", true},
		{"https://gitlab.com/group/sub/proj.git", "", "group/sub/proj", true},
		// The source's segments must start the path, not sit anywhere in it.
		{"https://github.com/falcosecurity/rules", "", "attacker/falcosecurity/rules/x", false},
		{"https://github.com/acme/rules/", "", "mirror/acme/rules", false},
		{"https://github.com/acme/rules/", "proxy", "mirror/acme/rules", false},
		{"https://github.com/acme/rules/", "proxy", "acme/rules/x", false},
		{"https://github.com/acme/rules/", "proxy", "proxy/attacker/acme/rules", false},
		{"https://gitlab.com/group/sub/proj", "", "sub/proj/x", false},
		{"https://gitlab.com/group/sub/proj", "", "group/sub/x", false},
		{"https://github.com/falcosecurity/rules", "", "falcosecurity/rules-extra/falco-rules", false},
		{"https://github.com/falcosecurity/rules", "", "falcosecurity/rulesx", false},
		{"https://github.com/falcosecurity/rules", "", "falcosecurity/plugins/falco-rules", false},
		{"https://github.com/falcosecurity/rules", "", "falcosecurity", false},
		{"https://github.com/falcosecurity", "", "falcosecurity/rules", false},
		{"github.com/falcosecurity/rules", "", "falcosecurity/rules", false},
		{"", "", "falcosecurity/rules", false},
	}
	for _, tt := range tests {
		t.Run(tt.source+" "+tt.prefix+" "+tt.repository, func(t *testing.T) {
			err := index.CheckNamespaceUnder(tt.source, tt.prefix, tt.repository)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckNamespaceUnder = %v, want ok=%v", err, tt.ok)
			}
			if tt.prefix == "" {
				if err2 := index.CheckNamespace(tt.source, tt.repository); (err2 == nil) != tt.ok {
					t.Fatalf("CheckNamespace = %v, want ok=%v", err2, tt.ok)
				}
			}
		})
	}
	err := index.CheckNamespace("https://github.com/a/b", "c/d")
	if !errors.Is(err, index.ErrNotNamespaced) {
		t.Errorf("errors.Is(%v, ErrNotNamespaced) = false", err)
	}
}

func TestCheckRepositoryAndRegistry(t *testing.T) {
	for _, tt := range []struct {
		repository string
		wantErr    string // "" for valid
	}{
		{"falcosecurity/rules/falco-rules", ""},
		{"a", ""},
		{"a.b/c__d/e--f/g_h", ""},
		{"falcosecurity/rules/../../acme/rules", `has a ".." path segment`},
		{"falcosecurity/./rules", `has a "." path segment`},
		{"falcosecurity//rules", "empty path segment"},
		{"/falcosecurity/rules", "empty path segment"},
		{"falcosecurity/rules/", "empty path segment"},
		{"", "empty path segment"},
		{"FalcoSecurity/rules", "uppercase"},
		{"acme/-rules", "not an OCI repository name"},
		{"acme/rules.", "not an OCI repository name"},
		{"acme/ru___les", "not an OCI repository name"},
		{"acme/rules:1.0", "not an OCI repository name"},
		{strings.Repeat("a", 256), "longer than 255"},
	} {
		err := index.CheckRepository(tt.repository)
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("CheckRepository(%q) = %v, want %q", tt.repository, err, tt.wantErr)
		}
	}
	for _, tt := range []struct {
		registry string
		wantErr  string
	}{
		{"ghcr.io", ""},
		{"localhost:5000", ""},
		{"127.0.0.1:5000", ""},
		{"[::1]:5000", ""},
		{"Registry.Example.com", ""},
		{"ghcr.io/falcosecurity", "without a path"},
		{"https://ghcr.io", "without a scheme"},
		{"ghcr.io:", "not a host[:port]"},
		{"-ghcr.io", "not a host[:port]"},
		{"ghcr io", "not a host[:port]"},
	} {
		err := index.CheckRegistry(tt.registry)
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("CheckRegistry(%q) = %v, want %q", tt.registry, err, tt.wantErr)
		}
	}
}

// A big index is read entry by entry; the entries are those of the whole
// document, and a problem is reported as the whole document reports it.
func TestParseEntryByEntry(t *testing.T) {
	var b strings.Builder
	if err := indexgen.Write(&b, 3000, "ghcr.io"); err != nil {
		t.Fatal(err)
	}
	big := b.String()
	for _, tt := range []struct {
		name, data string
		chunked    bool // read entry by entry, not falling back
	}{
		{"generated", big, true},
		{"falcoctl", readFile(t, "testdata/falcoctl-index.yaml"), true},
		{"default", string(ferry.DefaultIndex), true},
		{"alias across entries", big + "- name: z\n  type: asset\n  registry: r\n  repository: x/z\n  keywords: &k [a]\n- name: zz\n  type: asset\n  registry: r\n  repository: x/zz\n  keywords: *k\n", false},
		{"duplicate far apart", big + indexgenEntry("plugin-000000"), false},
		{"invalid entry at end", big + "- name: bad\n  type: asset\n  registry: host/path\n  repository: x/bad\n", false},
		{"document marker", "---\n" + big, false},
		{"indented before first", "  # indented comment\n" + big, false},
	} {
		name, data := tt.name, tt.data
		t.Run(name, func(t *testing.T) {
			if got := index.ParseChunked("x", []byte(data)); got != tt.chunked {
				t.Errorf("read entry by entry: %v, want %v", got, tt.chunked)
			}
			restore := index.SetChunkMin(1 << 40)
			whole, werr := index.Parse("x", []byte(data))
			restore()
			restore = index.SetChunkMin(0)
			chunked, cerr := index.Parse("x", []byte(data))
			restore()
			if (werr == nil) != (cerr == nil) || werr != nil && werr.Error() != cerr.Error() {
				t.Fatalf("whole: %v\nentry by entry: %v", werr, cerr)
			}
			if werr == nil {
				if diff := cmp.Diff(whole.Entries, chunked.Entries); diff != "" {
					t.Errorf("(-whole +entry by entry):\n%s", diff)
				}
			}
		})
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func indexgenEntry(name string) string {
	return "- name: " + name + "\n  type: asset\n  registry: r\n  repository: x/" + name + "\n"
}
