package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/ferryhq/ferry/pkg/errdef"
)

// ErrVerification is matched by every *VerificationError: a check of
// Verify failed (digest, blob, media type or signature).
var ErrVerification = errdef.New(errdef.ErrVerification, "verification failed")

// Names of the checks Verify runs, in the order it runs them.
const (
	CheckResolve    = "resolve"
	CheckDigest     = "digest"
	CheckManifest   = "manifest"
	CheckBlob       = "blob"
	CheckMediaTypes = "media-types"
	CheckSignature  = "signature"
)

// Check is the outcome of one verification step. Subject names what was
// checked (a digest, usually); Detail says why it passed or failed.
type Check struct {
	Name    string `json:"name"`
	Subject string `json:"subject,omitempty"`
	OK      bool   `json:"ok"`
	Detail  string `json:"detail,omitempty"`
	// Err, when set on a failed check, is a sentinel callers can match
	// (ErrNoSignature, ErrNoTrustedRoot) through the VerificationError.
	Err error `json:"-"`
}

// VerifyRequest says what Verify checks beyond what it always checks.
type VerifyRequest struct {
	// Reference is a tag or a digest in the repository.
	Reference string
	// Expected, when set, is the digest the reference must resolve to.
	Expected digest.Digest
	// ExpectedFrom says where Expected came from ("--digest", "lock
	// file", ...), for the report.
	ExpectedFrom string
	// Type, when set, is the artifact type the artifact must have (an
	// index entry's type).
	Type string
	// Signature, when set, verifies the signature of the resolved root
	// descriptor and returns the checks it ran.
	Signature SignatureVerifier
}

// SignatureVerifier verifies the signatures of an artifact whose root
// descriptor is desc in loc. It returns one check per signature (or one
// failed check when none verifies); an error only when the registry could
// not be asked.
type SignatureVerifier interface {
	VerifySignature(ctx context.Context, c *Client, loc Location, desc ocispec.Descriptor) ([]Check, error)
}

// VerifyReport is what Verify found.
type VerifyReport struct {
	Location  Location      `json:"-"`
	Reference string        `json:"reference"`
	Digest    digest.Digest `json:"digest,omitempty"`
	MediaType string        `json:"mediaType,omitempty"`
	Type      string        `json:"type,omitempty"`
	Version   string        `json:"version,omitempty"`
	Platforms []string      `json:"platforms,omitempty"`
	Checks    []Check       `json:"checks"`
	// Blobs and Bytes count the blobs fetched and hashed.
	Blobs int   `json:"blobs"`
	Bytes int64 `json:"bytes"`
}

// OK reports whether every check passed.
func (r *VerifyReport) OK() bool {
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	return true
}

