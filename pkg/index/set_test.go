package index_test

import (
	"errors"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/pkg/index"
)

func entry(name, typ, desc string, keywords ...string) index.Entry {
	return index.Entry{Name: name, Type: typ, Registry: "ghcr.io", Repository: "acme/" + name, Description: desc, Keywords: keywords}
}

// at is e moved to repository repo of ghcr.io.
func at(e index.Entry, repo string) index.Entry {
	e.Repository = repo
	return e
}

// testSet: two configured indexes, "falcosecurity" and "acme", then the
// embedded "default" as a fallback. falco-rules is in all three, at
// different places in falcosecurity and acme; k8saudit is in all three at
// one place; json is in acme and default.
func testSet() *index.Set {
	return index.NewSet(
		&index.Index{Name: "falcosecurity", Entries: []index.Entry{
			at(entry("falco-rules", "rulesfile", "Falco rules (falcoctl's index)"), "falcosecurity/rules/falco-rules"),
			at(entry("k8saudit", "plugin", "Read Kubernetes Audit Events (falcoctl's index)"), "falcosecurity/plugins/plugin/k8saudit"),
		}},
		nil,
		&index.Index{Name: "acme", Entries: []index.Entry{
			entry("json", "plugin", "ACME's json"),
			entry("falco-rules", "rulesfile", "ACME's fork of the Falco rules"),
			entry("acme-rules", "rulesfile", "ACME rules for Kubernetes", "k8s"),
			at(entry("k8saudit", "plugin", "ACME's copy of k8saudit's entry"), "falcosecurity/plugins/plugin/k8saudit"),
		}},
		&index.Index{Name: "default", Fallback: true, Entries: []index.Entry{
			at(entry("falco-rules", "rulesfile", "Falco rules that are loaded by default"), "falcosecurity/rules/falco-rules"),
			at(entry("k8saudit", "plugin", "Read Kubernetes Audit Events", "audit", "kubernetes"), "falcosecurity/plugins/plugin/k8saudit"),
			entry("k8saudit-rules", "rulesfile", "Kubernetes audit rules", "audit", "kubernetes"),
			entry("json", "plugin", "Extract values from any JSON payload"),
			entry("cloudtrail", "plugin", "Reads Cloudtrail JSON logs", "aws", "audit"),
		}},
		&index.Index{Name: "acme", Entries: []index.Entry{entry("shadowed", "asset", "")}},
	)
}

func names(found []index.Found) []string {
	var out []string
	for _, f := range found {
		out = append(out, f.Index+"/"+f.Name)
	}
	return out
}

