package index_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/pkg/index"
)

// registryTags mixes versions with the tags that are not versions.
var registryTags = []string{
	"1", "1.2", "3", "3.0", "latest", "main", "",
	"v1.2.3", "1.2.3", "1.2.2", "1.2.4-rc.1", "v1.3.0", "01.2.3", "1.2.3.4",
	"sha256-" + hex64 + ".sig", "sha256-" + hex64 + ".att", "sha256-" + hex64 + ".sbom",
	"3.0.1+build", "3.0.1", "3.0.0", "2.0.0", "3.1.0-alpha.1", "1.2.2",
}

func tagsOf(vs []index.Version) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Tag)
	}
	return out
}

func TestVersions(t *testing.T) {
	want := []string{"3.1.0-alpha.1", "3.0.1", "3.0.1+build", "3.0.0", "2.0.0", "v1.3.0", "1.2.4-rc.1", "1.2.3", "1.2.2"}
	got := index.Versions(registryTags)
	if diff := cmp.Diff(want, tagsOf(got)); diff != "" {
		t.Errorf("Versions (-want +got):\n%s", diff)
	}
	for _, v := range got {
		if v.Version == nil {
			t.Errorf("%s: nil Version", v.Tag)
		}
	}
	// A 'v' tag stands when it is the only spelling; order of input does not matter.
	if diff := cmp.Diff([]string{"1.0.0", "v0.9.0"}, tagsOf(index.Versions([]string{"v1.0.0", "v0.9.0", "1.0.0"}))); diff != "" {
		t.Errorf("Versions (-want +got):\n%s", diff)
	}
	// Equal versions are ordered whatever the input order.
	a := tagsOf(index.Versions([]string{"1.0.0+b", "v1.0.0+a", "1.0.0+a", "1.0.0"}))
	b := tagsOf(index.Versions([]string{"1.0.0", "1.0.0+a", "v1.0.0+a", "1.0.0+b"}))
	if diff := cmp.Diff([]string{"1.0.0", "1.0.0+a", "1.0.0+b"}, a); diff != "" {
		t.Errorf("Versions (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("Versions depends on input order (-first +second):\n%s", diff)
	}
	if got := index.Versions(nil); len(got) != 0 {
		t.Errorf("Versions(nil) = %v", got)
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		constraint string
		want       string
	}{
		{"", "3.0.1"},
		{"latest", "3.0.1"},
		{" latest ", "3.0.1"},
		{"*", "3.0.1"},
		{"3", "3.0.1"},
		{"3.0", "3.0.1"},
		{"3.x", "3.0.1"},
		{"1", "v1.3.0"},
		{"1.x", "v1.3.0"},
		{"1.2", "1.2.3"},
		{"1.2.x", "1.2.3"},
		{"~1.2", "1.2.3"},
		{"~1.2.2", "1.2.3"},
		{"^1.2.3", "v1.3.0"},
		{">=1.0.0 <2.0.0", "v1.3.0"},
		{">=1.0.0, <2.0.0", "v1.3.0"},
		{"1.x || 2.x", "2.0.0"},
		{"<3", "2.0.0"},
		{"1.2.2", "1.2.2"},
		{"1.2.3", "1.2.3"},
		{"v1.2.3", "1.2.3"},
		{"=1.2.3", "1.2.3"},
		{"3.0.1", "3.0.1"},
		// Build metadata: an exact version with metadata picks that very tag.
		{"3.0.1+build", "3.0.1+build"},
		// Pre-releases only when the constraint names one.
		{"1.2.4-rc.1", "1.2.4-rc.1"},
		{">=1.2.4-rc.0 <1.3.0", "1.2.4-rc.1"},
		{"^3.1.0-alpha", "3.1.0-alpha.1"},
		// Masterminds: a pre-release in a range opens the whole range to
		// pre-releases, not only those of the same X.Y.Z (npm would say 3.0.1).
		{">=1.2.4-rc.0", "3.1.0-alpha.1"},
	}
	for _, tt := range tests {
		t.Run(tt.constraint, func(t *testing.T) {
			c, err := index.ParseConstraint(tt.constraint)
			if err != nil {
				t.Fatalf("ParseConstraint: %v", err)
			}
			if c.String() != tt.constraint {
				t.Errorf("String() = %q, want %q", c.String(), tt.constraint)
			}
			got, err := c.Resolve(registryTags)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if got.Tag != tt.want {
				t.Errorf("Resolve = %s, want %s", got.Tag, tt.want)
			}
		})
	}
}

func TestResolveNoMatch(t *testing.T) {
	tests := []struct {
		constraint string
		tags       []string
		want       *index.NoMatchError
		wantMsg    string
	}{
		{
			constraint: "3.1", tags: registryTags,
			want:    &index.NoMatchError{Constraint: "3.1", Available: []string{"3.1.0-alpha.1", "3.0.1", "3.0.1+build", "3.0.0", "2.0.0", "v1.3.0", "1.2.4-rc.1", "1.2.3", "1.2.2"}},
			wantMsg: `no version matches "3.1" (available: 3.1.0-alpha.1, 3.0.1, 3.0.1+build, 3.0.0, 2.0.0, v1.3.0, 1.2.4-rc.1, 1.2.3, 1.2.2)`,
		},
		{
			constraint: "", tags: []string{"latest", "1", "2.0.0-rc.1"},
			want:    &index.NoMatchError{Available: []string{"2.0.0-rc.1"}},
			wantMsg: `no version matches "latest" (available: 2.0.0-rc.1)`,
		},
		{
			constraint: "1.x", tags: []string{"latest", "1", "1.2"},
			want:    &index.NoMatchError{Constraint: "1.x", Available: []string{}},
			wantMsg: `no version matches "1.x": no versions available`,
		},
		{
			constraint: "3.0.1+other", tags: registryTags,
			want:    &index.NoMatchError{Constraint: "3.0.1+other", Available: tagsOf(index.Versions(registryTags))},
			wantMsg: `no version matches "3.0.1+other" (available: 3.1.0-alpha.1, 3.0.1, 3.0.1+build, 3.0.0, 2.0.0, v1.3.0, 1.2.4-rc.1, 1.2.3, 1.2.2)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.constraint, func(t *testing.T) {
			c, err := index.ParseConstraint(tt.constraint)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Resolve(tt.tags)
			if diff := cmp.Diff(tt.want, err); diff != "" {
				t.Fatalf("error (-want +got):\n%s", diff)
			}
			if err.Error() != tt.wantMsg {
				t.Errorf("error:\n got %s\nwant %s", err, tt.wantMsg)
			}
			if !errors.Is(err, index.ErrNoMatch) {
				t.Errorf("errors.Is(err, ErrNoMatch) = false")
			}
		})
	}

	var many []string
	for i := range 50 {
		many = append(many, fmt.Sprintf("1.0.%d", i))
	}
	c, _ := index.ParseConstraint("2")
	_, err := c.Resolve(many)
	var nm *index.NoMatchError
	if !errors.As(err, &nm) || len(nm.Available) != 20 || nm.Available[0] != "1.0.49" {
		t.Errorf("Available not capped at the 20 highest: %v", err)
	}
}

func TestParseConstraintErrors(t *testing.T) {
	for _, s := range []string{"banana", ">=", "1.2.3.4", "latest-ish", "1.0.0 - ", "1.2.3 ||| 2"} {
		t.Run(s, func(t *testing.T) {
			_, err := index.ParseConstraint(s)
			if !errors.Is(err, index.ErrInvalidConstraint) {
				t.Fatalf("errors.Is(%v, ErrInvalidConstraint) = false", err)
			}
			var ce *index.ConstraintError
			if !errors.As(err, &ce) || ce.Constraint != s || ce.Err == nil {
				t.Errorf("error %#v is not a *ConstraintError for %q", err, s)
			}
		})
	}
}

func TestConstraintMatch(t *testing.T) {
	c, err := index.ParseConstraint("^0.10.0")
	if err != nil {
		t.Fatal(err)
	}
	for v, want := range map[string]bool{"0.10.0": true, "0.10.9": true, "0.11.0": false, "0.10.1-rc.1": false} {
		if got := c.Match(semver.MustParse(v)); got != want {
			t.Errorf("Match(%s) = %v, want %v", v, got, want)
		}
	}
}

// benchTags returns n tags as a registry with floating tags and signatures lists them.
func benchTags(n int) []string {
	tags := make([]string, 0, n)
	for i := 0; len(tags) < n; i++ {
		major, minor, patch := i/400, i/20%20, i%20
		tags = append(tags, fmt.Sprintf("%d.%d.%d", major, minor, patch))
		switch i % 10 {
		case 0:
			tags = append(tags, fmt.Sprintf("%d.%d", major, minor), fmt.Sprintf("sha256-%064x.sig", i))
		case 5:
			tags = append(tags, fmt.Sprintf("%d.%d.%d-rc.1", major, minor, patch+1), fmt.Sprintf("v%d.%d.%d", major, minor, patch))
		}
	}
	return tags[:n]
}

func BenchmarkResolve5000(b *testing.B) {
	tags := benchTags(5000)
	c, err := index.ParseConstraint(">=3.2.0 <4.0.0")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := c.Resolve(tags); err != nil {
			b.Fatal(err)
		}
	}
}
