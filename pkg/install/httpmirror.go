package install

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"time"

	"github.com/Masterminds/semver/v3"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	ferryhttp "github.com/ferryhq/ferry/internal/http"
	"github.com/ferryhq/ferry/internal/http/mirror"
	"github.com/ferryhq/ferry/pkg/errdef"
	"github.com/ferryhq/ferry/pkg/index"
	"github.com/ferryhq/ferry/pkg/oci"
)

// An HTTP mirror serves an artifact's layer as a plain file named by a URL
// template. When no OCI channel answers, the planner lists the versions an
// HTTP mirror has (with internal/http/mirror, the mirror client) and the
// installer downloads the file from it directly, verified against a digest
// from, in order: the lock file, the index entry's mirror pins, the
// mirror's SHA256SUMS, the file's .sha256 sidecar. This file is the glue:
// planning, digests from the lock file and the index, the install.

// ErrUnverified means an HTTP mirror file has no digest to be verified
// against, and unverified downloads were not allowed.
var ErrUnverified = errdef.New(errdef.ErrVerification, "no digest to verify the download against")

// SumsFile is the checksum list an HTTP mirror may serve beside its files,
// in sha256sum format ("HEX  FILE" lines). It lists the versions the mirror
// has; without it the directory's HTML index (nginx or Apache autoindex,
// python -m http.server) is read instead.
const SumsFile = mirror.SumsFile

// httpFile is a file an HTTP mirror offers for one version.
type httpFile struct {
	ch   Channel
	url  string
	name string // the file name: the last path element of url
	// digest is "sha256:HEX" when known before the download, from.
	digest, from string
}

// httpItem is a plan item served by HTTP mirrors only: no manifest, no
// config, the type from the index entry.
type httpItem struct {
	typ   string
	files []httpFile // in channel order
}

// hasHTTP reports whether n has HTTP mirrors.
func hasHTTP(n *node) bool {
	return slices.ContainsFunc(n.channels, func(c Channel) bool { return c.URL != "" })
}

// httpFallback lists the versions of n on its HTTP mirrors after every OCI
// channel failed with ociErr. Without HTTP mirrors, ociErr is returned.
func (p *Planner) httpFallback(ctx context.Context, n *node, ociErr error) ([]index.Version, error) {
	if !hasHTTP(n) || ctx.Err() != nil || n.entry == nil {
		return nil, ociErr
	}
	ce := &ChannelsError{Op: "listing the versions of " + n.name + " on HTTP mirrors"}
	files := map[string][]httpFile{}
	var tags []string
	listed := false
	for _, ch := range p.channelsOf(n) {
		if ch.URL == "" {
			continue
		}
		if n.exact != "" {
			// An exact version needs no listing: the template names its file.
			u := expandURL(ch.URL, n.name, n.exact, p.Resolver.Platform)
			if files[n.exact] == nil {
				tags = append(tags, n.exact)
			}
			files[n.exact] = append(files[n.exact], httpFile{ch: ch, url: u, name: path.Base(u)})
			listed = true
			continue
		}
		fs, err := p.listMirror(ctx, n, ch)
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			ce.Channels, ce.Errs = append(ce.Channels, ch), append(ce.Errs, err)
			continue
		}
		listed = true
		for v, f := range fs {
			if files[v] == nil {
				tags = append(tags, v)
			}
			files[v] = append(files[v], f)
		}
	}
	if !listed {
		var herr error = ce
		if len(ce.Errs) == 1 {
			herr = ce.Errs[0]
		}
		return nil, fmt.Errorf("%w; then %w", ociErr, herr)
	}
	p.mu.Lock()
	n.http = files
	p.mu.Unlock()
	return index.Versions(tags), nil
}

// listMirror reads the files an HTTP mirror has for n: its SHA256SUMS, or
// else the directory index, matched against the template's file name.
func (p *Planner) listMirror(ctx context.Context, n *node, ch Channel) (map[string]httpFile, error) {
	if p.HTTP == nil {
		return nil, errors.New("no HTTP client for HTTP mirrors")
	}
	pat, err := mirrorPattern(ch.URL, n.name, p.Resolver.Platform)
	if err != nil {
		return nil, err
	}
	listed, err := mirror.List(ctx, p.HTTP, pat)
	if err != nil {
		return nil, err
	}
	out := make(map[string]httpFile, len(listed))
	for v, f := range listed {
		out[v] = httpFile{ch: ch, url: f.URL, name: f.Name, digest: f.Digest, from: f.From}
	}
	return out, nil
}

// mirrorPattern is the listing pattern of a template, expanded for name
// and platform. {version} must be in the file name, not the directory.
func mirrorPattern(tmpl, name, platform string) (*mirror.Pattern, error) {
	pat, err := mirror.ParsePattern(expandURL(tmpl, name, "{version}", platform))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tmpl, err)
	}
	return pat, nil
}

