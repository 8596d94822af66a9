package fsutil

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// WriteFile replaces path with data atomically: readers see the old file or
// the whole new one, and after a crash the new one is durable or absent.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return ReplaceFile(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// ReplaceFile replaces path with what fill writes: a temporary file beside
// it (named as IsTemp recognizes), fsync, rename, fsync of the directory,
// which is created if needed.
func ReplaceFile(path string, perm fs.FileMode, fill func(io.Writer) error) error {
	return ReplaceFileHooked(path, perm, fill, nil)
}

// ReplaceFileHooked is ReplaceFile with beforeRename, when not nil, called
// once the temporary file is complete and synced, just before the rename.
// An error from it ends the replacement with that error and leaves the
// temporary file where it is, as a crash at that point would: tests of
// crash recovery stop there, and the recovery finds the leftover by
// IsTemp. Every other failure removes the temporary file.
func ReplaceFileHooked(path string, perm fs.FileMode, fill func(io.Writer) error, beforeRename func() error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, tempPattern(path))
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = fill(f)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && beforeRename != nil {
		if err := beforeRename(); err != nil {
			return err
		}
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return SyncDir(dir)
}

// ReplaceSymlink points link at target, replacing whatever link was: a
// symbolic link under a temporary name beside it, renamed over link, then
// an fsync of the directory, which is created if needed.
func ReplaceSymlink(target, link string) error {
	dir := filepath.Dir(link)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// A unique temporary name: create a file, then put the link in its place.
	f, err := os.CreateTemp(dir, tempPattern(link))
	if err != nil {
		return err
	}
	tmp := f.Name()
	_ = f.Close()
	_ = os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, link); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return SyncDir(dir)
}

// tempPattern is the os.CreateTemp pattern of path's temporary files.
func tempPattern(path string) string { return "." + filepath.Base(path) + ".tmp-*" }

// IsTemp reports whether a file name is one of ReplaceFile's temporary
// files, which a crash may leave behind.
func IsTemp(name string) bool { return strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-") }

// SyncFile fsyncs an existing file's content.
func SyncFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("syncing %s: %w", name, err)
	}
	return nil
}

// SyncDirIn is SyncDir for the directory name inside root, opened through
// root so that it cannot lead outside it.
func SyncDirIn(root *os.Root, name string) error {
	d, err := root.Open(name)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("syncing %s: %w", filepath.Join(root.Name(), name), err)
	}
	return nil
}

// SyncDir fsyncs a directory so that entries created, renamed or removed in
// it are durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}
