package index

import (
	"errors"
	"io"
	"os"

	"github.com/ferryhq/ferry/internal/fsutil"
)

// LoadCached reads the index name cached as YAML at yamlPath, through its
// compact form (CompactPath) when that is current, so that a big index is
// neither re-read nor re-parsed by every command. A compact form that is
// missing, stale (another YAML, another version of ferry) or corrupt is
// rebuilt from the YAML; if it cannot be written the index is still
// returned, parsed. The errors are os.ReadFile's and Parse's.
func LoadCached(name, yamlPath string) (*Index, error) {
	fi, err := os.Stat(yamlPath)
	if err != nil {
		return nil, err
	}
	if c, err := openCompact(CompactPath(yamlPath), yamlPath, fi); err == nil {
		return &Index{Name: name, store: c}, nil
	}
	data, err := os.ReadFile(yamlPath)
	if err != nil {
		return nil, err
	}
	idx, err := Parse(name, data)
	if err != nil {
		return nil, err
	}
	// The YAML read may be newer than the stat above: stamp what was read.
	if fi2, err := os.Stat(yamlPath); err == nil && fi2.Size() == int64(len(data)) {
		_ = SaveCompact(idx, yamlPath, fi2)
	}
	return idx, nil
}

// SaveCompact writes the compact form of idx, parsed from the YAML file at
// yamlPath whose stat is yaml, beside that file, atomically.
func SaveCompact(idx *Index, yamlPath string, yaml os.FileInfo) error {
	return fsutil.ReplaceFile(CompactPath(yamlPath), 0o644, func(w io.Writer) error {
		return WriteCompact(w, idx, yaml)
	})
}

// RemoveCached removes the cached YAML at yamlPath and its compact form.
// Files that do not exist are not an error.
func RemoveCached(yamlPath string) error {
	var errs []error
	for _, p := range []string{yamlPath, CompactPath(yamlPath)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
