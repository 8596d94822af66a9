package install

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// newOut returns an empty directory inside its own parent, so a test can
// check that nothing appeared beside it.
func newOut(t *testing.T) (parent, out string) {
	t.Helper()
	parent = t.TempDir()
	out = filepath.Join(parent, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	return parent, out
}

// assertContained checks that parent holds only out, and out only regular
// files and directories with sane modes, at most maxBytes in all.
func assertContained(t *testing.T, parent, out string, maxBytes int64) {
	t.Helper()
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "out" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("parent directory holds %v, want only [out]", names)
	}
	var total int64
	err = filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir():
		case fi.Mode().IsRegular():
			total += fi.Size()
			if fi.Mode()&^0o755 != 0 {
				t.Errorf("%s has mode %v", p, fi.Mode())
			}
		default:
			t.Errorf("%s is a %v, want only files and directories", p, fi.Mode().Type())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if total > maxBytes {
		t.Errorf("%d bytes written, limit %d", total, maxBytes)
	}
}

// lyingHeader is a tar whose only file's header says 10 bytes, followed by
// n zero bytes of "padding": the tar reader stops at the first zero blocks
// but the stream goes on.
func lyingHeader(t *testing.T, n int64) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: "small", Typeflag: tar.TypeReg, Mode: 0o644, Size: 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(zw, zeroReader{}, n); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestUnpackRefuses(t *testing.T) {
	valid := buildTarGz(t, []tarEntry{{Name: "a.yaml", Body: strings.Repeat("rule\n", 1000)}})
	small := Limits{MaxBytes: 1 << 20, MaxFiles: 5}
	tests := []struct {
		name      string
		archive   []byte
		lim       Limits
		wantErr   error
		wantEntry string // for ErrUnsafeArchive, the entry named; "-" for the stream
		wantEmpty bool   // refused before anything was written
	}{
		{name: "dotdot", archive: buildTarGz(t, []tarEntry{{Name: "../x", Body: "x"}}), wantErr: ErrUnsafeArchive, wantEntry: "../x"},
		{name: "absolute", archive: buildTarGz(t, []tarEntry{{Name: "/etc/passwd", Body: "root::0:0::/:/bin/sh\n"}}), wantErr: ErrUnsafeArchive, wantEntry: "/etc/passwd"},
		{name: "nested dotdot", archive: buildTarGz(t, []tarEntry{{Name: "a/", Type: tar.TypeDir}, {Name: "a/../../x", Body: "x"}}), wantErr: ErrUnsafeArchive, wantEntry: "a/../../x"},
		{name: "dotdot staying inside", archive: buildTarGz(t, []tarEntry{{Name: "a/../b", Body: "x"}}), wantErr: ErrUnsafeArchive, wantEntry: "a/../b"},
		{name: "dotdot dir", archive: buildTarGz(t, []tarEntry{{Name: "../d/", Type: tar.TypeDir}}), wantErr: ErrUnsafeArchive, wantEntry: "../d/"},
		{name: "symlink to /etc", archive: buildTarGz(t, []tarEntry{{Name: "etc", Type: tar.TypeSymlink, Link: "/etc"}}), wantErr: ErrUnsafeArchive, wantEntry: "etc"},
		{name: "symlink inside", archive: buildTarGz(t, []tarEntry{{Name: "b", Body: "x"}, {Name: "a", Type: tar.TypeSymlink, Link: "b"}}), wantErr: ErrUnsafeArchive, wantEntry: "a"},
		{name: "file through symlink", archive: buildTarGz(t, []tarEntry{{Name: "up", Type: tar.TypeSymlink, Link: ".."}, {Name: "up/escaped", Body: "x"}}), wantErr: ErrUnsafeArchive, wantEntry: "up"},
		{name: "hardlink outside", archive: buildTarGz(t, []tarEntry{{Name: "h", Type: tar.TypeLink, Link: "/etc/passwd"}}), wantErr: ErrUnsafeArchive, wantEntry: "h"},
		{name: "hardlink inside", archive: buildTarGz(t, []tarEntry{{Name: "b", Body: "x"}, {Name: "h", Type: tar.TypeLink, Link: "b"}}), wantErr: ErrUnsafeArchive, wantEntry: "h"},
		{name: "char device", archive: buildTarGz(t, []tarEntry{{Name: "null", Type: tar.TypeChar}}), wantErr: ErrUnsafeArchive, wantEntry: "null"},
		{name: "block device", archive: buildTarGz(t, []tarEntry{{Name: "sda", Type: tar.TypeBlock}}), wantErr: ErrUnsafeArchive, wantEntry: "sda"},
		{name: "fifo", archive: buildTarGz(t, []tarEntry{{Name: "pipe", Type: tar.TypeFifo}}), wantErr: ErrUnsafeArchive, wantEntry: "pipe"},
		{name: "one file over the limit", archive: buildTarGz(t, []tarEntry{{Name: "big", Zeros: 2 << 20}}), lim: small, wantErr: ErrUnsafeArchive, wantEntry: "big", wantEmpty: true},
		{name: "files over the limit together", archive: buildTarGz(t, []tarEntry{{Name: "1", Zeros: 400 << 10}, {Name: "2", Zeros: 400 << 10}, {Name: "3", Zeros: 400 << 10}}), lim: small, wantErr: ErrUnsafeArchive, wantEntry: "3"},
		{name: "lying header and compressible payload", archive: lyingHeader(t, 8<<20), lim: small, wantErr: ErrUnsafeArchive, wantEntry: "-"},
		{name: "too many files", archive: buildTarGz(t, []tarEntry{{Name: "1"}, {Name: "2"}, {Name: "3"}, {Name: "4"}, {Name: "5"}, {Name: "6"}}), lim: small, wantErr: ErrUnsafeArchive, wantEntry: "6"},
		{name: "too many entries", archive: buildTarGz(t, []tarEntry{{Name: "./", Type: tar.TypeDir}, {Name: "./", Type: tar.TypeDir}, {Name: "./", Type: tar.TypeDir}, {Name: "./", Type: tar.TypeDir}, {Name: "./", Type: tar.TypeDir}, {Name: ".", Type: tar.TypeDir}}), lim: small, wantErr: ErrUnsafeArchive, wantEntry: "."},
		{name: "too many directories", archive: buildTarGz(t, []tarEntry{{Name: "a/b/c/d/e/f", Body: "x"}}), lim: small, wantErr: ErrUnsafeArchive, wantEntry: "a/b/c/d/e/f"},
		{name: "duplicate file", archive: buildTarGz(t, []tarEntry{{Name: "a", Body: "1"}, {Name: "./a", Body: "2"}}), wantErr: ErrUnsafeArchive, wantEntry: "./a"},
		{name: "file over directory", archive: buildTarGz(t, []tarEntry{{Name: "a/", Type: tar.TypeDir}, {Name: "a", Body: "x"}}), wantErr: ErrUnsafeArchive, wantEntry: "a"},
		{name: "directory over file", archive: buildTarGz(t, []tarEntry{{Name: "a", Body: "x"}, {Name: "a/", Type: tar.TypeDir}}), wantErr: ErrUnsafeArchive, wantEntry: "a/"},
		{name: "file under file", archive: buildTarGz(t, []tarEntry{{Name: "a", Body: "x"}, {Name: "a/b", Body: "y"}}), wantErr: ErrUnsafeArchive, wantEntry: "a/b"},
		{name: "truncated gzip", archive: valid[:len(valid)/2], wantErr: ErrCorruptArchive},
		{name: "truncated gzip trailer", archive: valid[:len(valid)-4], wantErr: ErrCorruptArchive},
		{name: "tar entry cut short in a whole gzip stream", archive: gzipBytes(t, buildTar(t, []tarEntry{{Name: "a", Zeros: 300 << 10}})[:512+200<<10]), wantErr: ErrCorruptArchive},
		{name: "not gzip", archive: buildTar(t, []tarEntry{{Name: "a", Body: "x"}}), wantErr: ErrCorruptArchive},
		{name: "gzip but not tar", archive: gzipBytes(t, bytes.Repeat([]byte("not a tar header "), 100)), wantErr: ErrCorruptArchive},
		{name: "trailing garbage", archive: append(valid[:len(valid):len(valid)], "garbage"...), wantErr: ErrCorruptArchive},
		{name: "empty", archive: nil, wantErr: ErrCorruptArchive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent, out := newOut(t)
			lim := tt.lim
			if lim == (Limits{}) {
				lim = DefaultLimits()
			}
			files, err := Unpack(t.Context(), bytes.NewReader(tt.archive), out, lim)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Unpack() = %v, %v; want error %v", files, err, tt.wantErr)
			}
			if tt.wantErr == ErrUnsafeArchive {
				var ue *UnsafeArchiveError
				if !errors.As(err, &ue) {
					t.Fatalf("error %v is not an *UnsafeArchiveError", err)
				}
				want := tt.wantEntry
				if want == "-" {
					want = ""
				}
				if ue.Entry != want {
					t.Errorf("refused entry %q (%v), want %q", ue.Entry, err, want)
				}
			}
			if tt.wantErr == ErrCorruptArchive && errors.Is(err, ErrUnsafeArchive) {
				t.Errorf("corrupt archive reported as unsafe: %v", err)
			}
			assertContained(t, parent, out, lim.MaxBytes)
			if got := tree(t, out); tt.wantEmpty && len(got) > 0 {
				t.Errorf("refused archive left %v", sortedNames(got))
			}
		})
	}
}

