package install

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/net/html"

	ferryhttp "github.com/ferryhq/ferry/internal/http"
	"github.com/ferryhq/ferry/pkg/errdef"
	"github.com/ferryhq/ferry/pkg/index"
	"github.com/ferryhq/ferry/pkg/oci"
)

// An HTTP mirror serves an artifact's layer as a plain file named by a URL
// template. When no OCI channel answers, the planner lists the versions an
// HTTP mirror has and the installer downloads the file from it directly,
// verified against a digest from, in order: the lock file, the index
// entry's mirror pins, the mirror's SHA256SUMS, the file's .sha256 sidecar.

// ErrUnverified means an HTTP mirror file has no digest to be verified
// against, and unverified downloads were not allowed.
var ErrUnverified = errdef.New(errdef.ErrVerification, "no digest to verify the download against")

// SumsFile is the checksum list an HTTP mirror may serve beside its files,
// in sha256sum format ("HEX  FILE" lines). It lists the versions the mirror
// has; without it the directory's HTML index (nginx or Apache autoindex,
// python -m http.server) is read instead.
const SumsFile = "SHA256SUMS"

// maxListing bounds a SHA256SUMS file or directory index read into memory.
const maxListing = 16 << 20

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
	dir, match, err := mirrorPattern(ch.URL, n.name, p.Resolver.Platform)
	if err != nil {
		return nil, err
	}
	sums := map[string]string{}
	var names []string
	data, err := ferryhttp.ReadURL(ctx, p.HTTP, dir+SumsFile, maxListing)
	switch {
	case err == nil:
		if sums, err = parseSums(data); err != nil {
			return nil, fmt.Errorf("%s%s: %w", dir, SumsFile, err)
		}
		for name := range sums {
			names = append(names, name)
		}
	case errors.Is(err, ferryhttp.ErrNotFound):
		page, err := ferryhttp.ReadURL(ctx, p.HTTP, dir, maxListing)
		if err != nil {
			return nil, fmt.Errorf("no %s, and the directory index: %w", dir+SumsFile, err)
		}
		names = hrefs(page)
	default:
		return nil, err
	}
	out := map[string]httpFile{}
	for _, name := range names {
		v, ok := match(name)
		if !ok {
			continue
		}
		if _, err := semver.NewVersion(v); err != nil {
			continue
		}
		f := httpFile{ch: ch, url: dir + name, name: name}
		if d := sums[name]; d != "" {
			f.digest, f.from = d, dir+SumsFile
		}
		out[v] = f
	}
	return out, nil
}

// mirrorPattern splits a template, expanded for name and platform, into the
// directory URL and a matcher that returns the version of a file name.
// {version} must be in the file name, not the directory.
func mirrorPattern(tmpl, name, platform string) (string, func(string) (string, bool), error) {
	u := expandURL(tmpl, name, "{version}", platform)
	i := strings.LastIndexByte(u, '/')
	dir, file := u[:i+1], u[i+1:]
	if strings.Contains(dir, "{version}") || !strings.Contains(file, "{version}") {
		return "", nil, fmt.Errorf("%s: versions can be listed only when {version} is in the file name", tmpl)
	}
	parts := strings.Split(file, "{version}")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	re := regexp.MustCompile("^" + strings.Join(parts, "([^/]+)") + "$")
	return dir, func(f string) (string, bool) {
		m := re.FindStringSubmatch(f)
		if m == nil {
			return "", false
		}
		for _, v := range m[2:] {
			if v != m[1] {
				return "", false
			}
		}
		return m[1], true
	}, nil
}

// parseSums reads sha256sum output: "HEX  NAME" or "HEX *NAME" lines.
func parseSums(data []byte) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		hexDigest, name, ok := strings.Cut(text, " ")
		name = strings.TrimPrefix(strings.TrimSpace(name), "*")
		hexDigest, err := ferryhttp.NormalizeSHA256(hexDigest)
		if !ok || name == "" || err != nil {
			return nil, fmt.Errorf("line %d: want HEX  FILE", line)
		}
		out[path.Base(name)] = "sha256:" + hexDigest
	}
	return out, sc.Err()
}

