package install

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
	orascontent "oras.land/oras-go/v2/content"

	ferryhttp "github.com/ferryhq/ferry/internal/http"
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
// references and, with ResolveDeps, their dependencies.
type Installer struct {
	Resolver *Resolver
	Store    *Store
	// Dirs maps an artifact type to the directory it is installed in.
	Dirs map[string]string
	// AllowedTypes restricts the types installed (empty: all).
	AllowedTypes []string
	// Concurrency bounds the artifacts of 1 MiB or more fetched at once
	// (default 4); smaller ones, whose cost is the round trip, go up to 32
	// at once.
	Concurrency int
	// ResolveDeps installs the dependencies of what is asked for too.
	ResolveDeps bool
	// HostMirrors gives the configured mirrors of a registry host.
	HostMirrors HostMirrors
	// HTTP downloads from HTTP mirrors.
	HTTP *http.Client
	// Bundle names the bundle the resolver's client reads, when it does:
	// results then report it as their source.
	Bundle string
	// Progress, when set, observes every layer download (progress.go).
	Progress Progress
	// Signatures, when set, is the signature policy the Installer
	// enforces (signature.go); it takes the place of Verify and
	// NeedsVerify.
	Signatures *SignaturePolicy
	// Verify, when set, checks the signature of every artifact that is
	// not already installed, after resolution and before any layer is
	// fetched: an error stops the whole install with nothing written. An
	// artifact only HTTP mirrors serve has no manifest: root is empty.
	Verify func(ctx context.Context, it PlanItem, root ocispec.Descriptor) error
	// NeedsVerify, when set, reports whether Verify may refuse the
	// artifact name of index (an index name, "" for an OCI reference).
	// When it says no, the artifact's layer, if small, may be downloaded
	// into a staging directory while the plan is solved (prefetch.go);
	// nil: every artifact is verified before any of its bytes are fetched.
	NeedsVerify func(name, index string) bool
	// AllowUnverified installs HTTP mirror files that have no digest
	// anywhere (results report Unverified).
	AllowUnverified bool

	// req is the request of the call this copy serves (Install).
	req Request
}

// Request is what one Install installs, and how; the Installer holds what
// every call shares. Install never modifies the Installer: one serves any
// number of calls (they take turns on its state directory's lock).
type Request struct {
	// Refs are the references to install; with Locked, those of the lock
	// file to install (none: all of them).
	Refs []string
	// Locked installs exactly the digests of this lock file, with no tag
	// resolution.
	Locked *LockFile
	// DryRun resolves and reports without downloading or writing.
	DryRun bool
	// Engine declares the versions requirements are checked against (nil:
	// requirements are reported in Result.Unchecked, not enforced).
	Engine Engine
	// LockPath, when set, is rewritten after an install to describe every
	// installed artifact.
	LockPath string
}

// Result reports what happened to one artifact.
type Result struct {
	Ref             string            `json:"ref,omitempty"`
	Name            string            `json:"name"`
	Index           string            `json:"index,omitempty"`
	Type            string            `json:"type"`
	Version         string            `json:"version,omitempty"`
	Tag             string            `json:"tag,omitempty"`
	Registry        string            `json:"registry"`
	Repository      string            `json:"repository"`
	Digest          string            `json:"digest"`
	ManifestDigest  string            `json:"manifestDigest,omitempty"`
	Platform        string            `json:"platform,omitempty"`
	Dir             string            `json:"dir"`
	Files           []string          `json:"files,omitempty"`
	Status          string            `json:"status"`
	Requested       bool              `json:"requested"`
	Reasons         []string          `json:"reasons,omitempty"`
	DependsOn       []string          `json:"dependsOn,omitempty"`
	Unchecked       []oci.Requirement `json:"uncheckedRequirements,omitempty"`
	PreviousVersion string            `json:"previousVersion,omitempty"`
	Bytes           int64             `json:"bytes"`
	Duration        time.Duration     `json:"durationNs"`
	Source          string            `json:"source"`
	// Unverified is true for an HTTP mirror file installed with no digest
	// to check it against (AllowUnverified).
	Unverified bool `json:"unverified,omitempty"`
}

// job is one plan item on its way to the disk.
type job struct {
	item PlanItem
	art  *oci.Artifact
	cfg  oci.Config
	res  *Result
	// track follows the download when Installer.Progress is set.
	track Tracker
	// staged is the verified download waiting for the install's commit,
	// started when it was fetched.
	staged *Staged
	start  time.Time
	// pf holds the layers downloaded while the plan was solved.
	pf *prefetcher
}

