//go:build unix

package install

import (
	"archive/tar"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Recorded modes are the modes on disk whatever the umask (a hardened
// 077 umask must not leave rules unreadable to a non-root Falco).
func TestUnpackIgnoresUmask(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	archive := buildTarGz(t, []tarEntry{{Name: "d/", Type: tar.TypeDir}, {Name: "d/f.yaml", Body: "x", Mode: 0o644}, {Name: "implicit/p.so", Body: "x", Mode: 0o755}})
	_, out := newOut(t)
	files, err := Unpack(t.Context(), bytes.NewReader(archive), out, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]fs.FileMode{"d": fs.ModeDir | 0o755, "d/f.yaml": 0o644, "implicit": fs.ModeDir | 0o755, "implicit/p.so": 0o755}
	for _, f := range files {
		fi, err := os.Lstat(filepath.Join(out, f.Path))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want[f.Path] || f.Mode != want[f.Path] {
			t.Errorf("%s: mode %v on disk, %v reported, want %v", f.Path, fi.Mode(), f.Mode, want[f.Path])
		}
	}
	if len(files) != len(want) {
		t.Errorf("got %d entries, want %d", len(files), len(want))
	}
}
