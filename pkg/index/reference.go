package index

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/ferryhq/ferry/pkg/errdef"
)

// ErrInvalidReference is matched (with errors.Is) by every *ReferenceError.
var ErrInvalidReference = errdef.New(errdef.ErrInvalid, "invalid reference")

// ReferenceError reports a reference that does not parse. Err, when set, is
// the underlying cause (a *ConstraintError for a bad constraint).
type ReferenceError struct {
	Ref string
	Msg string
	Err error
}

func (e *ReferenceError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("invalid reference %q: %v", e.Ref, e.Err)
	}
	return fmt.Sprintf("invalid reference %q: %s", e.Ref, e.Msg)
}

// Unwrap returns the underlying cause, if any.
func (e *ReferenceError) Unwrap() error { return e.Err }

// Is reports whether target is ErrInvalidReference or its kind (errdef).
func (e *ReferenceError) Is(target error) bool { return errors.Is(ErrInvalidReference, target) }

// LayoutPrefix starts a reference to an OCI image layout directory.
const LayoutPrefix = "oci-layout:"

var (
	digestPattern = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
	hostPattern   = regexp.MustCompile(`^(?:\[[a-fA-F0-9:]+\]|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*)(?::[0-9]+)?$`)
	repoPattern   = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)
	tagPattern    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
)

// Reference is a parsed artifact reference. Exactly one of three kinds:
//
//   - index reference [INDEX/]NAME[:CONSTRAINT] or [INDEX/]NAME@DIGEST: Name set;
//   - full OCI reference HOST/REPO[:TAG][@DIGEST]: Registry and Repository set;
//   - layout reference oci-layout:PATH[:TAG][@DIGEST]: LayoutPath set.
type Reference struct {
	Raw        string
	Index      string // INDEX of INDEX/NAME
	Name       string // artifact name in an index
	Constraint string // constraint text as written, "" when none
	Digest     string // sha256:<64 hex>
	Registry   string // HOST of a full OCI reference
	Repository string // REPO of a full OCI reference
	Tag        string // literal tag of an OCI or layout reference
	LayoutPath string // PATH of an oci-layout: reference
}

// IsOCI reports whether r is a full OCI reference (HOST/REPO...).
func (r Reference) IsOCI() bool { return r.Registry != "" }

// IsLayout reports whether r names an OCI image layout (oci-layout:PATH...).
func (r Reference) IsLayout() bool { return r.LayoutPath != "" }

// String formats r back; for a parsed reference it equals the input.
func (r Reference) String() string {
	var b strings.Builder
	switch {
	case r.IsLayout():
		b.WriteString(LayoutPrefix + r.LayoutPath)
	case r.IsOCI():
		b.WriteString(r.Registry + "/" + r.Repository)
	default:
		if r.Index != "" {
			b.WriteString(r.Index + "/")
		}
		b.WriteString(r.Name)
		if r.Constraint != "" {
			b.WriteString(":" + r.Constraint)
		}
	}
	if r.Tag != "" {
		b.WriteString(":" + r.Tag)
	}
	if r.Digest != "" {
		b.WriteString("@" + r.Digest)
	}
	return b.String()
}

// ParseReference parses what a user typed to name an artifact; see
// Reference for the forms. A reference is a full OCI reference when it has a
// '/' and its first component contains '.' or ':' or is "localhost". A
// constraint must parse with ParseConstraint. Errors are *ReferenceError.
func ParseReference(s string) (Reference, error) {
	r := Reference{Raw: s}
	fail := func(format string, args ...any) (Reference, error) {
		return Reference{}, &ReferenceError{Ref: s, Msg: fmt.Sprintf(format, args...)}
	}
	if strings.TrimSpace(s) == "" {
		return fail("empty reference")
	}
	rest, digest, hasDigest := cutLast(s, "@")
	if hasDigest {
		if !digestPattern.MatchString(digest) {
			return fail("invalid digest %q: want sha256: and 64 lowercase hex digits", digest)
		}
		r.Digest = digest
	}

	if path, ok := strings.CutPrefix(rest, LayoutPrefix); ok {
		if i := strings.LastIndexByte(path, ':'); i > strings.LastIndexByte(path, '/') {
			path, r.Tag = path[:i], path[i+1:]
			if !tagPattern.MatchString(r.Tag) {
				return fail("invalid tag %q", r.Tag)
			}
		}
		if path == "" {
			return fail("missing layout path after %q", LayoutPrefix)
		}
		r.LayoutPath = path
		return r, nil
	}

	first, path, hasSlash := strings.Cut(rest, "/")
	if hasSlash && (strings.ContainsAny(first, ".:") || first == "localhost") {
		if !hostPattern.MatchString(first) {
			return fail("invalid registry host %q", first)
		}
		if i := strings.LastIndexByte(path, ':'); i >= 0 {
			path, r.Tag = path[:i], path[i+1:]
			if !tagPattern.MatchString(r.Tag) {
				return fail("invalid tag %q", r.Tag)
			}
		}
		if !repoPattern.MatchString(path) {
			return fail("invalid repository %q: want lowercase path components", path)
		}
		r.Registry, r.Repository = first, path
		return r, nil
	}

	name, constraint, hasConstraint := strings.Cut(rest, ":")
	if hasConstraint {
		if hasDigest {
			return fail("give a constraint or a digest, not both")
		}
		if strings.TrimSpace(constraint) == "" {
			return fail("empty constraint after ':'")
		}
		if _, err := ParseConstraint(constraint); err != nil {
			return Reference{}, &ReferenceError{Ref: s, Err: err}
		}
		r.Constraint = constraint
	}
	if strings.Contains(name, "/") {
		idx, n, _ := strings.Cut(name, "/")
		if strings.Contains(n, "/") {
			return fail("more than one '/': a full OCI reference starts with a registry host (containing '.' or ':', or localhost), an index reference is INDEX/NAME")
		}
		if !namePattern.MatchString(idx) {
			return fail("invalid index name %q: must match %s", idx, namePattern)
		}
		r.Index, name = idx, n
	}
	if !namePattern.MatchString(name) {
		return fail("invalid artifact name %q: must match %s", name, namePattern)
	}
	r.Name = name
	return r, nil
}

// cutLast is strings.Cut at the last occurrence of sep.
func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}
