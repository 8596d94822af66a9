package oci

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/memory"
	"oras.land/oras-go/v2/registry/remote"
)

// AnnotationSource is the OCI annotation for the source repository.
const AnnotationSource = ocispec.AnnotationSource

// LayerFile is one file to push: a .tar.gz used as the layer as is, or any
// other file packed into a tar.gz that holds just that file.
type LayerFile struct {
	Path string
	// Platform is "os/arch"; required for plugins, ignored otherwise.
	Platform string
}

// PushRequest describes an artifact to push.
type PushRequest struct {
	Type   string
	Config Config // Config.Version is the version tag
	Files  []LayerFile
	// SourceRepo is written as org.opencontainers.image.source; its
	// ORG/REPO must namespace the repository pushed to.
	SourceRepo string
	// SourceUnchecked writes SourceRepo without that check (falcoctl's
	// --annotation-source).
	SourceUnchecked bool
	// FloatingTags also points X.Y and X at the version, unless a higher
	// version already holds them.
	FloatingTags bool
	// Tags are more tags to point at the artifact, as given (falcoctl's
	// registry push REF:TAG and --tag).
	Tags []string
	// Latest also tags "latest", unless a higher stable version exists
	// (falcoctl's default tag for a REF without one).
	Latest bool
	// Created stamps org.opencontainers.image.created (default: now).
	Created time.Time
	// TempDir holds packed layers while they upload (default os.TempDir).
	TempDir string
}

// PushResult reports what a push wrote.
type PushResult struct {
	Digest    digest.Digest `json:"digest"`
	MediaType string        `json:"mediaType"`
	Tags      []string      `json:"tags"`
	Size      int64         `json:"size"`
	Platforms []string      `json:"platforms,omitempty"`
}

// Push uploads an artifact in falcoctl's format and tags it with its version
// (and the floating tags when asked). It refuses a request that does not
// Validate before sending anything. Blobs already in the repository are not
// uploaded again. A plugin is pushed as an image index; platforms already in
// an index at the same version tag and not pushed now are kept.
func (c *Client) Push(ctx context.Context, loc Location, req PushRequest) (*PushResult, error) {
	if err := req.Validate(loc); err != nil {
		return nil, err
	}
	version, err := semver.StrictNewVersion(req.Config.Version)
	if err != nil {
		return nil, err
	}
	created := req.Created
	if created.IsZero() {
		created = time.Now()
	}
	repo, err := c.Repository(loc)
	if err != nil {
		return nil, err
	}

	cfgJSON, err := json.Marshal(req.Config)
	if err != nil {
		return nil, err
	}
	cfgDesc := ocispec.Descriptor{MediaType: ConfigMediaType(req.Type), Digest: digest.FromBytes(cfgJSON), Size: int64(len(cfgJSON))}
	if err := pushBlob(ctx, repo, cfgDesc, func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(cfgJSON)), nil }); err != nil {
		return nil, fmt.Errorf("pushing config: %w", classify(loc.Registry, err))
	}

	annotations := map[string]string{ocispec.AnnotationCreated: created.UTC().Format(time.RFC3339)}
	if req.SourceRepo != "" {
		annotations[AnnotationSource] = req.SourceRepo
	}
	var manifests []ocispec.Descriptor
	for _, f := range req.Files {
		m, err := c.pushManifest(ctx, repo, req, f, cfgDesc, annotations)
		if err != nil {
			return nil, err
		}
		manifests = append(manifests, m)
	}

	tag := version.String()
	root := manifests[0]
	res := &PushResult{}
	if req.Type == TypePlugin {
		if root, err = pushIndex(ctx, repo, tag, manifests, annotations); err != nil {
			return nil, fmt.Errorf("pushing index: %w", classify(loc.Registry, err))
		}
		for _, m := range manifests {
			res.Platforms = append(res.Platforms, m.Platform.OS+"/"+m.Platform.Architecture)
		}
	}
	tags := []string{tag}
	if req.FloatingTags || req.Latest {
		existing, err := c.Tags(ctx, loc)
		if err != nil && !IsNotFound(err) {
			return nil, err
		}
		if req.FloatingTags {
			tags = append(tags, floatingTags(version, existing)...)
		}
		if req.Latest && version.Prerelease() == "" && !higherStable(version, existing) {
			tags = append(tags, "latest")
		}
	}
	for _, t := range req.Tags {
		if !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	for _, t := range tags {
		if err := repo.Tag(ctx, root, t); err != nil {
			return nil, fmt.Errorf("tagging %s:%s: %w", loc, t, classify(loc.Registry, err))
		}
	}
	res.Digest, res.MediaType, res.Size, res.Tags = root.Digest, root.MediaType, root.Size, tags
	return res, nil
}

