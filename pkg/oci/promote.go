package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/Masterminds/semver/v3"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"
)

// cosignTagSuffixes are the tags cosign writes beside an artifact, named
// after its digest: sha256-<hex>.sig and so on.
var cosignTagSuffixes = []string{".sig", ".att", ".sbom"}

// CosignTag returns the tag cosign uses for an artifact's signatures
// (suffix ".sig"), attestations (".att") or SBOM (".sbom").
func CosignTag(d digest.Digest, suffix string) string {
	return d.Algorithm().String() + "-" + d.Encoded() + suffix
}

// PromoteRequest describes a promotion.
type PromoteRequest struct {
	// Reference is a tag or a digest in the source repository.
	Reference string
	// Expected, when set, is the digest Reference must resolve to.
	Expected digest.Digest
	// Tag is the version tag applied in the destination. Empty: the source
	// tag when it is a version, else the version in the artifact's config.
	Tag string
	// FloatingTags also points X.Y and X at the artifact, unless a higher
	// version in the destination holds them.
	FloatingTags bool
	// Concurrency bounds the blobs copied at once (default 3).
	Concurrency int
}

// PromoteResult reports what a promotion did.
type PromoteResult struct {
	Digest    digest.Digest `json:"digest"`
	MediaType string        `json:"mediaType"`
	Size      int64         `json:"size"`
	Version   string        `json:"version,omitempty"`
	// Tags lists the tags that point at the artifact in the destination
	// (whether this run set them or they already did); Retagged those this
	// run moved or created.
	Tags     []string `json:"tags"`
	Retagged []string `json:"retagged"`
	// Copied lists the digests of manifests and blobs this run copied;
	// Skipped counts those the destination already had.
	Copied  []string `json:"copied"`
	Skipped int      `json:"skipped"`
	// Referrers lists the referrer manifests (signatures, attestations) and
	// cosign tags carried along.
	Referrers  []string `json:"referrers,omitempty"`
	CosignTags []string `json:"cosignTags,omitempty"`
}

// Promote copies an artifact by digest from src to dst: its manifest (or
// image index), every blob, its OCI referrers (Sigstore bundles,
// attestations) and its cosign sha256-<digest>.sig/.att/.sbom tags. It then
// checks that the destination resolves the version tag to the same digest.
// What the destination already has is not copied again, so promoting twice
// copies nothing. Promote does not verify the source beyond digests: run
// Verify first.
func (c *Client) Promote(ctx context.Context, src, dst Location, req PromoteRequest) (*PromoteResult, error) {
	srcRepo, err := c.Repository(src)
	if err != nil {
		return nil, err
	}
	dstRepo, err := c.Repository(dst)
	if err != nil {
		return nil, err
	}
	root, err := c.FetchRoot(ctx, src, req.Reference)
	if err != nil {
		return nil, err
	}
	desc := root.Descriptor
	if req.Expected != "" && req.Expected != desc.Digest {
		return nil, &VerificationError{Ref: src.String() + refSep(req.Reference) + req.Reference, Failed: []Check{{
			Name: CheckDigest, Subject: desc.Digest.String(), Detail: "expected " + req.Expected.String(),
		}}}
	}
	pr := &promotion{src: src, dst: dst, srcRepo: srcRepo, dstRepo: dstRepo, desc: desc, res: &PromoteResult{
		Digest: desc.Digest, MediaType: desc.MediaType, Size: desc.Size, Copied: []string{}, Tags: []string{}, Retagged: []string{},
	}}
	if pr.res.Version, err = c.promoteVersion(ctx, src, root, req); err != nil {
		return nil, err
	}
	opts := pr.copyOptions(req.Concurrency)
	if err := oras.ExtendedCopyGraph(ctx, srcRepo, dstRepo, desc, opts); err != nil {
		return nil, fmt.Errorf("copying %s@%s to %s: %w", src, desc.Digest, dst, classifyCopy(src, dst, err))
	}
	if err := pr.copyCosignTags(ctx, opts.CopyGraphOptions); err != nil {
		return nil, err
	}
	tags, err := c.promoteTags(ctx, dst, pr.res.Version, req.FloatingTags)
	if err != nil {
		return nil, err
	}
	for _, t := range tags {
		if err := pr.tag(ctx, pr.desc, t, &pr.res.Tags); err != nil {
			return nil, err
		}
	}
	if err := pr.checkDestination(ctx); err != nil {
		return nil, err
	}
	return pr.res, nil
}