// Install resolves req.Refs, checks that everything can be installed, and
// only then downloads; once every download has ended, what was downloaded
// is swapped in with one commit (Store.CommitAll: each file atomically, the
// set journaled as one). When a download fails the others still land, and
// the error joins every failure. Results list dependencies first. The
// state is read once, after recovery, and carried through the run.
func (in *Installer) Install(ctx context.Context, req Request) ([]Result, error) {
	if in.Resolver == nil || in.Store == nil {
		return nil, errors.New("installer: resolver and store are required")
	}
	run := *in // this call's copy: in is never modified
	run.req = req
	if p := in.Signatures; p != nil {
		run.Verify = func(ctx context.Context, it PlanItem, root ocispec.Descriptor) error {
			return p.verify(ctx, run.Resolver, it, root)
		}
		run.NeedsVerify = func(name, idx string) bool { return p.Needs(run.Resolver.Indexes, name, idx) }
	}
	if run.Concurrency < 1 {
		run.Concurrency = 4
	}
	return run.install(ctx)
}

func (in *Installer) install(ctx context.Context) ([]Result, error) {
	req := in.req
	unlock, err := Lock(ctx, in.Store.StateDir)
	if err != nil {
		return nil, err
	}
	defer func() { _ = unlock() }() // closing the lock file releases the lock
	var dirs []string
	for _, d := range in.Dirs {
		dirs = append(dirs, d)
	}
	state, err := recoverLoad(in.Store.StateDir, dirs, nil)
	if err != nil {
		return nil, err
	}
	p := &Planner{Resolver: in.Resolver, State: state, Engine: req.Engine, ResolveDeps: in.ResolveDeps, Concurrency: in.Concurrency, HostMirrors: in.HostMirrors,
		HTTP: in.HTTP, Lock: cmp.Or(req.Locked, readLockPins(req.LockPath))}
	pf := in.newPrefetcher(ctx, state)
	defer pf.close()
	if pf != nil {
		p.resolved = pf.resolved
	}
	var plan *Plan
	if req.Locked != nil {
		plan, err = p.PlanLocked(ctx, req.Locked, req.Refs)
	} else {
		plan, err = p.Plan(ctx, slices.Compact(slices.Clone(req.Refs)))
	}
	if err != nil {
		return nil, err
	}
	jobs := make([]*job, len(plan.Items))
	for i, it := range plan.Items {
		jobs[i] = &job{item: it, pf: pf}
	}
	if err := in.prepare(ctx, p, state, jobs); err != nil {
		return nil, err
	}
	errs := make([]error, len(jobs))
	if req.DryRun {
		return results(jobs, errs), nil
	}
	// Concurrency bounds the large downloads, not the commits queued
	// behind them: a finished download frees its slot while it waits to
	// commit.
	downloads := newDownloadSlots(in.Concurrency, p.metadataRequests())
	var wg sync.WaitGroup
	for i, j := range jobs {
		if j.res.Status != "" {
			continue
		}
		wg.Go(func() { errs[i] = in.fetchTracked(ctx, j, downloads) })
	}
	wg.Wait()
	after := in.commitAll(ctx, state, jobs, errs)
	err = errors.Join(errs...)
	if req.LockPath != "" {
		err = errors.Join(err, in.writeLock(after))
	}
	return results(jobs, errs), err
}

// results are the results of the jobs that did not fail.
func results(jobs []*job, errs []error) []Result {
	var out []Result
	for i, j := range jobs {
		if errs[i] == nil {
			out = append(out, *j.res)
		}
	}
	return out
}

// writeLock rewrites the request's lock file from state, the state after
// the commit (nil when a failed commit left it unknown: then it is read).
func (in *Installer) writeLock(state *State) error {
	if state == nil {
		st, err := LoadState(in.Store.StateDir)
		if err != nil {
			return err
		}
		state = st
	}
	if err := LockFromState(state).Write(in.req.LockPath); err != nil {
		return fmt.Errorf("writing the lock file: %w", err)
	}
	return nil
}

// prepare decides, for every job and before any layer is fetched, whether
// it is already installed, and else resolves its platform manifest, checks
// its type and picks its directory.
func (in *Installer) prepare(ctx context.Context, p *Planner, state *State, jobs []*job) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.metadataRequests())
	for _, j := range jobs {
		g.Go(func() error { return in.prepareOne(gctx, p, state, j) })
	}
	return g.Wait()
}

