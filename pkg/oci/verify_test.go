package oci_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/memory"

	"github.com/ferryhq/ferry/internal/testutil"
	"github.com/ferryhq/ferry/pkg/oci"
)

func pushRules(t *testing.T, c *oci.Client, loc oci.Location, version string, floating bool) *oci.PushResult {
	t.Helper()
	res, err := c.Push(context.Background(), loc, oci.PushRequest{
		Type:         oci.TypeRulesfile,
		Config:       oci.Config{Name: "rules", Version: version},
		Files:        []oci.LayerFile{{Path: writeFile(t, t.TempDir(), "rules.yaml", "- rule: r "+version+"\n")}},
		FloatingTags: floating,
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func failed(rep *oci.VerifyReport) []string {
	var out []string
	for _, c := range rep.Checks {
		if !c.OK {
			out = append(out, c.Name+" "+c.Detail)
		}
	}
	return out
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	reg := testutil.NewRegistry(t)
	c := newClient(t, true)
	loc := oci.Location{Registry: reg.Host, Repository: "acme/rules/my-rules"}
	res := pushRules(t, c, loc, "1.0.0", false)
	ploc := oci.Location{Registry: reg.Host, Repository: "acme/plugins/plug"}
	dir := t.TempDir()
	pres, err := c.Push(ctx, ploc, oci.PushRequest{Type: oci.TypePlugin, Config: oci.Config{Name: "plug", Version: "0.1.0"}, Files: []oci.LayerFile{
		{Path: writeFile(t, dir, "a.so", "amd64"), Platform: "linux/amd64"},
		{Path: writeFile(t, dir, "b.so", "arm64"), Platform: "linux/arm64"},
	}})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("ok", func(t *testing.T) {
		rep, err := c.Verify(ctx, loc, oci.VerifyRequest{Reference: "1.0.0", Expected: res.Digest, Type: oci.TypeRulesfile})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() || rep.Err() != nil {
			t.Fatalf("failed checks: %v", failed(rep))
		}
		if rep.Blobs != 2 || rep.Type != oci.TypeRulesfile || rep.Version != "1.0.0" || rep.Digest != res.Digest {
			t.Errorf("report %+v", rep)
		}
		var names []string
		for _, ck := range rep.Checks {
			names = append(names, ck.Name)
		}
		if want := []string{"resolve", "digest", "manifest", "blob", "blob", "media-types"}; !slices.Equal(names, want) {
			t.Errorf("checks %v, want %v", names, want)
		}
	})
	t.Run("plugin index", func(t *testing.T) {
		rep, err := c.Verify(ctx, ploc, oci.VerifyRequest{Reference: pres.Digest.String()})
		if err != nil {
			t.Fatal(err)
		}
		// Two platform manifests, one shared config, two layers.
		if !rep.OK() || rep.Type != oci.TypePlugin || rep.Blobs != 3 || len(rep.Platforms) != 2 {
			t.Fatalf("report %+v, failed %v", rep, failed(rep))
		}
	})
	t.Run("wrong type", func(t *testing.T) {
		rep, _ := c.Verify(ctx, ploc, oci.VerifyRequest{Reference: "0.1.0", Type: oci.TypeRulesfile})
		if rep.OK() || !strings.Contains(strings.Join(failed(rep), ";"), "the index says rulesfile") {
			t.Errorf("failed %v", failed(rep))
		}
	})
	t.Run("wrong expected digest", func(t *testing.T) {
		other := digest.FromString("other")
		rep, err := c.Verify(ctx, loc, oci.VerifyRequest{Reference: "1.0.0", Expected: other, ExpectedFrom: "--digest"})
		if err != nil {
			t.Fatal(err)
		}
		err = rep.Err()
		if !errors.Is(err, oci.ErrVerification) || !strings.Contains(err.Error(), "expected "+other.String()+" (--digest)") {
			t.Errorf("err %v", err)
		}
	})
	t.Run("not found", func(t *testing.T) {
		_, err := c.Verify(ctx, loc, oci.VerifyRequest{Reference: "9.9.9"})
		if !errors.Is(err, oci.ErrNotFound) {
			t.Errorf("err %v", err)
		}
	})
	t.Run("tampered blob", func(t *testing.T) {
		reg.CorruptBlobs()
		defer reg.SetFault(nil)
		rep, err := c.Verify(ctx, loc, oci.VerifyRequest{Reference: "1.0.0"})
		if err != nil {
			t.Fatal(err)
		}
		if f := failed(rep); len(f) != 2 || !strings.Contains(f[0], "does not match its digest") {
			t.Errorf("failed %v", f)
		}
	})
	t.Run("missing blob", func(t *testing.T) {
		rep, _ := c.Verify(ctx, loc, oci.VerifyRequest{Reference: "1.0.0"})
		layer := rep.Checks[len(rep.Checks)-2].Subject
		reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
			if strings.HasSuffix(r.URL.Path, "/blobs/"+layer) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusNotFound)
				_, _ = w.Write([]byte(`{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}`))
				return true
			}
			return false
		})
		defer reg.SetFault(nil)
		rep, err := c.Verify(ctx, loc, oci.VerifyRequest{Reference: "1.0.0"})
		if err != nil {
			t.Fatal(err)
		}
		if f := failed(rep); len(f) != 1 || !strings.Contains(f[0], "missing") {
			t.Errorf("failed %v", f)
		}
		if !errors.Is(rep.Err(), oci.ErrVerification) {
			t.Errorf("err %v", rep.Err())
		}
	})
	t.Run("not a falco artifact", func(t *testing.T) {
		other := oci.Location{Registry: reg.Host, Repository: "acme/image"}
		desc := pushPlain(t, c, other, "application/vnd.oci.image.layer.v1.tar", nil)
		rep, err := c.Verify(ctx, other, oci.VerifyRequest{Reference: desc.Digest.String()})
		if err != nil {
			t.Fatal(err)
		}
		if f := failed(rep); len(f) != 1 || !strings.HasPrefix(f[0], "media-types") {
			t.Errorf("failed %v", f)
		}
	})
}

