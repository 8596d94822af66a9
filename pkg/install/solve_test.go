package install_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/pkg/index"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/oci"
)

// catalog is an in-memory Catalog: name → version → dependencies written
// "name:version|alt:version".
type catalog map[string]map[string][]string

func (c catalog) Versions(_ context.Context, name string) ([]*semver.Version, error) {
	vs, ok := c[name]
	if !ok {
		return nil, &index.NotFoundError{Name: name}
	}
	var out []*semver.Version
	for v := range vs {
		out = append(out, semver.MustParse(v))
	}
	return out, nil
}

func (c catalog) Dependencies(_ context.Context, name string, v *semver.Version) ([]oci.Dependency, error) {
	var deps []oci.Dependency
	for _, d := range c[name][v.Original()] {
		var dep oci.Dependency
		for i, part := range strings.Split(d, "|") {
			n, ver, _ := strings.Cut(part, ":")
			if i == 0 {
				dep.Name, dep.Version = n, ver
			} else {
				dep.Alternatives = append(dep.Alternatives, oci.Alternative{Name: n, Version: ver})
			}
		}
		deps = append(deps, dep)
	}
	return deps, nil
}

func want(t *testing.T, ref string) install.Want {
	t.Helper()
	name, cons, _ := strings.Cut(ref, ":")
	c, err := index.ParseConstraint(cons)
	if err != nil {
		t.Fatal(err)
	}
	return install.Want{Name: name, Match: c.Match, Why: ref}
}

