package index_test

import (
	"bufio"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ferryhq/ferry/internal/indexgen"
	"github.com/ferryhq/ferry/pkg/index"
)

// bigEntries is the size issue 17 measures: 93,000 entries, about 31 MB.
const bigEntries = 93000

var (
	bigOnce sync.Once
	bigDir  string
	bigErr  error
)

// bigIndex writes the generated 93k-entry index once per test binary (the
// benchmarks share it; TestMain removes it) and returns its path, the
// compact form already built.
func bigIndex(b *testing.B) string {
	b.Helper()
	bigOnce.Do(func() {
		bigDir, bigErr = os.MkdirTemp("", "ferry-bigindex-")
		if bigErr != nil {
			return
		}
		var f *os.File
		if f, bigErr = os.Create(filepath.Join(bigDir, "big.yaml")); bigErr != nil {
			return
		}
		w := bufio.NewWriter(f)
		if bigErr = indexgen.Write(w, bigEntries, "ghcr.io"); bigErr == nil {
			bigErr = w.Flush()
		}
		if err := f.Close(); bigErr == nil {
			bigErr = err
		}
		if bigErr == nil {
			_, bigErr = index.LoadCached("big", filepath.Join(bigDir, "big.yaml"))
		}
	})
	if bigErr != nil {
		b.Fatal(bigErr)
	}
	return filepath.Join(bigDir, "big.yaml")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bigDir != "" {
		os.RemoveAll(bigDir)
	}
	os.Exit(code)
}

func loadBig(b *testing.B, path string) *index.Set {
	idx, err := index.LoadCached("big", path)
	if err != nil {
		b.Fatal(err)
	}
	if idx.Len() != bigEntries {
		b.Fatalf("Len = %d", idx.Len())
	}
	return index.NewSet(idx)
}

// BenchmarkBigIndexParse is what every command paid before the compact
// form: parsing the YAML.
func BenchmarkBigIndexParse(b *testing.B) {
	data, err := os.ReadFile(bigIndex(b))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := index.Parse("big", data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBigIndexLookup is `artifact info NAME`'s index part.
func BenchmarkBigIndexLookup(b *testing.B) {
	path := bigIndex(b)
	name := indexgen.Name(bigEntries / 2)
	for b.Loop() {
		if _, _, err := loadBig(b, path).Lookup("", name); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBigIndexList is `artifact list`'s index part.
func BenchmarkBigIndexList(b *testing.B) {
	path := bigIndex(b)
	for b.Loop() {
		if n := len(loadBig(b, path).List("", "")); n != bigEntries {
			b.Fatalf("List: %d entries", n)
		}
	}
}

// BenchmarkBigIndexComplete is the completion of a name prefix.
func BenchmarkBigIndexComplete(b *testing.B) {
	path := bigIndex(b)
	for b.Loop() {
		if n := len(loadBig(b, path).ListPrefix("", "plugin-0465")); n != 34 {
			b.Fatalf("ListPrefix: %d entries", n)
		}
	}
}

// BenchmarkBigIndexSearch is `artifact search` over every entry.
func BenchmarkBigIndexSearch(b *testing.B) {
	path := bigIndex(b)
	for b.Loop() {
		if len(loadBig(b, path).Search([]string{"plugin-046500"}, "", index.DefaultMinScore)) == 0 {
			b.Fatal("Search: nothing")
		}
	}
}
