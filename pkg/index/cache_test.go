package index_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/pkg/index"
)

// richIndex has every field the compact form must keep.
const richIndex = `- name: zed
  type: plugin
  registry: "[::1]:5000"
  repository: acme/plugins/zed
  description: "Unicode: é ✓, and a\nsecond line"
  home: https://example.com/zed
  keywords: [a, "", b]
  license: Apache-2.0
  maintainers: [{name: A, email: a@example.com}, {name: B}]
  sources: [https://example.com/src]
  source: https://github.com/acme/plugins
  signature: {cosign: {certificate-oidc-issuer: i, certificate-oidc-issuer-regexp: ir, certificate-identity: id, certificate-identity-regexp: idr, certificate-github-workflow: w, key: k, ignore-tlog: true}}
  mirrors:
    - {registry: docker.io, repository: acme/zed}
    - url: https://dl.example.com/{name}-{version}.tar.gz
      digests: {zed-1.0.0.tar.gz: "sha256:0000000000000000000000000000000000000000000000000000000000000000", b: "sha256:1111111111111111111111111111111111111111111111111111111111111111"}
- name: alpha
  type: rulesfile
  registry: ghcr.io
  repository: proxy/acme/rules/alpha
  source: https://github.com/acme/rules
  sourcePrefix: proxy
  signature: {}
- name: mid
  type: asset
  registry: r.io
  repository: x/mid
`

// cached writes data as the cached YAML of an index and returns its path.
func cached(t *testing.T, data string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "x.yaml")
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func load(t *testing.T, path string) *index.Index {
	t.Helper()
	idx, err := index.LoadCached("x", path)
	if err != nil {
		t.Fatalf("LoadCached: %v", err)
	}
	return idx
}

// all returns every entry of idx, through a Set, by name.
func all(idx *index.Index) []index.Entry {
	var out []index.Entry
	for _, f := range index.NewSet(idx).List("", "") {
		out = append(out, f.Entry)
	}
	return out
}

func TestLoadCachedMatchesParse(t *testing.T) {
	official, err := os.ReadFile("testdata/falcoctl-index.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		"rich": richIndex, "falcoctl": string(official), "default": string(ferry.DefaultIndex), "empty": "",
	} {
		t.Run(name, func(t *testing.T) {
			parsed, err := index.Parse("x", []byte(data))
			if err != nil {
				t.Fatal(err)
			}
			path := cached(t, data)
			first := load(t, path) // parses, writes the compact form
			if _, err := os.Stat(index.CompactPath(path)); err != nil {
				t.Fatalf("no compact form: %v", err)
			}
			second := load(t, path) // reads the compact form
			if second.Entries != nil {
				t.Errorf("second load parsed the YAML again")
			}
			want := all(parsed)
			for _, idx := range []*index.Index{first, second} {
				if idx.Len() != parsed.Len() {
					t.Errorf("Len = %d, want %d", idx.Len(), parsed.Len())
				}
				if diff := cmp.Diff(want, all(idx), cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("entries (-parsed +loaded):\n%s", diff)
				}
				set, ref := index.NewSet(idx), index.NewSet(parsed)
				for _, e := range parsed.Entries {
					got, _, err := set.Lookup("", e.Name)
					if err != nil {
						t.Fatalf("Lookup(%q): %v", e.Name, err)
					}
					if diff := cmp.Diff(e, got, cmpopts.EquateEmpty()); diff != "" {
						t.Errorf("Lookup(%q) (-parsed +loaded):\n%s", e.Name, diff)
					}
					if diff := cmp.Diff(ref.ListPrefix("", e.Name[:1]), set.ListPrefix("", e.Name[:1]), cmpopts.EquateEmpty()); diff != "" {
						t.Errorf("ListPrefix(%q) (-parsed +loaded):\n%s", e.Name[:1], diff)
					}
				}
				if _, _, err := set.Lookup("", "no-such-name"); err == nil {
					t.Errorf("Lookup of a missing name: no error")
				}
			}
		})
	}
}