func TestSolve(t *testing.T) {
	plugins := catalog{
		"k8saudit":     {"0.6.0": nil, "0.7.0": nil, "0.7.2": nil, "0.8.0": nil, "1.0.0": nil},
		"k8saudit-eks": {"0.4.0": nil, "0.5.0": nil},
		"json":         {"0.7.0": nil, "0.7.1": nil, "1.0.0-rc.1": nil},
	}
	with := func(extra catalog) catalog {
		c := catalog{}
		for k, v := range plugins {
			c[k] = v
		}
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	cases := []struct {
		name      string
		cat       catalog
		wants     []string
		installed map[string]string
		picks     string // "name@version ..." in dependency order
		conflict  []string
		err       error
	}{
		{
			name:  "dependency takes the highest of the same major",
			cat:   with(catalog{"k8saudit-rules": {"0.7.0": {"k8saudit:0.7.0", "json:0.7.0"}}}),
			wants: []string{"k8saudit-rules"},
			picks: "k8saudit@0.8.0 json@0.7.1 k8saudit-rules@0.7.0",
		},
		{
			name: "diamond: both constraints hold at once",
			cat: with(catalog{
				"a": {"1.0.0": {"k8saudit:0.7.0"}},
				"b": {"1.0.0": {"k8saudit:0.7.2"}},
			}),
			wants: []string{"a", "b"},
			picks: "k8saudit@0.8.0 a@1.0.0 b@1.0.0",
		},
		{
			name:  "the user's constraint on a dependency is honoured",
			cat:   with(catalog{"rules": {"1.0.0": {"k8saudit:0.7.0"}}}),
			wants: []string{"rules", "k8saudit:0.7.x"},
			picks: "k8saudit@0.7.2 rules@1.0.0",
		},
		{
			name:     "asking below what a dependency needs is a conflict with its chain",
			cat:      with(catalog{"k8saudit-rules": {"0.7.0": {"k8saudit:0.7.0"}}}),
			wants:    []string{"k8saudit-rules", "k8saudit:0.6.x"},
			conflict: []string{"k8saudit-rules 0.7.0 requires k8saudit >=0.7.0 <1", "you asked for k8saudit:0.6.x"},
		},
		{
			name:  "an older rules version is chosen when the newest cannot be satisfied",
			cat:   with(catalog{"rules": {"1.0.0": {"k8saudit:0.6.0"}, "1.1.0": {"k8saudit:0.7.0"}}}),
			wants: []string{"rules:1.x", "k8saudit:0.6.x"},
			picks: "k8saudit@0.6.0 rules@1.0.0",
		},
		{
			name:      "an installed newer version is kept",
			cat:       with(catalog{"rules": {"1.0.0": {"k8saudit:0.7.0"}}}),
			wants:     []string{"rules"},
			installed: map[string]string{"k8saudit": "0.8.0"},
			picks:     "k8saudit@0.8.0 rules@1.0.0",
		},
		{
			name:      "an installed older version that satisfies is kept, not upgraded",
			cat:       with(catalog{"rules": {"1.0.0": {"k8saudit:0.7.0"}}}),
			wants:     []string{"rules"},
			installed: map[string]string{"k8saudit": "0.7.0"},
			picks:     "k8saudit@0.7.0 rules@1.0.0",
		},
		{
			name:      "an installed older version is upgraded when required",
			cat:       with(catalog{"rules": {"1.0.0": {"k8saudit:0.7.2"}}}),
			wants:     []string{"rules"},
			installed: map[string]string{"k8saudit": "0.6.0"},
			picks:     "k8saudit@0.8.0 rules@1.0.0",
		},
		{
			name:      "an installed version is never downgraded silently",
			cat:       with(catalog{"old-rules": {"1.0.0": {"k8saudit:0.6.0"}}, "k8saudit": {"0.6.0": nil, "0.8.0": nil}}),
			wants:     []string{"old-rules"},
			installed: map[string]string{"k8saudit": "1.0.0"},
			conflict:  []string{"old-rules 1.0.0 requires k8saudit >=0.6.0 <1", "k8saudit 1.0.0 is installed (never downgraded)"},
		},
		{
			name:     "a different major is a conflict",
			cat:      with(catalog{"a": {"1.0.0": {"k8saudit:0.7.0"}}, "b": {"1.0.0": {"k8saudit:1.0.0"}}}),
			wants:    []string{"a", "b"},
			conflict: []string{"a 1.0.0 requires k8saudit >=0.7.0 <1", "b 1.0.0 requires k8saudit >=1.0.0 <2"},
		},
		{
			name:  "alternatives: the primary when nothing else is present",
			cat:   with(catalog{"rules": {"1.0.0": {"k8saudit:0.7.0|k8saudit-eks:0.4.0"}}}),
			wants: []string{"rules"},
			picks: "k8saudit@0.8.0 rules@1.0.0",
		},
		{
			name:      "alternatives: an installed alternative satisfies",
			cat:       with(catalog{"rules": {"1.0.0": {"k8saudit:0.7.0|k8saudit-eks:0.4.0"}}}),
			wants:     []string{"rules"},
			installed: map[string]string{"k8saudit-eks": "0.4.0"},
			picks:     "k8saudit-eks@0.4.0 rules@1.0.0",
		},
		{
			name:  "alternatives: used when the primary cannot be satisfied",
			cat:   with(catalog{"rules": {"1.0.0": {"k8saudit:2.0.0|k8saudit-eks:0.5.0"}}}),
			wants: []string{"rules"},
			picks: "k8saudit-eks@0.5.0 rules@1.0.0",
		},
		{
			name:  "a cycle resolves",
			cat:   catalog{"a": {"1.0.0": {"b:1.0.0"}}, "b": {"1.0.0": {"a:1.0.0"}}},
			wants: []string{"a"},
			picks: "b@1.0.0 a@1.0.0",
		},
		{
			name:  "a dependency no index names",
			cat:   catalog{"rules": {"1.0.0": {"ghost:1.0.0"}}},
			wants: []string{"rules"},
			err:   index.ErrNotFound,
		},
		{
			name:  "pre-releases are not picked for a dependency",
			cat:   with(catalog{"rules": {"1.0.0": {"json:0.7.0"}}}),
			wants: []string{"rules"},
			picks: "json@0.7.1 rules@1.0.0",
		},
		{
			name:  "a pre-release is picked when the user names one",
			cat:   with(catalog{}),
			wants: []string{"json:>=1.0.0-rc.0"},
			picks: "json@1.0.0-rc.1",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var wants []install.Want
			for _, w := range c.wants {
				wants = append(wants, want(t, w))
			}
			installed := map[string]*semver.Version{}
			for n, v := range c.installed {
				installed[n] = semver.MustParse(v)
			}
			picks, err := install.Solve(context.Background(), c.cat, wants, installed, nil)
			switch {
			case c.err != nil:
				if !errors.Is(err, c.err) {
					t.Fatalf("err = %v, want %v", err, c.err)
				}
				return
			case c.conflict != nil:
				var ce *install.ConflictError
				if !errors.As(err, &ce) || !errors.Is(err, install.ErrDependencyConflict) {
					t.Fatalf("err = %v, want a conflict", err)
				}
				for _, s := range c.conflict {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("conflict %q lacks %q", err, s)
					}
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			var got []string
			for _, p := range picks {
				got = append(got, fmt.Sprintf("%s@%s", p.Name, p.Version))
			}
			if diff := cmp.Diff(c.picks, strings.Join(got, " ")); diff != "" {
				t.Errorf("picks (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSolveRequirements(t *testing.T) {
	cat := catalog{"rules": {"1.0.0": nil, "1.1.0": nil, "1.2.0": nil}}
	needs := map[string]string{"1.0.0": "0.30.0", "1.1.0": "0.35.0", "1.2.0": "0.41.0"}
	engine := install.Engine{"engine_version_semver": "0.36.0"}
	check := func(_ context.Context, name string, v *semver.Version) error {
		rerr, _ := engine.Check(name, v.String(), []oci.Requirement{{Name: "engine_version_semver", Version: needs[v.String()]}})
		if rerr != nil {
			return rerr
		}
		return nil
	}
	picks, err := install.Solve(context.Background(), cat, []install.Want{want(t, "rules:1.x")}, nil, check)
	if err != nil || len(picks) != 1 || picks[0].Version.String() != "1.1.0" {
		t.Fatalf("want the highest version the engine can run (1.1.0): %v %v", picks, err)
	}
	_, err = install.Solve(context.Background(), cat, []install.Want{want(t, "rules:1.2.x")}, nil, check)
	var rerr *install.RequirementError
	if !errors.As(err, &rerr) || !errors.Is(err, install.ErrRequirement) ||
		err.Error() != "rules 1.2.0 requires engine_version_semver 0.41.0; the engine has 0.36.0" {
		t.Errorf("unmet requirement: %v", err)
	}
}

func TestEngineCheck(t *testing.T) {
	for _, c := range []struct {
		engine    install.Engine
		req       oci.Requirement
		met       bool
		unchecked bool
	}{
		{install.Engine{"engine_version_semver": "0.41.0"}, oci.Requirement{Name: "engine_version_semver", Version: "0.41.0"}, true, false},
		{install.Engine{"engine_version_semver": "0.40.9"}, oci.Requirement{Name: "engine_version_semver", Version: "0.41.0"}, false, false},
		{install.Engine{"engine_version_semver": "1.0.0"}, oci.Requirement{Name: "engine_version_semver", Version: "0.41.0"}, true, false},
		{install.Engine{"plugin_api_version": "3.7.0"}, oci.Requirement{Name: "plugin_api_version", Version: "3.0.0"}, true, false},
		{install.Engine{"plugin_api_version": "3.7.0"}, oci.Requirement{Name: "plugin_api_version", Version: "3.8.0"}, false, false},
		{install.Engine{"plugin_api_version": "4.0.0"}, oci.Requirement{Name: "plugin_api_version", Version: "3.0.0"}, false, false},
		{install.Engine{"engine_version_semver": "0.31.0"}, oci.Requirement{Name: "engine_version", Version: "15"}, true, false},
		{install.Engine{"engine_version_semver": "0.14.0"}, oci.Requirement{Name: "engine_version", Version: "15"}, false, false},
		{install.Engine{"engine_version": "17"}, oci.Requirement{Name: "engine_version", Version: "15"}, true, false},
		{install.Engine{}, oci.Requirement{Name: "engine_version_semver", Version: "0.41.0"}, true, true},
		{nil, oci.Requirement{Name: "plugin_api_version", Version: "3.0.0"}, true, true},
	} {
		rerr, unchecked := c.engine.Check("a", "1.0.0", []oci.Requirement{c.req})
		if (rerr == nil) != c.met || (len(unchecked) == 1) != c.unchecked {
			t.Errorf("engine %v, %v: met=%v unchecked=%v", c.engine, c.req, rerr == nil, unchecked)
		}
	}
}
