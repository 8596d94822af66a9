package oci_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/memory"

	"github.com/ferryhq/ferry/internal/testutil"
	"github.com/ferryhq/ferry/pkg/oci"
)

func newKey(t *testing.T) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := cryptoutils.MarshalPublicKeyToPEM(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return k, pem
}

// cosignSign writes a cosign key-based signature of d in cosign's .sig tag
// layout.
func cosignSign(t *testing.T, c *oci.Client, loc oci.Location, d digest.Digest, key *ecdsa.PrivateKey) {
	t.Helper()
	ctx := context.Background()
	payload := []byte(fmt.Sprintf(`{"critical":{"identity":{"docker-reference":"%s"},"image":{"docker-manifest-digest":"%s"},"type":"cosign container image signature"},"optional":null}`, loc, d))
	signer, err := signature.LoadSigner(key, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signer.SignMessage(bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	store := memory.New()
	layer := ocispec.Descriptor{MediaType: oci.MediaTypeCosignSimpleSigning, Digest: digest.FromBytes(payload), Size: int64(len(payload)),
		Annotations: map[string]string{oci.AnnotationCosignSignature: base64.StdEncoding.EncodeToString(sig)}}
	if err := store.Push(ctx, layer, bytes.NewReader(payload)); err != nil {
		t.Fatal(err)
	}
	desc, err := oras.PackManifest(ctx, store, oras.PackManifestVersion1_0, "application/vnd.dev.cosign.simplesigning.v1+json", oras.PackManifestOptions{Layers: []ocispec.Descriptor{layer}})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Tag(ctx, desc, "sig"); err != nil {
		t.Fatal(err)
	}
	repo, _ := c.Repository(loc)
	if _, err := oras.Copy(ctx, store, "sig", repo, oci.CosignTag(d, ".sig"), oras.DefaultCopyOptions); err != nil {
		t.Fatal(err)
	}
}

func TestCosignKeySignature(t *testing.T) {
	ctx := context.Background()
	reg := testutil.NewRegistry(t)
	c := newClient(t, true)
	loc := oci.Location{Registry: reg.Host, Repository: "acme/rules/signed"}
	res := pushRules(t, c, loc, "1.0.0", false)
	unsigned := pushRules(t, c, loc, "1.1.0", false)
	key, pub := newKey(t)
	_, otherPub := newKey(t)
	cosignSign(t, c, loc, res.Digest, key)
	// A signature of another artifact copied under 1.1.0's .sig tag.
	other := pushRules(t, c, oci.Location{Registry: reg.Host, Repository: "acme/rules/other"}, "1.0.0", false)
	cosignSign(t, c, loc, other.Digest, key)
	repo, _ := c.Repository(loc)
	d, _ := repo.Resolve(ctx, oci.CosignTag(other.Digest, ".sig"))
	if err := repo.Tag(ctx, d, oci.CosignTag(unsigned.Digest, ".sig")); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, ref string
		key       []byte
		ok        bool
		detail    string
	}{
		{"good", "1.0.0", pub, true, "verifies with the key"},
		{"wrong key", "1.0.0", otherPub, false, "does not verify with the key"},
		{"replayed signature", "1.1.0", pub, false, "not this artifact"},
		{"bad key", "1.0.0", []byte("nope"), false, "does not parse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := c.Verify(ctx, loc, oci.VerifyRequest{Reference: tc.ref, Signature: &oci.CosignKeyVerifier{PublicKey: tc.key}})
			if err != nil {
				t.Fatal(err)
			}
			last := rep.Checks[len(rep.Checks)-1]
			if last.Name != oci.CheckSignature || last.OK != tc.ok || rep.OK() != tc.ok || !strings.Contains(last.Detail, tc.detail) {
				t.Errorf("check %+v", last)
			}
		})
	}
	t.Run("bundle referrer", func(t *testing.T) {
		loc3 := oci.Location{Registry: reg.Host, Repository: "acme/rules/bundled"}
		res := pushRules(t, c, loc3, "1.0.0", false)
		b, bpub := testutil.KeyBundle(t, res.Digest)
		testutil.AttachBundle(t, reg.Host, loc3.Repository, "1.0.0", b)
		for _, tc := range []struct {
			key    []byte
			ok     bool
			detail string
		}{
			{bpub, true, "Sigstore bundle sha256:"},
			{pub, false, "no sha256-"},
		} {
			rep, err := c.Verify(ctx, loc3, oci.VerifyRequest{Reference: "1.0.0", Signature: &oci.CosignKeyVerifier{PublicKey: tc.key}})
			if err != nil {
				t.Fatal(err)
			}
			last := rep.Checks[len(rep.Checks)-1]
			if last.OK != tc.ok || !strings.Contains(last.Detail, tc.detail) {
				t.Errorf("check %+v", last)
			}
		}
	})
	t.Run("unsigned", func(t *testing.T) {
		loc2 := oci.Location{Registry: reg.Host, Repository: "acme/rules/other"}
		rep, err := c.Verify(ctx, loc2, oci.VerifyRequest{Reference: "1.0.0", Signature: &oci.CosignKeyVerifier{PublicKey: pub}})
		if err != nil {
			t.Fatal(err)
		}
		// other's signature was pushed to loc, not loc2.
		if rep.OK() || !strings.Contains(rep.Checks[len(rep.Checks)-1].Detail, "no signature found") {
			t.Errorf("checks %+v", rep.Checks)
		}
	})
}