// httpItemOf returns the HTTP files of n at v when its versions came from
// HTTP mirrors, with the digests known before any download: the lock
// file's, the index entry's pins, the mirror's SHA256SUMS.
func (p *Planner) httpItemOf(n *node, v *semver.Version) *httpItem {
	p.mu.Lock()
	files := n.http[n.tagOf[v.String()]]
	p.mu.Unlock()
	if files == nil {
		return nil
	}
	return p.newHTTPItem(n, v.Original(), slices.Clone(files))
}

func (p *Planner) newHTTPItem(n *node, version string, files []httpFile) *httpItem {
	lockPin := p.lockedLayer(n, version)
	for i, f := range files {
		if lockPin != "" {
			files[i].digest, files[i].from = lockPin, "the lock file"
			continue
		}
		for _, m := range n.entry.Mirrors {
			if m.URL == f.ch.URL && m.Digests[f.name] != "" {
				files[i].digest, files[i].from = m.Digests[f.name], "the index"
			}
		}
	}
	return &httpItem{typ: n.entry.Type, files: files}
}

// lockedLayer returns the layer digest the lock file pins n at version to.
func (p *Planner) lockedLayer(n *node, version string) string {
	if p.Lock == nil {
		return ""
	}
	for _, a := range p.Lock.Artifacts {
		if a.Name == n.name && a.Version == version && a.Registry == n.loc.Registry && a.Repository == n.loc.Repository &&
			(a.Platform == "" || a.Platform == p.Resolver.Platform) && isDigest(a.LayerDigest) {
			return a.LayerDigest
		}
	}
	return ""
}

// lockedHTTPItem is the HTTP item of a lock entry whose manifest no OCI
// channel serves: the file each HTTP mirror names for it, pinned to the
// locked layer digest.
func (p *Planner) lockedHTTPItem(n *node, lk Locked) *httpItem {
	if n.entry == nil || !isDigest(lk.LayerDigest) {
		return nil
	}
	var files []httpFile
	for _, ch := range n.channels {
		if ch.URL != "" {
			u := expandURL(ch.URL, n.name, lk.Version, p.Resolver.Platform)
			files = append(files, httpFile{ch: ch, url: u, name: path.Base(u), digest: lk.LayerDigest, from: "the lock file"})
		}
	}
	if files == nil {
		return nil
	}
	return &httpItem{typ: n.entry.Type, files: files}
}

// prepareHTTP is prepareOne for an item served by HTTP mirrors only.
func (in *Installer) prepareHTTP(ctx context.Context, state *State, j *job) error {
	it, hi := j.item, j.item.http
	r := &Result{
		Ref: it.Ref, Name: it.Name, Index: it.Index, Version: it.Version, Type: hi.typ,
		Registry: it.Location.Registry, Repository: it.Location.Repository, Digest: hi.files[0].digest,
		Requested: it.Requested, Reasons: it.Reasons, DependsOn: it.DependsOn, Source: hi.files[0].url,
	}
	j.res = r
	if hi.typ == oci.TypePlugin {
		r.Platform = in.Resolver.Platform
	}
	if len(in.AllowedTypes) > 0 && !slices.Contains(in.AllowedTypes, hi.typ) {
		return fmt.Errorf("%s is a %s: %w (allowed: %v)", it.Name, hi.typ, ErrTypeNotAllowed, in.AllowedTypes)
	}
	if r.Dir = in.dirFor(hi.typ); r.Dir == "" {
		return fmt.Errorf("%s: no directory configured for type %s", it.Name, hi.typ)
	}
	prev, had := state.Get(it.Location.String())
	if had {
		r.PreviousVersion = prev.Version
	}
	// The same version, verified the same when a digest is known, in the
	// same place, files intact: nothing to fetch.
	if had && prev.Version == r.Version && prev.LayerDigest != "" && (r.Digest == "" || prev.LayerDigest == r.Digest) &&
		prev.Platform == r.Platform && prev.Dir == r.Dir && prev.Intact() {
		r.Digest, r.Status, r.Source = prev.Digest, StatusUpToDate, prev.Source
		r.Files = filePaths(prev.Files)
		return nil
	}
	// No OCI manifest, so no signature to check: Verify is given an empty
	// descriptor and decides.
	if in.Verify != nil {
		if err := in.Verify(ctx, it, ocispec.Descriptor{}); err != nil {
			return err
		}
	}
	if in.DryRun {
		r.Status = StatusWouldUpdate
	}
	return nil
}

// fetchHTTP installs an HTTP-only item from the first mirror that serves
// a file matching its digest. A file with no digest anywhere is refused
// unless AllowUnverified.
func (in *Installer) fetchHTTP(ctx context.Context, j *job) error {
	start := time.Now()
	r := j.res
	ce := &ChannelsError{Op: fmt.Sprintf("downloading %s %s", r.Name, r.Version)}
	for _, f := range j.item.http.files {
		st, got, err := in.fetchHTTPFile(ctx, j, f)
		if err == nil {
			r.Digest, r.Source, r.Unverified = got, f.url, st.unverified
			return in.commitHTTP(ctx, j, st.Staging, start)
		}
		if ctx.Err() != nil {
			return err
		}
		ce.Channels, ce.Errs = append(ce.Channels, f.ch), append(ce.Errs, err)
	}
	if len(ce.Errs) == 1 {
		return ce.Errs[0]
	}
	return ce
}

