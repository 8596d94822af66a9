package install_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ferryhq/ferry/pkg/index"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/oci"
)

// Small layers download while the plan is solved: each picked layer is
// fetched once, and the layer of a version the plan did not pick (its
// requirement fails, after the planner read its manifest) is discarded,
// never installed.
func TestPrefetchedLayers(t *testing.T) {
	f := newFixture(t)
	loc := oci.Location{Registry: f.reg.Host, Repository: "acme/rules/r"}
	push := func(version, engine string) {
		t.Helper()
		p := filepath.Join(t.TempDir(), "r.yaml")
		if err := os.WriteFile(p, []byte("# "+version+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := oci.Config{Name: "r", Version: version, Requirements: []oci.Requirement{{Name: "engine_version_semver", Version: engine}}}
		if _, err := f.client.Push(context.Background(), loc, oci.PushRequest{Type: oci.TypeRulesfile, Config: cfg, Files: []oci.LayerFile{{Path: p}}}); err != nil {
			t.Fatal(err)
		}
	}
	push("1.0.0", "0.30.0")
	push("1.1.0", "0.50.0") // the highest in range, but the engine is 0.40.0
	in := f.installer([]index.Entry{{Name: "r", Type: "rulesfile", Registry: loc.Registry, Repository: loc.Repository}}, "linux/amd64")
	in.ResolveDeps = true
	results, err := in.Install(context.Background(), install.Request{Refs: []string{"r:1.x"}, Engine: install.Engine{"engine_version_semver": "0.40.0"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 || results[0].Version != "1.0.0" || results[0].Status != install.StatusInstalled {
		t.Fatalf("results: %+v", results)
	}
	dir := f.dirs[oci.TypeRulesfile]
	if got, err := os.ReadFile(filepath.Join(dir, "r.yaml")); err != nil || string(got) != "# 1.0.0\n" {
		t.Errorf("r.yaml = %q, %v", got, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, ".ferry-staging")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("staging left behind: %v", err)
	}
	// Two configs (each version's requirements) and two layers: 1.1.0's,
	// prefetched and discarded, and 1.0.0's, fetched once.
	if n := f.reg.Count("GET", "/blobs/"); n != 4 {
		t.Errorf("%d blob GETs for two configs and two layers: %v", n, f.reg.Requests())
	}

	// With a signature to verify, nothing is fetched before Verify.
	f.reg.Reset()
	push("1.2.0", "0.30.0")
	verified := false
	in.Verify = func(context.Context, install.PlanItem, ocispec.Descriptor) error {
		verified = true
		if n := f.reg.Count("GET", "/blobs/"); n != 1 { // 1.2.0's config only
			t.Errorf("%d blob GETs before verification: %v", n, f.reg.Requests())
		}
		return nil
	}
	in.NeedsVerify = func(name, idx string) bool { return true }
	if _, err := in.Install(context.Background(), install.Request{Refs: []string{"r:1.x"}}); err != nil {
		t.Fatal(err)
	}
	if !verified {
		t.Error("Verify was not called")
	}
}
