package index

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/ferryhq/ferry/internal/yamlerr"
)

// Artifact types an entry may have.
const (
	TypeRulesfile = "rulesfile"
	TypePlugin    = "plugin"
	TypeAsset     = "asset"
	TypeDriver    = "driver"
)

// ErrInvalidIndex is matched (with errors.Is) by every *ParseError.
var ErrInvalidIndex = errors.New("invalid index")

// ErrNotNamespaced is matched by the error CheckNamespace returns when a
// repository path is not namespaced by its source repository.
var ErrNotNamespaced = errors.New("repository not namespaced by its source")

// namePattern is falcoctl's rule for artifact names; index names follow it too.
var namePattern = regexp.MustCompile(`^[a-z]+[a-z0-9_-]*$`)

// Entry is one artifact of an index. The YAML keys are falcoctl's, plus ferry's
// optional source and mirrors.
type Entry struct {
	Name        string       `yaml:"name"`
	Type        string       `yaml:"type"`
	Registry    string       `yaml:"registry"`
	Repository  string       `yaml:"repository"`
	Signature   *Signature   `yaml:"signature,omitempty"`
	Description string       `yaml:"description,omitempty"`
	Home        string       `yaml:"home,omitempty"`
	Keywords    []string     `yaml:"keywords,omitempty"`
	License     string       `yaml:"license,omitempty"`
	Maintainers []Maintainer `yaml:"maintainers,omitempty"`
	Sources     []string     `yaml:"sources,omitempty"`
	Source      string       `yaml:"source,omitempty"`
	// SourcePrefix is the path a mirror nests the source's repositories
	// under (e.g. "proxy" for proxy/falcosecurity/rules/falco-rules): the
	// repository must start with it, then with the source's ORG/REPO.
	SourcePrefix string   `yaml:"sourcePrefix,omitempty"`
	Mirrors      []Mirror `yaml:"mirrors,omitempty"`
}

// Maintainer is a person or group maintaining an artifact.
type Maintainer struct {
	Name  string `yaml:"name,omitempty"`
	Email string `yaml:"email,omitempty"`
}

// Signature tells how to verify an artifact's signature.
type Signature struct {
	Cosign *Cosign `yaml:"cosign,omitempty"`
}

// Cosign holds cosign verification parameters, as in falcoctl's index.
type Cosign struct {
	CertificateOIDCIssuer       string `yaml:"certificate-oidc-issuer,omitempty"`
	CertificateOIDCIssuerRegexp string `yaml:"certificate-oidc-issuer-regexp,omitempty"`
	CertificateIdentity         string `yaml:"certificate-identity,omitempty"`
	CertificateIdentityRegexp   string `yaml:"certificate-identity-regexp,omitempty"`
	CertificateGithubWorkflow   string `yaml:"certificate-github-workflow,omitempty"`
	Key                         string `yaml:"key,omitempty"`
	IgnoreTlog                  bool   `yaml:"ignore-tlog,omitempty"`
}

// Mirror is another place an artifact can be fetched from: either another
// registry (Registry and Repository) or a plain HTTP(S) URL template.
type Mirror struct {
	Registry   string `yaml:"registry,omitempty"`
	Repository string `yaml:"repository,omitempty"`
	URL        string `yaml:"url,omitempty"`
	// Digests pins the files of an HTTP mirror: file name (the last path
	// element of the expanded URL) to its sha256 digest.
	Digests map[string]string `yaml:"digests,omitempty"`
}

// Index is a named list of entries. URL records where it came from; Parse
// leaves it empty. An index LoadCached opened from its compact form has no
// Entries in memory: read it through a Set (or Len).
type Index struct {
	Name    string
	URL     string
	Entries []Entry
	// Fallback marks an index (the embedded default) that a bare NAME and a
	// dependency reach only when no other index of the set has the name.
	Fallback bool

	mu     sync.Mutex
	store  *compact       // set by LoadCached: entries are read from it
	byName map[string]int // Entries' name -> position, built on first use
}

// ParseError is a problem in an index file. Line is 1-based, 0 when unknown.
type ParseError struct {
	Index string
	Line  int
	Msg   string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("index %q: line %d: %s", e.Index, e.Line, e.Msg)
	}
	return fmt.Sprintf("index %q: %s", e.Index, e.Msg)
}

