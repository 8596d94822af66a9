package install

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/ferryhq/ferry/pkg/oci"
)

// Statuses of a Result.
const (
	StatusInstalled   = "installed"
	StatusUpToDate    = "up to date"
	StatusWouldUpdate = "would install"
)

// ErrTypeNotAllowed is returned for an artifact whose type the caller
// excluded.
var ErrTypeNotAllowed = errors.New("artifact type not allowed")

// Installer runs plan → fetch → verify → unpack → atomic swap for a set of
// references.
type Installer struct {
	Resolver *Resolver
	Store    *Store
	// Dirs maps an artifact type to the directory it is installed in.
	Dirs map[string]string
	// AllowedTypes restricts the types installed (empty: all).
	AllowedTypes []string
	// Concurrency bounds the artifacts fetched at once (default 4).
	Concurrency int
	// DryRun resolves and reports without downloading or writing.
	DryRun bool
}

// Result reports what happened to one reference.
type Result struct {
	Ref             string        `json:"ref"`
	Name            string        `json:"name"`
	Index           string        `json:"index,omitempty"`
	Type            string        `json:"type"`
	Version         string        `json:"version,omitempty"`
	Tag             string        `json:"tag,omitempty"`
	Constraint      string        `json:"constraint,omitempty"`
	Registry        string        `json:"registry"`
	Repository      string        `json:"repository"`
	Digest          string        `json:"digest"`
	Platform        string        `json:"platform,omitempty"`
	Dir             string        `json:"dir"`
	Files           []string      `json:"files,omitempty"`
	Status          string        `json:"status"`
	PreviousVersion string        `json:"previousVersion,omitempty"`
	Bytes           int64         `json:"bytes"`
	Duration        time.Duration `json:"durationNs"`
	Source          string        `json:"source"`
}

