package driver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// CleanupRequest says what to clean up.
type CleanupRequest struct {
	// StateDir holds the record Install wrote.
	StateDir string
	// Name is the driver's name; with Unload its module is unloaded even if
	// the state does not record loading it.
	Name string
	// Unload unloads the kernel modules (rmmod), if loaded.
	Unload bool
	// DryRun reports what would be removed and run, and changes nothing.
	DryRun bool
}

// CleanupResult is what Cleanup removed (or would remove).
type CleanupResult struct {
	// Status is "cleaned", "would-clean" or "nothing".
	Status string `json:"status"`
	// Removed lists the files and links removed; Missing those recorded but
	// already gone.
	Removed  []string  `json:"removed"`
	Missing  []string  `json:"missing,omitempty"`
	Commands []Command `json:"commands,omitempty"`
}

// Cleanup removes what Install put in place, as its state file records, and
// the directories that leaves empty; with Unload it unloads the module.
// The cache is left alone.
func (in *Installer) Cleanup(ctx context.Context, req CleanupRequest) (*CleanupResult, error) {
	if req.StateDir == "" {
		return nil, errors.New("no state directory")
	}
	if !req.DryRun {
		unlock, err := lockState(ctx, req.StateDir)
		if err != nil {
			return nil, err
		}
		defer func() { _ = unlock() }() // closing the lock file releases the lock
	}
	st, err := ReadState(req.StateDir)
	if err != nil {
		return nil, err
	}
	res := &CleanupResult{Status: "cleaned", Removed: []string{}}
	if req.DryRun {
		res.Status = "would-clean"
	}
	if err := in.removeFiles(req, st, res); err != nil {
		return res, err
	}
	if err := in.removeDKMS(ctx, req, st, res); err != nil {
		return res, err
	}
	if req.Unload {
		if err := in.unload(ctx, req, st, res); err != nil {
			return res, err
		}
	}
	if len(res.Removed) == 0 && len(res.Missing) == 0 && !slices.ContainsFunc(res.Commands, func(c Command) bool { return c.Ran }) {
		res.Status = "nothing"
	}
	if req.DryRun {
		return res, nil
	}
	return res, st.write(req.StateDir)
}

// removeFiles removes the files and links st records, links first, and the
// directories that leaves empty, noting each in res (with DryRun, only
// notes them). A file it cannot remove stays recorded with those not tried
// yet, and the state is written before the error is returned.
func (in *Installer) removeFiles(req CleanupRequest, st *State, res *CleanupResult) error {
	files := linksFirst(st.Files)
	for i, f := range files {
		if _, err := os.Lstat(f.Path); errors.Is(err, fs.ErrNotExist) {
			res.Missing = append(res.Missing, f.Path)
			continue
		}
		if req.DryRun {
			res.Removed = append(res.Removed, f.Path)
			continue
		}
		if err := os.Remove(f.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			// This file and those not tried yet stay recorded, for the
			// next cleanup.
			st.Files = files[i:]
			_ = st.write(req.StateDir)
			return fmt.Errorf("removing %s: %w", f.Path, err)
		}
		in.progress(Event{Step: "removed", Path: f.Path})
		res.Removed = append(res.Removed, f.Path)
		if f.Base != "" {
			removeEmptyParents(filepath.Dir(f.Path), f.Base)
		}
	}
	st.Files = nil
	return nil
}

// linksFirst returns a copy of files with the links first, so that no link
// is left pointing at a removed file; the order is otherwise kept.
func linksFirst(files []InstalledFile) []InstalledFile {
	files = slices.Clone(files)
	slices.SortStableFunc(files, func(a, b InstalledFile) int {
		switch {
		case a.Link == b.Link:
			return 0
		case a.Link:
			return -1
		}
		return 1
	})
	return files
}

// removeDKMS removes what DKMS built for ferry from DKMS's tree and the
// kernel's module directory (a failure is reported, not fatal), adding the
// commands to res; with DryRun it only adds them.
func (in *Installer) removeDKMS(ctx context.Context, req CleanupRequest, st *State, res *CleanupResult) error {
	for _, m := range st.DKMS {
		res.Commands = append(res.Commands, Command{Args: []string{"dkms", "remove", "-m", m.Name, "-v", m.Version, "-k", m.Kernel},
			When: "if dkms is installed; failure ignored"})
	}
	if !req.DryRun && len(st.DKMS) > 0 {
		if err := in.run(ctx, res.Commands); err != nil {
			return err
		}
		st.DKMS = nil
	}
	return nil
}

// unload unloads the modules st records as loaded, and req.Name's module,
// adding the rmmod commands to res; with DryRun it only adds them. On a
// failure the state is written and the error wraps ErrLoad.
func (in *Installer) unload(ctx context.Context, req CleanupRequest, st *State, res *CleanupResult) error {
	mods := slices.Clone(st.Loaded)
	if req.Name != "" && !slices.Contains(mods, ModuleName(req.Name)) {
		mods = append(mods, ModuleName(req.Name))
	}
	var rm []Command
	for _, m := range mods {
		rm = append(rm, Command{Args: []string{"rmmod", m}, When: "if " + m + " is loaded"})
	}
	if req.DryRun {
		res.Commands = append(res.Commands, rm...)
		return nil
	}
	err := in.run(ctx, rm)
	res.Commands = append(res.Commands, rm...)
	if err != nil {
		_ = st.write(req.StateDir)
		return fmt.Errorf("%w: %w", ErrLoad, err)
	}
	st.Loaded = nil
	return nil
}
