package oci_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/ferryhq/ferry/internal/testutil"
	"github.com/ferryhq/ferry/pkg/index"
	"github.com/ferryhq/ferry/pkg/oci"
)

// go-containerregistry's registry cuts a tag list at n entries and sends no
// Link header; ferry must keep asking with last= until a page is short.
// With exactly 1000 tags the second page asks for tags after the last one,
// which that registry answers with the whole list again: that must end the
// listing, not repeat it.
func TestTagsContinuesFullPageWithoutLink(t *testing.T) {
	for _, n := range []int{1001, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) { testTagsFullPage(t, n) })
	}
}

func testTagsFullPage(t *testing.T, n int) {
	ctx := context.Background()
	reg := testutil.NewGGCRRegistry(t)
	c := newClient(t, false)
	loc := oci.Location{Registry: reg.Host, Repository: "falcosecurity/rules/many"}
	rules := writeFile(t, t.TempDir(), "falco_rules.yaml", "- rule: test\n")
	_, err := c.Push(ctx, loc, oci.PushRequest{
		Type:   oci.TypeRulesfile,
		Config: oci.Config{Name: "many", Version: "2.0.0"},
		Files:  []oci.LayerFile{{Path: rules}},
	})
	if err != nil {
		t.Fatal(err)
	}
	repo, err := c.Repository(loc)
	if err != nil {
		t.Fatal(err)
	}
	root, err := c.FetchRoot(ctx, loc, "2.0.0")
	if err != nil {
		t.Fatal(err)
	}
	for i := range n - 1 {
		if err := repo.Tag(ctx, root.Descriptor, fmt.Sprintf("1.0.%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	reg.Reset()
	tags, err := c.Tags(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	if len(tags) != n {
		t.Errorf("listed %d tags, want %d", len(tags), n)
	}
	seen := map[string]bool{}
	for _, tag := range tags {
		if seen[tag] {
			t.Errorf("tag %s listed twice", tag)
		}
		seen[tag] = true
	}
	cons, err := index.ParseConstraint("latest")
	if err != nil {
		t.Fatal(err)
	}
	picked, err := cons.Resolve(tags)
	if err != nil {
		t.Fatal(err)
	}
	if picked.Tag != "2.0.0" {
		t.Errorf("picked %s, want 2.0.0", picked.Tag)
	}
	// A page of 1000, then a short (or repeated) one ends it.
	if got := reg.Count("GET", "/tags/list"); got != 2 {
		t.Errorf("%d tag list requests, want 2", got)
	}
}
