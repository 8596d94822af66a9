package oci

import (
	"context"
	"encoding/json"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// RawManifest is a manifest as the registry stored it.
type RawManifest struct {
	Descriptor ocispec.Descriptor
	Bytes      []byte
	// Platform is the platform picked from an image index ("" when the
	// root is a plain manifest).
	Platform string
}

// Raw returns the root's bytes as the registry served them (verified
// against the root's digest when it was fetched).
func (r *Root) Raw() []byte { return r.raw }

// ManifestOf returns the single-platform manifest root designates, byte for
// byte: the root itself when it is a manifest, else the manifest of platform
// ("os/arch") that the image index lists. Unlike Resolve it does not require
// Falco layers, so any OCI manifest can be shown.
func (c *Client) ManifestOf(ctx context.Context, root *Root, platform string) (*RawManifest, error) {
	if !root.IsIndex() {
		return &RawManifest{Descriptor: root.Descriptor, Bytes: root.raw}, nil
	}
	var idx ocispec.Index
	if err := json.Unmarshal(root.raw, &idx); err != nil {
		return nil, fmt.Errorf("parsing index of %s: %w", root.Location, err)
	}
	desc, _, err := selectPlatform(idx, platform)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", root.Location, err)
	}
	raw, err := c.fetchSmall(ctx, root.Location, desc, "manifest "+desc.Digest.String())
	if err != nil {
		return nil, err
	}
	return &RawManifest{Descriptor: desc, Bytes: raw, Platform: platform}, nil
}

// ConfigOf returns the config blob a manifest names, byte for byte
// (verified against its digest).
func (c *Client) ConfigOf(ctx context.Context, loc Location, m *RawManifest) ([]byte, ocispec.Descriptor, error) {
	var man ocispec.Manifest
	if err := json.Unmarshal(m.Bytes, &man); err != nil {
		return nil, ocispec.Descriptor{}, fmt.Errorf("parsing manifest of %s: %w", loc, err)
	}
	if man.Config.Digest == "" {
		return nil, ocispec.Descriptor{}, fmt.Errorf("%s: the manifest names no config: %w", loc, ErrNotArtifact)
	}
	raw, err := c.fetchSmall(ctx, loc, man.Config, "config of "+loc.String())
	if err != nil {
		return nil, ocispec.Descriptor{}, err
	}
	return raw, man.Config, nil
}

// fetchSmall reads a manifest-sized blob, bounded and digest-verified.
func (c *Client) fetchSmall(ctx context.Context, loc Location, desc ocispec.Descriptor, what string) ([]byte, error) {
	src, err := c.fetcherFor(ctx, loc)
	if err != nil {
		return nil, err
	}
	rc, err := src.Fetch(ctx, desc)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", what, classify(loc.Registry, err))
	}
	defer rc.Close()
	raw, err := readManifest(rc, desc)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", what, classify(loc.Registry, err))
	}
	return raw, nil
}