func TestLookup(t *testing.T) {
	tests := []struct {
		name            string
		index, artifact string
		wantIndex       string
		wantDesc        string
		wantErr         error // a *NotFoundError or *AmbiguousError to compare with
	}{
		{name: "only in the fallback", artifact: "cloudtrail", wantIndex: "default", wantDesc: "Reads Cloudtrail JSON logs"},
		{name: "configured index wins over the fallback", artifact: "json", wantIndex: "acme", wantDesc: "ACME's json"},
		{name: "one place in two configured indexes is one artifact", artifact: "k8saudit", wantIndex: "falcosecurity", wantDesc: "Read Kubernetes Audit Events (falcoctl's index)"},
		{name: "unique in second", artifact: "acme-rules", wantIndex: "acme", wantDesc: "ACME rules for Kubernetes"},
		{name: "qualified", index: "acme", artifact: "json", wantIndex: "acme", wantDesc: "ACME's json"},
		{name: "qualified fallback", index: "default", artifact: "falco-rules", wantIndex: "default", wantDesc: "Falco rules that are loaded by default"},
		{name: "qualified second of one place", index: "acme", artifact: "k8saudit", wantIndex: "acme", wantDesc: "ACME's copy of k8saudit's entry"},
		{
			name: "configured indexes at different places", artifact: "falco-rules",
			wantErr: &index.AmbiguousError{
				Name: "falco-rules", Indexes: []string{"falcosecurity", "acme"},
				Places: []string{"ghcr.io/falcosecurity/rules/falco-rules", "ghcr.io/acme/falco-rules"},
			},
		},
		{
			name: "typo", artifact: "k8saudt",
			wantErr: &index.NotFoundError{Name: "k8saudt", Suggestions: []string{"k8saudit"}},
		},
		{
			name: "prefix", artifact: "falco",
			wantErr: &index.NotFoundError{Name: "falco", Suggestions: []string{"falco-rules"}},
		},
		{
			name: "nothing close", artifact: "zzzzzzzz",
			wantErr: &index.NotFoundError{Name: "zzzzzzzz"},
		},
		{
			name: "not in that index", index: "acme", artifact: "cloudtrail",
			wantErr: &index.NotFoundError{Index: "acme", Name: "cloudtrail", Suggestions: nil},
		},
		{
			name: "unknown index", index: "acm", artifact: "json",
			wantErr: &index.NotFoundError{Index: "acm", Suggestions: []string{"acme"}},
		},
		{
			name: "shadowed index ignored", index: "acme", artifact: "shadowed",
			wantErr: &index.NotFoundError{Index: "acme", Name: "shadowed"},
		},
	}
	set := testSet()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, idx, err := set.Lookup(tt.index, tt.artifact)
			if diff := cmp.Diff(tt.wantErr, err); diff != "" {
				t.Fatalf("error (-want +got):\n%s", diff)
			}
			if idx != tt.wantIndex || e.Description != tt.wantDesc {
				t.Errorf("got %q from %q, want %q from %q", e.Description, idx, tt.wantDesc, tt.wantIndex)
			}
		})
	}
}

// The shape of Falco's chart: its falcoctl config names the official index
// "falcosecurity", with the same entries as the embedded default.
func TestLookupFalcoctlIndexBesideDefault(t *testing.T) {
	official, err := os.ReadFile("testdata/falcoctl-index.yaml")
	if err != nil {
		t.Fatal(err)
	}
	user, err := index.Parse("falcosecurity", official)
	if err != nil {
		t.Fatal(err)
	}
	def, err := index.Parse("default", ferry.DefaultIndex)
	if err != nil {
		t.Fatal(err)
	}
	def.Fallback = true
	set := index.NewSet(user, def)
	if c := set.Clashes(); len(c) != 0 {
		t.Errorf("Clashes = %v, want none", c)
	}
	for _, e := range user.Entries {
		_, from, err := set.Lookup("", e.Name)
		if err != nil || from != "falcosecurity" {
			t.Errorf("Lookup(%q) from %q, %v; want falcosecurity", e.Name, from, err)
		}
	}
	// An entry only the default has is still reachable by its bare name.
	for _, e := range def.Entries {
		if _, _, err := set.Lookup("", e.Name); err != nil {
			t.Errorf("Lookup(%q): %v", e.Name, err)
		}
	}
}

func TestLookupErrors(t *testing.T) {
	set := testSet()
	_, _, err := set.Lookup("", "falco-rules")
	if !errors.Is(err, index.ErrAmbiguous) {
		t.Errorf("errors.Is(%v, ErrAmbiguous) = false", err)
	}
	if want := `artifact "falco-rules" is in several indexes; name one of: falcosecurity/falco-rules (ghcr.io/falcosecurity/rules/falco-rules), acme/falco-rules (ghcr.io/acme/falco-rules)`; err.Error() != want {
		t.Errorf("error = %s\nwant %s", err, want)
	}
	_, _, err = set.Lookup("", "k8saudt")
	if !errors.Is(err, index.ErrNotFound) {
		t.Errorf("errors.Is(%v, ErrNotFound) = false", err)
	}
	if want := `artifact "k8saudt" not found in any index; did you mean k8saudit?`; err.Error() != want {
		t.Errorf("error = %s\nwant %s", err, want)
	}
	_, _, err = set.Lookup("nope", "json")
	if want := `index "nope" not found`; err.Error() != want {
		t.Errorf("error = %s\nwant %s", err, want)
	}
	// Registry host names compare case-insensitively.
	a := &index.Index{Name: "a", Entries: []index.Entry{{Name: "x", Type: "asset", Registry: "GHCR.io", Repository: "r/x"}}}
	b := &index.Index{Name: "b", Entries: []index.Entry{{Name: "x", Type: "asset", Registry: "ghcr.io", Repository: "r/x"}}}
	if _, from, err := index.NewSet(a, b).Lookup("", "x"); err != nil || from != "a" {
		t.Errorf("Lookup(x) from %q, %v; want a", from, err)
	}
}

