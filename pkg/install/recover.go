package install

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ferryhq/ferry/internal/fsutil"
)

// Recover finishes or undoes whatever an interrupted operation left behind.
// Call it right after Lock, before staging anything: it deletes every
// staging directory it finds, including those of work in progress. (Store
// commits roll journals forward themselves, but leave staging alone.)
//
// Every journal in <stateDir>/journal is rolled forward (renames whose
// staged file is gone were already done; then the state is written, old
// files removed, staging and journal deleted). Then every .ferry-staging
// directory in the recorded destination directories and in dirs is
// removed: without a journal, staged files were never committed and the
// previous version is intact. Leftover temporary files in stateDir go too.
func Recover(stateDir string, dirs ...string) error {
	return recoverState(stateDir, dirs, nil)
}

func recoverState(stateDir string, dirs []string, crash func(string) bool) error {
	_, err := recoverLoad(stateDir, dirs, crash)
	return err
}

// recoverLoad is recoverState returning the state it read, which is the
// state on disk once recovered (cleaning staging changes no record).
func recoverLoad(stateDir string, dirs []string, crash func(string) bool) (*State, error) {
	if err := recoverJournals(stateDir, crash); err != nil {
		return nil, err
	}
	state, err := LoadState(stateDir)
	if err != nil {
		return nil, err
	}
	all := make(map[string]bool)
	for _, r := range state.Artifacts {
		all[r.Dir] = true
	}
	for _, d := range dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, fmt.Errorf("recovering: %w", err)
		}
		all[abs] = true
	}
	for _, d := range sortedKeys(all) {
		if err := cleanStaging(d, stagingDirName); err != nil {
			return nil, fmt.Errorf("recovering %s: %w", d, err)
		}
	}
	return state, nil
}

func recoverJournals(stateDir string, crash func(string) bool) error {
	if err := removeTemps(stateDir); err != nil {
		return fmt.Errorf("recovering: %w", err)
	}
	jdir := filepath.Join(stateDir, journalDirName)
	if err := removeTemps(jdir); err != nil {
		return fmt.Errorf("recovering: %w", err)
	}
	entries, err := os.ReadDir(jdir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("recovering: %w", err)
	}
	for _, e := range entries { // ReadDir sorts by name: ids are time-ordered
		if !strings.HasSuffix(e.Name(), ".json") || fsutil.IsTemp(e.Name()) {
			continue
		}
		p := filepath.Join(jdir, e.Name())
		j, err := readJournal(p)
		if err != nil {
			return fmt.Errorf("recovering: %w", err)
		}
		if err := apply(stateDir, j, crash); err != nil {
			return fmt.Errorf("recovering %s: %w", p, err)
		}
	}
	return nil
}

func removeTemps(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if fsutil.IsTemp(e.Name()) && e.Type().IsRegular() {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}
