package install

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"go.yaml.in/yaml/v3"
	"oras.land/oras-go/v2"
	orascontent "oras.land/oras-go/v2/content"
	ocilayout "oras.land/oras-go/v2/content/oci"

	"github.com/ferryhq/ferry/internal/fsutil"
	"github.com/ferryhq/ferry/pkg/errdef"
	"github.com/ferryhq/ferry/pkg/index"
	"github.com/ferryhq/ferry/pkg/oci"
)

// BundleIndexFile is the index inside a bundle that names its artifacts.
const BundleIndexFile = "ferry-index.yaml"

// BundleItem is one artifact written to a bundle.
type BundleItem struct {
	Name       string `json:"name"`
	Version    string `json:"version"`
	Registry   string `json:"registry"`
	Repository string `json:"repository"`
	Digest     string `json:"digest"`
}

// ErrUnsigned means an artifact whose index entry asks for a signature has
// none to bundle.
var ErrUnsigned = errdef.New(errdef.ErrVerification, "no signature to bundle")

// BundleOptions tunes Bundle.
type BundleOptions struct {
	// RequireSignatures fails the bundle, before the file is written, when
	// an artifact whose index entry has a signature block has no signature
	// (Sigstore bundle referrer or cosign .sig tag) to bundle with it.
	// Without it such artifacts are bundled and Warn is told.
	RequireSignatures bool
	// Warn, when not nil, is told of what an air-gapped install of the
	// bundle will refuse.
	Warn func(string)
}

// Bundle writes every artifact of plan, with all the platforms its index
// lists, into one OCI image-layout tar at path, with an index naming them
// (BundleIndexFile). An install from the bundle needs no network: the
// references inside are REGISTRY/REPOSITORY:TAG of where each came from.
func (p *Planner) Bundle(ctx context.Context, plan *Plan, path string) ([]BundleItem, error) {
	return p.BundleWith(ctx, plan, path, BundleOptions{})
}

// BundleWith is Bundle with options.
func (p *Planner) BundleWith(ctx context.Context, plan *Plan, path string, opts BundleOptions) ([]BundleItem, error) {
	dir, err := os.MkdirTemp(filepath.Dir(path), ".ferry-bundle-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	store, err := ocilayout.NewWithContext(ctx, dir)
	if err != nil {
		return nil, err
	}
	var entries []index.Entry
	var items []BundleItem
	for _, it := range plan.Items {
		if it.http != nil {
			return nil, fmt.Errorf("bundling %s %s: only HTTP mirrors answered, and a bundle holds OCI artifacts", it.Name, it.Version)
		}
		tag := it.Tag
		if tag == "" {
			tag = it.Version
		}
		digest := it.root.Descriptor.Digest.String()
		ref := oci.LayoutRef(it.Location, tag)
		var sigTags []string
		if _, err := onChannels(ctx, it.channels, "bundling "+it.Name, func(loc oci.Location) (struct{}, error) {
			repo, err := p.Resolver.Client.Repository(loc)
			if err != nil {
				return struct{}{}, err
			}
			if _, err = oras.Copy(ctx, repo, digest, store, ref, oras.DefaultCopyOptions); err != nil {
				return struct{}{}, err
			}
			// Signatures too, so that an install from the bundle verifies
			// them with no network.
			sigTags, err = p.Resolver.Client.CopySignatures(ctx, loc, it.root.Descriptor, store, func(tag string) string { return oci.LayoutRef(it.Location, tag) })
			return struct{}{}, err
		}); err != nil {
			return nil, fmt.Errorf("bundling %s %s: %w", it.Name, it.Version, err)
		}
		entry := p.bundleEntry(ctx, it)
		if entry.Signature != nil {
			signed, err := holdsSignature(ctx, store, it.root.Descriptor, sigTags)
			if err != nil {
				return nil, fmt.Errorf("bundling %s %s: %w", it.Name, it.Version, err)
			}
			if !signed {
				err := fmt.Errorf("%w: %s %s (%s@%s): its index entry asks for a signature, and it has none (no Sigstore bundle referrer, no %s tag); an install from the bundle will refuse it", ErrUnsigned, it.Name, it.Version, it.Location, digest, oci.CosignTag(it.root.Descriptor.Digest, ".sig"))
				if opts.RequireSignatures {
					return nil, err
				}
				if opts.Warn != nil {
					opts.Warn(err.Error())
				}
			}
		}
		entries = append(entries, entry)
		items = append(items, BundleItem{Name: it.Name, Version: it.Version, Registry: it.Location.Registry, Repository: it.Location.Repository, Digest: digest})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	idx, err := yaml.Marshal(entries)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, BundleIndexFile), idx, 0o644); err != nil {
		return nil, err
	}
	if err := fsutil.ReplaceFile(path, 0o644, func(w io.Writer) error { return tarDir(w, dir) }); err != nil {
		return nil, fmt.Errorf("writing the bundle: %w", err)
	}
	return items, nil
}

