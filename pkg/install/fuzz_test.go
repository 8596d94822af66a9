package install

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// FuzzUnpack feeds Unpack tar streams (gzip-compressed by the harness, so
// mutations reach the tar parser) or raw bytes, and checks that whatever
// the input, nothing is written outside the directory, only files and
// directories with sane modes are created, limits hold, and on success the
// returned list is exactly what is on disk.
func FuzzUnpack(f *testing.F) {
	seeds := [][]tarEntry{
		{{Name: "rules/", Type: tar.TypeDir}, {Name: "rules/a.yaml", Body: "- rule: a\n"}, {Name: "plugin.so", Body: "\x7fELF", Mode: 0o4755}},
		{{Name: "../x", Body: "x"}},
		{{Name: "/etc/passwd", Body: "x"}},
		{{Name: "a/../../x", Body: "x"}},
		{{Name: "l", Type: tar.TypeSymlink, Link: "/etc"}, {Name: "l/x", Body: "x"}},
		{{Name: "h", Type: tar.TypeLink, Link: "/etc/passwd"}},
		{{Name: "c", Type: tar.TypeChar}, {Name: "p", Type: tar.TypeFifo}},
		{{Name: "a", Body: "1"}, {Name: "a/b", Body: "2"}, {Name: "a/", Type: tar.TypeDir}},
		{{Name: "big", Zeros: 5 << 10}},
		{{Type: tar.TypeXGlobalHeader, PAX: map[string]string{"path": "../../x"}}, {Name: "ok", Body: "x"}},
	}
	for _, s := range seeds {
		f.Add(buildTar(f, s), false)
	}
	f.Add(buildTarGz(f, seeds[0]), true)
	f.Add([]byte("not gzip"), true)

	lim := Limits{MaxBytes: 4 << 10, MaxFiles: 64}
	f.Fuzz(func(t *testing.T, data []byte, raw bool) {
		if !raw {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
			zw.Write(data)
			zw.Close()
			data = buf.Bytes()
		}
		parent := t.TempDir()
		out := filepath.Join(parent, "out")
		if err := os.Mkdir(out, 0o755); err != nil {
			t.Fatal(err)
		}
		files, err := Unpack(t.Context(), bytes.NewReader(data), out, lim)
		var pathErr *fs.PathError
		if err != nil && !errors.Is(err, ErrUnsafeArchive) && !errors.Is(err, ErrCorruptArchive) && !errors.As(err, &pathErr) {
			// Local file system refusals (a name too long) are fine;
			// anything else is a misclassified error.
			t.Fatalf("unexpected error class: %v", err)
		}
		entries, err2 := os.ReadDir(parent)
		if err2 != nil || len(entries) != 1 || entries[0].Name() != "out" {
			t.Fatalf("parent directory holds %v (%v)", entries, err2)
		}
		onDisk := make(map[string]File)
		var total int64
		walkErr := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p == out {
				return nil
			}
			fi, err := os.Lstat(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(out, p)
			rel = filepath.ToSlash(rel)
			switch {
			case fi.IsDir():
				if fi.Mode().Perm() != 0o755 {
					t.Errorf("%s: directory mode %v", rel, fi.Mode())
				}
				onDisk[rel] = File{Path: rel, Mode: fi.Mode()}
			case fi.Mode().IsRegular():
				if fi.Mode()&^0o755 != 0 || fi.Mode()&0o644 != 0o644 {
					t.Errorf("%s: file mode %v", rel, fi.Mode())
				}
				total += fi.Size()
				onDisk[rel] = File{Path: rel, Size: fi.Size(), Mode: fi.Mode()}
			default:
				t.Errorf("%s: created a %v", rel, fi.Mode().Type())
			}
			return nil
		})
		if walkErr != nil {
			t.Fatal(walkErr)
		}
		if total > lim.MaxBytes {
			t.Errorf("%d bytes written, limit %d", total, lim.MaxBytes)
		}
		if len(onDisk) > lim.MaxFiles {
			t.Errorf("%d entries created, limit %d", len(onDisk), lim.MaxFiles)
		}
		if err != nil {
			return
		}
		if len(files) != len(onDisk) {
			t.Errorf("Unpack reported %d entries, %d on disk", len(files), len(onDisk))
		}
		for _, f := range files {
			if onDisk[f.Path] != f {
				t.Errorf("reported %+v, on disk %+v", f, onDisk[f.Path])
			}
		}
	})
}
