package install

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/Masterminds/semver/v3"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/ferryhq/ferry/pkg/index"
	"github.com/ferryhq/ferry/pkg/oci"
)

// PlanItem is one artifact a plan installs, with why.
type PlanItem struct {
	Name     string       `json:"name"`
	Index    string       `json:"index,omitempty"`
	Ref      string       `json:"ref,omitempty"` // the user's reference; "" for a dependency
	Location oci.Location `json:"-"`
	Version  string       `json:"version"`
	Tag      string       `json:"tag,omitempty"`
	// Requested is true for what the user asked for.
	Requested bool     `json:"requested"`
	Reasons   []string `json:"reasons"`
	DependsOn []string `json:"dependsOn,omitempty"`
	// Unchecked lists requirements the engine declares no version for.
	Unchecked []oci.Requirement `json:"uncheckedRequirements,omitempty"`

	root *oci.Root
	// recorded is set when root comes from the install state, not the
	// registry (Planner.recordedRoot).
	recorded bool
	channels []Channel
	http     *httpItem // set when only HTTP mirrors serve it
}

// Plan is what an install would do, dependencies first.
type Plan struct {
	Items []PlanItem
}

// Planner resolves references and their dependencies against the indexes
// and registries. It fetches every tag list, manifest and config at most
// once.
type Planner struct {
	Resolver    *Resolver
	State       *State
	Engine      Engine
	ResolveDeps bool
	Concurrency int
	// HostMirrors gives the configured mirrors of a registry host.
	HostMirrors HostMirrors
	// HTTP lists versions on HTTP mirrors when no OCI channel answers.
	HTTP *http.Client
	// Lock, when set, pins the files of HTTP mirrors to its layer digests.
	Lock *LockFile

	// resolved, when set, is told of every artifact whose config the
	// planner reads, with its node's name and index (the installer's
	// prefetcher).
	resolved func(name, index string, art *oci.Artifact)

	mu       sync.Mutex
	nodes    map[string]*node
	recorded map[*oci.Root]bool // roots made from the install state
	tags     memo[[]index.Version]
	roots    memo[*oci.Root]
	arts     memo[*oci.Artifact]
	cfgs     memo[oci.Config]
}

// node is one artifact name in a plan: where it lives and what is pinned.
type node struct {
	name, index string
	entry       *index.Entry
	loc         oci.Location
	channels    []Channel
	ref         string
	pinned      *semver.Version // set for digest and literal-tag references
	pinnedRoot  *oci.Root
	exact       string // an exact version asked for: tried before any listing
	tagOf       map[string]string
	// http holds, by version, the files of HTTP mirrors when the versions
	// were listed there (no OCI channel answered).
	http map[string][]httpFile
}