// promotion is one Promote under way: the two repositories, the root's
// descriptor, and the result it fills.
type promotion struct {
	src, dst         Location
	srcRepo, dstRepo *remote.Repository
	desc             ocispec.Descriptor
	mu               sync.Mutex // guards res while the copy runs
	res              *PromoteResult
}

// copyOptions records what the copy does in the result, and carries the
// root's referrers (the source's predecessors) along.
func (pr *promotion) copyOptions(concurrency int) oras.ExtendedCopyGraphOptions {
	opts := oras.ExtendedCopyGraphOptions{CopyGraphOptions: oras.CopyGraphOptions{
		Concurrency: concurrency,
		PostCopy: func(_ context.Context, d ocispec.Descriptor) error {
			pr.mu.Lock()
			pr.res.Copied = append(pr.res.Copied, d.Digest.String())
			pr.mu.Unlock()
			return nil
		},
		OnCopySkipped: func(_ context.Context, d ocispec.Descriptor) error {
			pr.mu.Lock()
			pr.res.Skipped++
			pr.mu.Unlock()
			return nil
		},
	}}
	opts.FindPredecessors = func(ctx context.Context, _ content.ReadOnlyGraphStorage, d ocispec.Descriptor) ([]ocispec.Descriptor, error) {
		preds, err := pr.srcRepo.Predecessors(ctx, d)
		if err != nil && !errors.Is(classify(pr.src.Registry, err), ErrNotFound) {
			return nil, err
		}
		pr.mu.Lock()
		for _, p := range preds {
			pr.res.Referrers = append(pr.res.Referrers, p.Digest.String())
		}
		pr.mu.Unlock()
		return preds, nil
	}
	return opts
}

// copyCosignTags copies the signatures, attestations and SBOM stored under
// cosign's tag scheme (not referrers), with their tags.
func (pr *promotion) copyCosignTags(ctx context.Context, opts oras.CopyGraphOptions) error {
	for _, suffix := range cosignTagSuffixes {
		tag := CosignTag(pr.desc.Digest, suffix)
		sd, err := pr.srcRepo.Resolve(ctx, tag)
		if err != nil {
			if errors.Is(classify(pr.src.Registry, err), ErrNotFound) {
				continue
			}
			return fmt.Errorf("looking up %s:%s: %w", pr.src, tag, classify(pr.src.Registry, err))
		}
		if err := oras.CopyGraph(ctx, pr.srcRepo, pr.dstRepo, sd, opts); err != nil {
			return fmt.Errorf("copying %s:%s to %s: %w", pr.src, tag, pr.dst, classifyCopy(pr.src, pr.dst, err))
		}
		if err := pr.tag(ctx, sd, tag, &pr.res.CosignTags); err != nil {
			return err
		}
	}
	return nil
}

// tag points tag at desc in the destination unless it already does,
// recording it in list and, when this run wrote it, in Retagged.
func (pr *promotion) tag(ctx context.Context, desc ocispec.Descriptor, tag string, list *[]string) error {
	moved, err := tagIfNeeded(ctx, pr.dstRepo, desc, tag)
	if err != nil {
		return fmt.Errorf("tagging %s:%s: %w", pr.dst, tag, classify(pr.dst.Registry, err))
	}
	if moved {
		pr.res.Retagged = append(pr.res.Retagged, tag)
	}
	*list = append(*list, tag)
	return nil
}

