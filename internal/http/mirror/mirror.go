package mirror

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	nethttp "net/http"
	"net/url"
	"path"
	"regexp"
	"strings"

	"github.com/Masterminds/semver/v3"
	"golang.org/x/net/html"

	ferryhttp "github.com/ferryhq/ferry/internal/http"
)

// SumsFile is the checksum list a mirror may serve beside its files, in
// sha256sum format ("HEX  FILE" lines). It lists the versions the mirror
// has; without it the directory's HTML index is read instead.
const SumsFile = "SHA256SUMS"

// MaxListing bounds a SHA256SUMS file or directory index read into memory.
const MaxListing = 16 << 20

// maxSidecar bounds a FILE.sha256 sidecar.
const maxSidecar = 4096

// A File is one file a mirror directory lists for a version.
type File struct {
	// Name is the file name, URL the directory's URL joined with it.
	Name, URL string
	// Digest is "sha256:HEX" when the mirror's SHA256SUMS lists the file,
	// From that SHA256SUMS file's URL.
	Digest, From string
}

// A Pattern is an expanded URL template whose file name holds the
// placeholder {version}: the directory to list and the file names in it
// that carry a version.
type Pattern struct {
	// Dir is the directory's URL, ending in "/".
	Dir string
	re  *regexp.Regexp
}

// ParsePattern splits u, a URL whose last path element holds {version} one
// or more times, into the directory and the file names that match.
func ParsePattern(u string) (*Pattern, error) {
	i := strings.LastIndexByte(u, '/')
	dir, file := u[:i+1], u[i+1:]
	if strings.Contains(dir, "{version}") || !strings.Contains(file, "{version}") {
		return nil, errors.New("versions can be listed only when {version} is in the file name")
	}
	parts := strings.Split(file, "{version}")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return &Pattern{Dir: dir, re: regexp.MustCompile("^" + strings.Join(parts, "([^/]+)") + "$")}, nil
}

// Version returns the version a file name carries, when it matches the
// pattern and every {version} in it agrees.
func (p *Pattern) Version(name string) (string, bool) {
	m := p.re.FindStringSubmatch(name)
	if m == nil {
		return "", false
	}
	for _, v := range m[2:] {
		if v != m[1] {
			return "", false
		}
	}
	return m[1], true
}

// List reads the files the directory of p has, keyed by version: the names
// its SHA256SUMS lists (with their digests), or else, when there is no
// SHA256SUMS, the names its HTML index links to. Names that do not match p,
// or whose version is not a semantic version, are left out.
func List(ctx context.Context, hc *nethttp.Client, p *Pattern) (map[string]File, error) {
	if hc == nil {
		return nil, errors.New("no HTTP client for HTTP mirrors")
	}
	sumsURL := p.Dir + SumsFile
	sums := map[string]string{}
	var names []string
	data, err := ferryhttp.ReadURL(ctx, hc, sumsURL, MaxListing)
	switch {
	case err == nil:
		if sums, err = ParseSums(data); err != nil {
			return nil, fmt.Errorf("%s: %w", sumsURL, err)
		}
		for name := range sums {
			names = append(names, name)
		}
	case errors.Is(err, ferryhttp.ErrNotFound):
		page, err := ferryhttp.ReadURL(ctx, hc, p.Dir, MaxListing)
		if err != nil {
			return nil, fmt.Errorf("no %s, and the directory index: %w", sumsURL, err)
		}
		names = hrefs(page)
	default:
		return nil, err
	}
	out := map[string]File{}
	for _, name := range names {
		v, ok := p.Version(name)
		if !ok {
			continue
		}
		if _, err := semver.NewVersion(v); err != nil {
			continue
		}
		f := File{Name: name, URL: p.Dir + name}
		if d := sums[name]; d != "" {
			f.Digest, f.From = d, sumsURL
		}
		out[v] = f
	}
	return out, nil
}

// Sidecar reads the digest of the file at fileURL from its FILE.sha256
// sidecar, as "sha256:HEX", and the sidecar's URL. No sidecar (404, 410)
// is no digest and no error.
func Sidecar(ctx context.Context, hc *nethttp.Client, fileURL string) (digest, from string, err error) {
	sidecar := fileURL + ".sha256"
	data, err := ferryhttp.ReadURL(ctx, hc, sidecar, maxSidecar)
	switch {
	case err == nil:
		hex, err := ferryhttp.ParseSHA256Sum(data)
		if err != nil {
			return "", "", fmt.Errorf("%s: %w", sidecar, err)
		}
		return "sha256:" + hex, sidecar, nil
	case errors.Is(err, ferryhttp.ErrNotFound):
		return "", "", nil
	}
	return "", "", fmt.Errorf("reading the checksum %s: %w", sidecar, err)
}

// Head asks whether the file at fileURL exists; a 404 or 410 matches
// ferryhttp.ErrNotFound.
func Head(ctx context.Context, hc *nethttp.Client, fileURL string) error {
	req, err := nethttp.NewRequestWithContext(ctx, nethttp.MethodHead, fileURL, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		return &ferryhttp.StatusError{URL: fileURL, Code: resp.StatusCode}
	}
	return nil
}

// ParseSums reads sha256sum output: "HEX  NAME" or "HEX *NAME" lines, into
// file names (the last path element of NAME) and "sha256:HEX" digests.
func ParseSums(data []byte) (map[string]string, error) {
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
