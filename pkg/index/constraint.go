package index

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/ferryhq/ferry/pkg/errdef"
)

var (
	// ErrInvalidConstraint is matched (with errors.Is) by every *ConstraintError.
	ErrInvalidConstraint = errdef.New(errdef.ErrInvalid, "invalid constraint")
	// ErrNoMatch is matched (with errors.Is) by every *NoMatchError.
	ErrNoMatch = errdef.New(errdef.ErrNotFound, "no matching version")
)

// maxAvailable caps NoMatchError.Available.
const maxAvailable = 20

// ConstraintError reports a constraint that does not parse.
type ConstraintError struct {
	Constraint string
	Err        error
}

func (e *ConstraintError) Error() string {
	return fmt.Sprintf("invalid constraint %q: %v", e.Constraint, e.Err)
}

// Unwrap returns the parser's error.
func (e *ConstraintError) Unwrap() error { return e.Err }

// Is reports whether target is ErrInvalidConstraint or its kind (errdef).
func (e *ConstraintError) Is(target error) bool { return errors.Is(ErrInvalidConstraint, target) }

// NoMatchError reports that no version satisfies a constraint. Available
// lists the highest versions that exist (at most 20), highest first.
type NoMatchError struct {
	Constraint string
	Available  []string
}

func (e *NoMatchError) Error() string {
	c := e.Constraint
	if c == "" {
		c = "latest"
	}
	if len(e.Available) == 0 {
		return fmt.Sprintf("no version matches %q: no versions available", c)
	}
	return fmt.Sprintf("no version matches %q (available: %s)", c, strings.Join(e.Available, ", "))
}

// Is reports whether target is ErrNoMatch or its kind (errdef).
func (e *NoMatchError) Is(target error) bool { return errors.Is(ErrNoMatch, target) }

// Constraint is a semver constraint over versions, as written after NAME: in
// a reference. The zero value and "latest" match any stable version.
type Constraint struct {
	text  string
	c     *semver.Constraints // nil: any stable version
	exact *semver.Version     // set for an exact version with build metadata
}

// ParseConstraint parses a constraint: "" or "latest" (highest stable),
// "1.x", "~1.2", "^1.2.3", ">=1.0.0 <2.0.0", "1" (any 1.x.x), "1.2" (any
// 1.2.x), "1.2.3", "1.2.3-rc.1", or several joined by "||". Pre-releases
// match only a constraint that names one. Errors are *ConstraintError.
func ParseConstraint(s string) (*Constraint, error) {
	t := strings.TrimSpace(s)
	c := &Constraint{text: s}
	if t == "" || t == "latest" {
		return c, nil
	}
	sc, err := semver.NewConstraint(t)
	if err != nil {
		return nil, &ConstraintError{Constraint: s, Err: err}
	}
	c.c = sc
	if v, ok := parseVersion(strings.TrimPrefix(t, "=")); ok && v.Metadata() != "" {
		c.exact = v
	}
	return c, nil
}

// String returns the constraint as written.
func (c *Constraint) String() string { return c.text }

// Match reports whether c allows version v.
func (c *Constraint) Match(v *semver.Version) bool {
	switch {
	case c.exact != nil:
		return v.Equal(c.exact) && v.Metadata() == c.exact.Metadata()
	case c.c == nil:
		return v.Prerelease() == ""
	}
	return c.c.Check(v)
}

// Version is a registry tag that is a semantic version.
type Version struct {
	Tag     string
	Version *semver.Version
}

// Versions returns the tags that are strict semantic versions (X.Y.Z with
// optional -pre and +build, optionally prefixed with 'v'), highest first.
// Floating tags ("1", "1.2", "latest"), signature tags and anything else are
// left out, as is "vX.Y.Z" when "X.Y.Z" exists. Equal versions are ordered
// deterministically: without 'v' first, then without build metadata, then by tag.
func Versions(tags []string) []Version {
	exists := make(map[string]bool, len(tags))
	for _, t := range tags {
		exists[t] = true
	}
	seen := make(map[string]bool, len(tags))
	out := make([]Version, 0, len(tags))
	for _, t := range tags {
		if seen[t] || strings.HasPrefix(t, "v") && exists[t[1:]] {
			continue
		}
		seen[t] = true
		if v, ok := parseVersion(t); ok {
			out = append(out, Version{Tag: t, Version: v})
		}
	}
	slices.SortFunc(out, func(a, b Version) int {
		return cmp.Or(
			b.Version.Compare(a.Version),
			cmp.Compare(tieRank(a), tieRank(b)),
			cmp.Compare(a.Tag, b.Tag),
		)
	})
	return out
}

// tieRank orders equal versions: plain tags before 'v' tags, and tags
// without build metadata before those with.
func tieRank(v Version) int {
	r := 0
	if strings.HasPrefix(v.Tag, "v") {
		r += 2
	}
	if v.Version.Metadata() != "" {
		r++
	}
	return r
}

// parseVersion parses a strict semantic version, allowing a leading 'v'.
func parseVersion(tag string) (*semver.Version, bool) {
	s := strings.TrimPrefix(tag, "v")
	if s == "" || s[0] < '0' || s[0] > '9' {
		return nil, false
	}
	v, err := semver.StrictNewVersion(s)
	if err != nil {
		return nil, false
	}
	return v, true
}

// Resolve returns the highest version among tags that c allows, or a
// *NoMatchError.
func (c *Constraint) Resolve(tags []string) (Version, error) {
	versions := Versions(tags)
	for _, v := range versions {
		if c.Match(v.Version) {
			return v, nil
		}
	}
	avail := make([]string, 0, min(len(versions), maxAvailable))
	for _, v := range versions[:min(len(versions), maxAvailable)] {
		avail = append(avail, v.Tag)
	}
	return Version{}, &NoMatchError{Constraint: c.text, Available: avail}
}