// promoteTags lists the tags a promotion sets in dst: the version and,
// when asked, the floating X.Y and X that no higher version holds there.
func (c *Client) promoteTags(ctx context.Context, dst Location, version string, floating bool) ([]string, error) {
	if version == "" {
		return nil, nil
	}
	tags := []string{version}
	if !floating {
		return tags, nil
	}
	v, err := semver.StrictNewVersion(strings.TrimPrefix(version, "v"))
	if err != nil {
		return nil, fmt.Errorf("floating tags need a strict semver version, not %q", version)
	}
	existing, err := c.Tags(ctx, dst)
	if err != nil && !IsNotFound(err) {
		return nil, err
	}
	return append(tags, floatingTags(v, existing)...), nil
}

// checkDestination checks that the destination now resolves the version
// tag (or, without one, the digest) to the source's digest.
func (pr *promotion) checkDestination(ctx context.Context) error {
	check := pr.desc.Digest.String()
	if pr.res.Version != "" {
		check = pr.res.Version
	}
	got, err := pr.dstRepo.Resolve(ctx, check)
	if err != nil {
		return fmt.Errorf("checking %s:%s after the copy: %w", pr.dst, check, classify(pr.dst.Registry, err))
	}
	if got.Digest != pr.desc.Digest {
		return &VerificationError{Ref: pr.dst.String() + refSep(check) + check, Failed: []Check{{
			Name: CheckDigest, Subject: got.Digest.String(), Detail: "the destination resolves to another digest than the source's " + pr.desc.Digest.String(),
		}}}
	}
	return nil
}

// tagIfNeeded points tag at desc unless it already does; it reports
// whether it wrote.
func tagIfNeeded(ctx context.Context, repo *remote.Repository, desc ocispec.Descriptor, tag string) (bool, error) {
	if cur, err := repo.Resolve(ctx, tag); err == nil && cur.Digest == desc.Digest {
		return false, nil
	}
	if err := repo.Tag(ctx, desc, tag); err != nil {
		return false, err
	}
	return true, nil
}

// promoteVersion picks the version tag of a promotion.
func (c *Client) promoteVersion(ctx context.Context, src Location, root *Root, req PromoteRequest) (string, error) {
	if req.Tag != "" {
		return req.Tag, nil
	}
	if _, err := semver.NewVersion(req.Reference); err == nil && !strings.Contains(req.Reference, ":") {
		if _, err := semver.StrictNewVersion(strings.TrimPrefix(req.Reference, "v")); err == nil {
			return req.Reference, nil
		}
	}
	cfg, err := c.rootConfig(ctx, src, root)
	if err != nil {
		return "", err
	}
	if _, err := semver.StrictNewVersion(cfg.Version); err == nil {
		return cfg.Version, nil
	}
	return "", nil
}

// rootConfig reads the config of a root's (first) manifest.
func (c *Client) rootConfig(ctx context.Context, loc Location, root *Root) (Config, error) {
	raw := root.raw
	if root.IsIndex() {
		var idx ocispec.Index
		if err := json.Unmarshal(raw, &idx); err != nil || len(idx.Manifests) == 0 {
			return Config{}, fmt.Errorf("%s: unreadable or empty image index", loc)
		}
		repo, err := c.Repository(loc)
		if err != nil {
			return Config{}, err
		}
		if raw, err = fetchAll(ctx, repo.Manifests(), idx.Manifests[0], maxManifestBytes); err != nil {
			return Config{}, fmt.Errorf("fetching manifest %s: %w", idx.Manifests[0].Digest, classify(loc.Registry, err))
		}
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return Config{}, fmt.Errorf("parsing manifest of %s: %w", loc, err)
	}
	return c.FetchConfig(ctx, loc, m.Config)
}

// classifyCopy names the side of a copy an oras.CopyError came from.
func classifyCopy(src, dst Location, err error) error {
	var ce *oras.CopyError
	if errors.As(err, &ce) && ce.Origin == oras.CopyErrorOriginDestination {
		return classify(dst.Registry, err)
	}
	return classify(src.Registry, err)
}
