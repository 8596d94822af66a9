package install

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/ferryhq/ferry/pkg/errdef"
	"github.com/ferryhq/ferry/pkg/index"
	"github.com/ferryhq/ferry/pkg/oci"
)

// Signature policy errors. Test for them with errors.Is.
var (
	// ErrInvalidPolicy is matched by the errors of a SignaturePolicy that
	// cannot be applied: a public key that cannot be read or is empty.
	ErrInvalidPolicy = errdef.New(errdef.ErrInvalid, "invalid signature policy")
	// ErrNoSignedChannel: an artifact that must be signed is served only by
	// HTTP mirrors, whose files carry no signature.
	ErrNoSignedChannel = errdef.New(errdef.ErrVerification, "only HTTP mirrors serve it, and a file carries no signature to check against its index entry's signature block")
)

// SignaturePolicy says which artifacts an Installer verifies the cosign
// signature of, and against what. An artifact whose index entry has a
// signature block is verified as that block says; with Key, every artifact
// is, with that key. Verification runs after resolution and before any of
// the artifact's bytes are fetched; a failure stops the whole install with
// nothing written (errors match errdef.ErrVerification). Artifacts no
// signature is asked for cost no request.
//
// The signature binds the digest, so it may come from any OCI channel that
// serves the artifact (the primary, then its mirrors): the first that
// verifies wins; a refusal reports the first channel that answered. An
// artifact that must be signed and that only HTTP mirrors serve is refused
// (ErrNoSignedChannel).
type SignaturePolicy struct {
	// Key is a PEM public key, or the path of a file holding one, that every
	// artifact's signature must verify with ("": the index entry decides).
	Key string
	// TrustedRoot returns the Sigstore trusted root keyless signatures
	// chain to, or why there is none: that error becomes the reason the
	// signature checks of keyless artifacts fail, except one matching
	// errdef.ErrInvalid (a trusted root file that does not parse), which
	// stops the install. Nil: keyless signatures fail for want of a root.
	TrustedRoot func(ctx context.Context) (*root.TrustedRoot, error)
	// Skip installs what the policy would verify without verifying it,
	// calling Warn once per such artifact (--no-verify).
	Skip bool
	// Warn receives the warning for each artifact Skip installs unverified
	// (nil: none). Calls do not overlap.
	Warn func(msg string)

	warnMu sync.Mutex
}

// Needs reports whether the policy verifies the artifact name of index
// idx ("" for an OCI reference) looked up in indexes (nil: none). An entry
// that cannot be looked up is verified: its block is unknown.
func (p *SignaturePolicy) Needs(indexes *index.Set, name, idx string) bool {
	if p.Skip || p.Key != "" {
		return p.Key != "" && !p.Skip
	}
	if idx == "" || indexes == nil {
		return false
	}
	e, _, err := indexes.Lookup(idx, name)
	return err != nil || e.Signature != nil
}

// Verifier returns the verifier of an artifact whose index entry is entry
// (nil for an OCI reference): nil when neither entry nor Key asks for a
// signature. A policy block ferry cannot check gives a verifier that
// fails, saying why.
func (p *SignaturePolicy) Verifier(ctx context.Context, entry *index.Entry) (oci.SignatureVerifier, error) {
	var cosign *index.Cosign
	if entry != nil && entry.Signature != nil {
		cosign = entry.Signature.Cosign
	}
	key := ""
	switch {
	case p.Key != "":
		key = p.Key
	case cosign != nil && cosign.Key != "":
		key = cosign.Key
	case cosign != nil && keyless(cosign):
		return p.keylessVerifier(ctx, cosign)
	case cosign != nil:
		return oci.UnsupportedSignature{Reason: "the index entry's signature.cosign block names neither a key nor a certificate identity and issuer"}, nil
	case entry != nil && entry.Signature != nil:
		return oci.UnsupportedSignature{Reason: "the index entry's signature block names no cosign policy ferry knows"}, nil
	default:
		return nil, nil
	}
	pem := []byte(key)
	if !strings.HasPrefix(strings.TrimSpace(key), "-----BEGIN") {
		data, err := os.ReadFile(key)
		if err != nil {
			return nil, errdef.Wrap(ErrInvalidPolicy, fmt.Errorf("reading the public key: %w", err))
		}
		pem = data
	}
	if len(pem) == 0 {
		return nil, errdef.Wrap(ErrInvalidPolicy, errors.New("the public key is empty"))
	}
	return &oci.CosignKeyVerifier{PublicKey: pem}, nil
}

