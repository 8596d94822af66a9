package oci

import (
	"context"
	"errors"
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
)

// CopySignatures copies what signs or describes desc at loc into dst: its
// OCI referrers (Sigstore bundles, attestations), with their own graphs, and
// cosign's sha256-<digest>.sig/.att/.sbom tags, tagged in dst as
// tagName(tag). It returns the tags it copied. An artifact with nothing
// attached copies nothing.
func (c *Client) CopySignatures(ctx context.Context, loc Location, desc ocispec.Descriptor, dst oras.Target, tagName func(string) string) ([]string, error) {
	src, err := c.Repository(loc)
	if err != nil {
		return nil, err
	}
	opts := oras.ExtendedCopyGraphOptions{}
	opts.FindPredecessors = func(ctx context.Context, _ content.ReadOnlyGraphStorage, d ocispec.Descriptor) ([]ocispec.Descriptor, error) {
		preds, err := src.Predecessors(ctx, d)
		if err != nil && !errors.Is(classify(loc.Registry, err), ErrNotFound) {
			return nil, err
		}
		return preds, nil
	}
	if err := oras.ExtendedCopyGraph(ctx, src, dst, desc, opts); err != nil {
		return nil, fmt.Errorf("copying the referrers of %s@%s: %w", loc, desc.Digest, classify(loc.Registry, err))
	}
	var tags []string
	for _, suffix := range cosignTagSuffixes {
		tag := CosignTag(desc.Digest, suffix)
		sd, err := src.Resolve(ctx, tag)
		if err != nil {
			if errors.Is(classify(loc.Registry, err), ErrNotFound) {
				continue
			}
			return nil, fmt.Errorf("looking up %s:%s: %w", loc, tag, classify(loc.Registry, err))
		}
		if err := oras.CopyGraph(ctx, src, dst, sd, oras.CopyGraphOptions{}); err != nil {
			return nil, fmt.Errorf("copying %s:%s: %w", loc, tag, classify(loc.Registry, err))
		}
		if err := dst.Tag(ctx, sd, tagName(tag)); err != nil {
			return nil, fmt.Errorf("tagging %s: %w", tagName(tag), err)
		}
		tags = append(tags, tag)
	}
	return tags, nil
}

// attachedSource lists desc's Sigstore bundle referrers and returns where
// to fetch their manifests and blobs from: loc's registry, or the OCI image
// layout (a bundle file, an oci-layout: reference) that the client reads.
func (c *Client) attachedSource(ctx context.Context, loc Location, desc ocispec.Descriptor) (referrers []ocispec.Descriptor, manifests, blobs content.Fetcher, err error) {
	l, _, err := c.layoutFor(ctx, loc)
	if err != nil {
		return nil, nil, nil, err
	}
	if l != nil {
		g, ok := l.(content.ReadOnlyGraphStorage)
		if !ok {
			return nil, l, l, nil
		}
		preds, err := g.Predecessors(ctx, desc)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("listing the referrers of %s in the layout: %w", desc.Digest, err)
		}
		// A layout's graph keeps plain descriptors (no artifact type): the
		// caller looks at what each referrer's manifest holds.
		for _, p := range preds {
			if p.MediaType == ocispec.MediaTypeImageManifest {
				referrers = append(referrers, p)
			}
		}
		return referrers, l, l, nil
	}
	repo, err := c.Repository(loc)
	if err != nil {
		return nil, nil, nil, err
	}
	// Not filtered by the registry: some (go-containerregistry's) list a
	// referrer's config media type as its artifactType, which is the OCI
	// empty config for cosign's bundles. Such referrers are kept too; the
	// caller tells a bundle by what its manifest holds.
	err = repo.Referrers(ctx, desc, "", func(page []ocispec.Descriptor) error {
		for _, p := range page {
			if maybeBundle(p.ArtifactType) {
				referrers = append(referrers, p)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("listing the referrers of %s: %w", desc.Digest, classify(loc.Registry, err))
	}
	return referrers, repo.Manifests(), repo.Blobs(), nil
}

// maybeBundle reports whether a referrer listed with artifactType may be a
// Sigstore bundle (any version): it says so, or the registry listed no type
// or the empty config's media type in its place.
func maybeBundle(artifactType string) bool {
	return strings.HasPrefix(artifactType, mediaTypeSigstoreBundlePrefix) || artifactType == "" || artifactType == ocispec.MediaTypeEmptyJSON
}
