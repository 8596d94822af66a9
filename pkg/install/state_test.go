package install

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLoadStateMissing(t *testing.T) {
	s, err := LoadState(filepath.Join(t.TempDir(), "nope"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&State{Version: 1, Artifacts: []Record{}}, s); diff != "" {
		t.Errorf("LoadState() (-want +got):\n%s", diff)
	}
	if _, ok := s.Get("x"); ok {
		t.Error("Get() found a record in an empty state")
	}
}

func TestLoadStateRefusesCorrupt(t *testing.T) {
	tests := map[string]string{
		"empty file":         "",
		"not json":           "{",
		"truncated":          `{"version":1,"artifacts":[{"key":"a"`,
		"no version":         `{"artifacts":[]}`,
		"future version":     `{"version":2,"artifacts":[]}`,
		"wrong type":         `{"version":"1"}`,
		"record without key": `{"version":1,"artifacts":[{"dir":"/etc/falco"}]}`,
		"duplicate key":      `{"version":1,"artifacts":[{"key":"a","dir":"/x"},{"key":"a","dir":"/y"}]}`,
		"relative dir":       `{"version":1,"artifacts":[{"key":"a","dir":"etc/falco"}]}`,
		"escaping file":      `{"version":1,"artifacts":[{"key":"a","dir":"/etc/falco","files":[{"path":"../passwd"}]}]}`,
		"absolute file":      `{"version":1,"artifacts":[{"key":"a","dir":"/etc/falco","files":[{"path":"/etc/passwd"}]}]}`,
		"unclean file":       `{"version":1,"artifacts":[{"key":"a","dir":"/etc/falco","files":[{"path":"./a//b"}]}]}`,
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, stateFileName), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
			if s, err := LoadState(dir); !errors.Is(err, ErrCorruptState) {
				t.Fatalf("LoadState() = %+v, %v; want ErrCorruptState", s, err)
			}
			// Never silently reset: the file is untouched, and an install
			// refuses to run over it.
			if got, _ := os.ReadFile(filepath.Join(dir, stateFileName)); string(got) != data {
				t.Errorf("state file changed to %q", got)
			}
			e := newEnv(t)
			e.store.StateDir = dir
			if _, err := e.install("k", "1", v1Files); !errors.Is(err, ErrCorruptState) {
				t.Errorf("Install() over a corrupt state = %v, want ErrCorruptState", err)
			}
		})
	}
}

func TestStateFileFormat(t *testing.T) {
	e := newEnv(t)
	for _, key := range []string{"ghcr.io/b", "ghcr.io/a", "ghcr.io/c"} {
		rec := e.record(key, "1.0.0")
		rec.ManifestDigest = "sha256:" + strings.Repeat("1", 64)
		rec.LayerDigest = "sha256:" + strings.Repeat("2", 64)
		rec.Source = "https://mirror.example/"
		if _, err := e.store.Install(t.Context(), rec, bytesReader(artifact(t, key, "1.0.0", map[string]int{filepath.Base(key) + "/z.yaml": 300, filepath.Base(key) + "/a.yaml": 300})), nil); err != nil {
			t.Fatal(err)
		}
	}
	st := e.state()
	var keys []string
	for _, r := range st.Artifacts {
		keys = append(keys, r.Key)
		var paths []string
		for _, f := range r.Files {
			paths = append(paths, f.Path)
		}
		if want := []string{r.Name, r.Name + "/a.yaml", r.Name + "/z.yaml"}; !cmp.Equal(paths, want) {
			t.Errorf("%s files %v, want %v", r.Key, paths, want)
		}
	}
	if want := []string{"ghcr.io/a", "ghcr.io/b", "ghcr.io/c"}; !cmp.Equal(keys, want) {
		t.Errorf("records in order %v, want %v", keys, want)
	}
	raw, err := os.ReadFile(filepath.Join(e.stateDir, stateFileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"version": 1`, `"key":`, `"manifestDigest":`, `"layerDigest":`, `"installedAt":`, `"source":`, `"dir":`, `"files":`, `"path":`, `"size":`, `"mode":`} {
		if !strings.Contains(string(raw), field) {
			t.Errorf("state.json lacks %s:\n%s", field, raw)
		}
	}
	// Rewriting the same state gives the same bytes.
	if err := writeState(e.stateDir, st, nil); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(filepath.Join(e.stateDir, stateFileName))
	if string(again) != string(raw) {
		t.Error("state.json is not deterministic")
	}
}

func TestRecordIntact(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
		intact bool
	}{
		{name: "untouched", damage: func(*testing.T, string) {}, intact: true},
		{name: "same size, other content", damage: func(t *testing.T, dir string) {
			p := filepath.Join(dir, "common.yaml")
			b, _ := os.ReadFile(p)
			writeFile(t, p, strings.Repeat("x", len(b)))
		}, intact: true}, // documented: sizes only, no hashing
		{name: "file missing", damage: func(t *testing.T, dir string) { removePath(t, filepath.Join(dir, "sub/a.yaml")) }},
		{name: "file resized", damage: func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, "only1.yaml"), "short") }},
		{name: "directory missing", damage: func(t *testing.T, dir string) { removePath(t, filepath.Join(dir, "sub")) }},
		{name: "file replaced by directory", damage: func(t *testing.T, dir string) {
			removePath(t, filepath.Join(dir, "only1.yaml"))
			if err := os.Mkdir(filepath.Join(dir, "only1.yaml"), 0o755); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "file replaced by symlink", damage: func(t *testing.T, dir string) {
			p := filepath.Join(dir, "only1.yaml")
			b, _ := os.ReadFile(p)
			target := filepath.Join(t.TempDir(), "t")
			writeFile(t, target, string(b))
			removePath(t, p)
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			rec := e.mustInstall("k", "1", v1Files)
			tt.damage(t, e.dest)
			if got := rec.Intact(); got != tt.intact {
				t.Errorf("Intact() = %v, want %v (Check: %v)", got, tt.intact, rec.Check())
			}
		})
	}
	if (Record{Key: "k", Dir: "relative"}).Intact() {
		t.Error("a record with a relative directory is intact")
	}
}

func writeFile(t *testing.T, p, data string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func removePath(t *testing.T, p string) {
	t.Helper()
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
}
