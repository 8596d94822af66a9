package install_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ferryhq/ferry/pkg/index"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/oci"
)

// One Installer serves calls with different requests, at once, and none
// of them changes it: a dry run beside an install, each with its own
// engine versions and lock file.
func TestInstallerIsNotModifiedByItsCalls(t *testing.T) {
	f := newFixture(t)
	loc := oci.Location{Registry: f.reg.Host, Repository: "acme/rules/r"}
	cfgRequirement := func(version, engine string) {
		p := filepath.Join(t.TempDir(), "r.yaml")
		if err := os.WriteFile(p, []byte("- rule: "+version+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := oci.Config{Name: "r", Version: version, Requirements: []oci.Requirement{{Name: "engine_version_semver", Version: engine}}}
		if _, err := f.client.Push(context.Background(), loc, oci.PushRequest{Type: oci.TypeRulesfile, Config: cfg, Files: []oci.LayerFile{{Path: p}}}); err != nil {
			t.Fatal(err)
		}
	}
	cfgRequirement("1.0.0", "0.30.0")
	cfgRequirement("1.1.0", "0.50.0")
	in := f.installer([]index.Entry{{Name: "r", Type: "rulesfile", Registry: loc.Registry, Repository: loc.Repository}}, "")
	before := *in

	var wg sync.WaitGroup
	var dry, real []install.Result
	var dryErr, realErr error
	lock := filepath.Join(t.TempDir(), "ferry.lock")
	wg.Go(func() {
		dry, dryErr = in.Install(context.Background(), install.Request{Refs: []string{"r:1.x"}, DryRun: true, Engine: install.Engine{"engine_version_semver": "0.60.0"}})
	})
	wg.Go(func() {
		real, realErr = in.Install(context.Background(), install.Request{Refs: []string{"r:1.x"}, Engine: install.Engine{"engine_version_semver": "0.40.0"}, LockPath: lock})
	})
	wg.Wait()
	if dryErr != nil || realErr != nil {
		t.Fatal(errors.Join(dryErr, realErr))
	}
	if len(dry) != 1 || dry[0].Version != "1.1.0" {
		t.Errorf("dry run with engine 0.60.0: %+v", dry)
	}
	if len(real) != 1 || real[0].Version != "1.0.0" || real[0].Status != install.StatusInstalled {
		t.Errorf("install with engine 0.40.0: %+v", real)
	}
	if lf, err := install.ReadLock(lock); err != nil || len(lf.Artifacts) != 1 || lf.Artifacts[0].Version != "1.0.0" {
		t.Errorf("lock file: %+v, %v", lf, err)
	}
	if in.Concurrency != before.Concurrency || in.Resolver != before.Resolver || in.Store != before.Store || in.Verify != nil || in.NeedsVerify != nil {
		t.Errorf("the Installer changed: %+v, was %+v", *in, before)
	}
}