// holdsSignature reports whether store holds a signature of desc: a cosign
// .sig tag copied with it, or a referrer whose manifest carries a Sigstore
// bundle layer.
func holdsSignature(ctx context.Context, store *ocilayout.Store, desc ocispec.Descriptor, tags []string) (bool, error) {
	if slices.ContainsFunc(tags, func(t string) bool { return strings.HasSuffix(t, ".sig") }) {
		return true, nil
	}
	preds, err := store.Predecessors(ctx, desc)
	if err != nil {
		return false, err
	}
	for _, r := range preds {
		if r.MediaType != ocispec.MediaTypeImageManifest || r.Size > 4<<20 {
			continue
		}
		raw, err := orascontent.FetchAll(ctx, store, r)
		if err != nil {
			return false, err
		}
		var m ocispec.Manifest
		if json.Unmarshal(raw, &m) != nil {
			continue
		}
		if slices.ContainsFunc(m.Layers, func(l ocispec.Descriptor) bool {
			return strings.HasPrefix(l.MediaType, "application/vnd.dev.sigstore.bundle")
		}) {
			return true, nil
		}
	}
	return false, nil
}

// bundleEntry is the index entry of a bundled item: its own, or one made up
// for a full OCI reference.
func (p *Planner) bundleEntry(ctx context.Context, it PlanItem) index.Entry {
	if it.Index != "" {
		if e, _, err := p.Resolver.Indexes.Lookup(it.Index, it.Name); err == nil {
			e.Mirrors = nil // the bundle is the mirror
			return e
		}
	}
	e := index.Entry{Name: it.Name, Registry: it.Location.Registry, Repository: it.Location.Repository}
	if art, err := p.artifact(ctx, it.root, it.channels); err == nil {
		e.Type = art.Type
	}
	return e
}

// tarDir writes dir's regular files and directories to w as a tar, in a
// stable order.
func tarDir(w io.Writer, dir string) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	tw := tar.NewWriter(bw)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		hdr.Name, hdr.Uname, hdr.Gname, hdr.Uid, hdr.Gid = filepath.ToSlash(rel), "", "", 0, 0
		if d.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		f, err := os.Open(p) //nolint:gosec // G122: the layout directory is ferry's own staging directory, written by this process
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

// ReadBundleIndex reads the index a bundle carries.
func ReadBundleIndex(path string) (*index.Index, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil, fmt.Errorf("%s has no %s: not a ferry bundle", path, BundleIndexFile)
		}
		if err != nil {
			return nil, fmt.Errorf("reading the bundle %s: %w", path, err)
		}
		if hdr.Name == BundleIndexFile {
			data, err := io.ReadAll(io.LimitReader(tr, 32<<20))
			if err != nil {
				return nil, err
			}
			return index.Parse("bundle", data)
		}
	}
}