// Plan resolves refs (and, with ResolveDeps, their dependencies) to exact
// versions and manifests, without downloading any layer.
func (p *Planner) Plan(ctx context.Context, refs []string) (*Plan, error) {
	p.nodes = map[string]*node{}
	var wants []Want
	for _, raw := range refs {
		w, err := p.want(ctx, raw)
		if err != nil {
			return nil, err
		}
		wants = append(wants, w)
	}
	installed := map[string]*semver.Version{}
	if p.ResolveDeps {
		// Every installed artifact counts, by name: a dependency met later
		// in the solve is one of them.
		for _, rec := range p.State.Artifacts {
			if v, err := semver.NewVersion(rec.Version); err == nil && rec.Name != "" {
				if n := p.nodes[rec.Name]; n == nil || n.loc.String() == rec.Key {
					installed[rec.Name] = v
				}
			}
		}
	}
	p.warm(ctx, wants)
	var cat Catalog = p
	if !p.ResolveDeps {
		cat = noDeps{p}
	}
	picks, err := Solve(ctx, cat, wants, installed, p.check)
	if err != nil {
		return nil, err
	}
	// What the warm-up did not fetch (a version other than the highest in
	// range was picked), fetched in parallel.
	plan := &Plan{Items: make([]PlanItem, len(picks))}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.metadataRequests())
	for i, pk := range picks {
		g.Go(func() error {
			n := p.node(pk.Name)
			p.mu.Lock()
			tag, chs := n.tagOf[pk.Version.String()], slices.Clone(n.channels)
			p.mu.Unlock()
			if hi := p.httpItemOf(n, pk.Version); hi != nil {
				plan.Items[i] = PlanItem{
					Name: n.name, Index: n.index, Ref: n.ref, Location: n.loc, Version: p.display(n, pk.Version),
					Requested: pk.Requested, Reasons: pk.Reasons, DependsOn: pk.Dependencies, channels: chs, http: hi,
				}
				return nil
			}
			root, err := p.root(gctx, n, pk.Version)
			if err != nil {
				return err
			}
			item := PlanItem{
				Name: n.name, Index: n.index, Ref: n.ref, Location: n.loc, Version: p.display(n, pk.Version),
				Tag: tag, Requested: pk.Requested, Reasons: pk.Reasons, DependsOn: pk.Dependencies, root: root,
				recorded: p.isRecorded(root), channels: chs,
			}
			if cfg, err := p.config(gctx, n, pk.Version); err == nil {
				_, item.Unchecked = p.Engine.Check(n.name, item.Version, cfg.Requirements)
			}
			plan.Items[i] = item
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return plan, nil
}

// metadataRequests bounds the tag list, manifest and config requests a
// planner keeps in flight. They are small: their cost is the round trip,
// so many go at once (the HTTP client keeps 32 idle connections per host).
func (p *Planner) metadataRequests() int { return max(p.Concurrency*2, 32) }

// want turns a user reference into a solver want and its node.
func (p *Planner) want(ctx context.Context, raw string) (Want, error) {
	ref, err := index.ParseReference(raw)
	if err != nil {
		return Want{}, err
	}
	if ref.IsLayout() {
		return p.wantLayout(ctx, raw, ref)
	}
	n := &node{ref: raw, tagOf: map[string]string{}}
	if ref.IsOCI() {
		n.name, n.loc = lastElem(ref.Repository), oci.Location{Registry: ref.Registry, Repository: ref.Repository}
	} else {
		entry, idx, err := p.Resolver.Indexes.Lookup(ref.Index, ref.Name)
		if err != nil {
			return Want{}, err
		}
		n.name, n.index, n.entry = entry.Name, idx, &entry
		n.loc = oci.Location{Registry: entry.Registry, Repository: entry.Repository}
	}
	n.channels = channelsFor(n.loc, n.entry, p.HostMirrors)
	if old, dup := p.nodes[n.name]; dup && old.loc != n.loc {
		return Want{}, fmt.Errorf("%q and %q are both named %s but live in different repositories", old.ref, raw, n.name)
	}
	p.nodes[n.name] = n
	w := Want{Name: n.name, Why: raw}
	switch pin := ref.Digest; {
	case pin != "" || (ref.IsOCI() && ref.Tag != ""):
		if pin == "" {
			pin = ref.Tag
		}
		if err := p.pin(ctx, n, pin); err != nil {
			return Want{}, fmt.Errorf("resolving %q: %w", raw, err)
		}
		v := n.pinned
		w.Match = func(x *semver.Version) bool { return x.Equal(v) && x.Metadata() == v.Metadata() }
	default:
		c, err := index.ParseConstraint(ref.Constraint)
		if err != nil {
			return Want{}, err
		}
		if _, err := semver.StrictNewVersion(ref.Constraint); err == nil {
			n.exact = ref.Constraint
		}
		w.Match = c.Match
	}
	return w, nil
}

// pin fixes a node to the manifest a digest or literal tag points at.
func (p *Planner) pin(ctx context.Context, n *node, reference string) error {
	root, err := p.fetchRoot(ctx, n, reference)
	if err != nil {
		return err
	}
	n.pinnedRoot = root
	if v, err := semver.NewVersion(reference); err == nil && !isDigest(reference) {
		n.pinned = v
		n.tagOf[v.String()] = reference
		return nil
	}
	art, err := p.artifact(ctx, root, n.channels)
	if err != nil {
		return err
	}
	cfg, err := p.fetchConfig(ctx, n, art)
	if err != nil {
		return err
	}
	if v, err := semver.NewVersion(cfg.Version); err == nil {
		n.pinned = v
	} else {
		// No semver anywhere: a version of its own that only it matches.
		n.pinned = semver.MustParse("0.0.0+" + root.Descriptor.Digest.Encoded()[:12])
	}
	if !isDigest(reference) {
		n.tagOf[n.pinned.String()] = reference
	}
	return nil
}

func isDigest(s string) bool { return len(s) > 7 && s[:7] == "sha256:" }

func (p *Planner) node(name string) *node {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.nodes[name]
}

// depNode returns the node of a dependency, looked up first in the index of
// the artifact that requires it.
func (p *Planner) depNode(from *node, name string) (*node, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := p.nodes[name]; n != nil {
		return n, nil
	}
	entry, idx, err := p.Resolver.Indexes.LookupDependency(from.index, name)
	if err != nil {
		return nil, fmt.Errorf("%s depends on %s: %w", from.name, name, err)
	}
	n := &node{name: name, index: idx, entry: &entry, loc: oci.Location{Registry: entry.Registry, Repository: entry.Repository}, tagOf: map[string]string{}}
	n.channels = channelsFor(n.loc, n.entry, p.HostMirrors)
	p.nodes[name] = n
	return n, nil
}

// Versions lists the versions of name (Catalog).
func (p *Planner) Versions(ctx context.Context, name string) ([]*semver.Version, error) {
	n := p.node(name)
	if n == nil {
		return nil, &index.NotFoundError{Name: name}
	}
	if n.pinned != nil {
		return []*semver.Version{n.pinned}, nil
	}
	var ociErr error // every OCI channel failed: HTTP mirrors list versions
	if n.exact != "" {
		if _, err := p.roots.get(n.loc.String()+":"+n.exact, func() (*oci.Root, error) {
			return p.fetchRoot(ctx, n, n.exact)
		}); err == nil {
			v := semver.MustParse(n.exact)
			p.mu.Lock()
			n.tagOf[v.String()] = n.exact
			p.mu.Unlock()
			return []*semver.Version{v}, nil
		} else if !errors.Is(err, oci.ErrNotFound) {
			if !hasHTTP(n) {
				return nil, err
			}
			ociErr = err
		}
	}
	vs, err := p.tags.get(n.loc.String(), func() ([]index.Version, error) {
		if ociErr == nil {
			tags, err := onChannels(ctx, p.channelsOf(n), "listing tags of "+n.name, func(loc oci.Location) ([]string, error) {
				return p.Resolver.Client.Tags(ctx, loc)
			}, p.served(n))
			if err == nil {
				return index.Versions(tags), nil
			}
			ociErr = err
		}
		return p.httpFallback(ctx, n, ociErr)
	})
	if err != nil {
		return nil, err
	}
	out := make([]*semver.Version, 0, len(vs))
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, v := range vs {
		if _, seen := n.tagOf[v.Version.String()]; !seen {
			n.tagOf[v.Version.String()] = v.Tag
		}
		out = append(out, v.Version)
	}
	return out, nil
}

// Dependencies reads the dependencies of name at v from its config
// (Catalog).
func (p *Planner) Dependencies(ctx context.Context, name string, v *semver.Version) ([]oci.Dependency, error) {
	n := p.node(name)
	cfg, err := p.config(ctx, n, v)
	if err != nil {
		return nil, err
	}
	for _, d := range cfg.Dependencies {
		for _, alt := range append([]oci.Alternative{{Name: d.Name, Version: d.Version}}, d.Alternatives...) {
			if _, err := p.depNode(n, alt.Name); err != nil {
				return nil, err
			}
		}
	}
	return cfg.Dependencies, nil
}

// check reports an unmet requirement of name at v.
func (p *Planner) check(ctx context.Context, name string, v *semver.Version) error {
	if len(p.Engine) == 0 {
		return nil
	}
	n := p.node(name)
	cfg, err := p.config(ctx, n, v)
	if err != nil {
		return err
	}
	if rerr, _ := p.Engine.Check(name, p.display(n, v), cfg.Requirements); rerr != nil {
		return rerr
	}
	return nil
}

func (p *Planner) root(ctx context.Context, n *node, v *semver.Version) (*oci.Root, error) {
	if n.pinnedRoot != nil {
		return n.pinnedRoot, nil
	}
	p.mu.Lock()
	tag := n.tagOf[v.String()]
	p.mu.Unlock()
	if tag == "" {
		return nil, fmt.Errorf("%s: no tag for version %s", n.name, v)
	}
	// What the registry said this run (an exact version's manifest is
	// asked for before any listing), else what the state recorded.
	if r, ok := p.roots.peek(n.loc.String() + ":" + tag); ok && r != nil {
		return r, nil
	}
	if r := p.recordedRoot(n, tag); r != nil {
		return r, nil
	}
	return p.fetchedRoot(ctx, n, tag)
}

// fetchedRoot is what tag points at in the registry, fetched once per run.
func (p *Planner) fetchedRoot(ctx context.Context, n *node, tag string) (*oci.Root, error) {
	return p.roots.get(n.loc.String()+":"+tag, func() (*oci.Root, error) {
		return p.fetchRoot(ctx, n, tag)
	})
}

// recordedRoot is the root the install state records for n when it was
// installed from the version tag tag: a version tag (X.Y.Z, unlike the
// floating "1", "1.2" or "latest") names one release, so a check that
// lists nothing newer needs no manifest request. The caller fetches the
// real root whenever the record turns out not to be installed as is
// (PlanItem.recorded). A reference naming a tag literally is pinned and
// always asks the registry (pin).
func (p *Planner) recordedRoot(n *node, tag string) *oci.Root {
	if p.State == nil {
		return nil
	}
	rec, ok := p.State.Get(n.loc.String())
	if !ok || rec.Version != tag || rec.Digest == "" || rec.Config == nil || rec.LayerDigest == rec.Digest {
		return nil // not this version, or not from a registry (HTTP mirror)
	}
	d, err := digest.Parse(rec.Digest)
	if err != nil {
		return nil
	}
	mt := ocispec.MediaTypeImageManifest
	if rec.ManifestDigest != "" {
		mt = ocispec.MediaTypeImageIndex
	}
	r := &oci.Root{Location: n.loc, Descriptor: ocispec.Descriptor{MediaType: mt, Digest: d}}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.recorded == nil {
		p.recorded = map[*oci.Root]bool{}
	}
	p.recorded[r] = true
	return r
}

// isRecorded reports whether root came from the install state.
func (p *Planner) isRecorded(root *oci.Root) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.recorded[root]
}

// fetchRoot fetches what a tag or digest points at from the first channel
// that serves it.
func (p *Planner) fetchRoot(ctx context.Context, n *node, reference string) (*oci.Root, error) {
	return onChannels(ctx, p.channelsOf(n), fmt.Sprintf("fetching %s:%s", n.name, reference), func(loc oci.Location) (*oci.Root, error) {
		return p.Resolver.Client.FetchRoot(ctx, loc, reference)
	}, p.served(n))
}

// channelsOf returns n's channels, the one that last served it first.
func (p *Planner) channelsOf(n *node) []Channel {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(n.channels)
}

// served moves the channel that answered to the front of n's channels, so a
// failing primary costs its retries once per run, not once per request.
func (p *Planner) served(n *node) func(Channel) {
	return func(ch Channel) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if i := slices.Index(n.channels, ch); i > 0 {
			n.channels = append([]Channel{ch}, slices.Delete(slices.Clone(n.channels), i, i+1)...)
		}
	}
}