// A directory that already holds a link out of it must not be followed.
func TestUnpackDoesNotFollowExistingSymlinks(t *testing.T) {
	parent, out := newOut(t)
	outside := filepath.Join(parent, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(out, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../outside", filepath.Join(out, "rel")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(out, "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(out, "inside")); err != nil {
		t.Fatal(err)
	}
	// Policy: never write through a link, even one that stays inside.
	for _, name := range []string{"link/evil", "rel/evil", "link/sub/evil", "inside/evil"} {
		archive := buildTarGz(t, []tarEntry{{Name: name, Body: "x"}})
		if _, err := Unpack(t.Context(), bytes.NewReader(archive), out, DefaultLimits()); !errors.Is(err, ErrUnsafeArchive) {
			t.Errorf("Unpack(%q) through a symlink: error %v, want ErrUnsafeArchive", name, err)
		}
	}
	if got := tree(t, outside); len(got) != 0 {
		t.Errorf("files written outside: %v", got)
	}
	if got := tree(t, filepath.Join(out, "real")); len(got) != 0 {
		t.Errorf("files written through the inside link: %v", got)
	}
}

func TestUnpack(t *testing.T) {
	rules := "- rule: x\n  condition: evt.type = open\n"
	archive := buildTarGz(t, []tarEntry{
		{Type: tar.TypeXGlobalHeader, PAX: map[string]string{"comment": "global"}},
		{Name: "./", Type: tar.TypeDir},
		{Name: "rules/", Type: tar.TypeDir, Mode: 0o700},
		{Name: "rules/falco_rules.yaml", Body: rules, Mode: 0o600},
		{Name: "./plugins/libfoo.so", Body: "\x7fELF", Mode: 0o4777},
		{Name: "a//b/./c/deep.txt", Body: "deep", Mode: 0o1640},
		{Name: "rules/", Type: tar.TypeDir},
		{Name: "empty", Mode: 0o644},
		{Name: "long/" + strings.Repeat("n", 200) + ".yaml", Body: "pax name"},
	})
	parent, out := newOut(t)
	counter := &countingReader{r: bytes.NewReader(archive)}
	files, err := Unpack(t.Context(), counter, out, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	long := "long/" + strings.Repeat("n", 200) + ".yaml"
	want := []File{
		{Path: "a", Mode: fs.ModeDir | 0o755},
		{Path: "a/b", Mode: fs.ModeDir | 0o755},
		{Path: "a/b/c", Mode: fs.ModeDir | 0o755},
		{Path: "a/b/c/deep.txt", Size: 4, Mode: 0o644},
		{Path: "empty", Mode: 0o644},
		{Path: "long", Mode: fs.ModeDir | 0o755},
		{Path: long, Size: 8, Mode: 0o644},
		{Path: "plugins", Mode: fs.ModeDir | 0o755},
		{Path: "plugins/libfoo.so", Size: 4, Mode: 0o755},
		{Path: "rules", Mode: fs.ModeDir | 0o755},
		{Path: "rules/falco_rules.yaml", Size: int64(len(rules)), Mode: 0o644},
	}
	if diff := cmp.Diff(want, files); diff != "" {
		t.Errorf("Unpack() files (-want +got):\n%s", diff)
	}
	wantTree := map[string]string{
		"a/": "", "a/b/": "", "a/b/c/": "", "a/b/c/deep.txt": "deep", "empty": "",
		"long/": "", long: "pax name",
		"plugins/": "", "plugins/libfoo.so": "\x7fELF",
		"rules/": "", "rules/falco_rules.yaml": rules,
	}
	if diff := cmp.Diff(wantTree, tree(t, out)); diff != "" {
		t.Errorf("unpacked tree (-want +got):\n%s", diff)
	}
	for _, f := range files {
		fi, err := os.Lstat(filepath.Join(out, f.Path))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != f.Mode {
			t.Errorf("%s: mode on disk %v, reported %v", f.Path, fi.Mode(), f.Mode)
		}
	}
	if counter.n != int64(len(archive)) {
		t.Errorf("read %d of %d bytes of the layer", counter.n, len(archive))
	}
	assertContained(t, parent, out, 1<<20)
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// The tar end comes before the end of the gzip stream (here a second gzip
// member of zeros): Unpack must still read every byte, for the digest.
func TestUnpackDrainsLayer(t *testing.T) {
	archive := buildTarGz(t, []tarEntry{{Name: "a", Body: "x"}})
	archive = append(archive, gzipBytes(t, make([]byte, 64<<10))...)
	_, out := newOut(t)
	counter := &countingReader{r: iotestOneByte(bytes.NewReader(archive))}
	if _, err := Unpack(t.Context(), counter, out, DefaultLimits()); err != nil {
		t.Fatal(err)
	}
	if counter.n != int64(len(archive)) {
		t.Errorf("read %d of %d bytes of the layer", counter.n, len(archive))
	}
}

// iotestOneByte hides the reader's other methods (io.ByteReader, WriterTo)
// so the gzip reader buffers it.
func iotestOneByte(r io.Reader) io.Reader { return struct{ io.Reader }{r} }

type failingReader struct {
	r     io.Reader
	after int64
	err   error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, f.err
	}
	if int64(len(p)) > f.after {
		p = p[:f.after]
	}
	n, err := f.r.Read(p)
	f.after -= int64(n)
	return n, err
}

func TestUnpackReaderError(t *testing.T) {
	errBoom := errors.New("connection reset")
	archive := buildTarGz(t, []tarEntry{{Name: "a", Body: strings.Repeat("abcdefgh", 64<<10)}})
	for _, after := range []int64{0, 5, int64(len(archive) / 2), int64(len(archive) - 1)} {
		_, out := newOut(t)
		_, err := Unpack(t.Context(), &failingReader{r: bytes.NewReader(archive), after: after, err: errBoom}, out, DefaultLimits())
		if !errors.Is(err, errBoom) || errors.Is(err, ErrCorruptArchive) {
			t.Errorf("failing after %d bytes: Unpack() error = %v, want %v and not corrupt", after, err, errBoom)
		}
	}
}

// cancelAfter cancels a context once n bytes were read.
type cancelAfter struct {
	r      io.Reader
	n      int64
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n -= int64(n)
	if c.n <= 0 {
		c.cancel()
	}
	return n, err
}

func TestUnpackCancel(t *testing.T) {
	// One large file: cancellation must stop the copy, not only wait for
	// the next entry.
	archive := buildTarGz(t, []tarEntry{{Name: "big", Body: strings.Repeat("0123456789abcdef", 4<<20)}})
	t.Run("before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, out := newOut(t)
		if _, err := Unpack(ctx, bytes.NewReader(archive), out, DefaultLimits()); !errors.Is(err, context.Canceled) {
			t.Fatalf("Unpack() error = %v, want context.Canceled", err)
		}
	})
	t.Run("during copy", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		_, out := newOut(t)
		r := &cancelAfter{r: bytes.NewReader(archive), n: int64(len(archive) / 4), cancel: cancel}
		if _, err := Unpack(ctx, r, out, DefaultLimits()); !errors.Is(err, context.Canceled) {
			t.Fatalf("Unpack() error = %v, want context.Canceled", err)
		}
		fi, err := os.Stat(filepath.Join(out, "big"))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() >= 64<<20 {
			t.Errorf("the whole file was written (%d bytes) despite cancellation", fi.Size())
		}
	})
}

