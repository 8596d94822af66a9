package index_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/pkg/index"
)

func entry(name, typ, desc string, keywords ...string) index.Entry {
	return index.Entry{Name: name, Type: typ, Registry: "ghcr.io", Repository: "acme/" + name, Description: desc, Keywords: keywords}
}

// testSet: "falco-rules" and "json" are in both indexes.
func testSet() *index.Set {
	return index.NewSet(
		&index.Index{Name: "default", Entries: []index.Entry{
			entry("falco-rules", "rulesfile", "Falco rules that are loaded by default"),
			entry("k8saudit", "plugin", "Read Kubernetes Audit Events", "audit", "kubernetes"),
			entry("k8saudit-rules", "rulesfile", "Kubernetes audit rules", "audit", "kubernetes"),
			entry("json", "plugin", "Extract values from any JSON payload"),
			entry("cloudtrail", "plugin", "Reads Cloudtrail JSON logs", "aws", "audit"),
		}},
		nil,
		&index.Index{Name: "acme", Entries: []index.Entry{
			entry("json", "plugin", "ACME's json"),
			entry("falco-rules", "rulesfile", "ACME's fork of the Falco rules"),
			entry("acme-rules", "rulesfile", "ACME rules for Kubernetes", "k8s"),
		}},
		&index.Index{Name: "default", Entries: []index.Entry{entry("shadowed", "asset", "")}},
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
		{name: "unique", artifact: "k8saudit", wantIndex: "default", wantDesc: "Read Kubernetes Audit Events"},
		{name: "unique in second", artifact: "acme-rules", wantIndex: "acme", wantDesc: "ACME rules for Kubernetes"},
		{name: "qualified", index: "acme", artifact: "json", wantIndex: "acme", wantDesc: "ACME's json"},
		{name: "qualified default", index: "default", artifact: "falco-rules", wantIndex: "default", wantDesc: "Falco rules that are loaded by default"},
		{
			name: "ambiguous", artifact: "falco-rules",
			wantErr: &index.AmbiguousError{Name: "falco-rules", Indexes: []string{"default", "acme"}},
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
			name: "not in that index", index: "acme", artifact: "k8saudit",
			wantErr: &index.NotFoundError{Index: "acme", Name: "k8saudit"},
		},
		{
			name: "unknown index", index: "acm", artifact: "json",
			wantErr: &index.NotFoundError{Index: "acm", Suggestions: []string{"acme"}},
		},
		{
			name: "shadowed index ignored", index: "default", artifact: "shadowed",
			wantErr: &index.NotFoundError{Index: "default", Name: "shadowed"},
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

func TestLookupErrors(t *testing.T) {
	set := testSet()
	_, _, err := set.Lookup("", "falco-rules")
	if !errors.Is(err, index.ErrAmbiguous) {
		t.Errorf("errors.Is(%v, ErrAmbiguous) = false", err)
	}
	if want := `artifact "falco-rules" is in several indexes; name one of: default/falco-rules, acme/falco-rules`; err.Error() != want {
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
}

func TestLookupDependency(t *testing.T) {
	tests := []struct {
		from, name string
		wantIndex  string
		wantErr    bool
	}{
		{from: "acme", name: "json", wantIndex: "acme"},
		{from: "default", name: "json", wantIndex: "default"},
		{from: "acme", name: "k8saudit", wantIndex: "default"},
		{from: "default", name: "acme-rules", wantIndex: "acme"},
		{from: "", name: "json", wantIndex: "default"},
		{from: "gone", name: "falco-rules", wantIndex: "default"},
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
		{want: []string{"acme/acme-rules", "default/cloudtrail", "default/falco-rules", "acme/falco-rules", "default/json", "acme/json", "default/k8saudit", "default/k8saudit-rules"}},
		{typ: "plugin", want: []string{"default/cloudtrail", "default/json", "acme/json", "default/k8saudit"}},
		{index: "acme", want: []string{"acme/acme-rules", "acme/falco-rules", "acme/json"}},
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
		want     []string
	}{
		// Name matches first, then keyword/description matches, each by name.
		{name: "name first", keywords: []string{"json"}, want: []string{"default/json", "acme/json", "default/cloudtrail"}},
		{name: "case-insensitive", keywords: []string{"KUBERNETES"}, want: []string{"acme/acme-rules", "default/k8saudit", "default/k8saudit-rules"}},
		{name: "every keyword", keywords: []string{"audit", "rules"}, want: []string{"default/k8saudit-rules"}},
		{name: "keyword field", keywords: []string{"aws"}, want: []string{"default/cloudtrail"}},
		{name: "type", keywords: []string{"audit"}, typ: "plugin", want: []string{"default/k8saudit", "default/cloudtrail"}},
		{name: "more name matches rank higher", keywords: []string{"k8saudit", "rules"}, want: []string{"default/k8saudit-rules"}},
		{name: "none", keywords: []string{"nothing-matches"}},
	}
	set := testSet()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, names(set.Search(tt.keywords, tt.typ))); diff != "" {
				t.Errorf("Search (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClashes(t *testing.T) {
	want := map[string][]string{"falco-rules": {"default", "acme"}, "json": {"default", "acme"}}
	if diff := cmp.Diff(want, testSet().Clashes()); diff != "" {
		t.Errorf("Clashes (-want +got):\n%s", diff)
	}
	if got := index.NewSet().Clashes(); len(got) != 0 {
		t.Errorf("empty set Clashes = %v", got)
	}
}

func TestSetIndexes(t *testing.T) {
	set := testSet()
	var got []string
	for _, idx := range set.Indexes() {
		got = append(got, idx.Name)
	}
	if diff := cmp.Diff([]string{"default", "acme"}, got); diff != "" {
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