// fetchConfig reads an artifact's config, by digest, from the channel that
// served its manifest or else any other.
func (p *Planner) fetchConfig(ctx context.Context, n *node, art *oci.Artifact) (oci.Config, error) {
	return p.cfgs.get(art.Config.Digest.String(), func() (oci.Config, error) {
		return onChannels(ctx, append([]Channel{{Location: art.Location}}, p.channelsOf(n)...), "fetching the config of "+n.name, func(loc oci.Location) (oci.Config, error) {
			return p.Resolver.Client.FetchConfig(ctx, loc, art.Config)
		})
	})
}

func (p *Planner) artifact(ctx context.Context, root *oci.Root, chs []Channel) (*oci.Artifact, error) {
	return p.arts.get(root.Descriptor.Digest.String(), func() (*oci.Artifact, error) {
		// The channel that served the root first, then the others.
		order := append([]Channel{{Location: root.Location}}, chs...)
		art, err := onChannels(ctx, order, "resolving "+root.Descriptor.Digest.String(), func(loc oci.Location) (*oci.Artifact, error) {
			on := *root
			on.Location = loc
			return p.Resolver.Client.Resolve(ctx, &on, p.Resolver.Platform)
		})
		return art, err
	})
}

// config returns the config of n at v: from the install state when the
// same manifest is installed, else from the registry.
func (p *Planner) config(ctx context.Context, n *node, v *semver.Version) (oci.Config, error) {
	if p.httpItemOf(n, v) != nil {
		// An HTTP mirror serves no config: no dependencies or requirements.
		return oci.Config{Version: v.Original()}, nil
	}
	root, err := p.root(ctx, n, v)
	if err != nil {
		return oci.Config{}, err
	}
	if rec, ok := p.State.Get(n.loc.String()); ok && rec.Config != nil && rec.Digest == root.Descriptor.Digest.String() {
		return *rec.Config, nil
	}
	art, err := p.artifact(ctx, root, n.channels)
	if err != nil {
		return oci.Config{}, err
	}
	if p.resolved != nil {
		p.resolved(n.name, n.index, art)
	}
	return p.fetchConfig(ctx, n, art)
}

