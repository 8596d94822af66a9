package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/ferryhq/ferry/internal/testutil"
	"github.com/ferryhq/ferry/pkg/oci"
)

// noHEAD makes reg answer 405 to every HEAD, as some CDNs in front of
// registries do; GETs reach the real registry.
func noHEAD(reg *testutil.Registry) {
	reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodHead {
			return false
		}
		w.WriteHeader(http.StatusMethodNotAllowed)
		return true
	})
}

func TestPromoteWithoutHEAD(t *testing.T) {
	t.Parallel()
	srcReg, dstReg := testutil.NewRegistry(t), testutil.NewRegistry(t)
	e := newEnv(t)
	src := srcReg.Host + "/staging/rules/my-rules"
	dst := dstReg.Host + "/prod/rules/my-rules"
	publishRules(t, e, src, "1.0.0")
	d := digestOf(t, e, src+":1.0.0")
	noHEAD(srcReg)
	noHEAD(dstReg)

	e.ok("artifact", "promote", src+":1.0.0", dst, "--add-floating-tags")
	// Twice: the second run finds everything present through GET.
	e.ok("artifact", "promote", src+":1.0.0", dst, "--add-floating-tags")
	if n := dstReg.Count(http.MethodHead, ""); n == 0 {
		t.Errorf("no HEAD reached the destination: the test proves nothing")
	}
	srcReg.SetFault(nil)
	dstReg.SetFault(nil)
	for _, tag := range []string{"1.0.0", "1.0", "1"} {
		if got := digestOf(t, e, dst+":"+tag); got != d {
			t.Errorf("dst %s is %s, want %s", tag, got, d)
		}
	}
}

// orasPush pushes layer as `oras push --artifact-type ARTIFACT_TYPE
// rules.tar.gz:LAYER_TYPE` (image-spec 1.1) does: the OCI empty config, the
// artifact type in the manifest, a title annotation on the layer and a
// creation time on the manifest.
func orasPush(t *testing.T, ref registry.Reference, artifactType, layerType string, layer []byte) {
	t.Helper()
	ctx := context.Background()
	repo := &remote.Repository{Client: http.DefaultClient, Reference: ref, PlainHTTP: true}
	ld := ocispec.Descriptor{MediaType: layerType, Digest: digest.FromBytes(layer), Size: int64(len(layer)),
		Annotations: map[string]string{ocispec.AnnotationTitle: "rules.tar.gz"}}
	if err := repo.Push(ctx, ld, bytes.NewReader(layer)); err != nil {
		t.Fatal(err)
	}
	desc, err := oras.PackManifest(ctx, repo, oras.PackManifestVersion1_1, artifactType, oras.PackManifestOptions{Layers: []ocispec.Descriptor{ld}})
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Tag(ctx, desc, ref.Reference); err != nil {
		t.Fatal(err)
	}
}