// Install installs refs. Each artifact is installed atomically on its own:
// when one fails the others still land, and the error joins every failure.
// Results keep the order of refs; a failed reference has no result.
func (in *Installer) Install(ctx context.Context, refs []string) ([]Result, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	unlock, err := Lock(ctx, in.Store.StateDir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var dirs []string
	for _, d := range in.Dirs {
		dirs = append(dirs, d)
	}
	if err := Recover(in.Store.StateDir, dirs...); err != nil {
		return nil, err
	}
	state, err := LoadState(in.Store.StateDir)
	if err != nil {
		return nil, err
	}
	refs = slices.Compact(slices.Clone(refs))
	results := make([]*Result, len(refs))
	errs := make([]error, len(refs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(in.Concurrency, 1))
	for i, ref := range refs {
		g.Go(func() error {
			results[i], errs[i] = in.one(gctx, ref, state)
			return nil
		})
	}
	_ = g.Wait()
	var out []Result
	for _, r := range results {
		if r != nil {
			out = append(out, *r)
		}
	}
	return out, errors.Join(errs...)
}

func (in *Installer) validate() error {
	if in.Resolver == nil || in.Store == nil {
		return errors.New("installer: resolver and store are required")
	}
	if in.Concurrency == 0 {
		in.Concurrency = 4
	}
	return nil
}

func (in *Installer) one(ctx context.Context, ref string, state *State) (*Result, error) {
	start := time.Now()
	res, err := in.Resolver.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	key := res.Location.String()
	r := &Result{
		Ref: ref, Name: res.Name, Index: res.Index, Version: res.Version, Tag: res.Tag, Constraint: res.Constraint,
		Registry: res.Location.Registry, Repository: res.Location.Repository,
		Digest: res.Root.Descriptor.Digest.String(), Source: "oci://" + key,
	}
	if res.Entry != nil {
		r.Type = res.Entry.Type
	}
	prev, had := state.Get(key)
	if had {
		r.PreviousVersion = prev.Version
	}
	// Same digest, same place, files intact: nothing to fetch.
	if had && prev.Digest == r.Digest && (!res.Root.IsIndex() || prev.Platform == in.Resolver.Platform) &&
		(prev.Type == "" || in.dirFor(prev.Type) == prev.Dir) && prev.Intact() {
		r.Type, r.Platform, r.Dir, r.Status = prev.Type, prev.Platform, prev.Dir, StatusUpToDate
		r.Files = filePaths(prev.Files)
		if r.Version == "" {
			r.Version = prev.Version
		}
		r.Duration = time.Since(start)
		return r, nil
	}
	art, err := in.Resolver.Client.Resolve(ctx, res.Root, in.Resolver.Platform)
	if err != nil {
		return nil, fmt.Errorf("resolving %q: %w", ref, err)
	}
	r.Type, r.Platform = art.Type, art.Platform
	if len(in.AllowedTypes) > 0 && !slices.Contains(in.AllowedTypes, art.Type) {
		return nil, fmt.Errorf("%q is a %s: %w (allowed: %v)", ref, art.Type, ErrTypeNotAllowed, in.AllowedTypes)
	}
	dir := in.dirFor(art.Type)
	if dir == "" {
		return nil, fmt.Errorf("%q: no directory configured for type %s", ref, art.Type)
	}
	r.Dir = dir
	if r.Version == "" {
		cfg, err := in.Resolver.Client.FetchConfig(ctx, res.Location, art.Config)
		if err != nil {
			return nil, err
		}
		r.Version = cfg.Version
	}
	if in.DryRun {
		r.Status, r.Bytes = StatusWouldUpdate, art.Layer.Size
		r.Duration = time.Since(start)
		return r, nil
	}
	rec, err := in.fetch(ctx, res, art, r)
	if err != nil {
		return nil, err
	}
	r.Files, r.Dir, r.Status, r.Bytes = filePaths(rec.Files), rec.Dir, StatusInstalled, art.Layer.Size
	r.Duration = time.Since(start)
	return r, nil
}

// fetch streams the layer through digest verification into a staging
// directory and commits it.
func (in *Installer) fetch(ctx context.Context, res *Resolution, art *oci.Artifact, r *Result) (Record, error) {
	blob, err := in.Resolver.Client.OpenBlob(ctx, res.Location, art.Layer)
	if err != nil {
		return Record{}, err
	}
	defer blob.Close()
	dir, err := filepath.Abs(r.Dir)
	if err != nil {
		return Record{}, err
	}
	st, err := Stage(dir)
	if err != nil {
		return Record{}, fmt.Errorf("installing %s: %w", r.Ref, err)
	}
	limits := in.Store.Limits.withDefaults()
	if _, err := Unpack(ctx, blob, st.Dir(), limits); err != nil {
		_ = st.Discard()
		// A damaged download shows as a corrupt archive; the digest says
		// which it was.
		_, _ = io.Copy(io.Discard, io.LimitReader(blob, limits.MaxBytes))
		if verr := blob.Verify(); verr != nil && errors.Is(err, ErrCorruptArchive) {
			return Record{}, fmt.Errorf("verifying %s: %w", r.Ref, verr)
		}
		return Record{}, fmt.Errorf("unpacking %s: %w", r.Ref, err)
	}
	if err := blob.Verify(); err != nil {
		_ = st.Discard()
		return Record{}, fmt.Errorf("verifying %s: %w", r.Ref, err)
	}
	rec := Record{
		Key: res.Location.String(), Name: r.Name, Index: r.Index, Type: r.Type, Ref: r.Ref, Version: r.Version,
		Registry: r.Registry, Repository: r.Repository, Digest: r.Digest, LayerDigest: art.Layer.Digest.String(),
		Platform: r.Platform, Dir: dir, Source: r.Source,
	}
	if art.Manifest.Digest != art.Root.Digest {
		rec.ManifestDigest = art.Manifest.Digest.String()
	}
	return in.Store.Commit(ctx, st, rec)
}

func (in *Installer) dirFor(typ string) string {
	d := in.Dirs[typ]
	if d == "" {
		return ""
	}
	if abs, err := filepath.Abs(d); err == nil {
		return abs
	}
	return d
}

func filePaths(files []File) []string {
	var out []string
	for _, f := range files {
		if !f.Mode.IsDir() {
			out = append(out, f.Path)
		}
	}
	return out
}