// Err is nil when every check passed, else a *VerificationError.
func (r *VerifyReport) Err() error {
	var failed []Check
	for _, c := range r.Checks {
		if !c.OK {
			failed = append(failed, c)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return &VerificationError{Ref: r.Location.String() + refSep(r.Reference) + r.Reference, Failed: failed}
}

func (r *VerifyReport) add(c Check) { r.Checks = append(r.Checks, c) }

func refSep(ref string) string {
	if strings.Contains(ref, ":") {
		return "@"
	}
	return ":"
}

// VerificationError lists the checks that failed.
type VerificationError struct {
	Ref    string
	Failed []Check
}

func (e *VerificationError) Error() string {
	var parts []string
	for _, c := range e.Failed {
		s := c.Name
		if c.Subject != "" {
			s += " " + c.Subject
		}
		if c.Detail != "" {
			s += ": " + c.Detail
		}
		parts = append(parts, s)
	}
	return fmt.Sprintf("verifying %s: %d check(s) failed: %s", e.Ref, len(e.Failed), strings.Join(parts, "; "))
}

// Is makes errors.Is(err, ErrVerification) true, and so for its kind (errdef).
func (e *VerificationError) Is(target error) bool { return errors.Is(ErrVerification, target) }

// Unwrap returns the sentinels of the failed checks.
func (e *VerificationError) Unwrap() []error {
	var errs []error
	for _, c := range e.Failed {
		if c.Err != nil {
			errs = append(errs, c.Err)
		}
	}
	return errs
}

// Verify checks, without writing anything, that reference resolves in loc,
// to the expected digest when one is given; that every manifest and blob
// the artifact references exists and matches its digest (each blob is
// fetched in full and hashed); that the media types are those of a Falco
// artifact of the expected type; and, with a SignatureVerifier, that a
// signature verifies.
//
// The error is non-nil only when the reference cannot be resolved (it then
// matches ErrNotFound, ErrUnauthorized or ErrUnreachable); failed checks are
// in the report, and report.Err() turns them into an error.
func (c *Client) Verify(ctx context.Context, loc Location, req VerifyRequest) (*VerifyReport, error) {
	rep := &VerifyReport{Location: loc, Reference: req.Reference}
	root, err := c.FetchRoot(ctx, loc, req.Reference)
	if err != nil {
		if errors.Is(err, ErrDigestMismatch) {
			// The registry answered with content that is not what the
			// digest reference names.
			rep.add(Check{Name: CheckResolve, Subject: req.Reference, Detail: err.Error()})
			return rep, nil
		}
		return rep, err
	}
	rep.Digest, rep.MediaType = root.Descriptor.Digest, root.Descriptor.MediaType
	rep.add(Check{Name: CheckResolve, Subject: req.Reference, OK: true, Detail: "resolves to " + root.Descriptor.Digest.String()})
	if req.Expected != "" {
		rep.add(expectedCheck(root.Descriptor.Digest, req))
	}
	rep.add(Check{Name: CheckManifest, Subject: root.Descriptor.Digest.String(), OK: true, Detail: fmt.Sprintf("%s, %d bytes, matches its digest", root.Descriptor.MediaType, len(root.raw))})

	manifests, ok, err := c.verifyManifests(ctx, loc, root, rep)
	if err != nil || !ok {
		return rep, err
	}
	if err := c.verifyBlobs(ctx, loc, manifests, rep); err != nil {
		return rep, err
	}
	rep.add(checkMediaTypes(root, manifests, req.Type, rep))

	if req.Signature != nil {
		checks, err := req.Signature.VerifySignature(ctx, c, loc, root.Descriptor)
		if err != nil {
			return rep, err
		}
		rep.Checks = append(rep.Checks, checks...)
	}
	return rep, nil
}

// expectedCheck compares the root's digest with the one the request
// expects.
func expectedCheck(got digest.Digest, req VerifyRequest) Check {
	ck := Check{Name: CheckDigest, Subject: got.String(), OK: req.Expected == got}
	from := ""
	if req.ExpectedFrom != "" {
		from = " (" + req.ExpectedFrom + ")"
	}
	if ck.OK {
		ck.Detail = "equals the expected digest" + from
	} else {
		ck.Detail = fmt.Sprintf("expected %s%s", req.Expected, from)
	}
	return ck
}

// verifyManifests parses the root (a manifest, or an image index whose
// manifests it fetches and checks) and returns the manifests. ok is false
// when the root itself cannot be read as either: the report says why and
// nothing further can be checked.
func (c *Client) verifyManifests(ctx context.Context, loc Location, root *Root, rep *VerifyReport) (manifests []ocispec.Manifest, ok bool, err error) {
	manifestStore, err := c.manifestFetcher(ctx, loc)
	if err != nil {
		return nil, false, err
	}
	switch root.Descriptor.MediaType {
	case ocispec.MediaTypeImageManifest:
		var m ocispec.Manifest
		if err := json.Unmarshal(root.raw, &m); err != nil {
			rep.add(Check{Name: CheckManifest, Subject: root.Descriptor.Digest.String(), Detail: "does not parse: " + err.Error()})
			return nil, false, nil
		}
		return []ocispec.Manifest{m}, true, nil
	case ocispec.MediaTypeImageIndex:
		var idx ocispec.Index
		if err := json.Unmarshal(root.raw, &idx); err != nil {
			rep.add(Check{Name: CheckManifest, Subject: root.Descriptor.Digest.String(), Detail: "does not parse: " + err.Error()})
			return nil, false, nil
		}
		if len(idx.Manifests) == 0 {
			rep.add(Check{Name: CheckMediaTypes, Subject: root.Descriptor.Digest.String(), Detail: "the image index lists no manifest"})
		}
		for _, d := range idx.Manifests {
			if m, ok := verifyIndexEntry(ctx, loc, manifestStore, d, rep); ok {
				manifests = append(manifests, m)
			}
		}
		return manifests, true, nil
	}
	rep.add(Check{Name: CheckMediaTypes, Subject: root.Descriptor.Digest.String(), Detail: fmt.Sprintf("media type %q is neither an OCI manifest nor an index", root.Descriptor.MediaType)})
	return nil, false, nil
}

// verifyIndexEntry fetches and parses the manifest an image index entry
// names, and checks the entry's media type and platform.
func verifyIndexEntry(ctx context.Context, loc Location, manifestStore content.Fetcher, d ocispec.Descriptor, rep *VerifyReport) (ocispec.Manifest, bool) {
	if d.Platform != nil {
		rep.Platforms = append(rep.Platforms, d.Platform.OS+"/"+d.Platform.Architecture)
	}
	raw, err := fetchAll(ctx, manifestStore, d, maxManifestBytes)
	if err != nil {
		rep.add(blobFailure(CheckManifest, d, classify(loc.Registry, err)))
		return ocispec.Manifest{}, false
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		rep.add(Check{Name: CheckManifest, Subject: d.Digest.String(), Detail: "does not parse: " + err.Error()})
		return ocispec.Manifest{}, false
	}
	rep.add(Check{Name: CheckManifest, Subject: d.Digest.String(), OK: true, Detail: fmt.Sprintf("%s %s, %d bytes, matches its digest", platformOf(d), d.MediaType, len(raw))})
	if d.MediaType != ocispec.MediaTypeImageManifest {
		rep.add(Check{Name: CheckMediaTypes, Subject: d.Digest.String(), Detail: fmt.Sprintf("index entry has media type %q, want %q", d.MediaType, ocispec.MediaTypeImageManifest)})
	}
	if d.Platform == nil {
		rep.add(Check{Name: CheckMediaTypes, Subject: d.Digest.String(), Detail: "index entry has no platform"})
	}
	return m, true
}

// verifyBlobs hashes every config and layer the manifests name, once each,
// and reads the version from the first config that has one.
func (c *Client) verifyBlobs(ctx context.Context, loc Location, manifests []ocispec.Manifest, rep *VerifyReport) error {
	seen := map[digest.Digest]bool{}
	for _, m := range manifests {
		for _, d := range append([]ocispec.Descriptor{m.Config}, m.Layers...) {
			if seen[d.Digest] {
				continue
			}
			seen[d.Digest] = true
			n, raw, err := c.hashBlob(ctx, loc, d)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				rep.add(blobFailure(CheckBlob, d, err))
				continue
			}
			rep.Blobs++
			rep.Bytes += n
			rep.add(Check{Name: CheckBlob, Subject: d.Digest.String(), OK: true, Detail: fmt.Sprintf("%s, %d bytes, matches its digest", d.MediaType, n)})
			if d.Digest == m.Config.Digest && raw != nil && rep.Version == "" {
				var cfg Config
				if json.Unmarshal(raw, &cfg) == nil {
					rep.Version = cfg.Version
				}
			}
		}
	}
	return nil
}

func platformOf(d ocispec.Descriptor) string {
	if d.Platform == nil {
		return "(no platform)"
	}
	return d.Platform.OS + "/" + d.Platform.Architecture
}

func blobFailure(name string, d ocispec.Descriptor, err error) Check {
	ck := Check{Name: name, Subject: d.Digest.String()}
	switch {
	case errors.Is(err, ErrNotFound):
		ck.Detail = "missing from the registry"
	case errors.Is(err, ErrDigestMismatch):
		ck.Detail = "content does not match its digest or size"
	default:
		ck.Detail = err.Error()
	}
	return ck
}

// hashBlob fetches a blob in full, checking its size and digest. It returns
// the content itself when the blob is small (configs), else nil.
func (c *Client) hashBlob(ctx context.Context, loc Location, d ocispec.Descriptor) (int64, []byte, error) {
	blobs, err := c.fetcher(ctx, loc, false)
	if err != nil {
		return 0, nil, err
	}
	rc, err := blobs.Fetch(ctx, d)
	if err != nil {
		return 0, nil, classify(loc.Registry, err)
	}
	defer rc.Close()
	vr := content.NewVerifyReader(rc, d)
	var n int64
	var raw []byte
	if d.Size <= maxManifestBytes && strings.HasSuffix(d.MediaType, "json") {
		raw, err = io.ReadAll(vr)
		n = int64(len(raw))
	} else {
		n, err = io.Copy(io.Discard, vr)
	}
	if err != nil {
		return n, nil, classify(loc.Registry, err)
	}
	if err := vr.Verify(); err != nil {
		return n, nil, fmt.Errorf("%w: %w", ErrDigestMismatch, err)
	}
	return n, raw, nil
}

func fetchAll(ctx context.Context, f content.Fetcher, d ocispec.Descriptor, limit int64) ([]byte, error) {
	if d.Size > limit {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d allowed", d.Digest, d.Size, limit)
	}
	rc, err := f.Fetch(ctx, d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return content.ReadAll(rc, d)
}

// checkMediaTypes checks every manifest against ManifestType, that they
// are all of one type, the expected type when one is given, and that
// plugins (and only plugins) come as an image index.
func checkMediaTypes(root *Root, manifests []ocispec.Manifest, want string, rep *VerifyReport) Check {
	ck := Check{Name: CheckMediaTypes, Subject: root.Descriptor.Digest.String()}
	var problems []string
	typ := ""
	var cfgTypes []string
	for _, m := range manifests {
		t, _, err := ManifestType(m)
		switch {
		case err != nil:
			problems = append(problems, strings.TrimSuffix(err.Error(), ": "+ErrNotArtifact.Error()))
		case typ != "" && t != typ:
			problems = append(problems, fmt.Sprintf("manifests of different types (%s, %s)", typ, t))
		default:
			typ = t
			if !slices.Contains(cfgTypes, m.Config.MediaType) {
				cfgTypes = append(cfgTypes, m.Config.MediaType)
			}
		}
	}
	rep.Type = typ
	if want != "" && typ != "" && want != typ {
		problems = append(problems, fmt.Sprintf("the artifact is a %s, the index says %s", typ, want))
	}
	if typ == TypePlugin && !root.IsIndex() {
		problems = append(problems, "a plugin must be pushed as an image index")
	}
	if typ != "" && typ != TypePlugin && root.IsIndex() {
		problems = append(problems, fmt.Sprintf("a %s must be a single manifest, not an image index", typ))
	}
	if len(problems) > 0 {
		ck.Detail = strings.Join(problems, "; ")
		return ck
	}
	ck.OK = true
	ck.Detail = fmt.Sprintf("%s: config %s, layer %s", typ, strings.Join(cfgTypes, ", "), LayerMediaType(typ))
	return ck
}

// manifestFetcher fetches loc's manifests: from its registry, or from the
// OCI image layout (a bundle, an oci-layout: reference) the client reads.
func (c *Client) manifestFetcher(ctx context.Context, loc Location) (content.Fetcher, error) {
	return c.fetcher(ctx, loc, true)
}

// fetcher fetches loc's manifests or blobs, from a layout or the registry.
func (c *Client) fetcher(ctx context.Context, loc Location, manifests bool) (content.Fetcher, error) {
	l, _, err := c.layoutFor(ctx, loc)
	if err != nil {
		return nil, err
	}
	if l != nil {
		return l, nil
	}
	repo, err := c.Repository(loc)
	if err != nil {
		return nil, err
	}
	if manifests {
		return repo.Manifests(), nil
	}
	return repo.Blobs(), nil
}
