package oci

import (
	"context"
	"fmt"
	"io"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content/oci"
)

// Layout is an OCI image layout serving every repository a Client is asked
// for, with no network: the bundle of an air-gapped install. Its references
// are named REGISTRY/REPOSITORY:TAG, so the tags of a location are the
// references with that prefix; manifests also resolve by digest.
type Layout interface {
	Resolve(ctx context.Context, reference string) (ocispec.Descriptor, error)
	Fetch(ctx context.Context, target ocispec.Descriptor) (io.ReadCloser, error)
	Tags(ctx context.Context, last string, fn func(tags []string) error) error
}

// OpenLayoutTar opens an OCI image layout packed in a tar file, reading it in
// place.
func OpenLayoutTar(ctx context.Context, path string) (Layout, error) {
	s, err := oci.NewFromTar(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("opening the bundle %s: %w", path, err)
	}
	return s, nil
}

// LayoutRef is the reference name of loc's tag in a bundle layout.
func LayoutRef(loc Location, tag string) string { return loc.String() + ":" + tag }

// fetcher fetches manifests and blobs by descriptor.
type fetcher interface {
	Fetch(ctx context.Context, target ocispec.Descriptor) (io.ReadCloser, error)
}

// fetcherFor returns where loc's content comes from: the layout when the
// client has one, else the remote repository.
func (c *Client) fetcherFor(loc Location) (fetcher, error) {
	if c.layout != nil {
		return c.layout, nil
	}
	repo, err := c.Repository(loc)
	if err != nil {
		return nil, err
	}
	return repo, nil
}

// layoutTags lists loc's tags in the layout.
func (c *Client) layoutTags(ctx context.Context, loc Location) ([]string, error) {
	prefix := loc.String() + ":"
	var tags []string
	err := c.layout.Tags(ctx, "", func(page []string) error {
		for _, t := range page {
			if rest, ok := strings.CutPrefix(t, prefix); ok {
				tags = append(tags, rest)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(tags) == 0 {
		return nil, fmt.Errorf("listing tags of %s: %w: the bundle has no such repository", loc, ErrNotFound)
	}
	return tags, nil
}

// layoutRoot resolves reference (a tag or a digest) in the layout.
func (c *Client) layoutRoot(ctx context.Context, loc Location, reference string) (*Root, error) {
	ref := reference
	if !strings.HasPrefix(reference, "sha256:") {
		ref = LayoutRef(loc, reference)
	}
	desc, err := c.layout.Resolve(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("fetching %s:%s from the bundle: %w", loc, reference, classify("bundle", err))
	}
	rc, err := c.layout.Fetch(ctx, desc)
	if err != nil {
		return nil, fmt.Errorf("fetching %s:%s from the bundle: %w", loc, reference, classify("bundle", err))
	}
	defer rc.Close()
	raw, err := readManifest(rc, desc)
	if err != nil {
		return nil, fmt.Errorf("fetching %s:%s from the bundle: %w", loc, reference, classify("bundle", err))
	}
	return &Root{Location: loc, Descriptor: desc, raw: raw}, nil
}