func (p *Planner) display(n *node, v *semver.Version) string {
	if v.Metadata() != "" && v.Major() == 0 && v.Minor() == 0 && v.Patch() == 0 && n.pinned != nil {
		return n.tagOf[v.String()]
	}
	return v.Original()
}

// warm fetches, in parallel, what the solver is most likely to ask for: for
// every wanted name and (with ResolveDeps) every dependency, the tag list,
// and the manifest and config of the highest version in range. Errors are
// left for the solver to meet.
// Traversal spawns freely; a semaphore bounds the requests in flight (a
// bounded errgroup would deadlock here, its workers waiting on each other).
func (p *Planner) warm(ctx context.Context, wants []Want) {
	sem := make(chan struct{}, p.metadataRequests())
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[string]bool{}
	guessed := map[string]bool{} // warmed by prewarm: no floating tag to guess
	// floating is, for a dependency, the tag most likely to name the
	// highest version in its range (its major version); "" for a want.
	var visit func(name string, match func(*semver.Version) bool, floating string)
	visit = func(name string, match func(*semver.Version) bool, floating string) {
		mu.Lock()
		if seen[name] {
			mu.Unlock()
			return
		}
		seen[name] = true
		if guessed[name] {
			floating = ""
		}
		mu.Unlock()
		if floating != "" {
			wg.Go(func() {
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					return
				}
				defer func() { <-sem }()
				p.speculate(ctx, name, floating)
			})
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			deps := p.warmOne(ctx, name, match)
			<-sem
			for _, d := range deps {
				if min, err := semver.NewVersion(d.Version); err == nil {
					c, _ := semver.NewConstraint(DependencyRange(min))
					visit(d.Name, c.Check, strconv.FormatUint(min.Major(), 10))
				}
			}
		}()
	}
	// Plugins that the wanted rules files most likely depend on, warmed
	// before the configs that name them arrive; known, the floating tag
	// need not be guessed.
	for _, w := range wants {
		if dep := p.likelyPlugin(w.Name); dep != "" {
			mu.Lock()
			guessed[dep] = true
			mu.Unlock()
			wg.Go(func() {
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					return
				}
				defer func() { <-sem }()
				p.prewarm(ctx, dep)
			})
		}
	}
	for _, w := range wants {
		visit(w.Name, w.Match, "")
	}
	wg.Wait()
}

