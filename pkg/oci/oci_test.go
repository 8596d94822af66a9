package oci_test

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	ferryhttp "github.com/ferryhq/ferry/internal/http"
	"github.com/ferryhq/ferry/internal/testutil"
	"github.com/ferryhq/ferry/pkg/oci"
)

func newClient(t *testing.T, noRetry bool) *oci.Client {
	t.Helper()
	hc, err := ferryhttp.New(ferryhttp.Options{NoRetry: noRetry})
	if err != nil {
		t.Fatal(err)
	}
	return oci.NewClient(oci.ClientOptions{HTTP: hc, PlainHTTP: func(string) bool { return true }})
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readLayer(t *testing.T, c *oci.Client, loc oci.Location, desc ocispec.Descriptor) map[string]string {
	t.Helper()
	b, err := c.OpenBlob(context.Background(), loc, desc)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	zr, err := gzip.NewReader(b)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		files[h.Name] = string(data)
	}
	_, _ = io.Copy(io.Discard, b)
	if err := b.Verify(); err != nil {
		t.Fatal(err)
	}
	return files
}

func TestPushResolveRulesfile(t *testing.T) {
	ctx := context.Background()
	reg := testutil.NewRegistry(t)
	c := newClient(t, false)
	loc := oci.Location{Registry: reg.Host, Repository: "falcosecurity/rules/falco-rules"}
	rules := writeFile(t, t.TempDir(), "falco_rules.yaml", "- rule: test\n")

	for _, v := range []string{"1.0.0", "1.1.0", "1.0.1"} {
		res, err := c.Push(ctx, loc, oci.PushRequest{
			Type:         oci.TypeRulesfile,
			Config:       oci.Config{Name: "falco-rules", Version: v, Requirements: []oci.Requirement{{Name: "engine_version_semver", Version: "0.31.0"}}},
			Files:        []oci.LayerFile{{Path: rules}},
			SourceRepo:   "https://github.com/falcosecurity/rules",
			FloatingTags: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.MediaType != ocispec.MediaTypeImageManifest {
			t.Errorf("media type %s", res.MediaType)
		}
	}
	tags, err := c.Tags(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(tags)
	// 1.0.1 must not take "1" from 1.1.0, and must take "1.0" from 1.0.0.
	if diff := cmp.Diff([]string{"1", "1.0", "1.0.0", "1.0.1", "1.1", "1.1.0"}, tags); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	for tag, want := range map[string]string{"1": "1.1.0", "1.0": "1.0.1"} {
		a, _ := c.FetchRoot(ctx, loc, tag)
		b, _ := c.FetchRoot(ctx, loc, want)
		if a.Descriptor.Digest != b.Descriptor.Digest {
			t.Errorf("tag %s does not point at %s", tag, want)
		}
	}

	root, err := c.FetchRoot(ctx, loc, "1.1.0")
	if err != nil {
		t.Fatal(err)
	}
	art, err := c.Resolve(ctx, root, "linux/amd64")
	if err != nil {
		t.Fatal(err)
	}
	if art.Type != oci.TypeRulesfile || art.Layer.Annotations[ocispec.AnnotationTitle] != "falco_rules.yaml.tar.gz" {
		t.Errorf("artifact %+v", art)
	}
	if art.Config.MediaType != "application/vnd.cncf.falco.rulesfile.config.v1+json" || art.Layer.MediaType != "application/vnd.cncf.falco.rulesfile.layer.v1+tar.gz" {
		t.Errorf("media types %s %s", art.Config.MediaType, art.Layer.MediaType)
	}
	cfg, err := c.FetchConfig(ctx, loc, art.Config)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Name != "falco-rules" || cfg.Version != "1.1.0" || len(cfg.Requirements) != 1 {
		t.Errorf("config %+v", cfg)
	}
	if diff := cmp.Diff(map[string]string{"falco_rules.yaml": "- rule: test\n"}, readLayer(t, c, loc, art.Layer)); diff != "" {
		t.Error(diff)
	}
}

func TestPushPluginPlatforms(t *testing.T) {
	ctx := context.Background()
	reg := testutil.NewRegistry(t)
	c := newClient(t, false)
	loc := oci.Location{Registry: reg.Host, Repository: "falcosecurity/plugins/plugin/k8saudit"}
	dir := t.TempDir()
	amd := writeFile(t, dir, "libk8saudit.so", "amd64 build")
	arm := writeFile(t, t.TempDir(), "libk8saudit.so", "arm64 build")
	push := func(files ...oci.LayerFile) {
		t.Helper()
		if _, err := c.Push(ctx, loc, oci.PushRequest{Type: oci.TypePlugin, Config: oci.Config{Name: "k8saudit", Version: "0.7.0"}, Files: files}); err != nil {
			t.Fatal(err)
		}
	}
	// Pushed one platform at a time, as falcoctl does: the index keeps both.
	push(oci.LayerFile{Path: amd, Platform: "linux/amd64"})
	push(oci.LayerFile{Path: arm, Platform: "linux/arm64"})

	root, err := c.FetchRoot(ctx, loc, "0.7.0")
	if err != nil {
		t.Fatal(err)
	}
	if !root.IsIndex() {
		t.Fatalf("plugin root is %s, want an index", root.Descriptor.MediaType)
	}
	for platform, want := range map[string]string{"linux/amd64": "amd64 build", "linux/arm64": "arm64 build"} {
		art, err := c.Resolve(ctx, root, platform)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"linux/amd64", "linux/arm64"}, art.Platforms); diff != "" {
			t.Error(diff)
		}
		if got := readLayer(t, c, loc, art.Layer)["libk8saudit.so"]; got != want {
			t.Errorf("%s: got %q", platform, got)
		}
	}
	_, err = c.Resolve(ctx, root, "darwin/arm64")
	var pe *oci.PlatformError
	if !errors.As(err, &pe) || !errors.Is(err, oci.ErrPlatformNotFound) || !strings.Contains(err.Error(), "linux/amd64, linux/arm64") {
		t.Errorf("missing platform: %v", err)
	}
}

func TestTagsPagination(t *testing.T) {
	ctx := context.Background()
	reg := testutil.NewRegistry(t)
	c := newClient(t, false)
	loc := oci.Location{Registry: reg.Host, Repository: "many/tags"}
	res, err := c.Push(ctx, loc, oci.PushRequest{Type: oci.TypeAsset, Config: oci.Config{Version: "0.0.1"}, Files: []oci.LayerFile{{Path: writeFile(t, t.TempDir(), "a.txt", "a")}}})
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := c.Repository(loc)
	desc := ocispec.Descriptor{MediaType: res.MediaType, Digest: res.Digest, Size: res.Size}
	for i := range 2100 {
		if err := repo.Tag(ctx, desc, fmt.Sprintf("1.%d.0", i)); err != nil {
			t.Fatal(err)
		}
	}
	reg.Reset()
	tags, err := c.Tags(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	if len(tags) != 2101 {
		t.Errorf("got %d tags, want 2101", len(tags))
	}
	if n := reg.Count("GET", "/tags/list"); n != 3 {
		t.Errorf("%d tag list pages, want 3", n)
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	reg := testutil.NewRegistry(t)
	c := newClient(t, true)
	loc := oci.Location{Registry: reg.Host, Repository: "some/rules"}
	_, err := c.Push(ctx, loc, oci.PushRequest{Type: oci.TypeRulesfile, Config: oci.Config{Version: "1.0.0"}, Files: []oci.LayerFile{{Path: writeFile(t, t.TempDir(), "r.yaml", strings.Repeat("x", 4096))}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.FetchRoot(ctx, loc, "9.9.9"); !errors.Is(err, oci.ErrNotFound) {
		t.Errorf("missing tag: %v", err)
	}
	if _, err := c.Tags(ctx, oci.Location{Registry: reg.Host, Repository: "no/such"}); !errors.Is(err, oci.ErrNotFound) {
		t.Errorf("missing repo: %v", err)
	}
	if _, err := c.Tags(ctx, oci.Location{Registry: "127.0.0.1:1", Repository: "x/y"}); !errors.Is(err, oci.ErrUnreachable) {
		t.Errorf("unreachable: %v", err)
	}

	reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		w.WriteHeader(http.StatusUnauthorized)
		return true
	})
	_, err = c.Tags(ctx, loc)
	var ae *oci.AuthError
	if !errors.As(err, &ae) || !errors.Is(err, oci.ErrUnauthorized) {
		t.Errorf("401: %v", err)
	}

	// A registry that serves corrupt blob bytes is caught by the digest check.
	reg.SetFault(nil)
	root, err := c.FetchRoot(ctx, loc, "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	art, err := c.Resolve(ctx, root, "")
	if err != nil {
		t.Fatal(err)
	}
	reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.Contains(r.URL.Path, string(art.Layer.Digest)) {
			return false
		}
		w.Header().Set("Content-Length", fmt.Sprint(art.Layer.Size))
		_, _ = w.Write(make([]byte, art.Layer.Size))
		return true
	})
	b, err := c.OpenBlob(ctx, loc, art.Layer)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, _ = io.Copy(io.Discard, b)
	if err := b.Verify(); !errors.Is(err, oci.ErrDigestMismatch) {
		t.Errorf("corrupt blob: %v", err)
	}
}