func (in *Installer) prepareOne(ctx context.Context, p *Planner, state *State, j *job) error {
	it := j.item
	if it.http != nil {
		return in.prepareHTTP(ctx, state, j)
	}
	root := it.root
	var err error
	r := &Result{
		Ref: it.Ref, Name: it.Name, Index: it.Index, Version: it.Version, Tag: it.Tag,
		Registry: it.Location.Registry, Repository: it.Location.Repository, Digest: root.Descriptor.Digest.String(),
		Requested: it.Requested, Reasons: it.Reasons, DependsOn: it.DependsOn, Unchecked: it.Unchecked,
		Source: Channel{Location: it.Location}.String(),
	}
	j.res = r
	prev, had := state.Get(it.Location.String())
	if had {
		r.PreviousVersion = prev.Version
	}
	// Same digest, same place, files intact: nothing to fetch.
	if had && prev.Digest == r.Digest && (!root.IsIndex() || prev.Platform == in.Resolver.Platform) &&
		prev.Type != "" && in.dirFor(prev.Type) == prev.Dir && prev.Intact() {
		r.Type, r.Platform, r.Dir, r.Status, r.ManifestDigest = prev.Type, prev.Platform, prev.Dir, StatusUpToDate, prev.ManifestDigest
		r.Files = filePaths(prev.Files)
		return nil
	}
	if it.recorded {
		// Not installed as recorded: what the tag points at now.
		if root, err = p.fetchedRoot(ctx, p.node(it.Name), it.Tag); err != nil {
			return err
		}
		j.item.root, j.item.recorded, it = root, false, j.item
		r.Digest = root.Descriptor.Digest.String()
	}
	if in.Verify != nil {
		if err := in.Verify(ctx, it, root.Descriptor); err != nil {
			return err
		}
	}
	art, err := p.artifact(ctx, root, it.channels)
	if err != nil {
		return fmt.Errorf("resolving %s %s: %w", it.Name, it.Version, err)
	}
	j.art = art
	r.Type, r.Platform, r.Bytes = art.Type, art.Platform, art.Layer.Size
	if art.Manifest.Digest != art.Root.Digest {
		r.ManifestDigest = art.Manifest.Digest.String()
	}
	if len(in.AllowedTypes) > 0 && !slices.Contains(in.AllowedTypes, art.Type) {
		return fmt.Errorf("%s is a %s: %w (allowed: %v)", it.Name, art.Type, ErrTypeNotAllowed, in.AllowedTypes)
	}
	if r.Dir = in.dirFor(art.Type); r.Dir == "" {
		return fmt.Errorf("%s: no directory configured for type %s", it.Name, art.Type)
	}
	if j.cfg, err = p.fetchConfig(ctx, &node{name: it.Name, channels: it.channels}, art); err != nil {
		return err
	}
	if r.Version == "" {
		r.Version = j.cfg.Version
	}
	if in.req.DryRun {
		r.Status = StatusWouldUpdate
	}
	return nil
}

// fetch installs the layer from the first channel that serves it intact:
// the channel that served the manifest, the other OCI channels, then the
// HTTP mirrors. Every attempt streams through digest verification into a
// fresh staging directory; a failed one is discarded.
func (in *Installer) fetch(ctx context.Context, j *job, downloads *downloadSlots) error {
	if j.item.http != nil {
		// Its size is known only once it is downloaded: a large slot.
		release, err := downloads.acquire(ctx, smallLayer)
		if err != nil {
			return err
		}
		defer release()
		return in.fetchHTTP(ctx, j)
	}
	start := time.Now()
	r := j.res
	if st, ch := j.pf.take(ctx, j); st != nil {
		r.Source = ch.String()
		if in.Bundle != "" {
			r.Source = "bundle:" + in.Bundle
		}
		return in.commit(ctx, j, st, start)
	}
	release, err := downloads.acquire(ctx, j.art.Layer.Size)
	if err != nil {
		return err
	}
	defer release()
	order := append([]Channel{{Location: j.art.Location}}, j.item.channels...)
	ce := &ChannelsError{Op: fmt.Sprintf("downloading %s %s", r.Name, r.Version)}
	seen := map[Channel]bool{}
	for _, ch := range order {
		if seen[ch] {
			continue
		}
		seen[ch] = true
		st, err := in.fetchFrom(ctx, j, ch)
		if err == nil {
			release()
			r.Source = ch.String()
			if in.Bundle != "" {
				r.Source = "bundle:" + in.Bundle
			}
			return in.commit(ctx, j, st, start)
		}
		if ctx.Err() != nil {
			return err
		}
		ce.Channels, ce.Errs = append(ce.Channels, ch), append(ce.Errs, err)
	}
	if len(ce.Errs) == 1 {
		return ce.Errs[0]
	}
	return ce
}