// pushPlain pushes a one-layer manifest of the given layer media type with
// an optional subject and returns its descriptor.
func pushPlain(t *testing.T, c *oci.Client, loc oci.Location, layerType string, subject *ocispec.Descriptor) ocispec.Descriptor {
	t.Helper()
	ctx := context.Background()
	repo, err := c.Repository(loc)
	if err != nil {
		t.Fatal(err)
	}
	store := memory.New()
	data := []byte("payload " + layerType)
	layer := ocispec.Descriptor{MediaType: layerType, Digest: digest.FromBytes(data), Size: int64(len(data))}
	if err := store.Push(ctx, layer, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	desc, err := oras.PackManifest(ctx, store, oras.PackManifestVersion1_1, "application/vnd.example+type", oras.PackManifestOptions{Layers: []ocispec.Descriptor{layer}, Subject: subject})
	if err != nil {
		t.Fatal(err)
	}
	if err := oras.CopyGraph(ctx, store, repo, desc, oras.DefaultCopyGraphOptions); err != nil {
		t.Fatal(err)
	}
	return desc
}

func TestPromote(t *testing.T) {
	ctx := context.Background()
	srcReg, dstReg := testutil.NewRegistry(t), testutil.NewRegistry(t)
	c := newClient(t, true)
	src := oci.Location{Registry: srcReg.Host, Repository: "staging/rules"}
	dst := oci.Location{Registry: dstReg.Host, Repository: "prod/rules"}
	pushRules(t, c, src, "1.0.0", true)
	res := pushRules(t, c, src, "1.1.0", true)
	subject := ocispec.Descriptor{MediaType: res.MediaType, Digest: res.Digest, Size: res.Size}
	// A Sigstore bundle referrer and a cosign .sig tag.
	ref := pushPlain(t, c, src, "application/vnd.dev.sigstore.bundle.v0.3+json", &subject)
	sig := pushPlain(t, c, src, "application/vnd.dev.cosign.simplesigning.v1+json", nil)
	srcRepo, _ := c.Repository(src)
	if err := srcRepo.Tag(ctx, sig, oci.CosignTag(res.Digest, ".sig")); err != nil {
		t.Fatal(err)
	}
	// dst already has 2.0.0 holding the floating tag 2 but not 1 or 1.1.
	pushRules(t, c, dst, "2.0.0", true)

	pr, err := c.Promote(ctx, src, dst, oci.PromoteRequest{Reference: "1.x", FloatingTags: true})
	if err == nil {
		t.Fatalf("a constraint is no tag: %+v", pr)
	}
	pr, err = c.Promote(ctx, src, dst, oci.PromoteRequest{Reference: "1.1.0", Expected: res.Digest, FloatingTags: true})
	if err != nil {
		t.Fatal(err)
	}
	if pr.Digest != res.Digest || pr.Version != "1.1.0" || !slices.Equal(pr.Tags, []string{"1.1.0", "1.1", "1"}) {
		t.Errorf("result %+v", pr)
	}
	// manifest, config, layer, referrer manifest + its layer + its config (empty), sig manifest + layer + config
	if len(pr.Copied) < 5 || !slices.Contains(pr.Referrers, ref.Digest.String()) || !slices.Contains(pr.CosignTags, oci.CosignTag(res.Digest, ".sig")) {
		t.Errorf("result %+v", pr)
	}
	dstRepo, _ := c.Repository(dst)
	for _, tag := range []string{"1.1.0", "1.1", "1"} {
		d, err := dstRepo.Resolve(ctx, tag)
		if err != nil || d.Digest != res.Digest {
			t.Errorf("dst %s: %v %v", tag, d.Digest, err)
		}
	}
	if d, err := dstRepo.Resolve(ctx, "2"); err != nil || d.Digest == res.Digest {
		t.Errorf("floating tag 2 moved to an older version: %v", err)
	}
	if d, err := dstRepo.Resolve(ctx, oci.CosignTag(res.Digest, ".sig")); err != nil || d.Digest != sig.Digest {
		t.Errorf("sig tag: %v %v", d.Digest, err)
	}
	preds, err := dstRepo.Predecessors(ctx, subject)
	if err != nil || len(preds) != 1 || preds[0].Digest != ref.Digest {
		t.Errorf("referrers at dst: %v %v", preds, err)
	}
	rep, err := c.Verify(ctx, dst, oci.VerifyRequest{Reference: "1.1.0", Expected: res.Digest})
	if err != nil || !rep.OK() {
		t.Errorf("verify dst: %v %v", err, failed(rep))
	}

	// Again: nothing copied, nothing written.
	dstReg.Reset()
	pr, err = c.Promote(ctx, src, dst, oci.PromoteRequest{Reference: res.Digest.String(), FloatingTags: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(pr.Copied) != 0 || len(pr.Retagged) != 0 || pr.Version != "1.1.0" {
		t.Errorf("second promote: %+v", pr)
	}
	if n := dstReg.Count(http.MethodPut, "") + dstReg.Count(http.MethodPost, ""); n != 0 {
		t.Errorf("second promote wrote %d times: %v", n, dstReg.Requests())
	}

	// A wrong expected digest copies nothing.
	dst2 := oci.Location{Registry: dstReg.Host, Repository: "prod/other"}
	_, err = c.Promote(ctx, src, dst2, oci.PromoteRequest{Reference: "1.0.0", Expected: res.Digest})
	if !errors.Is(err, oci.ErrVerification) {
		t.Errorf("err %v", err)
	}
	if _, err := c.Tags(ctx, dst2); !errors.Is(err, oci.ErrNotFound) {
		t.Errorf("dst2 exists: %v", err)
	}
}
