package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The checks see what they must: a torn file, and a file no record lists.
func TestCheckFindsViolations(t *testing.T) {
	dir, stateDir := t.TempDir(), t.TempDir()
	s := &soak{dir: dir, stateDir: stateDir, want: map[string]map[string]map[string]string{
		"a": {"1.0.0": {"a/x": sha([]byte("old"))}, "2.0.0": {"a/x": sha([]byte("new"))}},
	}}
	write := func(content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(dir, "a"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "a", "x"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	write("new")
	s.check("complete", false)
	if len(s.violations) != 0 {
		t.Fatalf("a complete file: %v", s.violations)
	}
	write("ne")
	s.check("torn", false)
	if len(s.violations) != 1 || !strings.Contains(s.violations[0], "torn") {
		t.Fatalf("a torn file: %v", s.violations)
	}
	s.violations = nil
	write("old")
	s.check("unrecorded", true) // no state file: nothing is recorded
	if len(s.violations) != 1 || !strings.Contains(s.violations[0], "no record lists it") {
		t.Fatalf("an unrecorded file: %v", s.violations)
	}
}