func TestLoadCachedRebuilds(t *testing.T) {
	changed := richIndex + "- name: added\n  type: asset\n  registry: r.io\n  repository: x/added\n"
	tests := []struct {
		name   string
		damage func(t *testing.T, yamlPath, idxPath string) // after a first load
		want   string                                       // the YAML the entries must match
	}{
		{"yaml changed", func(t *testing.T, y, _ string) { write(t, y, changed) }, changed},
		{"yaml touched", func(t *testing.T, y, _ string) {
			if err := os.Chtimes(y, time.Now(), time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}, richIndex},
		{"compact removed", func(t *testing.T, _, c string) { os.Remove(c) }, richIndex},
		{"compact truncated", func(t *testing.T, _, c string) { truncate(t, c, 100) }, richIndex},
		{"compact empty", func(t *testing.T, _, c string) { truncate(t, c, 0) }, richIndex},
		{"compact header byte", func(t *testing.T, _, c string) { flip(t, c, 13) }, richIndex},
		{"compact directory byte", func(t *testing.T, _, c string) { flip(t, c, 64+5) }, richIndex},
		{"compact record byte", func(t *testing.T, _, c string) { flip(t, c, -10) }, richIndex},
		{"compact is garbage", func(t *testing.T, _, c string) { write(t, c, "FERRYIDX garbage") }, richIndex},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := cached(t, richIndex)
			load(t, path)
			tt.damage(t, path, index.CompactPath(path))
			parsed, err := index.Parse("x", []byte(tt.want))
			if err != nil {
				t.Fatal(err)
			}
			idx := load(t, path)
			if diff := cmp.Diff(all(parsed), all(idx), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			for _, e := range parsed.Entries {
				if _, _, err := index.NewSet(idx).Lookup("", e.Name); err != nil {
					t.Errorf("Lookup(%q): %v", e.Name, err)
				}
			}
			// And the rewritten compact form is good again.
			again := load(t, path)
			if again.Entries != nil {
				t.Errorf("compact form not rebuilt")
			}
			if diff := cmp.Diff(all(parsed), all(again), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("after rebuild (-want +got):\n%s", diff)
			}
		})
	}
}

// A compact form damaged after it was opened is noticed when its records
// are read, and the YAML answers instead.
func TestLoadCachedDamagedWhileOpen(t *testing.T) {
	path := cached(t, richIndex)
	load(t, path)
	idx := load(t, path)
	// Damage in place (not a rename): the open descriptor sees it.
	flip(t, index.CompactPath(path), -10)
	parsed, _ := index.Parse("x", []byte(richIndex))
	if diff := cmp.Diff(all(parsed), all(idx), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	if _, _, err := index.NewSet(idx).Lookup("", "zed"); err != nil {
		t.Errorf("Lookup: %v", err)
	}
}

func TestLoadCachedErrors(t *testing.T) {
	if _, err := index.LoadCached("x", filepath.Join(t.TempDir(), "missing.yaml")); !os.IsNotExist(err) {
		t.Errorf("missing YAML: %v, want a not-exist error", err)
	}
	path := cached(t, "- name: a\n  type: asset\n  registry: host/path\n  repository: x/a\n")
	if _, err := index.LoadCached("x", path); err == nil {
		t.Errorf("invalid YAML: no error")
	}
	// An unwritable cache directory still gives the parsed index.
	dir := t.TempDir()
	path = filepath.Join(dir, "x.yaml")
	write(t, path, richIndex)
	if err := os.Mkdir(index.CompactPath(path), 0o755); err != nil { // a directory where the file goes
		t.Fatal(err)
	}
	if idx := load(t, path); idx.Len() != 3 {
		t.Errorf("Len = %d, want 3", idx.Len())
	}
}

func TestRemoveCached(t *testing.T) {
	path := cached(t, richIndex)
	load(t, path)
	if err := index.RemoveCached(path); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, index.CompactPath(path)} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s: %v", p, err)
		}
	}
	if err := index.RemoveCached(path); err != nil {
		t.Errorf("second RemoveCached: %v", err)
	}
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func truncate(t *testing.T, path string, n int64) {
	t.Helper()
	if err := os.Truncate(path, n); err != nil {
		t.Fatal(err)
	}
}

// flip inverts the byte at off (from the end when negative), in place.
func flip(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if off < 0 {
		fi, _ := f.Stat()
		off += fi.Size()
	}
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}
