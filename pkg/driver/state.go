package driver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/ferryhq/ferry/internal/fsutil"
)

// StateFileName is the file, in the state directory, recording what driver
// install put in place.
const StateFileName = "driver-state.json"

// State records what Install put in place, for Cleanup.
type State struct {
	Files []InstalledFile `json:"files"`
	// Loaded lists the kernel modules Install loaded.
	Loaded []string `json:"loaded,omitempty"`
	// DKMS lists the modules Install built with dkms install, which
	// Cleanup removes from DKMS (dkms remove).
	DKMS []DKMSModule `json:"dkms,omitempty"`
}

// DKMSModule is a module DKMS built and installed for a kernel.
type DKMSModule struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Kernel  string `json:"kernel"`
}

func (s *State) recordDKMS(m DKMSModule) {
	if !slices.Contains(s.DKMS, m) {
		s.DKMS = append(s.DKMS, m)
	}
}

// InstalledFile is one file or symbolic link Install created.
type InstalledFile struct {
	Path string `json:"path"`
	Link bool   `json:"link,omitempty"`
	// Base is the directory it was installed under (a .falco directory);
	// Cleanup removes the directories it emptied up to there.
	Base    string `json:"base"`
	Name    string `json:"name"`
	Version string `json:"version"`
	Type    Type   `json:"type"`
	URL     string `json:"url,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
	// Built is true for a driver built on this host (URL is then empty).
	Built bool `json:"built,omitempty"`
}

// StatePath is the state file in dir.
func StatePath(dir string) string { return filepath.Join(dir, StateFileName) }

// ReadState reads the state file in dir; a missing one is an empty state.
func ReadState(dir string) (*State, error) {
	data, err := os.ReadFile(StatePath(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return &State{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading driver state: %w", err)
	}
	st := &State{}
	if err := json.Unmarshal(data, st); err != nil {
		return nil, fmt.Errorf("reading driver state %s: %w", StatePath(dir), err)
	}
	return st, nil
}

// stateLockName is the file, in the state directory, whose lock serialises
// every read-modify-write of the state file, so that two driver commands
// running at once do not lose each other's records.
const stateLockName = "driver-state.lock"

// lockState takes the state directory's lock, creating the directory.
func lockState(ctx context.Context, dir string) (unlock func() error, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the driver state directory: %w", err)
	}
	unlock, err = fsutil.Lock(ctx, filepath.Join(dir, stateLockName), 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking driver state: %w", err)
	}
	return unlock, nil
}

// updateState applies fn to the state file in dir under its lock.
func updateState(ctx context.Context, dir string, fn func(*State)) error {
	unlock, err := lockState(ctx, dir)
	if err != nil {
		return err
	}
	defer func() { _ = unlock() }() // closing the lock file releases the lock
	st, err := ReadState(dir)
	if err != nil {
		return err
	}
	fn(st)
	return st.write(dir)
}

// write saves the state atomically; an empty state removes the file.
func (s *State) write(dir string) error {
	if len(s.Files) == 0 && len(s.Loaded) == 0 && len(s.DKMS) == 0 {
		if err := os.Remove(StatePath(dir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing driver state: %w", err)
		}
		return nil
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := fsutil.WriteFile(StatePath(dir), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing driver state: %w", err)
	}
	return nil
}

// record adds or replaces the entry for f.Path.
func (s *State) record(f InstalledFile) {
	i := slices.IndexFunc(s.Files, func(e InstalledFile) bool { return e.Path == f.Path })
	if i >= 0 {
		s.Files[i] = f
		return
	}
	s.Files = append(s.Files, f)
}

func (s *State) recordLoaded(module string) {
	if !slices.Contains(s.Loaded, module) {
		s.Loaded = append(s.Loaded, module)
	}
}
