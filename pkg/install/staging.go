package install

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ferryhq/ferry/internal/fsutil"
)

// Staging is a private directory, destDir/.ferry-staging/<id>, where an
// artifact is unpacked before it is committed. It is on the destination's
// file system, so committing is a series of atomic renames.
type Staging struct {
	dest string // absolute destination directory
	id   string
	dir  string // dest/.ferry-staging/id
	// synced is set by Sync: what st holds is durable already.
	synced bool
}

// Stage creates destDir (if needed) and a new staging directory inside it.
// The caller must hold the state directory's Lock, and have called Recover
// before (not after: Recover deletes staging directories that have no
// journal). Several stagings may be in progress at once.
func Stage(destDir string) (*Staging, error) {
	dest, err := filepath.Abs(destDir)
	if err != nil {
		return nil, fmt.Errorf("staging: %w", err)
	}
	if err := mkdirAll(dest); err != nil {
		return nil, fmt.Errorf("staging: %w", err)
	}
	id, err := newID()
	if err != nil {
		return nil, fmt.Errorf("staging: %w", err)
	}
	base := filepath.Join(dest, stagingDirName)
	st := &Staging{dest: dest, id: id, dir: filepath.Join(base, id)}
	// A concurrent Discard or commit may remove base when it is empty,
	// between our Mkdir of base and of st.dir: then try again.
	for range 10 {
		if err := os.Mkdir(base, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("staging: %w", err)
		}
		if fi, err := os.Lstat(base); err != nil {
			continue
		} else if !fi.IsDir() {
			return nil, fmt.Errorf("staging: %w: %s is not a directory", ErrConflict, base)
		}
		err := os.Mkdir(st.dir, dirMode)
		if err == nil {
			return st, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("staging: %w", err)
		}
	}
	return nil, fmt.Errorf("staging: %s keeps disappearing", base)
}

// mkdirAll is os.MkdirAll with the directories it creates set to 0755
// whatever the umask.
func mkdirAll(dir string) error {
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%w: %s is not a directory", ErrConflict, dir)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := mkdirAll(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, dirMode); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil // created concurrently
		}
		return err
	}
	return os.Chmod(dir, dirMode)
}

// Dir returns the staging directory to unpack into.
func (st *Staging) Dir() string { return st.dir }

// Discard removes the staging directory, and .ferry-staging if it is then
// empty.
func (st *Staging) Discard() error {
	if err := os.RemoveAll(st.dir); err != nil {
		return fmt.Errorf("discarding staging directory: %w", err)
	}
	_ = os.Remove(filepath.Dir(st.dir)) // fails while other staging directories exist
	return nil
}

// rel is the staging directory relative to the destination.
func (st *Staging) rel() string { return stagingDirName + "/" + st.id }

// Sync fsyncs the files and directories st holds, st's own directory
// included, so that committing st need not: a download makes its bytes
// durable while the others are still in flight, instead of in the commit.
// Nothing may be written into st afterwards.
func (st *Staging) Sync() error {
	if _, err := walkStaged(st, true); err != nil {
		return err
	}
	st.synced = true
	return nil
}

// scanStaged lists what st contains and fsyncs its files and directories,
// st's own directory included (unless Sync did); not the directories that
// hold it.
func scanStaged(st *Staging) ([]File, error) { return walkStaged(st, !st.synced) }

func walkStaged(st *Staging, sync bool) ([]File, error) {
	var files []File
	dirs := []string{st.dir}
	err := filepath.WalkDir(st.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == st.dir {
			return nil
		}
		rel, err := filepath.Rel(st.dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			info, err := d.Info()
			if err != nil {
				return err
			}
			files = append(files, File{Path: rel, Mode: fs.ModeDir | info.Mode().Perm()})
			dirs = append(dirs, p)
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			if sync {
				if err := fsutil.SyncFile(p); err != nil {
					return err
				}
			}
			files = append(files, File{Path: rel, Size: info.Size(), Mode: info.Mode().Perm()})
		default:
			return &UnsafeArchiveError{Entry: rel, Reason: "staged entry is neither a regular file nor a directory"}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := len(dirs) - 1; sync && i >= 0; i-- {
		if err := fsutil.SyncDir(dirs[i]); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return files, nil
}
