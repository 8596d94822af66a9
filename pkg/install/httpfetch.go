package install

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	ferryhttp "github.com/ferryhq/ferry/internal/http"
	"github.com/ferryhq/ferry/internal/http/mirror"
	"github.com/ferryhq/ferry/pkg/oci"
)

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
	if in.req.DryRun {
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
		// Say "not found" or "unauthorized" rather than "unverifiable" for a
		// file that is not there or not for us (one HEAD, only on this
		// refusal path).
		if err := mirror.Head(ctx, in.HTTP, f.url); errors.Is(err, ferryhttp.ErrNotFound) || errors.Is(err, ferryhttp.ErrUnauthorized) {
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
	case res.err != nil && errors.Is(res.err, ferryhttp.ErrTooLarge):
		// Over the limit before it was all unpacked: refused as the
		// registry path refuses an archive over its limits.
		_ = st.Discard()
		return nil, "", fmt.Errorf("unpacking %s %s from %s: %w", r.Name, r.Version, f.url, tooLarge(res.err))
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

// tooLarge is an HTTP mirror file over Limits.MaxBytes (err matches
// ferryhttp.ErrTooLarge) as an *UnsafeArchiveError, the error the registry
// path gives an artifact over its limits.
func tooLarge(err error) error {
	var tl *ferryhttp.TooLargeError
	if !errors.As(err, &tl) {
		return &UnsafeArchiveError{Reason: err.Error()}
	}
	if tl.Size < 0 {
		return &UnsafeArchiveError{Reason: fmt.Sprintf("the file is larger than the limit of %d bytes", tl.Limit)}
	}
	return &UnsafeArchiveError{Reason: fmt.Sprintf("the file's size %d exceeds the limit of %d bytes", tl.Size, tl.Limit)}
}

// mismatchError is a download's digest mismatch, reported as the OCI one
// so that every digest failure classifies alike.
type mismatchError struct{ err error }

func (e mismatchError) Error() string { return e.err.Error() }

func (e mismatchError) Unwrap() error { return e.err }

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
