package install

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/ferryhq/ferry/pkg/errdef"
	"github.com/ferryhq/ferry/pkg/oci"
)

// ErrDependencyConflict is matched by a *ConflictError: no version set satisfies
// every constraint.
var ErrDependencyConflict = errdef.New(errdef.ErrNotFound, "dependency conflict")

// Catalog tells the solver which versions of an artifact exist and what
// each version depends on. Implementations cache: the solver may ask twice.
type Catalog interface {
	Versions(ctx context.Context, name string) ([]*semver.Version, error)
	Dependencies(ctx context.Context, name string, v *semver.Version) ([]oci.Dependency, error)
}

// Want is an artifact the user asked for.
type Want struct {
	Name string
	// Match reports whether a version satisfies the user's constraint.
	Match func(*semver.Version) bool
	// Why is the constraint as the user wrote it, e.g. "k8saudit:0.6.x".
	Why string
}

// Pick is the solver's choice for one artifact.
type Pick struct {
	Name    string
	Version *semver.Version
	// Requested is true for what the user asked for, false for dependencies.
	Requested bool
	// Installed is the version installed before, if any.
	Installed *semver.Version
	// Reasons explains every constraint the version satisfies.
	Reasons []string
	// Dependencies are the names this version depends on (after choosing
	// among alternatives).
	Dependencies []string
}

// ConflictError explains why no version of Name satisfies everything.
type ConflictError struct {
	Name        string
	Constraints []string
	Available   []string
}

func (e *ConflictError) Error() string {
	msg := fmt.Sprintf("no version of %s fits: %s", e.Name, strings.Join(e.Constraints, "; "))
	if len(e.Available) > 0 {
		msg += " (available: " + strings.Join(e.Available, ", ") + ")"
	}
	return msg
}

// Is makes errors.Is(err, ErrDependencyConflict) true, and so for its kind (errdef).
func (e *ConflictError) Is(target error) bool { return errors.Is(ErrDependencyConflict, target) }

// DependencyRange is the meaning of a dependency on version v: the same
// major version, at least v (falcoctl's meaning).
func DependencyRange(v *semver.Version) string {
	return fmt.Sprintf(">=%s <%d", v, v.Major()+1)
}

type edge struct {
	match func(*semver.Version) bool
	why   string
}

// CheckFunc reports an error matching ErrRequirement when version v of name
// cannot be used (its requirements are not met); the solver then tries
// another version.
type CheckFunc func(ctx context.Context, name string, v *semver.Version) error

type solver struct {
	cat       Catalog
	check     CheckFunc
	reqErr    error
	installed map[string]*semver.Version
	requested map[string]bool
	edges     map[string][]edge
	picks     map[string]*Pick
	order     []string // names in the order they were reached
	steps     int
	conflict  *ConflictError
}

// maxSolveSteps bounds backtracking on pathological graphs.
const maxSolveSteps = 10000

// Solve chooses, for every wanted artifact and every artifact they depend on,
// the highest version that satisfies all constraints at once: the user's,
// every dependency's, and what is installed. An installed dependency is kept
// when it satisfies, upgraded only when a constraint requires it, and never
// downgraded; a requested artifact follows the user's constraint. It returns
// the picks in dependency order (dependencies first).
//
// check, when not nil, rules out versions whose requirements are not met; if
// that leaves an artifact no version, its requirement error is returned.
func Solve(ctx context.Context, cat Catalog, wants []Want, installed map[string]*semver.Version, check CheckFunc) ([]Pick, error) {
	s := &solver{cat: cat, check: check, installed: installed, requested: map[string]bool{}, edges: map[string][]edge{}, picks: map[string]*Pick{}}
	for _, w := range wants {
		s.requested[w.Name] = true
		s.edges[w.Name] = append(s.edges[w.Name], edge{w.Match, "you asked for " + w.Why})
		s.reach(w.Name)
	}
	for name, v := range installed {
		if !s.requested[name] {
			// Installed and not asked for: never downgraded.
			s.edges[name] = append(s.edges[name], edge{func(x *semver.Version) bool { return !x.LessThan(v) }, fmt.Sprintf("%s %s is installed (never downgraded)", name, v)})
		}
	}
	ok, err := s.solve(ctx, 0)
	if err != nil {
		return nil, err
	}
	if !ok {
		if s.reqErr != nil {
			return nil, s.reqErr
		}
		return nil, s.conflict
	}
	return s.result(), nil
}

func (s *solver) reach(name string) {
	if !slices.Contains(s.order, name) {
		s.order = append(s.order, name)
	}
}

