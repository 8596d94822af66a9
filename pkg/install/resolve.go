package install

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
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
	// HostMirrors, when set, makes Resolve read tags and manifests in
	// install's channel order (host mirrors, the primary, the entry's
	// registry mirrors, fallback-only host mirrors) instead of from the
	// primary alone.
	HostMirrors HostMirrors
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
	// Root is the manifest or index the reference designates;
	// Root.Location is the channel that served it.
	Root *oci.Root
	// channels are the OCI channels tried, in order; served is the one
	// that answered last, tried first from then on.
	channels []Channel
	served   *Channel
}

// OCILocations returns the repositories that serve the artifact, in the
// order to read them: the one that served the root first, then the other
// channels. Blobs and signatures bind the root's digest, so any may serve
// them.
func (res *Resolution) OCILocations() []oci.Location {
	var locs []oci.Location
	if res.Root != nil && res.Root.Location != (oci.Location{}) {
		locs = append(locs, res.Root.Location)
	}
	for _, ch := range res.channels {
		if ch.URL == "" && !slices.Contains(locs, ch.Location) {
			locs = append(locs, ch.Location)
		}
	}
	if !slices.Contains(locs, res.Location) {
		locs = append(locs, res.Location)
	}
	return locs
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
	res.channels = []Channel{{Location: res.Location}}
	if r.HostMirrors != nil {
		res.channels = channelsFor(res.Location, res.Entry, r.HostMirrors)
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
		res.Root, err = r.fetchRoot(ctx, res, ref.Digest)
		return err
	case ref.IsOCI() && ref.Tag != "":
		res.Tag = ref.Tag
		if v, perr := semver.StrictNewVersion(ref.Tag); perr == nil {
			res.Version = v.String()
		}
		res.Root, err = r.fetchRoot(ctx, res, ref.Tag)
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
		res.Root, err = r.fetchRoot(ctx, res, ref.Constraint)
		if !errors.Is(err, oci.ErrNotFound) {
			return err
		}
	}
	tags, err := r.tags(ctx, res)
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
	res.Root, err = r.fetchRoot(ctx, res, picked.Tag)
	return err
}

// fetchRoot fetches the root reference points at from the first channel
// that has it.
func (r *Resolver) fetchRoot(ctx context.Context, res *Resolution, reference string) (*oci.Root, error) {
	return onChannels(ctx, res.order(), "fetching "+res.Name+":"+reference, func(loc oci.Location) (*oci.Root, error) {
		return r.Client.FetchRoot(ctx, loc, reference)
	}, res.serve)
}

// tags lists the tags of the first channel that answers.
func (r *Resolver) tags(ctx context.Context, res *Resolution) ([]string, error) {
	return onChannels(ctx, res.order(), "listing tags of "+res.Name, func(loc oci.Location) ([]string, error) {
		return r.Client.Tags(ctx, loc)
	}, res.serve)
}

func (res *Resolution) serve(ch Channel) { res.served = &ch }

// order is the channels with the one that served last first: channels that
// failed before it are not tried again.
func (res *Resolution) order() []Channel {
	if res.served == nil {
		return res.channels
	}
	out := []Channel{*res.served}
	for _, ch := range res.channels {
		if ch != *res.served {
			out = append(out, ch)
		}
	}
	return out
}

func lastElem(repo string) string {
	for i := len(repo) - 1; i >= 0; i-- {
		if repo[i] == '/' {
			return repo[i+1:]
		}
	}
	return repo
}
