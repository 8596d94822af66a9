package e2e

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/ferryhq/ferry/internal/testutil"
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
