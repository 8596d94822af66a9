package install

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/ferryhq/ferry/internal/fsutil"

	"github.com/Masterminds/semver/v3"
	"go.yaml.in/yaml/v3"

	"github.com/ferryhq/ferry/pkg/errdef"
	"github.com/ferryhq/ferry/pkg/index"
)

// ErrNotLocked means a requested reference is not covered by the lock file.
var ErrNotLocked = errdef.New(errdef.ErrNotFound, "not in the lock file")

const lockVersion = 1

// LockFile pins every artifact to a manifest digest. It is sorted and
// stable, so it diffs well under version control.
type LockFile struct {
	Version   int      `yaml:"version"`
	Artifacts []Locked `yaml:"artifacts"`
}

// Locked is one pinned artifact.
type Locked struct {
	Name           string `yaml:"name"`
	Index          string `yaml:"index,omitempty"`
	Ref            string `yaml:"ref,omitempty"` // what was asked for; empty for a dependency
	Type           string `yaml:"type"`
	Version        string `yaml:"version"`
	Registry       string `yaml:"registry"`
	Repository     string `yaml:"repository"`
	Digest         string `yaml:"digest"`
	Platform       string `yaml:"platform,omitempty"`
	ManifestDigest string `yaml:"manifestDigest,omitempty"`
	// LayerDigest is the digest of the file an HTTP mirror serves for it.
	LayerDigest string   `yaml:"layerDigest,omitempty"`
	DependsOn   []string `yaml:"dependsOn,omitempty"`
}

// ReadLock reads a lock file.
func ReadLock(path string) (*LockFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the lock file: %w", err)
	}
	var l LockFile
	if err := yaml.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("lock file %s: %w", path, err)
	}
	if l.Version != lockVersion {
		return nil, fmt.Errorf("lock file %s: unsupported version %d", path, l.Version)
	}
	for _, a := range l.Artifacts {
		if a.Name == "" || a.Registry == "" || a.Repository == "" || !isDigest(a.Digest) {
			return nil, fmt.Errorf("lock file %s: entry %q lacks a name, repository or digest", path, a.Name)
		}
	}
	return &l, nil
}

// Write writes the lock file atomically.
func (l *LockFile) Write(path string) error {
	l.Version = lockVersion
	slices.SortFunc(l.Artifacts, func(a, b Locked) int {
		return strings.Compare(a.Name+"\x00"+a.Registry+"/"+a.Repository, b.Name+"\x00"+b.Registry+"/"+b.Repository)
	})
	for i := range l.Artifacts {
		slices.Sort(l.Artifacts[i].DependsOn)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(l); err != nil {
		return err
	}
	data := append([]byte("# Written by ferry: the exact artifacts installed. Install them again with\n# ferry artifact install --locked.\n"), buf.Bytes()...)
	return fsutil.WriteFile(path, data, 0o644)
}

// LockFromState describes every installed artifact.
func LockFromState(st *State) *LockFile {
	l := &LockFile{Artifacts: []Locked{}}
	for _, r := range st.Artifacts {
		l.Artifacts = append(l.Artifacts, Locked{
			Name: r.Name, Index: r.Index, Ref: r.Ref, Type: r.Type, Version: r.Version, Registry: r.Registry,
			Repository: r.Repository, Digest: r.Digest, Platform: r.Platform, ManifestDigest: r.ManifestDigest, LayerDigest: r.LayerDigest,
			DependsOn: r.DependsOn,
		})
	}
	return l
}

// selectFor returns the entries covering refs and, transitively, the
// entries they depend on. An entry covers a reference written the same way,
// or one naming the same artifact with a constraint its version satisfies.
func (l *LockFile) selectFor(refs []string) ([]Locked, error) {
	if len(refs) == 0 {
		return slices.Clone(l.Artifacts), nil
	}
	byName := map[string]Locked{}
	for _, a := range l.Artifacts {
		byName[a.Name] = a
	}
	picked := map[string]bool{}
	var queue []string
	for _, raw := range refs {
		lk, ok := l.covering(raw)
		if !ok {
			return nil, fmt.Errorf("%q: %w (run ferry artifact lock, or install without --locked)", raw, ErrNotLocked)
		}
		queue = append(queue, lk.Name)
	}
	var out []Locked
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if picked[name] {
			continue
		}
		lk, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("dependency %q: %w", name, ErrNotLocked)
		}
		picked[name] = true
		out = append(out, lk)
		queue = append(queue, lk.DependsOn...)
	}
	return out, nil
}

func (l *LockFile) covering(raw string) (Locked, bool) {
	for _, a := range l.Artifacts {
		if a.Ref == raw {
			return a, true
		}
	}
	ref, err := index.ParseReference(raw)
	if err != nil {
		return Locked{}, false
	}
	for _, a := range l.Artifacts {
		switch {
		case ref.IsOCI():
			if a.Registry != ref.Registry || a.Repository != ref.Repository {
				continue
			}
		case a.Name != ref.Name || (ref.Index != "" && ref.Index != a.Index):
			continue
		}
		if ref.Digest != "" {
			if a.Digest == ref.Digest {
				return a, true
			}
			continue
		}
		c, err := index.ParseConstraint(ref.Constraint)
		if ref.Tag != "" {
			c, err = index.ParseConstraint(ref.Tag)
		}
		v, verr := semver.NewVersion(a.Version)
		if err == nil && verr == nil && c.Match(v) {
			return a, true
		}
	}
	return Locked{}, false
}