func (c *Client) pushManifest(ctx context.Context, repo *remote.Repository, req PushRequest, f LayerFile, cfgDesc ocispec.Descriptor, annotations map[string]string) (ocispec.Descriptor, error) {
	layer, cleanup, err := packLayer(ctx, f.Path, req.TempDir)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer cleanup()
	layer.MediaType = LayerMediaType(req.Type)
	if err := pushBlob(ctx, repo, layer.Descriptor, func() (io.ReadCloser, error) { return os.Open(layer.path) }); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pushing %s: %w", f.Path, classify(repo.Reference.Registry, err))
	}
	store := memory.New()
	desc, err := oras.PackManifest(ctx, store, oras.PackManifestVersion1_0, "", oras.PackManifestOptions{
		ConfigDescriptor:    &cfgDesc,
		Layers:              []ocispec.Descriptor{layer.Descriptor},
		ManifestAnnotations: annotations,
	})
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("packing manifest: %w", err)
	}
	rc, err := store.Fetch(ctx, desc)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer rc.Close()
	if err := repo.Manifests().Push(ctx, desc, rc); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pushing manifest: %w", classify(repo.Reference.Registry, err))
	}
	if req.Type == TypePlugin {
		os, arch, ok := strings.Cut(f.Platform, "/")
		if !ok || os == "" || arch == "" {
			return ocispec.Descriptor{}, fmt.Errorf("plugin file %s needs a platform OS/ARCH, got %q", f.Path, f.Platform)
		}
		desc.Platform = &ocispec.Platform{OS: os, Architecture: arch}
		desc.ArtifactType = cfgDesc.MediaType
	}
	desc.Annotations = nil
	return desc, nil
}

// pushIndex writes the image index at tag: the given manifests plus those of
// an index already at tag whose platforms were not pushed now.
func pushIndex(ctx context.Context, repo *remote.Repository, tag string, manifests []ocispec.Descriptor, annotations map[string]string) (ocispec.Descriptor, error) {
	seen := map[string]bool{}
	for _, m := range manifests {
		seen[m.Platform.OS+"/"+m.Platform.Architecture] = true
	}
	if old, rc, err := repo.FetchReference(ctx, tag); err == nil {
		raw, rerr := readManifest(rc, old)
		_ = rc.Close()
		var prev ocispec.Index
		if rerr == nil && old.MediaType == ocispec.MediaTypeImageIndex && json.Unmarshal(raw, &prev) == nil {
			for _, m := range prev.Manifests {
				if m.Platform != nil && !seen[m.Platform.OS+"/"+m.Platform.Architecture] {
					manifests = append(manifests, m)
				}
			}
		}
	} else if !IsNotFound(classify(repo.Reference.Registry, err)) {
		return ocispec.Descriptor{}, err
	}
	sort.SliceStable(manifests, func(i, j int) bool {
		a, b := manifests[i].Platform, manifests[j].Platform
		return a.OS+"/"+a.Architecture < b.OS+"/"+b.Architecture
	})
	idx := ocispec.Index{
		Versioned:   specs.Versioned{SchemaVersion: 2},
		MediaType:   ocispec.MediaTypeImageIndex,
		Manifests:   manifests,
		Annotations: annotations,
	}
	raw, err := json.Marshal(idx)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: digest.FromBytes(raw), Size: int64(len(raw))}
	return desc, repo.Manifests().Push(ctx, desc, bytes.NewReader(raw))
}

func pushBlob(ctx context.Context, repo *remote.Repository, desc ocispec.Descriptor, open func() (io.ReadCloser, error)) error {
	if ok, err := repo.Blobs().Exists(ctx, desc); err == nil && ok {
		return nil
	}
	rc, err := open()
	if err != nil {
		return err
	}
	defer rc.Close()
	return repo.Blobs().Push(ctx, desc, rc)
}

type packedLayer struct {
	ocispec.Descriptor
	path string
}

