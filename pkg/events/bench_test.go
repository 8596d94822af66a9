package events

import (
	"context"
	"path/filepath"
	"testing"
)

// BenchmarkDownloadedDisabled is the cost of the call an install makes per
// downloaded artifact when no sink and no file are configured.
func BenchmarkDownloadedDisabled(b *testing.B) {
	e, err := New(Config{SpoolDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, a := context.Background(), testArtifact(1)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = e.Downloaded(ctx, a)
	}
}

// BenchmarkDownloadedFile builds, validates and appends one event to an
// events file (fsync included): the price of the sdk work when enabled.
func BenchmarkDownloadedFile(b *testing.B) {
	e, err := New(Config{File: filepath.Join(b.TempDir(), "events.jsonl")})
	if err != nil {
		b.Fatal(err)
	}
	ctx, a := context.Background(), testArtifact(1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Downloaded(ctx, a); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuild is building and validating one event, without I/O.
func BenchmarkBuild(b *testing.B) {
	e, err := New(Config{File: "unused"})
	if err != nil {
		b.Fatal(err)
	}
	a := testArtifact(1)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := e.build(kindDownloaded, a); err != nil {
			b.Fatal(err)
		}
	}
}