// An artifact pushed by oras with falcoctl's media types and an empty config
// installs and verifies: one media-type rule for both.
func TestOrasPushedEmptyConfig(t *testing.T) {
	t.Parallel()
	reg := testutil.NewRegistry(t)
	e := newEnv(t)
	ref := registry.Reference{Registry: reg.Host, Repository: "acme/rules/oras-rules", Reference: "1.0.0"}
	orasPush(t, ref, "application/vnd.cncf.falco.rulesfile.config.v1+json", "application/vnd.cncf.falco.rulesfile.layer.v1+tar.gz", rulesTarGz(t, "- rule: pushed by oras\n"))

	r := e.ok("artifact", "verify", ref.String())
	mustContain(t, "verify", r.Stdout, "media-types", "rulesfile", "Verified: ")
	e.ok("artifact", "install", ref.String())
	if got := e.read("falco", "my_rules.yaml"); !strings.Contains(got, "pushed by oras") {
		t.Errorf("installed %q", got)
	}

	// A config or artifact type of another Falco type contradicts the
	// layer: both refuse it, verify with exit 5.
	bad := registry.Reference{Registry: reg.Host, Repository: "acme/rules/oras-rules", Reference: "2.0.0"}
	orasPush(t, bad, "application/vnd.cncf.falco.plugin.config.v1+json", "application/vnd.cncf.falco.rulesfile.layer.v1+tar.gz", rulesTarGz(t, "- rule: confused\n"))
	r = e.ferry("artifact", "verify", bad.String())
	if r.Code != 5 || !strings.Contains(r.Stdout+r.Stderr, "plugin") {
		t.Errorf("verify of a contradicting artifact type: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	r = e.ferry("artifact", "install", bad.String())
	if r.Code == 0 || !strings.Contains(r.Stderr, "plugin") {
		t.Errorf("install of a contradicting artifact type: exit %d\n%s", r.Code, r.Stderr)
	}
}

// info and verify read a registry in install's channel order: host mirrors
// from the config, the primary, the entry's mirrors, fallback-only host
// mirrors.
func TestInfoAndVerifyUseChannels(t *testing.T) {
	t.Parallel()
	primary, mirror := testutil.NewRegistry(t), testutil.NewRegistry(t)
	e := newEnv(t)
	publishRules(t, e, primary.Host+"/acme/rules/my-rules", "1.0.0")
	from := oci.Location{Registry: primary.Host, Repository: "acme/rules/my-rules"}
	mirrorCopy(t, from, oci.Location{Registry: mirror.Host, Repository: "acme/rules/my-rules"}, "1.0.0")
	mirrorCopy(t, from, oci.Location{Registry: mirror.Host, Repository: "cache/my-rules"}, "1.0.0")
	mirrorCopy(t, from, oci.Location{Registry: mirror.Host, Repository: "acme/rules/my-rules"}, "1.0")
	mirrorCopy(t, from, oci.Location{Registry: mirror.Host, Repository: "cache/my-rules"}, "1.0")
	d := digestOf(t, e, primary.Host+"/acme/rules/my-rules:1.0.0")

	check := func(t *testing.T, e *env, ref string) {
		t.Helper()
		r := e.ok("artifact", "info", ref, "-o", "json")
		mustContain(t, "info", r.Stdout, d, `"1.0.0"`)
		r = e.ok("artifact", "verify", ref)
		mustContain(t, "verify", r.Stdout, "Verified: ", d)
		if mirror.Count(http.MethodGet, "/blobs/") == 0 {
			t.Errorf("no blob was read from the mirror")
		}
	}

	t.Run("host mirror before a primary that is up", func(t *testing.T) {
		cfg := e.write("host.yaml", fmt.Sprintf("registries:\n  - host: %s\n    mirrors: [%s]\n", primary.Host, mirror.Host))
		e := *e
		e.t = t
		e.vars = append(append([]string{}, e.vars...), "FERRY_CONFIG="+cfg)
		e.ok("index", "add", "acme", e.write("acme.yaml", rulesIndex(primary.Host)))
		primary.Reset()
		mirror.Reset()
		check(t, &e, "rules:1.x")
		if n := primary.Count("", "/blobs/"); n != 0 {
			t.Errorf("%d blob requests went to the primary", n)
		}
		if n := len(primary.Requests()); n != 0 {
			t.Errorf("%d requests went to the primary, which comes after its host mirror", n)
		}
	})

	down := downRegistry(t)
	t.Run("primary down, index mirror", func(t *testing.T) {
		e := *e
		e.t = t
		e.vars = append(append([]string{}, e.vars...), "XDG_CONFIG_HOME="+e.path("config-index-mirror"))
		e.ok("index", "add", "acme", e.write("acme-down.yaml", fmt.Sprintf(`- name: rules
  type: rulesfile
  registry: %s
  repository: acme/rules/my-rules
  mirrors:
    - registry: %s
      repository: cache/my-rules
`, down, mirror.Host)))
		mirror.Reset()
		check(t, &e, "rules:1.x")
		check(t, &e, "rules:1.0.0")
	})

	t.Run("primary down, fallback-only host mirror", func(t *testing.T) {
		cfg := e.write("fallback.yaml", fmt.Sprintf("registries:\n  - host: %s\n    mirrors: [%s]\n    fallbackOnly: true\n", down, mirror.Host))
		e := *e
		e.t = t
		e.vars = append(append([]string{}, e.vars...), "FERRY_CONFIG="+cfg)
		e.ok("index", "add", "acme", e.write("acme-down2.yaml", strings.ReplaceAll(rulesIndex(primary.Host), primary.Host, down)))
		mirror.Reset()
		check(t, &e, "rules:1.x")
		// A full reference to the primary host goes through its mirrors too.
		check(t, &e, down+"/acme/rules/my-rules:1.0.0")
	})
}