// Cancellation also stops the read of what follows the tar end.
func TestUnpackCancelDuringDrain(t *testing.T) {
	archive := lyingHeader(t, 64<<20) // a 10-byte file, then 64 MiB of zeros
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	_, out := newOut(t)
	r := &cancelAfter{r: bytes.NewReader(archive), n: int64(len(archive) / 2), cancel: cancel}
	lim := Limits{MaxBytes: 1 << 40}
	if _, err := Unpack(ctx, iotestOneByte(r), out, lim); !errors.Is(err, context.Canceled) {
		t.Fatalf("Unpack() error = %v, want context.Canceled", err)
	}
}

func TestStreamLimitSaturates(t *testing.T) {
	for _, lim := range []Limits{{MaxBytes: math.MaxInt64, MaxFiles: 1}, {MaxBytes: 1, MaxFiles: math.MaxInt}, {MaxBytes: math.MaxInt64 - 1, MaxFiles: math.MaxInt}} {
		if got := streamLimit(lim); got != math.MaxInt64 {
			t.Errorf("streamLimit(%+v) = %d, want MaxInt64", lim, got)
		}
	}
	if got, want := streamLimit(Limits{MaxBytes: 1 << 20, MaxFiles: 10}), int64(1<<20+10*perEntryOverhead+fixedOverhead); got != want {
		t.Errorf("streamLimit() = %d, want %d", got, want)
	}
}

