package events

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	packageurl "github.com/package-url/packageurl-go"
)

// PURL returns the canonical package URL naming an OCI artifact, the
// subject id of its events:
//
//	pkg:oci/falco-rules@sha256:<64 hex>?repository_url=ghcr.io%2Ffalcosecurity%2Frules%2Ffalco-rules&tag=3.0.1
//
// The name is the last element of the repository, lowercased (not the
// index entry's name, so that an artifact pushed by repository and
// installed by index name have one id); the version is a.Digest, the digest
// a.Tag resolves to; repository_url is registry/repository without a
// scheme; tag is added when known and arch when a.Platform names one
// ("linux/arm64" gives arch=arm64, "linux/arm/v7" gives arch=arm%2Fv7). It
// has no namespace, qualifiers are sorted, and everything but ASCII letters,
// digits, "-._~" and ":" is percent-encoded, so the digest's colon stays
// and a "/" in a qualifier value becomes %2F. The result is parsed back with
// packageurl-go and checked field by field.
//
// A file downloaded over plain HTTP (a.URL set, no registry: a kernel
// driver) is named by a generic package URL instead:
//
//	pkg:generic/falco@8.0.0%2Bdriver?checksum=sha256:<64 hex>&download_url=https:%2F%2F...
func PURL(a Artifact) (string, error) {
	typ, name, version, quals, err := purlParts(a)
	if err != nil {
		return "", err
	}
	s := formatPURL(typ, name, version, quals)
	if err := checkPURL(s, typ, name, version, quals); err != nil {
		return "", fmt.Errorf("package url %s: %w", s, err)
	}
	return s, nil
}

func purlParts(a Artifact) (typ, name, version string, quals map[string]string, err error) {
	if a.Registry == "" && a.URL != "" {
		return genericParts(a)
	}
	if a.Registry == "" || a.Repository == "" {
		return "", "", "", nil, fmt.Errorf("%w: registry and repository are required", ErrInvalidArtifact)
	}
	if a.Digest == "" {
		return "", "", "", nil, fmt.Errorf("%w: %s/%s has no digest", ErrInvalidArtifact, a.Registry, a.Repository)
	}
	if err := digest.Digest(a.Digest).Validate(); err != nil {
		return "", "", "", nil, fmt.Errorf("%w: digest %q: %w", ErrInvalidArtifact, a.Digest, err)
	}
	repo := strings.Trim(a.Repository, "/")
	name = strings.ToLower(repo[strings.LastIndex(repo, "/")+1:])
	if name == "" {
		return "", "", "", nil, fmt.Errorf("%w: repository %q has no name", ErrInvalidArtifact, a.Repository)
	}
	quals = map[string]string{"repository_url": strings.ToLower(a.Registry) + "/" + repo}
	if a.Tag != "" {
		quals["tag"] = a.Tag
	}
	if a.Platform != "" {
		_, arch, ok := strings.Cut(a.Platform, "/")
		if !ok || arch == "" {
			return "", "", "", nil, fmt.Errorf("%w: platform %q is not OS/ARCH", ErrInvalidArtifact, a.Platform)
		}
		quals["arch"] = arch
	}
	return packageurl.TypeOCI, name, a.Digest, quals, nil
}

// genericParts names a file downloaded over HTTP: its name and version,
// its checksum and where it came from.
func genericParts(a Artifact) (typ, name, version string, quals map[string]string, err error) {
	if a.Name == "" {
		return "", "", "", nil, fmt.Errorf("%w: %s: a name is required", ErrInvalidArtifact, a.URL)
	}
	if err := digest.Digest(a.Digest).Validate(); err != nil {
		return "", "", "", nil, fmt.Errorf("%w: %s: digest %q: %w", ErrInvalidArtifact, a.URL, a.Digest, err)
	}
	return packageurl.TypeGeneric, strings.ToLower(a.Name), a.Version, map[string]string{"checksum": a.Digest, "download_url": a.URL}, nil
}

func formatPURL(typ, name, version string, quals map[string]string) string {
	var b strings.Builder
	b.WriteString("pkg:" + typ + "/")
	b.WriteString(purlEscape(name))
	if version != "" {
		b.WriteByte('@')
		b.WriteString(purlEscape(version))
	}
	sep := byte('?')
	for _, k := range slices.Sorted(maps.Keys(quals)) {
		if quals[k] == "" {
			continue
		}
		b.WriteByte(sep)
		sep = '&'
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(purlEscape(quals[k]))
	}
	return b.String()
}

// purlEscape percent-encodes s for any purl component: unreserved
// characters and ":" are kept (the purl spec says a colon need not be
// encoded), everything else is encoded with upper-case hex.
func purlEscape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == ':':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// checkPURL parses s with packageurl-go and compares every component with
// what it was built from, then checks that s is in canonical form.
func checkPURL(s, typ, name, version string, quals map[string]string) error {
	p, err := packageurl.FromString(s)
	if err != nil {
		return err
	}
	if err := p.Normalize(); err != nil {
		return err
	}
	got := p.Qualifiers.Map()
	switch {
	case p.Type != typ:
		return fmt.Errorf("type %q, want %s", p.Type, typ)
	case p.Namespace != "":
		return fmt.Errorf("unexpected namespace %q", p.Namespace)
	case p.Name != name:
		return fmt.Errorf("name %q, want %q", p.Name, name)
	case p.Version != version:
		return fmt.Errorf("version %q, want %q", p.Version, version)
	case p.Subpath != "":
		return fmt.Errorf("unexpected subpath %q", p.Subpath)
	case !maps.Equal(got, quals):
		return fmt.Errorf("qualifiers %v, want %v", got, quals)
	}
	if c := formatPURL(p.Type, p.Name, p.Version, got); c != s {
		return fmt.Errorf("not canonical: %s", c)
	}
	return nil
}
