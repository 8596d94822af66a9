package install

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/ferryhq/ferry/pkg/oci"
)

// prefetcher downloads small layers while the plan is still being solved:
// as soon as the planner resolves an artifact's manifest (the highest
// version in range, most often the one picked), its layer streams into a
// staging directory, verified as any download is, while the planner waits
// for configs and dependencies' tag lists. A layer's cost on a distant
// registry is a round trip, and this takes it off the critical path. The
// fetch of a picked artifact then takes the staged download; what the plan
// did not pick is discarded. Nothing is committed without the plan: a
// staging directory is invisible, and Recover deletes it after a crash.
//
// It runs only when nothing must be checked before a byte is fetched (not
// a dry run; no signature to verify: Installer.NeedsVerify) and only for
// layers under smallLayer (large ones are paced by the download slots and
// show their progress).
type prefetcher struct {
	in       *Installer
	state    *State
	ctx      context.Context
	stop     context.CancelFunc
	wg       sync.WaitGroup
	mu       sync.Mutex
	byDigest map[string]*prefetch
	closed   bool
	// created maps a destination staging created to the highest of its
	// directories that did not exist before.
	created map[string]string
}

// prefetch is one layer's early download.
type prefetch struct {
	done  chan struct{}
	st    *Staging
	ch    Channel
	err   error
	taken bool
}

func (in *Installer) newPrefetcher(ctx context.Context, state *State) *prefetcher {
	if in.req.DryRun {
		return nil
	}
	pctx, stop := context.WithCancel(ctx)
	return &prefetcher{in: in, state: state, ctx: pctx, stop: stop, byDigest: map[string]*prefetch{}}
}

// resolved is the planner's hook (Planner.resolved): art was resolved for
// name of index.
func (pf *prefetcher) resolved(name, index string, art *oci.Artifact) {
	if pf == nil || art.Layer.Size >= smallLayer || art.Location.IsLayout() {
		return
	}
	in := pf.in
	if in.Verify != nil && (in.NeedsVerify == nil || in.NeedsVerify(name, index)) {
		return // its signature is checked before any of its bytes are fetched
	}
	if len(in.AllowedTypes) > 0 && !slices.Contains(in.AllowedTypes, art.Type) {
		return
	}
	dir := in.dirFor(art.Type)
	if dir == "" {
		return
	}
	for _, rec := range pf.state.Artifacts {
		if rec.LayerDigest == art.Layer.Digest.String() {
			return // most likely installed already: no need
		}
	}
	key := art.Layer.Digest.String() + " " + dir
	pf.mu.Lock()
	defer pf.mu.Unlock()
	if pf.byDigest[key] != nil || pf.closed || pf.ctx.Err() != nil {
		return
	}
	p := &prefetch{done: make(chan struct{}), ch: Channel{Location: art.Location}}
	pf.byDigest[key] = p
	if top := missingFrom(dir); top != "" && pf.created[dir] == "" {
		// Staging creates dir: a plan that installs nothing there must
		// not leave it behind.
		if pf.created == nil {
			pf.created = map[string]string{}
		}
		pf.created[dir] = top
	}
	pf.wg.Go(func() {
		defer close(p.done)
		j := &job{art: art, res: &Result{Name: name, Dir: dir}}
		p.st, p.err = in.fetchFrom(pf.ctx, j, p.ch)
		if p.err == nil {
			// Durable now, while the plan is still solved, rather than in
			// the commit (Staging.Sync).
			if p.err = p.st.Sync(); p.err != nil {
				_ = p.st.Discard()
				p.st = nil
			}
		}
	})
}

// take returns the staged download of layer for dir, waiting for it to
// end, or nil if there is none or it failed (the caller downloads).
func (pf *prefetcher) take(ctx context.Context, j *job) (*Staging, Channel) {
	if pf == nil || j.art == nil {
		return nil, Channel{}
	}
	pf.mu.Lock()
	p := pf.byDigest[j.art.Layer.Digest.String()+" "+j.res.Dir]
	if p != nil && p.taken {
		p = nil
	}
	if p != nil {
		p.taken = true
	}
	pf.mu.Unlock()
	if p == nil {
		return nil, Channel{}
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		return nil, Channel{}
	}
	if p.err != nil || p.st == nil {
		return nil, Channel{}
	}
	return p.st, p.ch
}

// close waits for what is still downloading (small layers; an interrupt
// cancels them through the install's context) and discards every staged
// download no fetch took.
func (pf *prefetcher) close() {
	if pf == nil {
		return
	}
	pf.mu.Lock()
	pf.closed = true // no new downloads
	pf.mu.Unlock()
	pf.wg.Wait()
	pf.stop()
	pf.mu.Lock()
	defer pf.mu.Unlock()
	for _, p := range pf.byDigest {
		if !p.taken && p.st != nil {
			_ = p.st.Discard()
		}
	}
	for dir, top := range pf.created {
		for d := dir; ; d = filepath.Dir(d) {
			if os.Remove(d) != nil || d == top || filepath.Dir(d) == d {
				break // not empty (installed into), or the last one created
			}
		}
	}
}

// missingFrom returns the highest of dir and its parents that does not
// exist, or "" if dir exists.
func missingFrom(dir string) string {
	top := ""
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			return top
		}
		top = d
		if filepath.Dir(d) == d {
			return top
		}
	}
}
