package fsutil

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestReplaceFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sub")
	p := filepath.Join(dir, "f.json")
	if err := WriteFile(p, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A failing fill leaves the old content and no temporary file.
	boom := errors.New("boom")
	if err := ReplaceFile(p, 0o644, func(w io.Writer) error { _, _ = w.Write([]byte("tw")); return boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if got, _ := os.ReadFile(p); string(got) != "one" {
		t.Errorf("content %q after a failed replace", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("litter left: %v", entries)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	if !IsTemp(".f.json.tmp-123") || IsTemp("f.json") {
		t.Error("IsTemp")
	}
}

func TestTryLock(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	a, _ := os.Create(p)
	b, _ := os.Open(p)
	defer a.Close()
	defer b.Close()
	if ok, err := TryLock(a); !ok || err != nil {
		t.Fatalf("first lock: %v %v", ok, err)
	}
	if ok, err := TryLock(b); ok || err != nil {
		t.Fatalf("second lock on another open: %v %v", ok, err)
	}
	if err := Unlock(a); err != nil {
		t.Fatal(err)
	}
	if ok, _ := TryLock(b); !ok {
		t.Error("lock not free after Unlock")
	}
}

// A hook error stops the replacement just before the rename and leaves the
// temporary file, as a crash there would; a nil hook error lets it finish.
func TestReplaceFileHooked(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	if err := WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	write := func(w io.Writer) error { _, err := w.Write([]byte("new")); return err }
	stop := errors.New("stop")
	if err := ReplaceFileHooked(p, 0o644, write, func() error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("err = %v", err)
	}
	if got, _ := os.ReadFile(p); string(got) != "old" {
		t.Errorf("content %q after a stopped replace", got)
	}
	entries, _ := os.ReadDir(dir)
	var temps []string
	for _, e := range entries {
		if IsTemp(e.Name()) {
			temps = append(temps, e.Name())
			if got, _ := os.ReadFile(filepath.Join(dir, e.Name())); string(got) != "new" {
				t.Errorf("temporary file holds %q, want it complete", got)
			}
		}
	}
	if len(entries) != 2 || len(temps) != 1 {
		t.Errorf("entries %v, want state.json and one temporary file", entries)
	}
	called := false
	if err := ReplaceFileHooked(p, 0o644, write, func() error { called = true; return nil }); err != nil || !called {
		t.Fatalf("err = %v, hook called %v", err, called)
	}
	if got, _ := os.ReadFile(p); string(got) != "new" {
		t.Errorf("content %q", got)
	}
	if err := SyncFile(p); err != nil {
		t.Error(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if err := SyncDirIn(root, "."); err != nil {
		t.Error(err)
	}
	if err := SyncDirIn(root, "../x"); err == nil {
		t.Error("SyncDirIn left its root")
	}
}

func TestReplaceSymlink(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "sub", "current")
	for _, target := range []string{"v1", "v2"} {
		if err := ReplaceSymlink(target, link); err != nil {
			t.Fatal(err)
		}
		if got, err := os.Readlink(link); err != nil || got != target {
			t.Errorf("link -> %q (%v), want %q", got, err, target)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "sub"))
	if len(entries) != 1 {
		t.Errorf("litter left: %v", entries)
	}
}
