package install

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/ferryhq/ferry/pkg/index"
	"github.com/ferryhq/ferry/pkg/oci"
)

// Resolver turns references into concrete artifacts: an index entry, a
// version picked by semver from the registry's tags, and its manifest.
type Resolver struct {
	Indexes *index.Set
	Client  *oci.Client
	// Platform is "os/arch", used to pick a manifest from an image index.
	Platform string
}

// Resolution is a reference resolved against the indexes and the registry.
type Resolution struct {
	Ref   index.Reference
	Index string       // index the entry came from ("" for a full OCI reference)
	Entry *index.Entry // nil for a full OCI reference
	Name  string
	// Location is the repository the artifact is pulled from.
	Location oci.Location
	// Constraint is the constraint that picked Tag ("" for digests and
	// literal tags).
	Constraint string
	Tag        string
	// Version is the semver version of Tag ("" when the tag is no version).
	Version string
	// Versions lists the versions the registry has, highest first, when the
	// tag list was read.
	Versions []string
	Root     *oci.Root
}

// Resolve parses raw and resolves it to the manifest it designates.
func (r *Resolver) Resolve(ctx context.Context, raw string) (*Resolution, error) {
	ref, err := index.ParseReference(raw)
	if err != nil {
		return nil, err
	}
	res := &Resolution{Ref: ref}
	if ref.IsLayout() {
		abs, err := filepath.Abs(ref.LayoutPath)
		if err != nil {
			return nil, err
		}
		res.Location = oci.LayoutLocation(abs)
		res.Name = strings.TrimSuffix(filepath.Base(abs), ".tar")
		reference, err := r.layoutReference(ctx, res.Location, ref)
		if err == nil {
			if !isDigest(reference) {
				res.Tag = reference
				if v, perr := semver.NewVersion(reference); perr == nil {
					res.Version = v.String()
				}
			}
			res.Root, err = r.Client.FetchRoot(ctx, res.Location, reference)
		}
		if err != nil {
			return nil, fmt.Errorf("resolving %q: %w", raw, err)
		}
		return res, nil
	}
	if ref.IsOCI() {
		res.Location = oci.Location{Registry: ref.Registry, Repository: ref.Repository}
		res.Name = lastElem(ref.Repository)
	} else {
		entry, idxName, err := r.Indexes.Lookup(ref.Index, ref.Name)
		if err != nil {
			return nil, err
		}
		res.Entry, res.Index, res.Name = &entry, idxName, entry.Name
		res.Location = oci.Location{Registry: entry.Registry, Repository: entry.Repository}
	}
	if err := r.pick(ctx, res); err != nil {
		return nil, fmt.Errorf("resolving %q: %w", raw, err)
	}
	return res, nil
}

// pick chooses the tag (or digest) and fetches the root manifest.
func (r *Resolver) pick(ctx context.Context, res *Resolution) error {
	ref := res.Ref
	var err error
	switch {
	case ref.Digest != "":
		res.Root, err = r.Client.FetchRoot(ctx, res.Location, ref.Digest)
		return err
	case ref.IsOCI() && ref.Tag != "":
		res.Tag = ref.Tag
		if v, perr := semver.StrictNewVersion(ref.Tag); perr == nil {
			res.Version = v.String()
		}
		res.Root, err = r.Client.FetchRoot(ctx, res.Location, ref.Tag)
		return err
	}
	c, err := index.ParseConstraint(ref.Constraint)
	if err != nil {
		return err
	}
	res.Constraint = c.String()
	// An exact version is one manifest request away: no tag listing.
	if v, perr := semver.StrictNewVersion(ref.Constraint); perr == nil {
		res.Tag, res.Version = ref.Constraint, v.String()
		res.Root, err = r.Client.FetchRoot(ctx, res.Location, ref.Constraint)
		if !errors.Is(err, oci.ErrNotFound) {
			return err
		}
	}
	tags, err := r.Client.Tags(ctx, res.Location)
	if err != nil {
		return err
	}
	for _, v := range index.Versions(tags) {
		res.Versions = append(res.Versions, v.Tag)
	}
	picked, err := c.Resolve(tags)
	if err != nil {
		return err
	}
	res.Tag, res.Version = picked.Tag, picked.Version.String()
	res.Root, err = r.Client.FetchRoot(ctx, res.Location, picked.Tag)
	return err
}

func lastElem(repo string) string {
	for i := len(repo) - 1; i >= 0; i-- {
		if repo[i] == '/' {
			return repo[i+1:]
		}
	}
	return repo
}