// solve decides the names from position i of s.order on, backtracking.
func (s *solver) solve(ctx context.Context, i int) (bool, error) {
	if i == len(s.order) {
		return true, nil
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if s.steps++; s.steps > maxSolveSteps {
		return false, fmt.Errorf("resolving dependencies: gave up after %d steps", maxSolveSteps)
	}
	name := s.order[i]
	if s.picks[name] != nil {
		return s.solve(ctx, i+1)
	}
	cands, all, err := s.candidates(ctx, name)
	if err != nil {
		return false, err
	}
	rejected := 0
	for _, v := range cands {
		if s.check != nil {
			if err := s.check(ctx, name, v); errors.Is(err, ErrRequirement) {
				rejected++
				if s.reqErr == nil {
					s.reqErr = err
				}
				continue
			} else if err != nil {
				return false, err
			}
		}
		deps, err := s.cat.Dependencies(ctx, name, v)
		if err != nil {
			return false, err
		}
		ok, err := s.try(ctx, i, name, v, deps, 0, nil)
		if err != nil || ok {
			return ok, err
		}
	}
	if rejected < len(cands) || len(cands) == 0 {
		if s.conflict == nil || len(cands) == 0 {
			s.conflict = s.conflictFor(name, all)
		}
	}
	return false, nil
}

// try picks v for name and then satisfies its dependencies from position d
// on, choosing among alternatives, before going on with the next name.
func (s *solver) try(ctx context.Context, i int, name string, v *semver.Version, deps []oci.Dependency, d int, chosen []string) (bool, error) {
	if d == len(deps) {
		s.picks[name] = &Pick{Name: name, Version: v, Requested: s.requested[name], Installed: s.installed[name], Dependencies: chosen}
		ok, err := s.solve(ctx, i+1)
		if !ok {
			delete(s.picks, name)
		}
		return ok, err
	}
	options, err := s.options(name, v, deps[d])
	if err != nil {
		return false, err
	}
	for _, opt := range options {
		min, err := semver.NewVersion(opt.Version)
		if err != nil {
			return false, fmt.Errorf("%s %s: dependency %s has an invalid version %q", name, v, opt.Name, opt.Version)
		}
		rng := DependencyRange(min)
		c, _ := semver.NewConstraint(rng)
		e := edge{c.Check, fmt.Sprintf("%s %s requires %s %s", name, v, opt.Name, rng)}
		if p := s.picks[opt.Name]; p != nil && !e.match(p.Version) {
			s.conflict = s.conflictFor(opt.Name, nil, e)
			continue
		}
		s.edges[opt.Name] = append(s.edges[opt.Name], e)
		added := !slices.Contains(s.order, opt.Name)
		s.reach(opt.Name)
		ok, err := s.try(ctx, i, name, v, deps, d+1, append(chosen, opt.Name))
		if ok || err != nil {
			return ok, err
		}
		s.edges[opt.Name] = s.edges[opt.Name][:len(s.edges[opt.Name])-1]
		if added {
			s.order = s.order[:len(s.order)-1]
		}
	}
	return false, nil
}

// options orders the ways to satisfy a dependency: an alternative already
// picked, requested or installed comes first, then the primary, then the
// other alternatives.
func (s *solver) options(name string, v *semver.Version, dep oci.Dependency) ([]oci.Alternative, error) {
	all := append([]oci.Alternative{{Name: dep.Name, Version: dep.Version}}, dep.Alternatives...)
	present := func(a oci.Alternative) bool {
		return s.picks[a.Name] != nil || s.requested[a.Name] || s.installed[a.Name] != nil
	}
	var first, rest []oci.Alternative
	for _, a := range all {
		if a.Name == name {
			return nil, fmt.Errorf("%s %s depends on itself", name, v)
		}
		if present(a) {
			first = append(first, a)
		} else {
			rest = append(rest, a)
		}
	}
	return append(first, rest...), nil
}

// candidates lists the versions of name that satisfy its constraints,
// preferred first: an installed dependency that satisfies is kept, else the
// highest version.
func (s *solver) candidates(ctx context.Context, name string) ([]*semver.Version, []*semver.Version, error) {
	all, err := s.cat.Versions(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	all = slices.Clone(all)
	sort.Slice(all, func(a, b int) bool { return all[a].GreaterThan(all[b]) })
	var out []*semver.Version
	for _, v := range all {
		if s.satisfies(name, v) {
			out = append(out, v)
		}
	}
	if inst := s.installed[name]; inst != nil && !s.requested[name] {
		if i := slices.IndexFunc(out, func(v *semver.Version) bool { return v.Equal(inst) }); i > 0 {
			out = append([]*semver.Version{inst}, slices.Delete(out, i, i+1)...)
		}
	}
	return out, all, nil
}

func (s *solver) satisfies(name string, v *semver.Version) bool {
	for _, e := range s.edges[name] {
		if !e.match(v) {
			return false
		}
	}
	return true
}

func (s *solver) conflictFor(name string, all []*semver.Version, extra ...edge) *ConflictError {
	ce := &ConflictError{Name: name}
	for _, e := range append(slices.Clone(s.edges[name]), extra...) {
		ce.Constraints = append(ce.Constraints, e.why)
	}
	if p := s.picks[name]; p != nil {
		ce.Constraints = append(ce.Constraints, fmt.Sprintf("%s %s was already chosen", name, p.Version))
	}
	for i, v := range all {
		if i == 10 {
			break
		}
		ce.Available = append(ce.Available, v.String())
	}
	return ce
}

// result returns the picks with their reasons, dependencies first.
func (s *solver) result() []Pick {
	var out []Pick
	done := map[string]bool{}
	var visit func(string)
	visit = func(name string) {
		if done[name] {
			return
		}
		done[name] = true
		p := s.picks[name]
		for _, d := range p.Dependencies {
			visit(d)
		}
		for _, e := range s.edges[name] {
			p.Reasons = append(p.Reasons, e.why)
		}
		out = append(out, *p)
	}
	for _, name := range s.order {
		visit(name)
	}
	return out
}
