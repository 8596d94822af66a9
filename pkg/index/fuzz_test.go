package index_test

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.yaml.in/yaml/v3"

	"github.com/ferryhq/ferry/pkg/index"
)

func FuzzParseReference(f *testing.F) {
	for _, s := range []string{
		"falco-rules", "falco-rules:3", "falco-rules:>=1.0.0 <2.0.0", "falco-rules:1.x || ^2.1",
		"acme/falco-rules:~1.2", "falco-rules@" + digest, "acme/k8saudit@" + digest,
		"ghcr.io/falcosecurity/rules/falco-rules:3.0.1", "localhost:5000/a/b@" + digest,
		"[::1]:5000/x:1@" + digest, "oci-layout:/tmp/bundle:1.0.0", "oci-layout:b@" + digest,
		"", "a/b/c", "a:", "a:1@" + digest, "ghcr.io/A", "oci-layout:",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := index.ParseReference(s)
		if err != nil {
			if !errors.Is(err, index.ErrInvalidReference) {
				t.Fatalf("error %v is not ErrInvalidReference", err)
			}
			return
		}
		if r.Raw != s || r.String() != s {
			t.Fatalf("Raw %q, String() %q, want %q", r.Raw, r.String(), s)
		}
		kinds := 0
		for _, k := range []bool{r.Name != "", r.IsOCI(), r.IsLayout()} {
			if k {
				kinds++
			}
		}
		if kinds != 1 {
			t.Fatalf("%q parsed as %d kinds: %+v", s, kinds, r)
		}
		if r.Constraint != "" {
			if _, err := index.ParseConstraint(r.Constraint); err != nil {
				t.Fatalf("accepted constraint %q does not parse: %v", r.Constraint, err)
			}
		}
		back, err := index.ParseReference(r.String())
		if err != nil {
			t.Fatalf("String() %q does not parse: %v", r.String(), err)
		}
		if diff := cmp.Diff(r, back); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}

func FuzzParse(f *testing.F) {
	official, err := os.ReadFile("testdata/falcoctl-index.yaml")
	if err != nil {
		f.Fatal(err)
	}
	// Two real entries, not the whole file: big seeds make minimizing slow.
	f.Add(official[:bytes.Index(official, []byte("\n- name: cloudtrail-rules"))+1])
	for _, s := range []string{
		"", "[]", "~", entryA, entryA + entryA,
		entryA + "  source: https://github.com/acme/plugins\n  mirrors:\n    - url: https://x.example/{name}\n    - registry: r.io\n      repository: a/b\n",
		"- &a {name: a, type: asset, registry: r, repository: x/a}\n- <<: *a\n  name: b\n",
		"- {name: a, type: asset, registry: r, repository: x/a, x-m: &m [{url: x}]}\n- name: b\n  type: asset\n  registry: r\n  repository: x/b\n  <<: {mirrors: *m}\n",
		"- name: [oops\n", "name: a\n", "- 1\n", "- name: a\n\ttype: b\n", "- !!binary x\n",
		"- name: a\n  type: plugin\n  registry: r\n  repository: x\n  signature: {cosign: {key: k, ignore-tlog: true}}\n",
		// Hostile entries: each must be refused with its line.
		"- name: a\n  type: rulesfile\n  registry: ghcr.io\n  repository: falcosecurity/rules/../../acme/rules\n",
		"- name: a\n  type: rulesfile\n  registry: ghcr.io\n  repository: ./a//b\n",
		"- name: a\n  type: rulesfile\n  registry: host/path\n  repository: a/b\n",
		"- name: a\n  type: rulesfile\n  registry: https://ghcr.io\n  repository: a/b\n",
		"- name: a\n  type: rulesfile\n  registry: ghcr.io\n  repository: Acme/B\n",
		"- name: x\n  type: rulesfile\n  registry: ghcr.io\n  repository: attacker/falcosecurity/rules/x\n  source: https://github.com/falcosecurity/rules\n",
		"- name: x\n  type: rulesfile\n  registry: ghcr.io\n  repository: falcosecurity/rules/falco-rules\n  source: https://github.com/falcosecurity/rules\n",
		"- name: x\n  type: rulesfile\n  registry: h.io\n  repository: proxy/falcosecurity/rules/x\n  source: https://github.com/falcosecurity/rules\n  sourcePrefix: proxy\n",
		"- name: x\n  type: asset\n  registry: r\n  repository: a/x\n  mirrors: [{registry: d.io/p, repository: a/../x}]\n",
		// Shapes that reading entry by entry must read as the whole does.
		"# c\n\n- name: a\n  type: asset\n  registry: r\n  repository: x/a\n# between\n-\n  name: b\n  type: asset\n  registry: r\n  repository: x/b\n",
		"- name: a\r\n  type: asset\r\n  registry: r\r\n  repository: x/a\r\n",
		"- name: a\n  type: asset\n  registry: r\n  repository: x/a\n  description: \"one\n- two\"\n",
		"- name: a\n  type: asset\n  registry: r\n  repository: x/a\n  description: |\n    text\n- name: a\n  type: asset\n  registry: r\n  repository: x/b\n",
		"- &x {name: a, type: asset, registry: r, repository: x/a}\n- name: b\n  <<: *x\n",
		"---\n- name: a\n  type: asset\n  registry: r\n  repository: x/a\n",
		"  - name: a\n    type: asset\n    registry: r\n    repository: x/a\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Entry by entry (as big indexes are read) and whole, alike.
		restore := index.SetChunkMin(0)
		chunked, cerr := index.Parse("fuzz", data)
		restore()
		idx, err := index.Parse("fuzz", data)
		if (err == nil) != (cerr == nil) || err != nil && err.Error() != cerr.Error() {
			t.Fatalf("whole: %v, entry by entry: %v", err, cerr)
		}
		if err == nil {
			if diff := cmp.Diff(idx.Entries, chunked.Entries, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("whole vs entry by entry (-whole +chunked):\n%s", diff)
			}
		}
		if err != nil {
			var pe *index.ParseError
			if !errors.As(err, &pe) || !errors.Is(err, index.ErrInvalidIndex) || pe.Index != "fuzz" || pe.Line < 0 {
				t.Fatalf("error %#v is not a proper *ParseError", err)
			}
			return
		}
		// Every accepted entry names places a registry client can use as
		// they are: no path tricks, no host with a path or scheme, and a
		// source namespace at the start of the repository path.
		for _, e := range idx.Entries {
			if err := index.CheckRegistry(e.Registry); err != nil {
				t.Fatalf("accepted %q: %v", e.Name, err)
			}
			for _, seg := range strings.Split(e.Repository, "/") {
				if seg == "" || seg == "." || seg == ".." || strings.ToLower(seg) != seg {
					t.Fatalf("accepted repository %q", e.Repository)
				}
			}
			if e.Source != "" {
				if err := index.CheckNamespaceUnder(e.Source, e.SourcePrefix, e.Repository); err != nil {
					t.Fatalf("accepted %q: %v", e.Name, err)
				}
			}
			for _, m := range e.Mirrors {
				if m.URL == "" && (index.CheckRegistry(m.Registry) != nil || index.CheckRepository(m.Repository) != nil) {
					t.Fatalf("accepted mirror %+v", m)
				}
			}
		}
		// What parsed writes back and parses to the same entries.
		out, err := yaml.Marshal(idx.Entries)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		again, err := index.Parse("fuzz", out)
		if err != nil {
			t.Fatalf("re-parse of\n%s: %v", out, err)
		}
		if diff := cmp.Diff(idx.Entries, again.Entries, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}