// hrefs returns the file names an HTML directory index links to.
func hrefs(page []byte) []string {
	var out []string
	z := html.NewTokenizer(bytes.NewReader(page))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return out
		case html.StartTagToken, html.SelfClosingTagToken:
			tag, more := z.TagName()
			if string(tag) != "a" {
				continue
			}
			for more {
				var k, v []byte
				k, v, more = z.TagAttr()
				if string(k) != "href" {
					continue
				}
				u, err := url.Parse(string(v))
				if err != nil || u.Path == "" || strings.HasSuffix(u.Path, "/") {
					continue
				}
				out = append(out, path.Base(u.Path))
			}
		}
	}
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

// prepareHTTP is prepareOne for an item served by HTTP mirrors only.
func (in *Installer) prepareHTTP(ctx context.Context, state *State, j *job) error {
	it, hi := j.item, j.item.http
	r := &Result{
		Ref: it.Ref, Name: it.Name, Index: it.Index, Version: it.Version, Type: hi.typ,
		Registry: it.Location.Registry, Repository: it.Location.Repository, Digest: hi.files[0].digest,
		Requested: it.Requested, Reasons: it.Reasons, DependsOn: it.DependsOn, Source: hi.files[0].url,
	}
	j.res = r
	if hi.typ == oci.TypePlugin {
		r.Platform = in.Resolver.Platform
	}
	if len(in.AllowedTypes) > 0 && !slices.Contains(in.AllowedTypes, hi.typ) {
		return fmt.Errorf("%s is a %s: %w (allowed: %v)", it.Name, hi.typ, ErrTypeNotAllowed, in.AllowedTypes)
	}
	if r.Dir = in.dirFor(hi.typ); r.Dir == "" {
		return fmt.Errorf("%s: no directory configured for type %s", it.Name, hi.typ)
	}
	prev, had := state.Get(it.Location.String())
	if had {
		r.PreviousVersion = prev.Version
	}
	// The same version, verified the same when a digest is known, in the
	// same place, files intact: nothing to fetch.
	if had && prev.Version == r.Version && prev.LayerDigest != "" && (r.Digest == "" || prev.LayerDigest == r.Digest) &&
		prev.Platform == r.Platform && prev.Dir == r.Dir && prev.Intact() {
		r.Digest, r.Status, r.Source = prev.Digest, StatusUpToDate, prev.Source
		r.Files = filePaths(prev.Files)
		return nil
	}
	// No OCI manifest, so no signature to check: Verify is given an empty
	// descriptor and decides.
	if in.Verify != nil {
		if err := in.Verify(ctx, it, ocispec.Descriptor{}); err != nil {
			return err
		}
	}
	if in.req.DryRun {
		r.Status = StatusWouldUpdate
	}
	return nil
}

// fetchHTTP installs an HTTP-only item from the first mirror that serves
// a file matching its digest. A file with no digest anywhere is refused
// unless AllowUnverified.
func (in *Installer) fetchHTTP(ctx context.Context, j *job) error {
	start := time.Now()
	r := j.res
	ce := &ChannelsError{Op: fmt.Sprintf("downloading %s %s", r.Name, r.Version)}
	for _, f := range j.item.http.files {
		st, got, err := in.fetchHTTPFile(ctx, j, f)
		if err == nil {
			r.Digest, r.Source, r.Unverified = got, f.url, st.unverified
			return in.commitHTTP(ctx, j, st.Staging, start)
		}
		if ctx.Err() != nil {
			return err
		}
		ce.Channels, ce.Errs = append(ce.Channels, f.ch), append(ce.Errs, err)
	}
	if len(ce.Errs) == 1 {
		return ce.Errs[0]
	}
	return ce
}

// httpStaging is a verified (or, when allowed, unverified) download.
type httpStaging struct {
	*Staging
	unverified bool
}