// fetchFrom streams the layer from one channel into a staging directory and
// verifies it.
func (in *Installer) fetchFrom(ctx context.Context, j *job, ch Channel) (*Staging, error) {
	r, layer := j.res, j.art.Layer
	var body io.ReadCloser
	var verify func() error
	if ch.URL != "" {
		if in.HTTP == nil {
			return nil, errors.New("no HTTP client for HTTP mirrors")
		}
		url := expandURL(ch.URL, r.Name, r.Version, r.Platform)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		resp, err := in.HTTP.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			// Typed, so that a 404 or 410 is a not-found (exit code 3).
			return nil, &ferryhttp.StatusError{URL: url, Code: resp.StatusCode}
		}
		vr := orascontent.NewVerifyReader(resp.Body, layer)
		body, verify = struct {
			io.Reader
			io.Closer
		}{vr, resp.Body}, func() error {
			if err := vr.Verify(); err != nil {
				return fmt.Errorf("%w: %s: %w", oci.ErrDigestMismatch, url, err)
			}
			return nil
		}
	} else {
		blob, err := in.Resolver.Client.OpenBlob(ctx, ch.Location, layer)
		if err != nil {
			return nil, err
		}
		body, verify = blob, blob.Verify
	}
	defer body.Close()
	st, err := Stage(r.Dir)
	if err != nil {
		return nil, fmt.Errorf("installing %s: %w", r.Name, err)
	}
	limits := in.Store.Limits.withDefaults()
	if _, err := Unpack(ctx, j.reader(body), st.Dir(), limits); err != nil {
		_ = st.Discard()
		// A damaged download shows as a corrupt archive; the digest says
		// which it was.
		_, _ = io.Copy(io.Discard, io.LimitReader(body, limits.MaxBytes))
		if verr := verify(); verr != nil && errors.Is(err, ErrCorruptArchive) {
			return nil, fmt.Errorf("verifying %s %s: %w", r.Name, r.Version, verr)
		}
		return nil, fmt.Errorf("unpacking %s %s: %w", r.Name, r.Version, err)
	}
	if err := verify(); err != nil {
		_ = st.Discard()
		return nil, fmt.Errorf("verifying %s %s: %w", r.Name, r.Version, err)
	}
	return st, nil
}

// commit queues a verified staging directory for the install's commit.
func (in *Installer) commit(_ context.Context, j *job, st *Staging, start time.Time) error {
	r, art := j.res, j.art
	cfg := j.cfg
	rec := Record{
		Key: j.item.Location.String(), Name: r.Name, Index: r.Index, Type: r.Type, Ref: r.Ref, Version: r.Version,
		Registry: r.Registry, Repository: r.Repository, Digest: r.Digest, ManifestDigest: r.ManifestDigest,
		LayerDigest: art.Layer.Digest.String(), Platform: r.Platform, Dir: r.Dir, Source: r.Source,
		Config: &cfg, DependsOn: r.DependsOn,
	}
	j.staged, j.start = &Staged{Staging: st, Record: rec}, start
	return nil
}

// commitAll swaps every downloaded artifact in with one journal and one
// state write (Store.CommitAll) and completes their results. state is the
// state read at the start of the run; it returns the state afterwards (nil
// when a failed commit left it unknown).
func (in *Installer) commitAll(ctx context.Context, state *State, jobs []*job, errs []error) *State {
	var group []Staged
	var of []int
	for i, j := range jobs {
		if errs[i] == nil && j.staged != nil {
			group = append(group, *j.staged)
			of = append(of, i)
		}
	}
	if len(group) == 0 {
		return state
	}
	recs, cerrs, after := in.Store.commitAllFrom(ctx, state, group)
	for k, i := range of {
		j := jobs[i]
		j.staged = nil
		if cerrs[k] != nil {
			errs[i] = cerrs[k]
			if j.track != nil {
				j.track.Fail(cerrs[k])
			}
			continue
		}
		r := j.res
		r.Files, r.Status, r.Duration = filePaths(recs[k].Files), StatusInstalled, time.Since(j.start)
		if j.track != nil {
			j.track.Done(*r)
		}
	}
	return after
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
