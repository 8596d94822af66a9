package install

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ferryhq/ferry/pkg/oci"
)

const (
	stateFileName = "state.json"
	stateVersion  = 1
)

// State is the content of <stateDir>/state.json: one Record per installed
// artifact, sorted by Key.
type State struct {
	Version   int      `json:"version"`
	Artifacts []Record `json:"artifacts"`
}

// Record describes one installed artifact. Key (registry/repository) is its
// identity: installing another version of the same key replaces the record.
type Record struct {
	Key            string    `json:"key"`
	Name           string    `json:"name,omitempty"`
	Index          string    `json:"index,omitempty"`
	Type           string    `json:"type,omitempty"`
	Ref            string    `json:"ref,omitempty"`
	Version        string    `json:"version,omitempty"`
	Registry       string    `json:"registry,omitempty"`
	Repository     string    `json:"repository,omitempty"`
	Digest         string    `json:"digest,omitempty"`         // the resolved top-level manifest or index digest
	ManifestDigest string    `json:"manifestDigest,omitempty"` // the platform manifest when Digest is an index
	LayerDigest    string    `json:"layerDigest,omitempty"`
	Platform       string    `json:"platform,omitempty"`
	Dir            string    `json:"dir"`   // absolute destination directory
	Files          []File    `json:"files"` // sorted by Path; directories have fs.ModeDir
	InstalledAt    time.Time `json:"installedAt"`
	Source         string    `json:"source,omitempty"` // the registry URL or mirror that served it
	// Config is the artifact's config (dependencies and requirements), kept
	// so that a run that installs nothing new needs no config request.
	Config *oci.Config `json:"config,omitempty"`
	// DependsOn names the artifacts chosen to satisfy its dependencies.
	DependsOn []string `json:"dependsOn,omitempty"`
}

// LoadState reads <stateDir>/state.json. A missing file is an empty state;
// a file that does not parse or validate is an error matching
// ErrCorruptState, never silently reset.
func LoadState(stateDir string) (*State, error) {
	p := filepath.Join(stateDir, stateFileName)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return &State{Version: stateVersion, Artifacts: []Record{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading install state: %w", err)
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorruptState, p, err)
	}
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorruptState, p, err)
	}
	return &s, nil
}

// Get returns the record for key.
func (s *State) Get(key string) (Record, bool) {
	for _, r := range s.Artifacts {
		if r.Key == key {
			return r, true
		}
	}
	return Record{}, false
}

func (s *State) validate() error {
	if s.Version != stateVersion {
		return fmt.Errorf("unsupported state version %d (want %d)", s.Version, stateVersion)
	}
	if s.Artifacts == nil {
		s.Artifacts = []Record{}
	}
	keys := make(map[string]bool, len(s.Artifacts))
	for _, r := range s.Artifacts {
		if r.Key == "" {
			return errors.New("record without a key")
		}
		if keys[r.Key] {
			return fmt.Errorf("duplicate record %q", r.Key)
		}
		keys[r.Key] = true
		if !filepath.IsAbs(r.Dir) {
			return fmt.Errorf("record %q: directory %q is not absolute", r.Key, r.Dir)
		}
		for _, f := range r.Files {
			if c, reason := cleanName(f.Path); reason != "" || c != f.Path || c == "" {
				return fmt.Errorf("record %q: invalid file path %q", r.Key, f.Path)
			}
		}
	}
	return nil
}

// clone returns a deep copy of s.
func (s *State) clone() *State {
	c := &State{Version: s.Version, Artifacts: make([]Record, len(s.Artifacts))}
	for i, r := range s.Artifacts {
		r.Files = slices.Clone(r.Files)
		c.Artifacts[i] = r
	}
	return c
}

func (s *State) sort() {
	slices.SortFunc(s.Artifacts, func(a, b Record) int { return strings.Compare(a.Key, b.Key) })
	for i := range s.Artifacts {
		slices.SortFunc(s.Artifacts[i].Files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	}
}

// put inserts or replaces r.
func (s *State) put(r Record) {
	for i := range s.Artifacts {
		if s.Artifacts[i].Key == r.Key {
			s.Artifacts[i] = r
			s.sort()
			return
		}
	}
	s.Artifacts = append(s.Artifacts, r)
	s.sort()
}

// delete removes the record for key.
func (s *State) delete(key string) {
	s.Artifacts = slices.DeleteFunc(s.Artifacts, func(r Record) bool { return r.Key == key })
}

// writeState replaces state.json atomically and durably.
func writeState(stateDir string, s *State, crash func(string) bool) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding install state: %w", err)
	}
	data = append(data, '\n')
	if err := writeFileAtomic(stateDir, stateFileName, data, crash, "state-tmp"); err != nil {
		return fmt.Errorf("writing install state: %w", err)
	}
	return nil
}

// Intact reports whether every file and directory of r exists under r.Dir
// with the recorded type and size. It does not hash contents: it is the
// cheap check that lets a reinstall of the same digest be a no-op.
func (r Record) Intact() bool { return r.Check() == nil }

// Check is Intact with the reason: nil, or an error naming the first file
// that is missing or differs.
func (r Record) Check() error {
	if !filepath.IsAbs(r.Dir) {
		return fmt.Errorf("checking %q: directory %q is not absolute", r.Key, r.Dir)
	}
	root, err := os.OpenRoot(r.Dir)
	if err != nil {
		return fmt.Errorf("checking %q: %w", r.Key, err)
	}
	defer root.Close()
	for _, f := range r.Files {
		fi, err := root.Lstat(filepath.FromSlash(f.Path))
		if err != nil {
			return fmt.Errorf("checking %q: %w", r.Key, err)
		}
		switch {
		case f.IsDir() && !fi.IsDir():
			return fmt.Errorf("checking %q: %s is not a directory", r.Key, f.Path)
		case !f.IsDir() && !fi.Mode().IsRegular():
			return fmt.Errorf("checking %q: %s is not a regular file", r.Key, f.Path)
		case !f.IsDir() && fi.Size() != f.Size:
			return fmt.Errorf("checking %q: %s has size %d, want %d", r.Key, f.Path, fi.Size(), f.Size)
		}
	}
	return nil
}