// packLayer returns the layer for path: the file itself when it already is
// a gzip stream, else a reproducible tar.gz holding it under its base name.
func packLayer(ctx context.Context, path, tmpDir string) (packedLayer, func(), error) {
	noop := func() {}
	f, err := os.Open(path)
	if err != nil {
		return packedLayer{}, noop, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return packedLayer{}, noop, err
	}
	if !fi.Mode().IsRegular() {
		return packedLayer{}, noop, fmt.Errorf("%s is not a regular file", path)
	}
	name := filepath.Base(path)
	var magic [2]byte
	if n, _ := io.ReadFull(f, magic[:]); n == 2 && magic == [2]byte{0x1f, 0x8b} {
		d, size, err := hashFile(ctx, f)
		if err != nil {
			return packedLayer{}, noop, err
		}
		return packedLayer{Descriptor: layerDescriptor(d, size, name), path: path}, noop, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return packedLayer{}, noop, err
	}
	out, err := os.CreateTemp(tmpDir, "ferry-layer-*.tar.gz")
	if err != nil {
		return packedLayer{}, noop, err
	}
	cleanup := func() { _ = out.Close(); _ = os.Remove(out.Name()) }
	h := sha256.New()
	counter := &countWriter{}
	bw := bufio.NewWriterSize(io.MultiWriter(out, h, counter), 1<<20)
	zw, _ := gzip.NewWriterLevel(bw, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	mode := int64(0o644)
	if fi.Mode().Perm()&0o111 != 0 {
		mode = 0o755
	}
	hdr := &tar.Header{Name: name, Mode: mode, Size: fi.Size(), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
	err = tw.WriteHeader(hdr)
	if err == nil {
		_, err = io.Copy(tw, &ctxReader{ctx: ctx, r: f})
	}
	for _, closeFn := range []func() error{tw.Close, zw.Close, bw.Flush, out.Sync} {
		if err == nil {
			err = closeFn()
		}
	}
	if err != nil {
		cleanup()
		return packedLayer{}, noop, fmt.Errorf("packing %s: %w", path, err)
	}
	d := digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(h.Sum(nil)))
	return packedLayer{Descriptor: layerDescriptor(d, counter.n, name+".tar.gz"), path: out.Name()}, cleanup, nil
}

func layerDescriptor(d digest.Digest, size int64, title string) ocispec.Descriptor {
	return ocispec.Descriptor{Digest: d, Size: size, Annotations: map[string]string{ocispec.AnnotationTitle: title}}
}

func hashFile(ctx context.Context, f *os.File) (digest.Digest, int64, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", 0, err
	}
	h := sha256.New()
	n, err := io.Copy(h, &ctxReader{ctx: ctx, r: f})
	if err != nil {
		return "", 0, err
	}
	return digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(h.Sum(nil))), n, nil
}

// ValidVersionTag refuses a version that cannot be its own tag: OCI tags
// cannot hold the "+" of semver build metadata. ferry refuses it rather than
// map "+" to "_" (as helm does), which other Falco tools would not read back;
// a pre-release (1.0.0-build.7) carries the same information.
func ValidVersionTag(version string) error {
	if i := strings.IndexByte(version, '+'); i >= 0 {
		return fmt.Errorf("version %q has build metadata (+%s), which an OCI tag cannot hold: drop it, or use a pre-release such as %s-%s", version, version[i+1:], version[:i], strings.ReplaceAll(version[i+1:], "+", "."))
	}
	return nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// higherStable reports whether a stable version higher than v is among tags.
func higherStable(v *semver.Version, tags []string) bool {
	for _, t := range tags {
		if o, err := semver.StrictNewVersion(t); err == nil && o.Prerelease() == "" && o.GreaterThan(v) {
			return true
		}
	}
	return false
}

// floatingTags returns the floating tags (X.Y and X) that v may take: those
// no higher stable version among existing already holds. Pre-releases take
// none.
func floatingTags(v *semver.Version, existing []string) []string {
	if v.Prerelease() != "" {
		return nil
	}
	minor, major := true, true
	for _, t := range existing {
		o, err := semver.StrictNewVersion(t)
		if err != nil || o.Prerelease() != "" || !o.GreaterThan(v) {
			continue
		}
		if o.Major() == v.Major() {
			major = false
			if o.Minor() == v.Minor() {
				minor = false
			}
		}
	}
	var tags []string
	if minor {
		tags = append(tags, fmt.Sprintf("%d.%d", v.Major(), v.Minor()))
	}
	if major {
		tags = append(tags, fmt.Sprintf("%d", v.Major()))
	}
	return tags
}
