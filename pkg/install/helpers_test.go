package install

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// tarEntry describes one entry of a test archive.
type tarEntry struct {
	Name  string
	Type  byte  // tar.TypeReg when zero
	Mode  int64 // 0o644 (files) or 0o755 (dirs) when zero
	Body  string
	Zeros int64 // appended zero bytes, streamed (for size bombs)
	Link  string
	PAX   map[string]string
}

func writeTar(t testing.TB, w io.Writer, entries []tarEntry) *tar.Writer {
	t.Helper()
	tw := tar.NewWriter(w)
	for _, e := range entries {
		typ := e.Type
		if typ == 0 {
			typ = tar.TypeReg
		}
		mode := e.Mode
		if mode == 0 {
			mode = 0o644
			if typ == tar.TypeDir {
				mode = 0o755
			}
		}
		hdr := &tar.Header{Name: e.Name, Typeflag: typ, Mode: mode, Linkname: e.Link, PAXRecords: e.PAX, Format: tar.FormatPAX}
		if typ == tar.TypeReg {
			hdr.Size = int64(len(e.Body)) + e.Zeros
		}
		if typ == tar.TypeXGlobalHeader {
			hdr = &tar.Header{Typeflag: typ, PAXRecords: e.PAX, Format: tar.FormatPAX}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("tar header %q: %v", e.Name, err)
		}
		if typ != tar.TypeReg {
			continue
		}
		if _, err := io.WriteString(tw, e.Body); err != nil {
			t.Fatal(err)
		}
		if _, err := io.CopyN(tw, zeroReader{}, e.Zeros); err != nil {
			t.Fatal(err)
		}
	}
	return tw
}

func buildTar(t testing.TB, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := writeTar(t, &buf, entries).Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func buildTarGz(t testing.TB, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeTar(t, zw, entries).Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// tree is what a directory contains: regular files with their content,
// directories with a trailing "/" and an empty value, symlinks and other
// entries flagged.
func tree(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := make(map[string]string)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			out[rel+"/"] = ""
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = string(b)
		default:
			out[rel] = fmt.Sprintf("<special %v>", d.Type())
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", dir, err)
	}
	return out
}

func sortedNames(m map[string]string) []string {
	var names []string
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// content is the self-checking content of a test file: a header naming
// its owner, version, path and size, then filler derived from the header.
// Sizes below 256 are raised to 256 so the header always fits.
func content(key, version, path string, size int) string {
	size = max(size, 256)
	hdr := fmt.Sprintf("ferry-test key=%s version=%s path=%s size=%d\n", key, version, path, size)
	if len(hdr) > size {
		panic("test file header longer than the file: " + hdr)
	}
	var b strings.Builder
	b.Grow(size)
	b.WriteString(hdr)
	sum := sha256.Sum256([]byte(hdr))
	filler := fmt.Sprintf("%x\n", sum)
	for b.Len() < size {
		n := min(len(filler), size-b.Len())
		b.WriteString(filler[:n])
	}
	return b.String()
}

// parseContent checks that data is a complete file made by content and
// returns its key and version.
func parseContent(path, data string) (key, version string, err error) {
	line, _, ok := strings.Cut(data, "\n")
	if !ok {
		return "", "", fmt.Errorf("%s: no header line (%d bytes)", path, len(data))
	}
	var p string
	var size int
	if _, err := fmt.Sscanf(line, "ferry-test key=%s version=%s path=%s size=%d", &key, &version, &p, &size); err != nil {
		return "", "", fmt.Errorf("%s: bad header %q: %v", path, line, err)
	}
	if p != path {
		return "", "", fmt.Errorf("%s: header names %s", path, p)
	}
	if want := content(key, version, path, size); data != want {
		return "", "", fmt.Errorf("%s: incomplete or damaged content (%d bytes, want %d)", path, len(data), len(want))
	}
	return key, version, nil
}

// artifact builds a tar.gz of files (path -> size) whose contents are made
// by content(key, version, ...). Paths ending in "/" are directories.
func artifact(t testing.TB, key, version string, files map[string]int) []byte {
	t.Helper()
	var names []string
	for p := range files {
		names = append(names, p)
	}
	sort.Strings(names)
	var entries []tarEntry
	for _, p := range names {
		if strings.HasSuffix(p, "/") {
			entries = append(entries, tarEntry{Name: p, Type: tar.TypeDir})
			continue
		}
		entries = append(entries, tarEntry{Name: p, Body: content(key, version, p, files[p])})
	}
	return buildTarGz(t, entries)
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
