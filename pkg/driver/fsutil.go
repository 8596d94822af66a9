package driver

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ferryhq/ferry/internal/fsutil"
)

// copyFileAtomic replaces dst with a copy of src.
func copyFileAtomic(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return fsutil.ReplaceFile(dst, perm, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}

// symlinkAtomic points link at target, replacing whatever link was.
func symlinkAtomic(target, link string) error { return fsutil.ReplaceSymlink(target, link) }

// fileSHA256 returns the hex sha256 of a file; found is false if it does not
// exist.
func fileSHA256(path string) (sum string, found bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", false, err
	}
	return hex.EncodeToString(h.Sum(nil)), true, nil
}

// removeEmptyParents removes the empty directories from dir up to, not
// including, stop.
func removeEmptyParents(dir, stop string) {
	stop = filepath.Clean(stop)
	for d := filepath.Clean(dir); d != stop && len(d) > len(stop); d = filepath.Dir(d) {
		rel, err := filepath.Rel(stop, d)
		if err != nil || rel == "." || rel == ".." || filepath.IsAbs(rel) || len(rel) >= 2 && rel[:2] == ".." {
			return
		}
		if os.Remove(d) != nil {
			return
		}
	}
}
