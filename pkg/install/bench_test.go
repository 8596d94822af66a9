package install

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkUnpack unpacks a 64 MiB single-file tar.gz of random (so
// incompressible) content; the figure is MB/s of file content.
func BenchmarkUnpack(b *testing.B) {
	const size = 64 << 20
	payload := make([]byte, size)
	rand.Read(payload)
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		b.Fatal(err)
	}
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: "plugin.so", Typeflag: tar.TypeReg, Mode: 0o755, Size: size}); err != nil {
		b.Fatal(err)
	}
	if _, err := tw.Write(payload); err != nil {
		b.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		b.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	archive := buf.Bytes()
	base := b.TempDir()
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := filepath.Join(base, "out")
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
		if err := os.Mkdir(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := Unpack(b.Context(), bytes.NewReader(archive), dir, DefaultLimits()); err != nil {
			b.Fatal(err)
		}
	}
}