// copyLimited counts bytes, not header promises.
func TestCopyLimited(t *testing.T) {
	var dst bytes.Buffer
	n, err := copyLimited(&dst, strings.NewReader(strings.Repeat("x", 100)), make([]byte, 16), 50, "e")
	if !errors.Is(err, ErrUnsafeArchive) {
		t.Fatalf("copyLimited() error = %v, want ErrUnsafeArchive", err)
	}
	if n > 50 || dst.Len() > 50 {
		t.Errorf("copied %d bytes (%d written) past a limit of 50", n, dst.Len())
	}
	dst.Reset()
	n, err = copyLimited(&dst, strings.NewReader(strings.Repeat("x", 50)), make([]byte, 16), 50, "e")
	if err != nil || n != 50 || dst.Len() != 50 {
		t.Errorf("copyLimited() at the limit = %d, %v; want 50, nil", n, err)
	}
}

func TestCleanName(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"a", "a", true},
		{"./a/b/", "a/b", true},
		{"a//b", "a/b", true},
		{"./", "", true},
		{".", "", true},
		{"..", "", false},
		{"../a", "", false},
		{"a/..", "", false},
		{"a/../b", "", false},
		{"/a", "", false},
		{"", "", false},
		{"a\x00b", "", false},
		{"...", "...", true},
		{"..a", "..a", true},
	}
	for _, tt := range tests {
		got, reason := cleanName(tt.in)
		if got != tt.want || (reason == "") != tt.ok {
			t.Errorf("cleanName(%q) = %q, %q; want %q, ok=%v", tt.in, got, reason, tt.want, tt.ok)
		}
	}
}