// keyless reports whether a cosign block asks for a keyless signature: a
// certificate identity or an OIDC issuer, exact or regexp.
func keyless(c *index.Cosign) bool {
	return c.CertificateIdentity != "" || c.CertificateIdentityRegexp != "" || c.CertificateOIDCIssuer != "" || c.CertificateOIDCIssuerRegexp != ""
}

func (p *SignaturePolicy) keylessVerifier(ctx context.Context, c *index.Cosign) (oci.SignatureVerifier, error) {
	v := &oci.KeylessVerifier{
		IgnoreTlog: c.IgnoreTlog,
		Identity: oci.Identity{
			Subject: c.CertificateIdentity, SubjectRegexp: c.CertificateIdentityRegexp,
			Issuer: c.CertificateOIDCIssuer, IssuerRegexp: c.CertificateOIDCIssuerRegexp,
			GithubWorkflowRepository: c.CertificateGithubWorkflow,
		},
	}
	if p.TrustedRoot != nil {
		v.TrustedRoot, v.RootErr = p.TrustedRoot(ctx)
		if errors.Is(v.RootErr, errdef.ErrInvalid) {
			return nil, v.RootErr
		}
	}
	return v, nil
}

// verify applies the policy to one plan item whose root (empty: only HTTP
// mirrors serve it) was resolved; indexes and client are the resolver's.
func (p *SignaturePolicy) verify(ctx context.Context, r *Resolver, it PlanItem, root ocispec.Descriptor) error {
	var entry *index.Entry
	if it.Index != "" && r.Indexes != nil {
		if e, _, err := r.Indexes.Lookup(it.Index, it.Name); err == nil {
			entry = &e
		}
	}
	if p.Key == "" && (entry == nil || entry.Signature == nil) {
		return nil
	}
	what := it.Name
	if it.Version != "" {
		what += " " + it.Version
	}
	if p.Skip {
		at := string(root.Digest)
		if at == "" {
			at = "from an HTTP mirror"
		}
		p.warn(fmt.Sprintf("--no-verify: installing %s (%s) WITHOUT verifying its signature", what, at))
		return nil
	}
	if root.Digest == "" {
		return fmt.Errorf("refusing to install %s: %w", what, ErrNoSignedChannel)
	}
	v, err := p.Verifier(ctx, entry)
	if err != nil || v == nil {
		return err
	}
	var refusal, unreachable error
	for _, loc := range it.OCILocations() {
		checks, err := v.VerifySignature(ctx, r.Client, loc, root)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			unreachable = cmp.Or(unreachable, fmt.Errorf("verifying the signature of %s: %w", what, err))
			continue
		}
		var failed []oci.Check
		for _, c := range checks {
			if !c.OK {
				failed = append(failed, c)
			}
		}
		if len(failed) == 0 {
			return nil
		}
		refusal = cmp.Or(refusal, fmt.Errorf("refusing to install %s: %w", what, &oci.VerificationError{Ref: loc.String() + "@" + root.Digest.String(), Failed: failed}))
	}
	return cmp.Or(refusal, unreachable)
}

func (p *SignaturePolicy) warn(msg string) {
	if p.Warn == nil {
		return
	}
	p.warnMu.Lock()
	defer p.warnMu.Unlock()
	p.Warn(msg)
}