// httpStaging is a verified (or, when allowed, unverified) download.
type httpStaging struct {
	*Staging
	unverified bool
}

// fetchHTTPFile downloads one file into a staging directory, streaming it
// through the unpacker while it is hashed, and returns its digest.
func (in *Installer) fetchHTTPFile(ctx context.Context, j *job, f httpFile) (*httpStaging, string, error) {
	r := j.res
	want, from := f.digest, f.from
	if want == "" {
		var err error
		if want, from, err = mirror.Sidecar(ctx, in.HTTP, f.url); err != nil {
			return nil, "", err
		}
	}
	if want == "" && !in.AllowUnverified {
		// Say "not found" rather than "unverifiable" for a file that is not
		// there (one HEAD, only on this refusal path).
		if err := mirror.Head(ctx, in.HTTP, f.url); errors.Is(err, ferryhttp.ErrNotFound) {
			return nil, "", fmt.Errorf("%s %s: %w", r.Name, r.Version, err)
		}
		return nil, "", fmt.Errorf("%s %s from %s: %w: neither the lock file, the index, %s nor %s.sha256 has one", r.Name, r.Version, f.url, ErrUnverified, SumsFile, f.url)
	}
	st, err := Stage(r.Dir)
	if err != nil {
		return nil, "", fmt.Errorf("installing %s: %w", r.Name, err)
	}
	limits := in.Store.Limits.withDefaults()
	pr, pw := io.Pipe()
	type downloaded struct {
		d   ferryhttp.Downloaded
		err error
	}
	done := make(chan downloaded, 1)
	go func() {
		d, err := ferryhttp.Download(ctx, in.HTTP, f.url, pw, ferryhttp.DownloadOptions{SHA256: want, Limit: limits.MaxBytes})
		pw.CloseWithError(err)
		done <- downloaded{d, err}
	}()
	_, uerr := Unpack(ctx, j.reader(pr), st.Dir(), limits)
	if uerr == nil || errors.Is(uerr, ErrCorruptArchive) {
		// Read to the end: the digest says whether the bytes were damaged.
		_, _ = io.Copy(io.Discard, pr)
	}
	_ = pr.CloseWithError(errors.New("unpacking stopped"))
	res := <-done
	switch {
	case res.err != nil && errors.Is(res.err, ferryhttp.ErrDigestMismatch):
		_ = st.Discard()
		return nil, "", fmt.Errorf("verifying %s %s against %s: %w", r.Name, r.Version, from, mismatchError{res.err})
	case uerr != nil:
		_ = st.Discard()
		return nil, "", fmt.Errorf("unpacking %s %s from %s: %w", r.Name, r.Version, f.url, uerr)
	case res.err != nil:
		_ = st.Discard()
		return nil, "", res.err
	}
	r.Bytes = res.d.Size
	return &httpStaging{Staging: st, unverified: want == ""}, "sha256:" + res.d.SHA256, nil
}

// mismatchError is a download's digest mismatch, reported as the OCI one
// so that every digest failure classifies alike.
type mismatchError struct{ err error }

func (e mismatchError) Error() string        { return e.err.Error() }
func (e mismatchError) Unwrap() error        { return e.err }
func (e mismatchError) Is(target error) bool { return target == oci.ErrDigestMismatch }

// commitHTTP queues an HTTP download for the install's commit; the file's
// digest stands for both the artifact and its layer.
func (in *Installer) commitHTTP(_ context.Context, j *job, st *Staging, start time.Time) error {
	r := j.res
	rec := Record{
		Key: j.item.Location.String(), Name: r.Name, Index: r.Index, Type: r.Type, Ref: r.Ref, Version: r.Version,
		Registry: r.Registry, Repository: r.Repository, Digest: r.Digest, LayerDigest: r.Digest, Platform: r.Platform,
		Dir: r.Dir, Source: r.Source, Config: &oci.Config{Version: r.Version}, DependsOn: r.DependsOn,
	}
	j.staged, j.start = &Staged{Staging: st, Record: rec}, start
	return nil
}

// readLockPins reads the lock file at path for its digests, when there is
// one that parses.
func readLockPins(path string) *LockFile {
	if path == "" {
		return nil
	}
	l, err := ReadLock(path)
	if err != nil {
		return nil
	}
	return l
}

// lockHTTP is the lock entry of an HTTP-only plan item: its file's digest
// must be known before the download.
func lockHTTP(it PlanItem, platform string) (Locked, error) {
	if it.http.typ != oci.TypePlugin {
		platform = ""
	}
	for _, f := range it.http.files {
		if f.digest != "" {
			return Locked{
				Name: it.Name, Index: it.Index, Ref: it.Ref, Type: it.http.typ, Version: it.Version, Registry: it.Location.Registry,
				Repository: it.Location.Repository, Digest: f.digest, LayerDigest: f.digest, Platform: platform, DependsOn: it.DependsOn,
			}, nil
		}
	}
	return Locked{}, fmt.Errorf("locking %s %s: only HTTP mirrors answered: %w (a lock needs it)", it.Name, it.Version, ErrUnverified)
}
