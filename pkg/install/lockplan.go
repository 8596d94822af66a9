package install

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/ferryhq/ferry/pkg/index"
	"github.com/ferryhq/ferry/pkg/oci"
)

// LockPlan describes what a plan would install, resolving each item's
// platform manifest.
func (p *Planner) LockPlan(ctx context.Context, plan *Plan) (*LockFile, error) {
	l := &LockFile{Artifacts: make([]Locked, len(plan.Items))}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(p.metadataRequests())
	for i, it := range plan.Items {
		g.Go(func() error {
			if it.http != nil {
				lk, err := lockHTTP(it, p.Resolver.Platform)
				l.Artifacts[i] = lk
				return err
			}
			art, err := p.artifact(ctx, it.root, it.channels)
			if err != nil {
				return fmt.Errorf("resolving %s %s: %w", it.Name, it.Version, err)
			}
			lk := Locked{
				Name: it.Name, Index: it.Index, Ref: it.Ref, Type: art.Type, Version: it.Version, Registry: it.Location.Registry,
				Repository: it.Location.Repository, Digest: art.Root.Digest.String(), Platform: art.Platform, DependsOn: it.DependsOn,
				LayerDigest: art.Layer.Digest.String(),
			}
			if art.Manifest.Digest != art.Root.Digest {
				lk.ManifestDigest = art.Manifest.Digest.String()
			}
			l.Artifacts[i] = lk
			return nil
		})
	}
	return l, g.Wait()
}

// PlanLocked plans the install of the lock entries that cover refs (all of
// them when refs is empty) and their locked dependencies, by digest: no tag
// is listed or resolved.
func (p *Planner) PlanLocked(ctx context.Context, l *LockFile, refs []string) (*Plan, error) {
	selected, err := l.selectFor(refs)
	if err != nil {
		return nil, err
	}
	plan := &Plan{Items: make([]PlanItem, len(selected))}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.metadataRequests())
	for i, lk := range selected {
		g.Go(func() error {
			loc := oci.Location{Registry: lk.Registry, Repository: lk.Repository}
			entry := p.lockedEntry(lk)
			n := &node{name: lk.Name, loc: loc, entry: entry, channels: channelsFor(loc, entry, p.HostMirrors)}
			root, err := p.fetchRoot(gctx, n, lk.Digest)
			why := "locked at " + lk.Digest
			if err != nil {
				if hi := p.lockedHTTPItem(n, lk); hi != nil && gctx.Err() == nil {
					plan.Items[i] = PlanItem{
						Name: lk.Name, Index: lk.Index, Ref: lk.Ref, Location: loc, Version: lk.Version,
						Requested: lk.Ref != "", Reasons: []string{why}, DependsOn: lk.DependsOn, channels: n.channels, http: hi,
					}
					return nil
				}
				return fmt.Errorf("fetching locked %s %s (%s): %w", lk.Name, lk.Version, lk.Digest, err)
			}
			plan.Items[i] = PlanItem{
				Name: lk.Name, Index: lk.Index, Ref: lk.Ref, Location: loc, Version: lk.Version,
				Requested: lk.Ref != "", Reasons: []string{why}, DependsOn: lk.DependsOn, root: root, channels: n.channels,
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return plan, nil
}

// lockedEntry returns the index entry a lock entry came from, when the
// indexes still name it at the same repository (for its mirrors).
func (p *Planner) lockedEntry(lk Locked) *index.Entry {
	if p.Resolver.Indexes == nil || lk.Index == "" {
		return nil
	}
	e, _, err := p.Resolver.Indexes.Lookup(lk.Index, lk.Name)
	if err != nil || e.Registry != lk.Registry || e.Repository != lk.Repository {
		return nil
	}
	return &e
}

// readLockPins reads the lock file at path for its digests, when there is
// one that parses.
func readLockPins(path string) *LockFile {
	if path == "" {
		return nil
	}
	l, err := ReadLock(path)
	if err != nil {
		return nil
	}
	return l
}

// lockHTTP is the lock entry of an HTTP-only plan item: its file's digest
// must be known before the download.
func lockHTTP(it PlanItem, platform string) (Locked, error) {
	if it.http.typ != oci.TypePlugin {
		platform = ""
	}
	for _, f := range it.http.files {
		if f.digest != "" {
			return Locked{
				Name: it.Name, Index: it.Index, Ref: it.Ref, Type: it.http.typ, Version: it.Version, Registry: it.Location.Registry,
				Repository: it.Location.Repository, Digest: f.digest, LayerDigest: f.digest, Platform: platform, DependsOn: it.DependsOn,
			}, nil
		}
	}
	return Locked{}, fmt.Errorf("locking %s %s: only HTTP mirrors answered: %w (a lock needs it)", it.Name, it.Version, ErrUnverified)
}
