package install

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"

	"github.com/Masterminds/semver/v3"

	"github.com/ferryhq/ferry/internal/http/mirror"
	"github.com/ferryhq/ferry/pkg/errdef"
	"github.com/ferryhq/ferry/pkg/index"
)

// An HTTP mirror serves an artifact's layer as a plain file named by a URL
// template. When no OCI channel answers, the planner lists the versions an
// HTTP mirror has (with internal/http/mirror, the mirror client) and the
// installer downloads the file from it directly, verified against a digest
// from, in order: the lock file, the index entry's mirror pins, the
// mirror's SHA256SUMS, the file's .sha256 sidecar. This file is the glue:
// planning, digests from the lock file and the index, the install.

// ErrUnverified means an HTTP mirror file has no digest to be verified
// against, and unverified downloads were not allowed.
var ErrUnverified = errdef.New(errdef.ErrVerification, "no digest to verify the download against")

// SumsFile is the checksum list an HTTP mirror may serve beside its files,
// in sha256sum format ("HEX  FILE" lines). It lists the versions the mirror
// has; without it the directory's HTML index (nginx or Apache autoindex,
// python -m http.server) is read instead.
const SumsFile = mirror.SumsFile

// httpFile is a file an HTTP mirror offers for one version.
type httpFile struct {
	ch   Channel
	url  string
	name string // the file name: the last path element of url
	// digest is "sha256:HEX" when known before the download, from.
	digest, from string
}

// httpItem is a plan item served by HTTP mirrors only: no manifest, no
// config, the type from the index entry.
type httpItem struct {
	typ   string
	files []httpFile // in channel order
}

// hasHTTP reports whether n has HTTP mirrors.
func hasHTTP(n *node) bool {
	return slices.ContainsFunc(n.channels, func(c Channel) bool { return c.URL != "" })
}

// httpFallback lists the versions of n on its HTTP mirrors after every OCI
// channel failed with ociErr. Without HTTP mirrors, ociErr is returned.
func (p *Planner) httpFallback(ctx context.Context, n *node, ociErr error) ([]index.Version, error) {
	if !hasHTTP(n) || ctx.Err() != nil || n.entry == nil {
		return nil, ociErr
	}
	ce := &ChannelsError{Op: "listing the versions of " + n.name + " on HTTP mirrors"}
	files := map[string][]httpFile{}
	var tags []string
	listed := false
	for _, ch := range p.channelsOf(n) {
		if ch.URL == "" {
			continue
		}
		if n.exact != "" {
			// An exact version needs no listing: the template names its file.
			u := expandURL(ch.URL, n.name, n.exact, p.Resolver.Platform)
			if files[n.exact] == nil {
				tags = append(tags, n.exact)
			}
			files[n.exact] = append(files[n.exact], httpFile{ch: ch, url: u, name: path.Base(u)})
			listed = true
			continue
		}
		fs, err := p.listMirror(ctx, n, ch)
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			ce.Channels, ce.Errs = append(ce.Channels, ch), append(ce.Errs, err)
			continue
		}
		listed = true
		for v, f := range fs {
			if files[v] == nil {
				tags = append(tags, v)
			}
			files[v] = append(files[v], f)
		}
	}
	if !listed {
		var herr error = ce
		if len(ce.Errs) == 1 {
			herr = ce.Errs[0]
		}
		return nil, fmt.Errorf("%w; then %w", ociErr, herr)
	}
	p.mu.Lock()
	n.http = files
	p.mu.Unlock()
	return index.Versions(tags), nil
}

// listMirror reads the files an HTTP mirror has for n: its SHA256SUMS, or
// else the directory index, matched against the template's file name.
func (p *Planner) listMirror(ctx context.Context, n *node, ch Channel) (map[string]httpFile, error) {
	if p.HTTP == nil {
		return nil, errors.New("no HTTP client for HTTP mirrors")
	}
	pat, err := mirrorPattern(ch.URL, n.name, p.Resolver.Platform)
	if err != nil {
		return nil, err
	}
	listed, err := mirror.List(ctx, p.HTTP, pat)
	if err != nil {
		return nil, err
	}
	out := make(map[string]httpFile, len(listed))
	for v, f := range listed {
		out[v] = httpFile{ch: ch, url: f.URL, name: f.Name, digest: f.Digest, from: f.From}
	}
	return out, nil
}

// mirrorPattern is the listing pattern of a template, expanded for name
// and platform. {version} must be in the file name, not the directory.
func mirrorPattern(tmpl, name, platform string) (*mirror.Pattern, error) {
	pat, err := mirror.ParsePattern(expandURL(tmpl, name, "{version}", platform))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tmpl, err)
	}
	return pat, nil
}

// httpItemOf returns the HTTP files of n at v when its versions came from
// HTTP mirrors, with the digests known before any download: the lock
// file's, the index entry's pins, the mirror's SHA256SUMS.
func (p *Planner) httpItemOf(n *node, v *semver.Version) *httpItem {
	p.mu.Lock()
	files := n.http[n.tagOf[v.String()]]
	p.mu.Unlock()
	if files == nil {
		return nil
	}
	return p.newHTTPItem(n, v.Original(), slices.Clone(files))
}

func (p *Planner) newHTTPItem(n *node, version string, files []httpFile) *httpItem {
	lockPin := p.lockedLayer(n, version)
	for i, f := range files {
		if lockPin != "" {
			files[i].digest, files[i].from = lockPin, "the lock file"
			continue
		}
		for _, m := range n.entry.Mirrors {
			if m.URL == f.ch.URL && m.Digests[f.name] != "" {
				files[i].digest, files[i].from = m.Digests[f.name], "the index"
			}
		}
	}
	return &httpItem{typ: n.entry.Type, files: files}
}

// lockedLayer returns the layer digest the lock file pins n at version to.
func (p *Planner) lockedLayer(n *node, version string) string {
	if p.Lock == nil {
		return ""
	}
	for _, a := range p.Lock.Artifacts {
		if a.Name == n.name && a.Version == version && a.Registry == n.loc.Registry && a.Repository == n.loc.Repository &&
			(a.Platform == "" || a.Platform == p.Resolver.Platform) && isDigest(a.LayerDigest) {
			return a.LayerDigest
		}
	}
	return ""
}

// lockedHTTPItem is the HTTP item of a lock entry whose manifest no OCI
// channel serves: the file each HTTP mirror names for it, pinned to the
// locked layer digest.
func (p *Planner) lockedHTTPItem(n *node, lk Locked) *httpItem {
	if n.entry == nil || !isDigest(lk.LayerDigest) {
		return nil
	}
	var files []httpFile
	for _, ch := range n.channels {
		if ch.URL != "" {
			u := expandURL(ch.URL, n.name, lk.Version, p.Resolver.Platform)
			files = append(files, httpFile{ch: ch, url: u, name: path.Base(u), digest: lk.LayerDigest, from: "the lock file"})
		}
	}
	if files == nil {
		return nil
	}
	return &httpItem{typ: n.entry.Type, files: files}
}
