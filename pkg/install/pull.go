package install

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ferryhq/ferry/internal/fsutil"
)

// PullResult is an artifact layer written to a directory by Pull.
type PullResult struct {
	Name       string `json:"name"`
	Registry   string `json:"registry"`
	Repository string `json:"repository"`
	Tag        string `json:"tag,omitempty"`
	Version    string `json:"version,omitempty"`
	Type       string `json:"type"`
	Platform   string `json:"platform,omitempty"`
	// Digest is the root manifest's (or image index's) digest.
	Digest string `json:"digest"`
	// LayerDigest is the digest of the file written.
	LayerDigest string `json:"layerDigest"`
	Size        int64  `json:"size"`
	// Path is the file written.
	Path string `json:"path"`
}

// Pull resolves raw as Resolve does and writes the artifact's layer, the
// .tar.gz as the registry stores it (not unpacked), into dir under the file
// name of its org.opencontainers.image.title annotation, as falcoctl's
// registry pull does. The file is verified against the layer digest while it
// streams and replaces any file of that name atomically; dir is created if
// needed. No install state is read or written.
func (r *Resolver) Pull(ctx context.Context, raw, dir string) (*PullResult, error) {
	res, err := r.Resolve(ctx, raw)
	if err != nil {
		return nil, err
	}
	art, err := r.Client.Resolve(ctx, res.Root, r.Platform)
	if err != nil {
		return nil, fmt.Errorf("resolving %q: %w", raw, err)
	}
	name := art.Layer.Annotations[ocispec.AnnotationTitle]
	if name == "" {
		name = res.Name + ".tar.gz"
		if res.Version != "" {
			name = res.Name + "-" + res.Version + ".tar.gz"
		}
	}
	if name != filepath.Base(name) || !filepath.IsLocal(name) || strings.ContainsAny(name, `/\`) {
		return nil, fmt.Errorf("pulling %q: %w", raw, &UnsafeArchiveError{Entry: name, Reason: "the layer's title is not a plain file name"})
	}
	if dir == "" {
		dir = "."
	}
	path := filepath.Join(dir, name)
	blob, err := r.Client.OpenBlob(ctx, art.Location, art.Layer)
	if err != nil {
		return nil, fmt.Errorf("pulling %q: %w", raw, err)
	}
	defer blob.Close()
	err = fsutil.ReplaceFile(path, 0o644, func(w io.Writer) error {
		if _, err := io.Copy(w, blob); err != nil {
			return err
		}
		return blob.Verify()
	})
	if err != nil {
		return nil, fmt.Errorf("pulling %q into %s: %w", raw, dir, err)
	}
	return &PullResult{
		Name: res.Name, Registry: res.Location.Registry, Repository: res.Location.Repository,
		Tag: res.Tag, Version: res.Version, Type: art.Type, Platform: art.Platform,
		Digest: res.Root.Descriptor.Digest.String(), LayerDigest: art.Layer.Digest.String(), Size: art.Layer.Size, Path: path,
	}, nil
}
