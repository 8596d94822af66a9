package install_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/pkg/index"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/oci"
)

// graph50 publishes 25 plugins (two platforms, three versions each) and 25
// rules files that each depend on two of them, and returns the entries and
// the references of the rules.
func graph50(tb testing.TB, f *fixture, pushRules func(loc oci.Location, version string, deps []oci.Dependency)) ([]index.Entry, []string) {
	tb.Helper()
	ctx := context.Background()
	var entries []index.Entry
	for i := range 25 {
		loc := oci.Location{Registry: f.reg.Host, Repository: fmt.Sprintf("acme/plugins/plugin/p%d", i)}
		for _, v := range []string{"0.1.0", "0.2.0", "1.0.0"} {
			var files []oci.LayerFile
			for _, pl := range []string{"linux/amd64", "linux/arm64"} {
				files = append(files, oci.LayerFile{Path: writeTemp(tb, fmt.Sprintf("libp%d.so", i), v+pl), Platform: pl})
			}
			if _, err := f.client.Push(ctx, loc, oci.PushRequest{Type: oci.TypePlugin, Config: oci.Config{Name: fmt.Sprintf("p%d", i), Version: v}, Files: files}); err != nil {
				tb.Fatal(err)
			}
		}
		entries = append(entries, index.Entry{Name: fmt.Sprintf("p%d", i), Type: "plugin", Registry: loc.Registry, Repository: loc.Repository})
	}
	var refs []string
	for i := range 25 {
		loc := oci.Location{Registry: f.reg.Host, Repository: fmt.Sprintf("acme/rules/r%d", i)}
		deps := []oci.Dependency{{Name: fmt.Sprintf("p%d", i), Version: "0.1.0"}, {Name: fmt.Sprintf("p%d", (i+1)%25), Version: "0.2.0"}}
		pushRules(loc, "1.0.0", deps)
		entries = append(entries, index.Entry{Name: fmt.Sprintf("r%d", i), Type: "rulesfile", Registry: loc.Registry, Repository: loc.Repository})
		refs = append(refs, fmt.Sprintf("r%d:1.x", i))
	}
	return entries, refs
}

func writeTemp(tb testing.TB, name, content string) string {
	tb.Helper()
	dir := tb.TempDir()
	p := dir + "/" + name
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

func newGraph(tb testing.TB) (*fixture, *install.Planner, []string) {
	f := newFixture(tb)
	ctx := context.Background()
	entries, refs := graph50(tb, f, func(loc oci.Location, v string, deps []oci.Dependency) {
		p := writeTemp(tb, "rules.yaml", "- rule: r\n")
		if _, err := f.client.Push(ctx, loc, oci.PushRequest{Type: oci.TypeRulesfile, Config: oci.Config{Name: loc.Repository, Version: v, Dependencies: deps}, Files: []oci.LayerFile{{Path: p}}}); err != nil {
			tb.Fatal(err)
		}
	})
	p := &install.Planner{
		Resolver:    &install.Resolver{Indexes: index.NewSet(&index.Index{Name: "acme", Entries: entries}), Client: f.client, Platform: "linux/amd64"},
		State:       &install.State{},
		ResolveDeps: true,
		Concurrency: 4,
	}
	return f, p, refs
}

func TestPlanFetchesEachDocumentOnce(t *testing.T) {
	f, p, refs := newGraph(t)
	f.reg.Reset()
	plan, err := p.Plan(context.Background(), refs)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Items) != 50 {
		t.Fatalf("%d items, want 50", len(plan.Items))
	}
	for _, it := range plan.Items {
		if strings.HasPrefix(it.Name, "p") && it.Version != "0.2.0" {
			t.Errorf("%s %s: want 0.2.0, the highest of major 0", it.Name, it.Version)
		}
	}
	seen := map[string]int{}
	for _, r := range f.reg.Requests() {
		seen[r.Method+" "+r.Path]++
	}
	for k, n := range seen {
		if n > 1 {
			t.Errorf("%s requested %d times", k, n)
		}
	}
	// Per artifact: a tag list, a manifest, and the config; plugins add the
	// platform manifest, and, being dependencies, the lookup of their
	// floating major tag while their tags are listed (Planner.speculate;
	// not pushed here, so it finds nothing and costs one request).
	if got, max := len(f.reg.Requests()), 25*3+25*5; got > max {
		t.Errorf("%d requests, want at most %d", got, max)
	}
}

func BenchmarkPlan50(b *testing.B) {
	f, p, refs := newGraph(b)
	f.reg.Reset()
	b.ResetTimer()
	for b.Loop() {
		q := &install.Planner{Resolver: p.Resolver, State: p.State, ResolveDeps: true, Concurrency: 4}
		if _, err := q.Plan(context.Background(), refs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(f.reg.Requests()))/float64(b.N), "requests/op")
}