func TestLookupDependency(t *testing.T) {
	tests := []struct {
		from, name string
		wantIndex  string
		wantErr    bool
	}{
		{from: "acme", name: "json", wantIndex: "acme"},
		{from: "default", name: "json", wantIndex: "default"},
		{from: "default", name: "k8saudit", wantIndex: "default"},
		{from: "acme", name: "k8saudit", wantIndex: "acme"},
		{from: "acme", name: "cloudtrail", wantIndex: "default"},
		{from: "default", name: "acme-rules", wantIndex: "acme"},
		// Not in the requirer's index: the configured ones first, in order,
		// even when they give different places.
		{from: "default", name: "falco-rules", wantIndex: "default"},
		{from: "", name: "json", wantIndex: "acme"},
		{from: "gone", name: "falco-rules", wantIndex: "falcosecurity"},
		{from: "falcosecurity", name: "json", wantIndex: "acme"},
		{from: "acme", name: "nope", wantErr: true},
	}
	set := testSet()
	for _, tt := range tests {
		t.Run(tt.from+"/"+tt.name, func(t *testing.T) {
			e, idx, err := set.LookupDependency(tt.from, tt.name)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				if !errors.Is(err, index.ErrNotFound) {
					t.Errorf("errors.Is(%v, ErrNotFound) = false", err)
				}
				return
			}
			if idx != tt.wantIndex || e.Name != tt.name {
				t.Errorf("got %s/%s, want %s/%s", idx, e.Name, tt.wantIndex, tt.name)
			}
		})
	}
}

