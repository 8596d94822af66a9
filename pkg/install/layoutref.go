package install

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/ferryhq/ferry/pkg/index"
	"github.com/ferryhq/ferry/pkg/oci"
)

// wantLayout turns an oci-layout:PATH[:TAG][@DIGEST] reference into a want
// pinned to one manifest of the layout (a directory or a tar). With neither
// tag nor digest, the layout's highest stable version tag is taken, or its
// only tag. The artifact is named by its config, else by the path.
func (p *Planner) wantLayout(ctx context.Context, raw string, ref index.Reference) (Want, error) {
	abs, err := filepath.Abs(ref.LayoutPath)
	if err != nil {
		return Want{}, err
	}
	n := &node{ref: raw, loc: oci.LayoutLocation(abs), tagOf: map[string]string{}}
	n.channels = []Channel{{Location: n.loc}}
	reference, err := p.Resolver.layoutReference(ctx, n.loc, ref)
	if err != nil {
		return Want{}, fmt.Errorf("resolving %q: %w", raw, err)
	}
	root, err := p.Resolver.Client.FetchRoot(ctx, n.loc, reference)
	if err != nil {
		return Want{}, fmt.Errorf("resolving %q: %w", raw, err)
	}
	art, err := p.artifact(ctx, root, n.channels)
	if err != nil {
		return Want{}, fmt.Errorf("resolving %q: %w", raw, err)
	}
	cfg, err := p.fetchConfig(ctx, n, art)
	if err != nil {
		return Want{}, fmt.Errorf("resolving %q: %w", raw, err)
	}
	n.name = cfg.Name
	if n.name == "" {
		n.name = strings.TrimSuffix(filepath.Base(abs), ".tar")
	}
	n.pinnedRoot = root
	if v, verr := semver.NewVersion(cfg.Version); verr == nil {
		n.pinned = v
	} else if v, verr := semver.NewVersion(reference); verr == nil && !isDigest(reference) {
		n.pinned = v
	} else {
		n.pinned = semver.MustParse("0.0.0+" + root.Descriptor.Digest.Encoded()[:12])
	}
	if !isDigest(reference) {
		n.tagOf[n.pinned.String()] = reference
	}
	if old, dup := p.nodes[n.name]; dup && old.loc != n.loc {
		return Want{}, fmt.Errorf("%q and %q are both named %s but live in different repositories", old.ref, raw, n.name)
	}
	p.nodes[n.name] = n
	v := n.pinned
	return Want{Name: n.name, Why: raw, Match: func(x *semver.Version) bool { return x.Equal(v) && x.Metadata() == v.Metadata() }}, nil
}

// layoutReference is the tag or digest a layout reference means: its
// digest, its tag, else the layout's highest stable version tag, else its
// only tag.
func (r *Resolver) layoutReference(ctx context.Context, loc oci.Location, ref index.Reference) (string, error) {
	if ref.Digest != "" {
		return ref.Digest, nil
	}
	if ref.Tag != "" {
		return ref.Tag, nil
	}
	tags, err := r.Client.Tags(ctx, loc)
	if err != nil {
		return "", err
	}
	if c, err := index.ParseConstraint(""); err == nil {
		if v, err := c.Resolve(tags); err == nil {
			return v.Tag, nil
		}
	}
	if len(tags) == 1 {
		return tags[0], nil
	}
	return "", fmt.Errorf("the layout has several tags and none is a version (%s): name one, oci-layout:PATH:TAG", strings.Join(tags, ", "))
}
