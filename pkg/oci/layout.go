package oci

import (
	"context"
	"fmt"
	"io"
	"os"
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

// LayoutScheme starts the registry of a Location that is an OCI image
// layout on disk (a directory, or a tar of one) rather than a registry.
const LayoutScheme = "oci-layout:"

// LayoutLocation is the location of the OCI image layout at path.
func LayoutLocation(path string) Location { return Location{Registry: LayoutScheme + path} }

// IsLayout reports whether l is an OCI image layout on disk.
func (l Location) IsLayout() bool { return strings.HasPrefix(l.Registry, LayoutScheme) }

// OpenLayout opens the OCI image layout at path, a directory or a tar file,
// read-only.
func OpenLayout(ctx context.Context, path string) (Layout, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("opening the OCI layout: %w", err)
	}
	if !fi.IsDir() {
		s, err := oci.NewFromTar(ctx, path)
		if err != nil {
			return nil, fmt.Errorf("opening the OCI layout %s: %w", path, err)
		}
		return s, nil
	}
	s, err := oci.NewFromFS(ctx, os.DirFS(path))
	if err != nil {
		return nil, fmt.Errorf("opening the OCI layout %s: %w", path, err)
	}
	return s, nil
}

// fetcher fetches manifests and blobs by descriptor.
type fetcher interface {
	Fetch(ctx context.Context, target ocispec.Descriptor) (io.ReadCloser, error)
}

// layoutFor returns the layout loc is read from (nil for a registry) and
// the prefix of loc's reference names in it: a bundle names them
// REGISTRY/REPOSITORY:TAG, a layout on its own just TAG.
func (c *Client) layoutFor(ctx context.Context, loc Location) (Layout, string, error) {
	if c.layout != nil {
		return c.layout, loc.String() + ":", nil
	}
	if !loc.IsLayout() {
		return nil, "", nil
	}
	path := strings.TrimPrefix(loc.Registry, LayoutScheme)
	c.mu.Lock()
	defer c.mu.Unlock()
	if l := c.layouts[path]; l != nil {
		return l, "", nil
	}
	l, err := OpenLayout(ctx, path)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	if c.layouts == nil {
		c.layouts = map[string]Layout{}
	}
	c.layouts[path] = l
	return l, "", nil
}

// fetcherFor returns where loc's content comes from: a layout, or else the
// remote repository.
func (c *Client) fetcherFor(ctx context.Context, loc Location) (fetcher, error) {
	l, _, err := c.layoutFor(ctx, loc)
	if err != nil || l != nil {
		return l, err
	}
	repo, err := c.Repository(loc)
	if err != nil {
		return nil, err
	}
	return repo, nil
}

// layoutTags lists loc's tags in its layout.
func (c *Client) layoutTags(ctx context.Context, l Layout, prefix string, loc Location) ([]string, error) {
	var tags []string
	err := l.Tags(ctx, "", func(page []string) error {
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
		return nil, fmt.Errorf("listing tags of %s: %w: the layout has no such repository", loc, ErrNotFound)
	}
	return tags, nil
}

// layoutRoot resolves reference (a tag or a digest) in a layout.
func (c *Client) layoutRoot(ctx context.Context, l Layout, prefix string, loc Location, reference string) (*Root, error) {
	ref := reference
	if !strings.HasPrefix(reference, "sha256:") {
		ref = prefix + reference
	}
	desc, err := l.Resolve(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("fetching %s:%s from the layout: %w", loc, reference, classify("layout", err))
	}
	rc, err := l.Fetch(ctx, desc)
	if err != nil {
		return nil, fmt.Errorf("fetching %s:%s from the layout: %w", loc, reference, classify("layout", err))
	}
	defer rc.Close()
	raw, err := readManifest(rc, desc)
	if err != nil {
		return nil, fmt.Errorf("fetching %s:%s from the layout: %w", loc, reference, classify("layout", err))
	}
	return &Root{Location: loc, Descriptor: desc, raw: raw}, nil
}