// likelyPlugin returns the plugin that the rules file name most likely
// depends on, by Falco's naming (k8saudit-rules goes with the k8saudit
// plugin, cloudtrail-rules with cloudtrail), when the index lists it and
// it is neither asked for nor installed; else "". Its node is created as
// the dependency's would be (the same index lookup).
func (p *Planner) likelyPlugin(name string) string {
	if !p.ResolveDeps {
		return ""
	}
	n := p.node(name)
	base, ok := strings.CutSuffix(name, "-rules")
	if n == nil || n.entry == nil || n.entry.Type != oci.TypeRulesfile || !ok || base == "" || p.node(base) != nil {
		return ""
	}
	entry, _, err := p.Resolver.Indexes.LookupDependency(n.index, base)
	if err != nil || entry.Type != oci.TypePlugin {
		return ""
	}
	if p.State != nil {
		if _, installed := p.State.Get(oci.Location{Registry: entry.Registry, Repository: entry.Repository}.String()); installed {
			return ""
		}
	}
	dep, err := p.depNode(n, base)
	if err != nil || hasHTTP(dep) || dep.loc.IsLayout() {
		return ""
	}
	return base
}

// prewarm lists the tags of a likely dependency (likelyPlugin) while its
// dependent's manifest and config are fetched, then resolves its highest
// stable version tag: that manifest and, for an image index, the platform
// manifest. These are what the planner asks for once the config names the
// dependency and its highest version in range is that one, so the
// dependency's chain (tags, index, platform manifest, blobs) starts two
// round trips earlier. Nothing else is fetched: no config, no layer,
// until the plan needs them. A wrong guess costs a tag list and a
// manifest or two. Errors are dropped; the plan meets them again if the
// dependency is real.
func (p *Planner) prewarm(ctx context.Context, name string) {
	vs, err := p.Versions(ctx, name)
	if err != nil {
		return
	}
	var best *semver.Version
	for _, v := range vs {
		if v.Prerelease() == "" && (best == nil || v.GreaterThan(best)) {
			best = v
		}
	}
	if best == nil {
		return
	}
	n := p.node(name)
	p.mu.Lock()
	tag := n.tagOf[best.String()]
	p.mu.Unlock()
	if tag == "" {
		return
	}
	root, err := p.fetchedRoot(ctx, n, tag)
	if err != nil {
		return
	}
	_, _ = p.artifact(ctx, root, p.channelsOf(n))
}

