package install_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/memory"

	ferryhttp "github.com/ferryhq/ferry/internal/http"
	"github.com/ferryhq/ferry/internal/testutil"
	"github.com/ferryhq/ferry/pkg/index"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/oci"
)

func tarGz(t *testing.T, files map[string]string, withDotDir bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	if withDotDir {
		_ = tw.WriteHeader(&tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755})
	}
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write([]byte(body))
	}
	_ = tw.Close()
	_ = zw.Close()
	return buf.Bytes()
}

// pushFalcoctlStyle publishes an artifact shaped the way falcoctl's pusher
// shapes it: blobs carry oras file-store title annotations (the config's
// title is "config"), the manifest is packed by oras with a created
// annotation, and plugins sit in an image index whose entries carry only a
// platform.
func pushFalcoctlStyle(t *testing.T, c *oci.Client, loc oci.Location, typ, version string, layers map[string][]byte) {
	t.Helper()
	ctx := context.Background()
	store := memory.New()
	cfg, _ := json.Marshal(oci.Config{Name: loc.Repository, Version: version})
	cfgDesc := ocispec.Descriptor{MediaType: oci.ConfigMediaType(typ), Digest: digest.FromBytes(cfg), Size: int64(len(cfg)),
		Annotations: map[string]string{ocispec.AnnotationTitle: "config"}}
	if err := store.Push(ctx, cfgDesc, bytes.NewReader(cfg)); err != nil {
		t.Fatal(err)
	}
	var manifests []ocispec.Descriptor
	for platform, layer := range layers {
		ld := ocispec.Descriptor{MediaType: oci.LayerMediaType(typ), Digest: digest.FromBytes(layer), Size: int64(len(layer)),
			Annotations: map[string]string{ocispec.AnnotationTitle: "artifact.tar.gz"}}
		if err := store.Push(ctx, ld, bytes.NewReader(layer)); err != nil {
			t.Fatal(err)
		}
		md, err := oras.PackManifest(ctx, store, oras.PackManifestVersion1_0, "", oras.PackManifestOptions{ConfigDescriptor: &cfgDesc, Layers: []ocispec.Descriptor{ld}})
		if err != nil {
			t.Fatal(err)
		}
		if typ == oci.TypePlugin {
			os, arch, _ := strings.Cut(platform, "/")
			md.Platform = &ocispec.Platform{OS: os, Architecture: arch}
		}
		manifests = append(manifests, md)
	}
	root := manifests[0]
	if typ == oci.TypePlugin {
		raw, _ := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: manifests})
		root = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: digest.FromBytes(raw), Size: int64(len(raw))}
		if err := store.Push(ctx, root, bytes.NewReader(raw)); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Tag(ctx, root, version); err != nil {
		t.Fatal(err)
	}
	repo, err := c.Repository(loc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oras.Copy(ctx, store, version, repo, version, oras.DefaultCopyOptions); err != nil {
		t.Fatal(err)
	}
}

