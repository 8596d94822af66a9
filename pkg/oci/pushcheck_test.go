package oci_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/ferryhq/ferry/internal/testutil"
	"github.com/ferryhq/ferry/pkg/errdef"
	"github.com/ferryhq/ferry/pkg/oci"
)

func TestPushRequestValidate(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rules, []byte("- rule: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	loc := oci.Location{Registry: "r.example", Repository: "acme/rules/my-rules"}
	good := func() oci.PushRequest {
		return oci.PushRequest{Type: oci.TypeRulesfile, Config: oci.Config{Version: "1.0.0"}, Files: []oci.LayerFile{{Path: rules}}}
	}
	if r := good(); r.Validate(loc) != nil {
		t.Fatalf("a good request: %v", r.Validate(loc))
	}
	tests := []struct {
		name  string
		edit  func(*oci.PushRequest)
		want  string
		field oci.Field
	}{
		{"type", func(r *oci.PushRequest) { r.Type = "driver" }, `unknown artifact type "driver"`, oci.FieldType},
		{"no version", func(r *oci.PushRequest) { r.Config.Version = "" }, "a version is required", oci.FieldVersion},
		{"not strict", func(r *oci.PushRequest) { r.Config.Version = "1.0" }, `version "1.0" is not strict semver`, oci.FieldVersion},
		{"build metadata", func(r *oci.PushRequest) { r.Config.Version = "1.0.0+build.7" }, "+build.7", oci.FieldVersion},
		{"namespace", func(r *oci.PushRequest) { r.SourceRepo = "https://github.com/other/rules" }, `does not start with "other/rules"`, oci.FieldSourceRepo},
		{"dependency version", func(r *oci.PushRequest) {
			r.Config.Dependencies = []oci.Dependency{{Name: "k8saudit", Version: "x"}}
		}, `dependency k8saudit: "x" is not a version`, oci.FieldDependencies},
		{"alternative name", func(r *oci.PushRequest) {
			r.Config.Dependencies = []oci.Dependency{{Name: "a", Version: "1.0.0", Alternatives: []oci.Alternative{{Version: "1.0.0"}}}}
		}, "a name is required", oci.FieldDependencies},
		{"requirement", func(r *oci.PushRequest) { r.Config.Requirements = []oci.Requirement{{Name: "engine_version_semver"}} }, "want a name and a version", oci.FieldRequirements},
		{"no file", func(r *oci.PushRequest) { r.Files = nil }, "no file given", oci.FieldFiles},
		{"two files", func(r *oci.PushRequest) { r.Files = append(r.Files, oci.LayerFile{Path: rules}) }, "a rulesfile is one file, got 2", oci.FieldFiles},
		{"platform of a rules file", func(r *oci.PushRequest) { r.Files[0].Platform = "linux/amd64" }, "a platform applies to plugins only", oci.FieldPlatform},
		{"plugin without platform", func(r *oci.PushRequest) { r.Type = oci.TypePlugin }, "a plugin needs one platform per file", oci.FieldPlatform},
		{"bad platform", func(r *oci.PushRequest) { r.Type, r.Files[0].Platform = oci.TypePlugin, "linux" }, `platform "linux": want OS/ARCH`, oci.FieldPlatform},
		// A FILE that is not there is not found, not invalid (checked below).
		{"fifo", func(r *oci.PushRequest) { r.Files[0].Path = fifo }, "is not a regular file but a named pipe (FIFO)", oci.FieldFiles},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := good()
			tt.edit(&r)
			err := r.Validate(loc)
			if !errors.Is(err, errdef.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an invalid request saying %q", err, tt.want)
			}
			var fe *oci.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field || fe.Error() != err.Error() {
				t.Errorf("Validate() = %v (field %+v), want a field error of %q with the same message", err, fe, tt.field)
			}
		})
	}
	r := good()
	r.Files[0].Path = filepath.Join(dir, "nope")
	if err := r.Validate(loc); !errors.Is(err, errdef.ErrNotFound) || errors.Is(err, errdef.ErrInvalid) || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: Validate() = %v, want not found saying \"no such file\"", err)
	}
	if fe := (*oci.FieldError)(nil); !errors.As(r.Validate(loc), &fe) || fe.Field != oci.FieldFiles {
		t.Errorf("missing file: Validate() = %v, want a field error of the files", r.Validate(loc))
	}
	r = good()
	r.SourceRepo, r.SourceUnchecked = "https://github.com/other/rules", true
	if err := r.Validate(loc); err != nil {
		t.Errorf("SourceUnchecked: %v", err)
	}
}

// Push refuses what Validate refuses, before anything is sent.
func TestPushValidatesFirst(t *testing.T) {
	reg := testutil.NewRegistry(t)
	c := oci.NewClient(oci.ClientOptions{PlainHTTP: func(string) bool { return true }})
	loc := oci.Location{Registry: reg.Host, Repository: "acme/rules/r"}
	_, err := c.Push(context.Background(), loc, oci.PushRequest{Type: oci.TypeRulesfile, Config: oci.Config{Version: "1.0"}, Files: []oci.LayerFile{{Path: "x"}}})
	if !errors.Is(err, errdef.ErrInvalid) {
		t.Fatalf("Push() = %v, want an invalid request", err)
	}
	if n := len(reg.Requests()); n != 0 {
		t.Errorf("an invalid push sent %d requests", n)
	}
}

func TestPushRequestComplete(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	doc := "- required_engine_version: 0.31.0\n- required_plugin_versions:\n  - name: k8saudit\n    version: 0.7.0\n  - name: json\n    version: 0.2.0\n- rule: x\n"
	if err := os.WriteFile(rules, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	loc := oci.Location{Registry: "r.example", Repository: "acme/rules/my-rules"}
	r := oci.PushRequest{Type: oci.TypeRulesfile, Config: oci.Config{Version: "1.0.0", Dependencies: []oci.Dependency{{Name: "json", Version: "0.3.0"}}}, Files: []oci.LayerFile{{Path: rules}}}
	if err := r.Complete(context.Background(), loc); err != nil {
		t.Fatal(err)
	}
	if r.Config.Name != "my-rules" {
		t.Errorf("name %q", r.Config.Name)
	}
	wantDeps := []oci.Dependency{{Name: "json", Version: "0.3.0"}, {Name: "k8saudit", Version: "0.7.0"}}
	if !reflect.DeepEqual(r.Config.Dependencies, wantDeps) {
		t.Errorf("dependencies %+v, want %+v (the given one wins by name)", r.Config.Dependencies, wantDeps)
	}
	if len(r.Config.Requirements) != 1 || r.Config.Requirements[0].Name != "engine_version_semver" || r.Config.Requirements[0].Version != "0.31.0" {
		t.Errorf("requirements %+v", r.Config.Requirements)
	}
	r.Files[0].Path = filepath.Join(dir, "nope.yaml")
	if err := r.Complete(context.Background(), loc); !errors.Is(err, errdef.ErrInvalid) {
		t.Errorf("missing rules file: %v", err)
	}
}