// fetchHTTPFile downloads one file into a staging directory, streaming it
// through the unpacker while it is hashed, and returns its digest.
func (in *Installer) fetchHTTPFile(ctx context.Context, j *job, f httpFile) (*httpStaging, string, error) {
	r := j.res
	want, from := f.digest, f.from
	if want == "" {
		sidecar := f.url + ".sha256"
		data, err := ferryhttp.ReadURL(ctx, in.HTTP, sidecar, 4096)
		switch {
		case err == nil:
			hex, perr := ferryhttp.ParseSHA256Sum(data)
			if perr != nil {
				return nil, "", fmt.Errorf("%s: %w", sidecar, perr)
			}
			want, from = "sha256:"+hex, sidecar
		case !errors.Is(err, ferryhttp.ErrNotFound):
			return nil, "", fmt.Errorf("reading the checksum %s: %w", sidecar, err)
		}
	}
	if want == "" && !in.AllowUnverified {
		// Say "not found" rather than "unverifiable" for a file that is not
		// there (one HEAD, only on this refusal path).
		if err := headFile(ctx, in.HTTP, f.url); errors.Is(err, ferryhttp.ErrNotFound) {
			return nil, "", fmt.Errorf("%s %s: %w", r.Name, r.Version, err)
		}
		return nil, "", fmt.Errorf("%s %s from %s: %w: neither the lock file, the index, %s nor %s.sha256 has one", r.Name, r.Version, f.url, ErrUnverified, SumsFile, f.url)
	}
	st, err := Stage(r.Dir)
	if err != nil {
		return nil, "", fmt.Errorf("installing %s: %w", r.Name, err)
	}
	limits := in.Store.Limits.withDefaults()
	pr, pw := io.Pipe()
	type downloaded struct {
		d   ferryhttp.Downloaded
		err error
	}
	done := make(chan downloaded, 1)
	go func() {
		d, err := ferryhttp.Download(ctx, in.HTTP, f.url, pw, ferryhttp.DownloadOptions{SHA256: want, Limit: limits.MaxBytes})
		pw.CloseWithError(err)
		done <- downloaded{d, err}
	}()
	_, uerr := Unpack(ctx, j.reader(pr), st.Dir(), limits)
	if uerr == nil || errors.Is(uerr, ErrCorruptArchive) {
		// Read to the end: the digest says whether the bytes were damaged.
		_, _ = io.Copy(io.Discard, pr)
	}
	_ = pr.CloseWithError(errors.New("unpacking stopped"))
	res := <-done
	switch {
	case res.err != nil && errors.Is(res.err, ferryhttp.ErrDigestMismatch):
		_ = st.Discard()
		return nil, "", fmt.Errorf("verifying %s %s against %s: %w", r.Name, r.Version, from, mismatchError{res.err})
	case uerr != nil:
		_ = st.Discard()
		return nil, "", fmt.Errorf("unpacking %s %s from %s: %w", r.Name, r.Version, f.url, uerr)
	case res.err != nil:
		_ = st.Discard()
		return nil, "", res.err
	}
	r.Bytes = res.d.Size
	return &httpStaging{Staging: st, unverified: want == ""}, "sha256:" + res.d.SHA256, nil
}

// mismatchError is a download's digest mismatch, reported as the OCI one
// so that every digest failure classifies alike.
type mismatchError struct{ err error }

func (e mismatchError) Error() string        { return e.err.Error() }
func (e mismatchError) Unwrap() error        { return e.err }
func (e mismatchError) Is(target error) bool { return target == oci.ErrDigestMismatch }

// commitHTTP queues an HTTP download for the install's commit; the file's
// digest stands for both the artifact and its layer.
func (in *Installer) commitHTTP(_ context.Context, j *job, st *Staging, start time.Time) error {
	r := j.res
	rec := Record{
		Key: j.item.Location.String(), Name: r.Name, Index: r.Index, Type: r.Type, Ref: r.Ref, Version: r.Version,
		Registry: r.Registry, Repository: r.Repository, Digest: r.Digest, LayerDigest: r.Digest, Platform: r.Platform,
		Dir: r.Dir, Source: r.Source, Config: &oci.Config{Version: r.Version}, DependsOn: r.DependsOn,
	}
	j.staged, j.start = &Staged{Staging: st, Record: rec}, start
	return nil
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

// headFile asks whether url exists; a 404 or 410 matches
// ferryhttp.ErrNotFound.
func headFile(ctx context.Context, hc *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		return &ferryhttp.StatusError{URL: url, Code: resp.StatusCode}
	}
	return nil
}