func TestList(t *testing.T) {
	tests := []struct {
		typ, index string
		want       []string
	}{
		{want: []string{
			"acme/acme-rules", "default/cloudtrail", "falcosecurity/falco-rules", "acme/falco-rules", "default/falco-rules",
			"acme/json", "default/json", "falcosecurity/k8saudit", "acme/k8saudit", "default/k8saudit", "default/k8saudit-rules",
		}},
		{typ: "plugin", want: []string{"default/cloudtrail", "acme/json", "default/json", "falcosecurity/k8saudit", "acme/k8saudit", "default/k8saudit"}},
		{index: "acme", want: []string{"acme/acme-rules", "acme/falco-rules", "acme/json", "acme/k8saudit"}},
		{typ: "rulesfile", index: "acme", want: []string{"acme/acme-rules", "acme/falco-rules"}},
		{typ: "asset"},
		{index: "nope"},
	}
	set := testSet()
	for _, tt := range tests {
		t.Run(tt.typ+","+tt.index, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, names(set.List(tt.typ, tt.index))); diff != "" {
				t.Errorf("List (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSearch(t *testing.T) {
	tests := []struct {
		name     string
		keywords []string
		typ      string
		minScore float64
		want     []string
	}{
		// Exact names score 1 and come first; then by score, then by how
		// many keywords matched, then by name and index order.
		{name: "name first", keywords: []string{"json"}, want: []string{"acme/json", "default/json", "default/cloudtrail"}},
		{name: "case-insensitive", keywords: []string{"KUBERNETES"}, want: []string{"acme/acme-rules", "default/k8saudit-rules", "falcosecurity/k8saudit", "default/k8saudit"}},
		{name: "any keyword", keywords: []string{"aws", "acme-rules"}, want: []string{"acme/acme-rules", "default/cloudtrail"}},
		{name: "keyword field", keywords: []string{"aws"}, want: []string{"default/cloudtrail"}},
		{name: "type", keywords: []string{"audit"}, typ: "plugin", want: []string{"falcosecurity/k8saudit", "acme/k8saudit", "default/k8saudit", "default/cloudtrail"}},
		{name: "typo", keywords: []string{"cloudtrailz"}, want: []string{"default/cloudtrail"}},
		{name: "typo below the min score", keywords: []string{"cloudtrailz"}, minScore: 0.95},
		{name: "low min score", keywords: []string{"k8saudit-rulez"}, minScore: 0.5, want: []string{"default/k8saudit-rules", "falcosecurity/k8saudit", "acme/k8saudit", "default/k8saudit"}},
		{name: "none", keywords: []string{"nothing-matches"}},
	}
	set := testSet()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.minScore == 0 {
				tt.minScore = index.DefaultMinScore
			}
			var got []string
			for _, h := range set.Search(tt.keywords, tt.typ, tt.minScore) {
				got = append(got, h.Index+"/"+h.Name)
				if h.Score < 0 || h.Score > 1 {
					t.Errorf("%s/%s: score %v", h.Index, h.Name, h.Score)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Search (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNameScore(t *testing.T) {
	for _, tt := range []struct {
		name, keyword string
		want          float64
	}{
		{"cloudtrail", "cloudtrail", 1},
		{"cloudtrail", "CloudTrail", 1},
		{"cloudtrail", "cloudtrailz", 10.0 / 11},
		{"cloudtrail", "cloudtral", 9.0 / 10},
		{"k8saudit", "k8saudit-rules", 8.0 / 14},
		{"json", "okta", 0},
		{"", "", 1},
	} {
		if got := index.NameScore(tt.name, tt.keyword); got != tt.want {
			t.Errorf("NameScore(%q, %q) = %v, want %v", tt.name, tt.keyword, got, tt.want)
		}
	}
}

func TestClashes(t *testing.T) {
	set := testSet()
	want := map[string][]string{"falco-rules": {"falcosecurity", "acme"}}
	if diff := cmp.Diff(want, set.Clashes()); diff != "" {
		t.Errorf("Clashes (-want +got):\n%s", diff)
	}
	if got := index.NewSet().Clashes(); len(got) != 0 {
		t.Errorf("empty set Clashes = %v", got)
	}
	for _, tt := range []struct {
		index, name string
		want        bool
	}{
		{"acme", "json", true}, {"default", "json", false}, {"falcosecurity", "k8saudit", true},
		{"acme", "k8saudit", true}, {"default", "k8saudit", false}, {"default", "cloudtrail", true},
		{"acme", "falco-rules", false}, {"acme", "nope", false},
	} {
		if got := set.Resolves(tt.index, tt.name); got != tt.want {
			t.Errorf("Resolves(%s, %s) = %v, want %v", tt.index, tt.name, got, tt.want)
		}
	}
}

func TestSetIndexes(t *testing.T) {
	set := testSet()
	var got []string
	for _, idx := range set.Indexes() {
		got = append(got, idx.Name)
	}
	if diff := cmp.Diff([]string{"falcosecurity", "acme", "default"}, got); diff != "" {
		t.Errorf("Indexes (-want +got):\n%s", diff)
	}
	if !set.Has("acme") || set.Has("nope") {
		t.Errorf("Has(acme), Has(nope) = %v, %v; want true, false", set.Has("acme"), set.Has("nope"))
	}
	for name, want := range map[string]bool{"falco-rules": true, "dummy_c": true, "Falco": false, "1a": false, "": false} {
		if got := index.ValidName(name); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", name, got, want)
		}
	}
}
