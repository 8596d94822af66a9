package oci_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ferryhq/ferry/internal/testutil"
	"github.com/ferryhq/ferry/pkg/oci"
)

const (
	signer = "release@falco.example"
	issuer = "https://token.actions.example"
)

func trustedRoot(t *testing.T, ss *testutil.Sigstore, ctLogs bool) *oci.KeylessVerifier {
	t.Helper()
	p := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(p, ss.TrustedRoot(ctLogs), 0o644); err != nil {
		t.Fatal(err)
	}
	tr, err := oci.LoadTrustedRoot(p)
	if err != nil {
		t.Fatal(err)
	}
	return &oci.KeylessVerifier{TrustedRoot: tr, Identity: oci.Identity{Subject: signer, Issuer: issuer}}
}

func TestKeylessSignature(t *testing.T) {
	ctx := context.Background()
	reg := testutil.NewRegistry(t)
	c := newClient(t, true)
	loc := oci.Location{Registry: reg.Host, Repository: "acme/rules/keyless"}
	signed := pushRules(t, c, loc, "1.0.0", false)
	for _, v := range []string{"1.1.0", "1.2.0", "1.3.0"} {
		pushRules(t, c, loc, v, false)
	}
	ss := testutil.NewSigstore(t)
	testutil.AttachBundle(t, reg.Host, loc.Repository, "1.0.0", ss.Bundle(signed.Digest, signer, issuer))
	ss.SignLegacy(reg.Host, loc.Repository, "1.2.0", signer, issuer)
	// 1.3.0 carries a valid bundle, but for 1.0.0's digest.
	testutil.AttachBundle(t, reg.Host, loc.Repository, "1.3.0", ss.Bundle(signed.Digest, signer, issuer))
	other := testutil.NewSigstore(t)

	good := trustedRoot(t, ss, false)
	for _, tc := range []struct {
		name, ref string
		v         *oci.KeylessVerifier
		ok        bool
		detail    string
	}{
		{"bundle", "1.0.0", good, true, "Sigstore bundle"},
		{"bundle, identity regexp", "1.0.0", &oci.KeylessVerifier{TrustedRoot: good.TrustedRoot, Identity: oci.Identity{SubjectRegexp: `^release@falco\.example$`, IssuerRegexp: `^https://token\.actions\.`}}, true, "signed by " + signer},
		{"bundle, ignore-tlog", "1.0.0", &oci.KeylessVerifier{TrustedRoot: good.TrustedRoot, Identity: good.Identity, IgnoreTlog: true}, true, "ignore-tlog"},
		{"legacy .sig", "1.2.0", good, true, "cosign signature (sha256-"},
		{"wrong identity", "1.0.0", &oci.KeylessVerifier{TrustedRoot: good.TrustedRoot, Identity: oci.Identity{Subject: "mallory@falco.example", Issuer: issuer}}, false, "mallory@falco.example"},
		{"wrong identity regexp", "1.0.0", &oci.KeylessVerifier{TrustedRoot: good.TrustedRoot, Identity: oci.Identity{SubjectRegexp: `^someone-else@`, Issuer: issuer}}, false, "no signature found"},
		{"wrong issuer", "1.0.0", &oci.KeylessVerifier{TrustedRoot: good.TrustedRoot, Identity: oci.Identity{Subject: signer, Issuer: "https://accounts.example"}}, false, "issuer"},
		{"wrong issuer, legacy", "1.2.0", &oci.KeylessVerifier{TrustedRoot: good.TrustedRoot, Identity: oci.Identity{Subject: signer, Issuer: "https://accounts.example"}}, false, "issuer"},
		{"another deployment's root", "1.0.0", trustedRoot(t, other, false), false, "transparency log"},
		{"another deployment's root, legacy", "1.2.0", trustedRoot(t, other, false), false, "transparency log"},
		{"another deployment's root, ignore-tlog", "1.0.0", &oci.KeylessVerifier{TrustedRoot: trustedRoot(t, other, false).TrustedRoot, Identity: good.Identity, IgnoreTlog: true}, false, "timestamp"},
		{"root requires SCTs", "1.0.0", trustedRoot(t, ss, true), false, "signed certificate timestamp"},
		{"unsigned", "1.1.0", good, false, "no Sigstore bundle referrer and no sha256-"},
		{"bundle of another digest", "1.3.0", good, false, "digest does not match"},
		{"no trusted root", "1.0.0", &oci.KeylessVerifier{Identity: good.Identity}, false, "no Sigstore trusted root: a keyless signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := c.Verify(ctx, loc, oci.VerifyRequest{Reference: tc.ref, Signature: tc.v})
			if err != nil {
				t.Fatal(err)
			}
			last := rep.Checks[len(rep.Checks)-1]
			if last.Name != oci.CheckSignature || last.OK != tc.ok || rep.OK() != tc.ok || !strings.Contains(last.Detail, tc.detail) {
				t.Errorf("check %+v", last)
			}
			if !tc.ok && !errors.Is(rep.Err(), oci.ErrVerification) {
				t.Errorf("err %v", rep.Err())
			}
			// A check that passed names the signature that verified: the
			// bundle referrer's manifest, or the .sig tag.
			if tc.ok {
				legacy := strings.HasSuffix(last.Subject, ".sig")
				if legacy != strings.Contains(tc.detail, "cosign signature") || (!legacy && (!strings.HasPrefix(last.Subject, "sha256:") || last.Subject == rep.Digest.String())) {
					t.Errorf("subject %q for %q", last.Subject, last.Detail)
				}
			}
		})
	}
	rep, _ := c.Verify(ctx, loc, oci.VerifyRequest{Reference: "1.0.0", Signature: &oci.KeylessVerifier{Identity: good.Identity}})
	if !errors.Is(rep.Err(), oci.ErrNoTrustedRoot) {
		t.Errorf("no trusted root: %v", rep.Err())
	}
}

// go-containerregistry's registry lists a referrer's config media type as
// its artifactType: cosign's bundle (empty config) is listed as
// application/vnd.oci.empty.v1+json and must still be found by its manifest.
func TestBundleOnRegistryListingConfigType(t *testing.T) {
	ctx := context.Background()
	reg := testutil.NewGGCRRegistry(t)
	c := newClient(t, true)
	loc := oci.Location{Registry: reg.Host, Repository: "acme/rules/keyless"}
	signed := pushRules(t, c, loc, "1.0.0", false)
	ss := testutil.NewSigstore(t)
	testutil.AttachBundle(t, reg.Host, loc.Repository, "1.0.0", ss.Bundle(signed.Digest, signer, issuer))
	// Something else attached: an SBOM-like referrer that is no bundle.
	subject := ocispec.Descriptor{MediaType: signed.MediaType, Digest: signed.Digest, Size: signed.Size}
	pushPlain(t, c, loc, "application/spdx+json", &subject)

	rep, err := c.Verify(ctx, loc, oci.VerifyRequest{Reference: "1.0.0", Signature: trustedRoot(t, ss, false)})
	if err != nil {
		t.Fatal(err)
	}
	last := rep.Checks[len(rep.Checks)-1]
	if last.Name != oci.CheckSignature || !last.OK || !strings.Contains(last.Detail, "Sigstore bundle") {
		t.Errorf("check %+v", last)
	}
}
