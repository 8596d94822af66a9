package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
)

// maxManifestBytes bounds manifests and configs read into memory, so that a
// hostile registry cannot make ferry allocate what it claims.
const maxManifestBytes = 4 << 20

// Root is what a tag or digest points at: a manifest or an image index.
type Root struct {
	Location   Location
	Descriptor ocispec.Descriptor
	raw        []byte
}

// IsIndex reports whether the root is an image index (multi-platform).
func (r *Root) IsIndex() bool {
	return r.Descriptor.MediaType == ocispec.MediaTypeImageIndex
}

// Artifact is a resolved single-platform artifact: its manifest, config and
// layer descriptors.
type Artifact struct {
	// Location is the repository the manifests were read from.
	Location Location
	Root     ocispec.Descriptor
	Manifest ocispec.Descriptor
	Config   ocispec.Descriptor
	Layer    ocispec.Descriptor
	Type     string
	Platform string
	// Platforms lists the platforms the root index offers (nil for a
	// single manifest).
	Platforms []string
}

// FetchRoot fetches the manifest or index that reference (a tag or a digest)
// points at, in one GET, and verifies it against its digest.
func (c *Client) FetchRoot(ctx context.Context, loc Location, reference string) (*Root, error) {
	if l, prefix, err := c.layoutFor(ctx, loc); err != nil || l != nil {
		if err != nil {
			return nil, err
		}
		return c.layoutRoot(ctx, l, prefix, loc, reference)
	}
	repo, err := c.Repository(loc)
	if err != nil {
		return nil, err
	}
	desc, rc, err := repo.FetchReference(ctx, reference)
	if err != nil {
		return nil, fmt.Errorf("fetching %s:%s: %w", loc, reference, classify(loc.Registry, err))
	}
	defer rc.Close()
	raw, err := readManifest(rc, desc)
	if err != nil {
		return nil, fmt.Errorf("fetching %s:%s: %w", loc, reference, classify(loc.Registry, err))
	}
	return &Root{Location: loc, Descriptor: desc, raw: raw}, nil
}

// Resolve turns a root into a single-platform artifact. For an image index it
// picks the manifest whose os and architecture equal platform ("os/arch") and
// fetches it; for a plain manifest the platform is ignored.
func (c *Client) Resolve(ctx context.Context, root *Root, platform string) (*Artifact, error) {
	art := &Artifact{Location: root.Location, Root: root.Descriptor, Manifest: root.Descriptor}
	raw := root.raw
	switch root.Descriptor.MediaType {
	case ocispec.MediaTypeImageIndex:
		var idx ocispec.Index
		if err := json.Unmarshal(raw, &idx); err != nil {
			return nil, fmt.Errorf("parsing index of %s: %w", root.Location, err)
		}
		desc, have, err := selectPlatform(idx, platform)
		art.Platforms = have
		if err != nil {
			return nil, fmt.Errorf("%s: %w", root.Location, err)
		}
		src, err := c.fetcherFor(ctx, root.Location)
		if err != nil {
			return nil, err
		}
		rc, err := src.Fetch(ctx, desc)
		if err != nil {
			return nil, fmt.Errorf("fetching manifest %s: %w", desc.Digest, classify(root.Location.Registry, err))
		}
		defer rc.Close()
		if raw, err = readManifest(rc, desc); err != nil {
			return nil, fmt.Errorf("fetching manifest %s: %w", desc.Digest, classify(root.Location.Registry, err))
		}
		art.Manifest = desc
		art.Platform = platform
	case ocispec.MediaTypeImageManifest:
	default:
		return nil, fmt.Errorf("%s: media type %q is neither an OCI manifest nor an index: %w", root.Location, root.Descriptor.MediaType, ErrNotArtifact)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("parsing manifest of %s: %w", root.Location, err)
	}
	if err := art.fromManifest(m); err != nil {
		return nil, fmt.Errorf("%s: %w", root.Location, err)
	}
	return art, nil
}

func (a *Artifact) fromManifest(m ocispec.Manifest) error {
	typ, layer, err := ManifestType(m)
	if err != nil {
		return err
	}
	a.Layer, a.Type, a.Config = layer, typ, m.Config
	return nil
}

func selectPlatform(idx ocispec.Index, platform string) (ocispec.Descriptor, []string, error) {
	var have []string
	var found *ocispec.Descriptor
	for i, d := range idx.Manifests {
		if d.Platform == nil {
			continue
		}
		p := d.Platform.OS + "/" + d.Platform.Architecture
		have = append(have, p)
		if p == platform && found == nil {
			found = &idx.Manifests[i]
		}
	}
	sort.Strings(have)
	if found == nil {
		return ocispec.Descriptor{}, have, &PlatformError{Want: platform, Have: have}
	}
	return *found, have, nil
}

// FetchConfig reads and parses an artifact's config blob.
func (c *Client) FetchConfig(ctx context.Context, loc Location, desc ocispec.Descriptor) (Config, error) {
	var cfg Config
	src, err := c.fetcherFor(ctx, loc)
	if err != nil {
		return cfg, err
	}
	rc, err := src.Fetch(ctx, desc)
	if err != nil {
		return cfg, fmt.Errorf("fetching config of %s: %w", loc, classify(loc.Registry, err))
	}
	defer rc.Close()
	raw, err := readManifest(rc, desc)
	if err != nil {
		return cfg, fmt.Errorf("fetching config of %s: %w", loc, classify(loc.Registry, err))
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return cfg, fmt.Errorf("parsing config of %s: %w", loc, err)
		}
	}
	return cfg, nil
}

func readManifest(r io.Reader, desc ocispec.Descriptor) ([]byte, error) {
	if desc.Size > maxManifestBytes {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d allowed", desc.Digest, desc.Size, maxManifestBytes)
	}
	return content.ReadAll(r, desc)
}

// Blob is a digest-verifying stream of a blob. Read it to the end, then call
// Verify: it reports a short, long or corrupt stream.
type Blob struct {
	rc io.ReadCloser
	vr *content.VerifyReader
}

func (b *Blob) Read(p []byte) (int, error) { return b.vr.Read(p) }

// Verify checks size and digest once the stream was read to its end.
func (b *Blob) Verify() error {
	if err := b.vr.Verify(); err != nil {
		return fmt.Errorf("%w: %w", ErrDigestMismatch, err)
	}
	return nil
}

// Close releases the connection.
func (b *Blob) Close() error { return b.rc.Close() }

// OpenBlob starts streaming a blob.
func (c *Client) OpenBlob(ctx context.Context, loc Location, desc ocispec.Descriptor) (*Blob, error) {
	src, err := c.fetcherFor(ctx, loc)
	if err != nil {
		return nil, err
	}
	rc, err := src.Fetch(ctx, desc)
	if err != nil {
		return nil, fmt.Errorf("fetching blob %s of %s: %w", desc.Digest, loc, classify(loc.Registry, err))
	}
	if c.layout == nil && !loc.IsLayout() {
		rc = &resumingReader{ctx: ctx, c: c, loc: loc, desc: desc, rc: rc}
	}
	return &Blob{rc: rc, vr: content.NewVerifyReader(rc, desc)}, nil
}

// IsNotFound reports whether err means the reference or blob does not exist.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