type fixture struct {
	reg    *testutil.Registry
	client *oci.Client
	dirs   map[string]string
	state  string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	hc, err := ferryhttp.New(ferryhttp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	return &fixture{
		reg:    testutil.NewRegistry(t),
		client: oci.NewClient(oci.ClientOptions{HTTP: hc, PlainHTTP: func(string) bool { return true }}),
		dirs:   map[string]string{oci.TypeRulesfile: filepath.Join(root, "rules"), oci.TypePlugin: filepath.Join(root, "plugins"), oci.TypeAsset: filepath.Join(root, "assets")},
		state:  filepath.Join(root, "state"),
	}
}

func (f *fixture) installer(entries []index.Entry, platform string) *install.Installer {
	return &install.Installer{
		Resolver: &install.Resolver{Indexes: index.NewSet(&index.Index{Name: "test", Entries: entries}), Client: f.client, Platform: platform},
		Store:    &install.Store{StateDir: f.state},
		Dirs:     f.dirs,
	}
}

func TestInstallFalcoctlPublished(t *testing.T) {
	f := newFixture(t)
	rules := oci.Location{Registry: f.reg.Host, Repository: "falcosecurity/rules/falco-rules"}
	plugin := oci.Location{Registry: f.reg.Host, Repository: "falcosecurity/plugins/plugin/k8saudit"}
	pushFalcoctlStyle(t, f.client, rules, oci.TypeRulesfile, "3.0.1", map[string][]byte{"": tarGz(t, map[string]string{"./falco_rules.yaml": "- rule: x\n"}, true)})
	pushFalcoctlStyle(t, f.client, plugin, oci.TypePlugin, "0.7.0", map[string][]byte{
		"linux/amd64": tarGz(t, map[string]string{"libk8saudit.so": "x86"}, false),
		"linux/arm64": tarGz(t, map[string]string{"libk8saudit.so": "arm"}, false),
	})
	in := f.installer([]index.Entry{
		{Name: "falco-rules", Type: "rulesfile", Registry: rules.Registry, Repository: rules.Repository},
		{Name: "k8saudit", Type: "plugin", Registry: plugin.Registry, Repository: plugin.Repository},
	}, "linux/arm64")
	results, err := in.Install(context.Background(), install.Request{Refs: []string{"falco-rules:3", "k8saudit:0.x"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 || results[0].Version != "3.0.1" || results[1].Platform != "linux/arm64" {
		t.Errorf("results: %+v", results)
	}
	for path, want := range map[string]string{
		filepath.Join(f.dirs[oci.TypeRulesfile], "falco_rules.yaml"): "- rule: x\n",
		filepath.Join(f.dirs[oci.TypePlugin], "libk8saudit.so"):      "arm",
	} {
		if got, err := os.ReadFile(path); err != nil || string(got) != want {
			t.Errorf("%s: %q, %v", path, got, err)
		}
	}
	// A platform the index lacks fails with the list of those it has.
	in.Resolver.Platform = "darwin/arm64"
	_, err = in.Install(context.Background(), install.Request{Refs: []string{"k8saudit:0.7.0"}})
	if !errors.Is(err, oci.ErrPlatformNotFound) || !strings.Contains(err.Error(), "linux/amd64, linux/arm64") {
		t.Errorf("missing platform: %v", err)
	}
}

func TestInstallManyInOneRun(t *testing.T) {
	f := newFixture(t)
	var entries []index.Entry
	var refs []string
	for i := range 50 {
		loc := oci.Location{Registry: f.reg.Host, Repository: fmt.Sprintf("acme/rules/r%d", i)}
		pushFalcoctlStyle(t, f.client, loc, oci.TypeRulesfile, "1.0.0", map[string][]byte{"": tarGz(t, map[string]string{fmt.Sprintf("r%d.yaml", i): fmt.Sprint(i)}, false)})
		entries = append(entries, index.Entry{Name: fmt.Sprintf("r%d", i), Type: "rulesfile", Registry: loc.Registry, Repository: loc.Repository})
		refs = append(refs, fmt.Sprintf("r%d:1.x", i))
	}
	in := f.installer(entries, "linux/amd64")
	in.Concurrency = 8
	results, err := in.Install(context.Background(), install.Request{Refs: refs})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 50 {
		t.Fatalf("%d results", len(results))
	}
	st, err := install.LoadState(f.state)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Artifacts) != 50 {
		t.Errorf("state has %d records after 50 parallel installs", len(st.Artifacts))
	}
	for i := range 50 {
		if got, _ := os.ReadFile(filepath.Join(f.dirs[oci.TypeRulesfile], fmt.Sprintf("r%d.yaml", i))); string(got) != fmt.Sprint(i) {
			t.Errorf("r%d.yaml = %q", i, got)
		}
	}
	// The second run downloads no blob at all.
	f.reg.Reset()
	results, err = in.Install(context.Background(), install.Request{Refs: refs})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Status != install.StatusUpToDate {
			t.Errorf("%s: %s", r.Ref, r.Status)
		}
	}
	if n := f.reg.Count("GET", "/blobs/"); n != 0 {
		t.Errorf("no-op run fetched %d blobs", n)
	}
	if n := len(f.reg.Requests()); n > 100 {
		t.Errorf("no-op run made %d requests for 50 artifacts", n)
	}
}

func TestInstallAllowedTypesAndDryRun(t *testing.T) {
	f := newFixture(t)
	loc := oci.Location{Registry: f.reg.Host, Repository: "acme/plugins/plugin/p"}
	pushFalcoctlStyle(t, f.client, loc, oci.TypePlugin, "1.0.0", map[string][]byte{"linux/amd64": tarGz(t, map[string]string{"libp.so": "p"}, false)})
	in := f.installer([]index.Entry{{Name: "p", Type: "plugin", Registry: loc.Registry, Repository: loc.Repository}}, "linux/amd64")
	in.AllowedTypes = []string{oci.TypeRulesfile}
	if _, err := in.Install(context.Background(), install.Request{Refs: []string{"p"}}); !errors.Is(err, install.ErrTypeNotAllowed) {
		t.Errorf("allowed types: %v", err)
	}
	in.AllowedTypes = nil
	f.reg.Reset()
	results, err := in.Install(context.Background(), install.Request{Refs: []string{"p"}, DryRun: true})
	if err != nil || len(results) != 1 || results[0].Status != install.StatusWouldUpdate {
		t.Fatalf("dry run: %+v, %v", results, err)
	}
	// The config (for dependencies and requirements) but never the layer.
	if n := f.reg.Count("GET", "/blobs/"); n != 1 {
		t.Errorf("dry run fetched %d blobs, want only the config", n)
	}
	if _, err := os.Stat(f.dirs[oci.TypePlugin]); !os.IsNotExist(err) {
		t.Errorf("dry run created %s", f.dirs[oci.TypePlugin])
	}
}