// speculate resolves, while a dependency's tags are being listed, what
// its floating major tag (floating, e.g. "0" for a dependency on 0.7.0)
// points at: the manifest and, for an image index, the platform manifest.
// The highest version in the dependency's range is most often what that
// tag names, and the planner's caches are keyed by digest: when the
// version tag the solver then asks for points at the same digest, its
// platform manifest is already here (or on its way), so the version tag's
// manifest request overlaps the platform manifest's instead of preceding
// it, and the dependency costs one sequential round trip less. Only
// manifests are fetched here, never a config or a layer: the config and
// the layer of the version picked are fetched (and prefetched) once its
// version tag is known to point at this digest, so a floating tag that
// names another version (stale, or out of range) costs one or two
// manifest requests and downloads nothing the plan does not contain.
// Skipped for what is installed (its recorded manifest usually needs no
// request at all) and for pinned, exact and layout references. Errors are
// dropped: the version tag's own requests report them.
func (p *Planner) speculate(ctx context.Context, name, floating string) {
	n := p.node(name)
	if n == nil || n.pinned != nil || n.exact != "" || n.loc.IsLayout() {
		return
	}
	if p.State != nil {
		if _, ok := p.State.Get(n.loc.String()); ok {
			return
		}
	}
	chs := p.channelsOf(n)
	if len(chs) == 0 || chs[0].URL != "" || chs[0].Location.IsLayout() {
		return
	}
	root, err := p.Resolver.Client.FetchRoot(ctx, chs[0].Location, floating)
	if err != nil {
		return
	}
	_, _ = p.artifact(ctx, root, chs)
}

// warmOne fetches the tags of name and the config of its best version, and
// returns that version's dependencies.
func (p *Planner) warmOne(ctx context.Context, name string, match func(*semver.Version) bool) []oci.Dependency {
	vs, err := p.Versions(ctx, name)
	if err != nil {
		return nil
	}
	var best *semver.Version
	for _, v := range vs {
		if match(v) && (best == nil || v.GreaterThan(best)) {
			best = v
		}
	}
	if best == nil {
		return nil
	}
	if !p.ResolveDeps {
		_, _ = p.config(ctx, p.node(name), best) // Plan reads its requirements
		return nil
	}
	deps, _ := p.Dependencies(ctx, name, best)
	return deps
}

// noDeps is the catalog of a plan that ignores dependencies.
type noDeps struct{ *Planner }

func (noDeps) Dependencies(context.Context, string, *semver.Version) ([]oci.Dependency, error) {
	return nil, nil
}

// memo caches one value per key for the length of a run; concurrent callers
// of the same key wait for the first.
type memo[V any] struct {
	mu sync.Mutex
	m  map[string]*memoEntry[V]
}

type memoEntry[V any] struct {
	once  sync.Once
	v     V
	err   error
	ready atomic.Bool // v and err are set
}

// peek returns the value of key if it was computed, without error.
func (c *memo[V]) peek(key string) (V, bool) {
	c.mu.Lock()
	e := c.m[key]
	c.mu.Unlock()
	if e == nil || !e.ready.Load() || e.err != nil {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (c *memo[V]) get(key string, fn func() (V, error)) (V, error) {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]*memoEntry[V]{}
	}
	e := c.m[key]
	if e == nil {
		e = &memoEntry[V]{}
		c.m[key] = e
	}
	c.mu.Unlock()
	e.once.Do(func() { e.v, e.err = fn(); e.ready.Store(true) })
	return e.v, e.err
}

// OCILocations returns the OCI repositories that serve the item, in the
// order they are tried: the one that served its manifest first, then the
// other mirrors and the primary. Signatures are looked up there too: a
// signature binds the digest, so any of them may carry it.
func (it PlanItem) OCILocations() []oci.Location {
	var locs []oci.Location
	if it.root != nil && it.root.Location.Registry != "" {
		locs = append(locs, it.root.Location)
	}
	for _, ch := range it.channels {
		if ch.URL == "" && !slices.Contains(locs, ch.Location) {
			locs = append(locs, ch.Location)
		}
	}
	if !slices.Contains(locs, it.Location) {
		locs = append(locs, it.Location)
	}
	return locs
}