// Is reports whether target is ErrInvalidIndex.
func (e *ParseError) Is(target error) bool { return target == ErrInvalidIndex }

// Parse reads an index file. Unknown keys are ignored so falcoctl indexes
// parse unchanged; an empty file is an empty index. Every error is a
// *ParseError naming the index and, where known, the line.
func Parse(name string, data []byte) (*Index, error) {
	if len(data) >= chunkMin {
		if idx, ok := parseChunked(name, data); ok {
			return idx, nil
		}
	}
	return parseWhole(name, data)
}

// chunkMin is the size from which Parse reads an index entry by entry.
var chunkMin = 1 << 20

// parseChunked parses a big index one top-level entry at a time, so that
// the YAML tree of a 30 MB index is never built whole (it takes some 25
// times the file's size). It applies only to the plain shape of indexes: a
// block sequence whose entries start with "- " at column 0, every other line
// indented, blank or a comment. Any problem (an entry that does not parse on
// its own, e.g. an alias to an anchor of another entry, a duplicate name,
// any other shape) reports !ok, and the caller parses the whole document,
// which then gives what it always gives, the error with its line included.
// Within that shape a column-0 "- " can only start a top-level entry (or sit
// inside a quoted scalar, whose chunk then does not parse), so both ways
// yield the same entries.
func parseChunked(name string, data []byte) (*Index, bool) {
	var starts []int
	for off := 0; off < len(data); {
		end := bytes.IndexByte(data[off:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += off + 1
		}
		line := data[off:end]
		switch {
		case line[0] == '-' && (len(line) == 1 || line[1] == ' ' || line[1] == '\n' || line[1] == '\r'):
			starts = append(starts, off)
		case line[0] == '#', len(starts) == 0 && (line[0] == '\n' || string(line) == "\r\n"):
			// Comments, and empty lines before the first entry.
		case len(starts) > 0 && (line[0] == ' ' || len(bytes.TrimSpace(line)) == 0):
			// Within an entry, parsed with it.
		default:
			return nil, false
		}
		off = end
	}
	if len(starts) == 0 {
		return nil, false
	}
	idx := &Index{Name: name, Entries: make([]Entry, 0, len(starts))}
	seen := make(map[string]bool, len(starts))
	for i, start := range starts {
		end := len(data)
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		one, err := parseWhole(name, data[start:end])
		if err != nil || len(one.Entries) != 1 || seen[one.Entries[0].Name] {
			return nil, false
		}
		seen[one.Entries[0].Name] = true
		idx.Entries = append(idx.Entries, one.Entries[0])
	}
	return idx, true
}

// parseWhole is Parse of the whole document at once.
func parseWhole(name string, data []byte) (*Index, error) {
	p := &docParser{index: name}
	list, err := p.entryList(data)
	if err != nil {
		return nil, err
	}
	idx := &Index{Name: name}
	if list == nil {
		return idx, nil
	}
	p.firstAt = make(map[string]int, len(list.Content))
	for _, item := range list.Content {
		e, err := p.entry(resolve(item))
		if err != nil {
			return nil, err
		}
		idx.Entries = append(idx.Entries, e)
	}
	return idx, nil
}

// docParser holds what parseWhole needs across the entries of one index:
// its name, for errors, and the line of each entry name seen so far.
type docParser struct {
	index   string
	firstAt map[string]int
}

// errorf returns a ParseError at line of the index.
func (p *docParser) errorf(line int, format string, args ...any) error {
	return &ParseError{Index: p.index, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// fromYAML turns a YAML error into a ParseError at the line it names, else
// at line.
func (p *docParser) fromYAML(err error, line int) error {
	l, problem := yamlerr.Split(err)
	if l != 0 {
		line = l
	}
	return p.errorf(line, "%s", problem)
}

// entryList decodes data and returns the sequence node of its entries, or
// nil when the document is empty or null.
func (p *docParser) entryList(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, p.fromYAML(err, 0)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	root := resolve(doc.Content[0])
	switch {
	case root.Kind == yaml.ScalarNode && root.Tag == "!!null":
		return nil, nil
	case root.Kind != yaml.SequenceNode:
		return nil, p.errorf(root.Line, "an index must be a list of entries")
	}
	return root, nil
}

// entry decodes the mapping item into an Entry and checks it, in the order
// its errors are reported: required fields, name, type and location, mirrors.
func (p *docParser) entry(item *yaml.Node) (Entry, error) {
	var e Entry
	if item.Kind != yaml.MappingNode {
		return e, p.errorf(item.Line, "an entry must be a mapping")
	}
	if err := item.Decode(&e); err != nil {
		return e, p.fromYAML(err, item.Line)
	}
	if err := p.checkRequired(item, e); err != nil {
		return e, err
	}
	if err := p.checkName(item, e); err != nil {
		return e, err
	}
	if err := p.checkLocation(item, e); err != nil {
		return e, err
	}
	return e, p.checkMirrors(item, e)
}

// checkRequired reports the first of the fields every entry needs that e
// lacks.
func (p *docParser) checkRequired(item *yaml.Node, e Entry) error {
	for _, f := range []struct{ key, val string }{
		{"name", e.Name}, {"type", e.Type}, {"registry", e.Registry}, {"repository", e.Repository},
	} {
		if f.val == "" {
			if e.Name != "" {
				return p.errorf(item.Line, "entry %q: missing required field %q", e.Name, f.key)
			}
			return p.errorf(item.Line, "entry: missing required field %q", f.key)
		}
	}
	return nil
}

// checkName checks that e's name is well formed and not taken by an earlier
// entry, and records where it is.
func (p *docParser) checkName(item *yaml.Node, e Entry) error {
	line := lineOf(item, "name")
	if !namePattern.MatchString(e.Name) {
		return p.errorf(line, "invalid name %q: must match %s", e.Name, namePattern)
	}
	if first, ok := p.firstAt[e.Name]; ok {
		return p.errorf(line, "duplicate name %q (first at line %d)", e.Name, first)
	}
	p.firstAt[e.Name] = line
	return nil
}

// checkLocation checks e's type and where its artifact lives: registry,
// repository, and the source namespace with its prefix.
func (p *docParser) checkLocation(item *yaml.Node, e Entry) error {
	switch e.Type {
	case TypeRulesfile, TypePlugin, TypeAsset, TypeDriver:
	default:
		return p.errorf(lineOf(item, "type"), "entry %q: unknown type %q (want %s, %s, %s or %s)",
			e.Name, e.Type, TypeRulesfile, TypePlugin, TypeAsset, TypeDriver)
	}
	if err := CheckRegistry(e.Registry); err != nil {
		return p.errorf(lineOf(item, "registry"), "entry %q: %v", e.Name, err)
	}
	if err := CheckRepository(e.Repository); err != nil {
		return p.errorf(lineOf(item, "repository"), "entry %q: %v", e.Name, err)
	}
	switch {
	case e.SourcePrefix != "" && e.Source == "":
		return p.errorf(lineOf(item, "sourcePrefix"), "entry %q: sourcePrefix needs source", e.Name)
	case e.SourcePrefix != "":
		if err := CheckRepository(e.SourcePrefix); err != nil {
			return p.errorf(lineOf(item, "sourcePrefix"), "entry %q: sourcePrefix: %v", e.Name, err)
		}
	}
	if e.Source != "" {
		if err := CheckNamespaceUnder(e.Source, e.SourcePrefix, e.Repository); err != nil {
			return p.errorf(lineOf(item, "source"), "entry %q: %v", e.Name, err)
		}
	}
	return nil
}

// checkMirrors checks each of e's mirrors, reporting a bad one at its own
// line in the list.
func (p *docParser) checkMirrors(item *yaml.Node, e Entry) error {
	for i, m := range e.Mirrors {
		if err := checkMirror(m); err != nil {
			line := lineOf(item, "mirrors")
			if n := field(item, "mirrors"); n != nil && i < len(resolve(n).Content) {
				line = resolve(n).Content[i].Line
			}
			return p.errorf(line, "entry %q: mirror %d: %v", e.Name, i+1, err)
		}
	}
	return nil
}

// lineOf returns the line of key's value in the mapping item, or the line
// of item when it has no such key.
func lineOf(item *yaml.Node, key string) int {
	if n := field(item, key); n != nil {
		return n.Line
	}
	return item.Line
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// field returns the value node of key in mapping m, or nil.
func field(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func checkMirror(m Mirror) error {
	switch {
	case m.URL != "" && (m.Registry != "" || m.Repository != ""):
		return errors.New("set either url or registry and repository, not both")
	case m.URL != "":
		u, err := url.Parse(m.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("url %q is not an http(s) URL", m.URL)
		}
		for file, d := range m.Digests {
			if !digestPattern.MatchString(d) {
				return fmt.Errorf("digests: %s: %q is not sha256: and 64 lowercase hex digits", file, d)
			}
		}
		return nil
	case len(m.Digests) > 0:
		return errors.New("digests pin the files of a url mirror, not a registry")
	case m.Registry == "" || m.Repository == "":
		return errors.New("needs url, or registry and repository")
	}
	if err := CheckRegistry(m.Registry); err != nil {
		return err
	}
	return CheckRepository(m.Repository)
}

// CheckRegistry checks that registry is a bare HOST[:PORT] (a DNS name, an
// IPv4 address or a bracketed IPv6 address), with no scheme and no path.
func CheckRegistry(registry string) error {
	switch {
	case strings.Contains(registry, "://"):
		return fmt.Errorf("registry %q must be a host[:port], without a scheme", registry)
	case strings.Contains(registry, "/"):
		return fmt.Errorf("registry %q must be a host[:port], without a path (put the path in repository)", registry)
	case !hostPattern.MatchString(registry):
		return fmt.Errorf("registry %q is not a host[:port]", registry)
	}
	return nil
}

// maxRepositoryLen is the longest repository path the OCI distribution
// spec's name grammar allows registries to refuse beyond.
const maxRepositoryLen = 255

// CheckRepository checks that repository is a path the OCI distribution
// spec's name grammar allows: lowercase components of letters and digits,
// joined by ".", "_", "__" or dashes, separated by single slashes.
func CheckRepository(repository string) error {
	if len(repository) > maxRepositoryLen {
		return fmt.Errorf("repository is longer than %d characters", maxRepositoryLen)
	}
	if repoPattern.MatchString(repository) {
		return nil
	}
	for seg := range strings.SplitSeq(repository, "/") {
		switch {
		case seg == "":
			return fmt.Errorf("repository %q has an empty path segment", repository)
		case seg == "." || seg == "..":
			return fmt.Errorf("repository %q has a %q path segment", repository, seg)
		case strings.ToLower(seg) != seg:
			return fmt.Errorf("repository %q has uppercase letters (OCI repository names are lowercase)", repository)
		}
	}
	return fmt.Errorf("repository %q is not an OCI repository name (lowercase letters and digits, separated by '.', '_', '__' or '-', in segments joined by '/')", repository)
}

// CheckNamespace checks that repository (an OCI repository path such as
// "falcosecurity/rules/falco-rules") starts with the ORG/REPO of the source
// repository URL: the first two path segments for github.com URLs (so
// https://github.com/ORG/REPO/tree/main/x works), the whole path otherwise
// (GitLab's group/subgroup/project, as its registry names images). Whole
// path segments are compared, case-insensitively.
func CheckNamespace(source, repository string) error {
	return CheckNamespaceUnder(source, "", repository)
}

// CheckNamespaceUnder is CheckNamespace for a repository nested under
// prefix (one or more path segments a mirror puts first, e.g. "proxy" for
// proxy/falcosecurity/rules/falco-rules): the repository must start with
// prefix, then with the source's ORG/REPO.
func CheckNamespaceUnder(source, prefix, repository string) error {
	u, err := url.Parse(source)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("source %q is not an http(s) URL", source)
	}
	segs := strings.FieldsFunc(strings.ToLower(u.Path), func(r rune) bool { return r == '/' })
	if len(segs) < 2 {
		return fmt.Errorf("source %q does not name an ORG/REPO", source)
	}
	if strings.EqualFold(u.Hostname(), "github.com") || strings.EqualFold(u.Hostname(), "www.github.com") {
		segs = segs[:2]
	}
	segs[len(segs)-1] = strings.TrimSuffix(segs[len(segs)-1], ".git")
	want := segs
	if prefix != "" {
		want = append(strings.Split(strings.ToLower(strings.Trim(prefix, "/")), "/"), segs...)
	}
	repo := strings.Split(strings.ToLower(repository), "/")
	if len(repo) >= len(want) && slices.Equal(repo[:len(want)], want) {
		return nil
	}
	return fmt.Errorf("%w: %q does not start with %q from %q", ErrNotNamespaced, repository, strings.Join(want, "/"), source)
}
