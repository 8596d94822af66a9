package oci

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// Sigstore bundles attached as OCI referrers (cosign sign
// --new-bundle-format), and the annotations of cosign's legacy keyless
// signatures under the sha256-<digest>.sig tag.
const (
	MediaTypeSigstoreBundle = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// mediaTypeSigstoreBundlePrefix starts the media type of every bundle
	// version (v0.1 and v0.2 are "...bundle+json;version=0.x").
	mediaTypeSigstoreBundlePrefix = "application/vnd.dev.sigstore.bundle"
	PredicateCosignSign           = "https://sigstore.dev/cosign/sign/v1"
	AnnotationCosignCertificate   = "dev.sigstore.cosign/certificate"
	AnnotationCosignChain         = "dev.sigstore.cosign/chain"
	AnnotationCosignBundle        = "dev.sigstore.cosign/bundle"
)

// ErrNoTrustedRoot means a keyless signature cannot be verified because no
// Sigstore trusted root was given.
var ErrNoTrustedRoot = errors.New("no Sigstore trusted root")

// maxBundleBytes bounds a Sigstore bundle read from a registry.
const maxBundleBytes = 1 << 20

// Identity is who must have signed, keylessly: the certificate's subject
// (an email, a workflow URL) and the OIDC issuer that vouched for it, each
// exact or as a regular expression, as cosign's --certificate-identity[-regexp]
// and --certificate-oidc-issuer[-regexp].
type Identity struct {
	Subject       string
	SubjectRegexp string
	Issuer        string
	IssuerRegexp  string
	// GithubWorkflowRepository, when set, must equal the certificate's
	// GitHub workflow repository extension (owner/repo).
	GithubWorkflowRepository string
}

func (id Identity) String() string {
	s, i := id.Subject, id.Issuer
	if s == "" {
		s = "~" + id.SubjectRegexp
	}
	if i == "" {
		i = "~" + id.IssuerRegexp
	}
	return s + " from " + i
}

// LoadTrustedRoot reads a Sigstore trusted_root.json.
func LoadTrustedRoot(path string) (*root.TrustedRoot, error) {
	tr, err := root.NewTrustedRootFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("reading the Sigstore trusted root %s: %w", path, err)
	}
	return tr, nil
}

// KeylessVerifier verifies cosign keyless signatures against a Sigstore
// trusted root read from a file (nothing is fetched: it works offline).
// It looks first for Sigstore bundles attached to the artifact as OCI
// referrers, then for cosign's legacy sha256-<digest>.sig tag with the
// Fulcio certificate and the Rekor bundle in layer annotations. Any one
// signature that verifies is enough.
//
// The certificate must chain to a Fulcio CA of the trusted root and name
// Identity; unless IgnoreTlog, a transparency log entry of one of the
// root's Rekor logs must vouch for the signature and the time it was made.
// When the root lists certificate transparency logs, the certificate must
// carry a signed certificate timestamp from one of them.
type KeylessVerifier struct {
	TrustedRoot *root.TrustedRoot
	// RootErr, when TrustedRoot is nil, says why there is none.
	RootErr    error
	Identity   Identity
	IgnoreTlog bool
}

// VerifySignature implements SignatureVerifier.
func (v *KeylessVerifier) VerifySignature(ctx context.Context, c *Client, loc Location, desc ocispec.Descriptor) ([]Check, error) {
	ck := Check{Name: CheckSignature, Subject: desc.Digest.String()}
	if v.TrustedRoot == nil {
		ck.Err = ErrNoTrustedRoot
		why := "none was given"
		if v.RootErr != nil {
			why = v.RootErr.Error()
		}
		ck.Detail = fmt.Sprintf("%s: a keyless signature (%s) needs one: %s", ErrNoTrustedRoot, v.Identity, why)
		return []Check{ck}, nil
	}
	id, err := v.Identity.policy()
	if err != nil {
		ck.Detail = "the signature policy is invalid: " + err.Error()
		return []Check{ck}, nil
	}
	problems, err := v.verifyReferrers(ctx, c, loc, desc, id, &ck)
	if err != nil || ck.OK {
		return []Check{ck}, err
	}
	legacy, err := v.verifyLegacy(ctx, c, loc, desc, id, &ck)
	if err != nil || ck.OK {
		return []Check{ck}, err
	}
	problems = append(problems, legacy...)
	if len(problems) == 0 {
		problems = []string{fmt.Sprintf("no Sigstore bundle referrer and no %s tag", CosignTag(desc.Digest, ".sig"))}
	}
	ck.Err = ErrNoSignature
	ck.Detail = fmt.Sprintf("%s that verifies for %s: %s", ErrNoSignature, v.Identity, strings.Join(problems, "; "))
	return []Check{ck}, nil
}

func (id Identity) policy() (verify.CertificateIdentity, error) {
	san, err := verify.NewSANMatcher(id.Subject, id.SubjectRegexp)
	if err != nil {
		return verify.CertificateIdentity{}, err
	}
	iss, err := verify.NewIssuerMatcher(id.Issuer, id.IssuerRegexp)
	if err != nil {
		return verify.CertificateIdentity{}, err
	}
	return verify.NewCertificateIdentity(san, iss, certificate.Extensions{GithubWorkflowRepository: id.GithubWorkflowRepository})
}

// verifier builds the sigstore-go verifier for one signed entity: a
// transparency log entry and an observer timestamp unless IgnoreTlog (then
// a signed timestamp when the entity has one, else the current time), and
// SCTs when the trusted root knows CT logs.
func (v *KeylessVerifier) verifier(e verify.SignedEntity) (*verify.Verifier, error) {
	var opts []verify.VerifierOption
	if v.IgnoreTlog {
		if ts, _ := e.Timestamps(); len(ts) > 0 {
			opts = append(opts, verify.WithSignedTimestamps(1))
		} else {
			opts = append(opts, verify.WithCurrentTime())
		}
	} else {
		opts = append(opts, verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1))
	}
	if len(v.TrustedRoot.CTLogs()) > 0 {
		opts = append(opts, verify.WithSignedCertificateTimestamps(1))
	}
	return verify.NewVerifier(v.TrustedRoot, opts...)
}

// verifyReferrers verifies the Sigstore bundles attached to desc. It sets
// ck when one verifies and otherwise returns why each did not.
func (v *KeylessVerifier) verifyReferrers(ctx context.Context, c *Client, loc Location, desc ocispec.Descriptor, id verify.CertificateIdentity, ck *Check) ([]string, error) {
	return eachBundle(ctx, c, loc, desc, func(r ocispec.Descriptor, b *bundle.Bundle, artifact verify.ArtifactPolicyOption) error {
		who, err := v.verifyEntity(b, artifact, id)
		if err != nil {
			return err
		}
		ck.OK, ck.Subject = true, r.Digest.String()
		ck.Detail = fmt.Sprintf("Sigstore bundle %s verifies: signed by %s%s", shortRef(r.Digest.String()), who, v.tlogNote())
		return nil
	})
}

// eachBundle calls try with every Sigstore bundle attached to desc as an
// OCI referrer, until one verifies; it returns why the others did not.
func eachBundle(ctx context.Context, c *Client, loc Location, desc ocispec.Descriptor, try func(r ocispec.Descriptor, b *bundle.Bundle, artifact verify.ArtifactPolicyOption) error) ([]string, error) {
	referrers, manifests, blobs, err := c.attachedSource(ctx, loc, desc)
	if err != nil {
		return nil, err
	}
	digestBytes, err := hex.DecodeString(desc.Digest.Encoded())
	if err != nil {
		return nil, err
	}
	artifact := verify.WithArtifactDigest(desc.Digest.Algorithm().String(), digestBytes)
	var problems []string
	for _, r := range referrers {
		raw, err := fetchAll(ctx, manifests, r, maxManifestBytes)
		if err != nil {
			problems = append(problems, fmt.Sprintf("referrer %s: %v", r.Digest, classify(loc.Registry, err)))
			continue
		}
		var m ocispec.Manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			problems = append(problems, fmt.Sprintf("referrer %s does not parse: %v", r.Digest, err))
			continue
		}
		for _, l := range m.Layers {
			if !strings.HasPrefix(l.MediaType, mediaTypeSigstoreBundlePrefix) {
				continue
			}
			data, err := fetchAll(ctx, blobs, l, maxBundleBytes)
			if err != nil {
				problems = append(problems, fmt.Sprintf("bundle %s: %v", l.Digest, classify(loc.Registry, err)))
				continue
			}
			var b bundle.Bundle
			if err := b.UnmarshalJSON(data); err != nil {
				problems = append(problems, fmt.Sprintf("bundle %s does not parse: %v", l.Digest, err))
				continue
			}
			if err := try(r, &b, artifact); err != nil {
				problems = append(problems, fmt.Sprintf("bundle %s: %v", r.Digest, err))
				continue
			}
			return nil, nil
		}
	}
	return problems, nil
}

// verifyEntity verifies e under the artifact policy and the identity and
// returns who signed it.
func (v *KeylessVerifier) verifyEntity(e verify.SignedEntity, artifact verify.ArtifactPolicyOption, id verify.CertificateIdentity) (string, error) {
	sv, err := v.verifier(e)
	if err != nil {
		return "", err
	}
	res, err := sv.Verify(e, verify.NewPolicy(artifact, verify.WithCertificateIdentity(id)))
	if err != nil {
		return "", err
	}
	if res.Statement != nil && res.Statement.GetPredicateType() != PredicateCosignSign {
		return "", fmt.Errorf("an attestation of type %q, not a cosign signature", res.Statement.GetPredicateType())
	}
	if res.Signature == nil || res.Signature.Certificate == nil {
		return "", errors.New("no certificate was verified")
	}
	cert := res.Signature.Certificate
	return fmt.Sprintf("%s (issuer %s)", cert.SubjectAlternativeName, cert.Issuer), nil
}

func (v *KeylessVerifier) tlogNote() string {
	if v.IgnoreTlog {
		return ", transparency log not required (ignore-tlog)"
	}
	return ", transparency log entry verified"
}

func shortRef(s string) string {
	if len(s) > 19 {
		return s[:19]
	}
	return s
}

// verifyLegacy verifies cosign's keyless signatures under the
// sha256-<digest>.sig tag: a simple-signing payload naming the artifact,
// its signature, the Fulcio certificate and chain, and the Rekor bundle
// (the signed entry timestamp of a hashedrekord entry), in annotations.
func (v *KeylessVerifier) verifyLegacy(ctx context.Context, c *Client, loc Location, desc ocispec.Descriptor, id verify.CertificateIdentity, ck *Check) ([]string, error) {
	tag := CosignTag(desc.Digest, ".sig")
	root, err := c.FetchRoot(ctx, loc, tag)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(root.raw, &m); err != nil {
		return []string{tag + " does not parse: " + err.Error()}, nil
	}
	var problems []string
	for _, l := range m.Layers {
		if l.MediaType != MediaTypeCosignSimpleSigning {
			continue
		}
		_, payload, err := c.hashBlob(ctx, loc, l)
		if err != nil {
			problems = append(problems, "payload "+l.Digest.String()+": "+err.Error())
			continue
		}
		e, err := legacyEntity(l.Annotations, payload)
		if err != nil {
			problems = append(problems, tag+": "+err.Error())
			continue
		}
		who, err := v.verifyEntity(e, verify.WithArtifact(bytes.NewReader(payload)), id)
		if err != nil {
			problems = append(problems, tag+": "+err.Error())
			continue
		}
		if named := simpleSigningDigest(payload); named != desc.Digest.String() {
			problems = append(problems, fmt.Sprintf("%s: signed payload names %q, not this artifact", tag, named))
			continue
		}
		ck.OK, ck.Subject = true, tag
		ck.Detail = fmt.Sprintf("cosign signature (%s) verifies: signed by %s%s", tag, who, v.tlogNote())
		return nil, nil
	}
	if len(problems) == 0 {
		problems = append(problems, tag+" has no keyless simple-signing layer")
	}
	return problems, nil
}

func simpleSigningDigest(payload []byte) string {
	var ss struct {
		Critical struct {
			Image struct {
				Digest string `json:"docker-manifest-digest"`
			} `json:"image"`
		} `json:"critical"`
	}
	_ = json.Unmarshal(payload, &ss)
	return ss.Critical.Image.Digest
}

// legacySignature is a cosign legacy keyless signature as a sigstore-go
// signed entity: a message signature, a certificate and, when the Rekor
// bundle annotation is there, its transparency log entry with the signed
// entry timestamp (an inclusion promise).
type legacySignature struct {
	cert    *x509.Certificate
	sig     *bundle.MessageSignature
	entries []*tlog.Entry
}

// rekorBundle is cosign's dev.sigstore.cosign/bundle annotation.
type rekorBundle struct {
	SignedEntryTimestamp []byte `json:"SignedEntryTimestamp"`
	Payload              struct {
		Body           string `json:"body"`
		IntegratedTime int64  `json:"integratedTime"`
		LogIndex       int64  `json:"logIndex"`
		LogID          string `json:"logID"`
	} `json:"Payload"`
}

func legacyEntity(ann map[string]string, payload []byte) (*legacySignature, error) {
	certPEM := ann[AnnotationCosignCertificate]
	if certPEM == "" {
		return nil, errors.New("no certificate annotation (a key-based signature?)")
	}
	certs, err := cryptoutils.UnmarshalCertificatesFromPEM([]byte(certPEM))
	if err != nil {
		return nil, fmt.Errorf("the certificate annotation does not parse: %w", err)
	}
	if len(certs) == 0 {
		return nil, errors.New("the certificate annotation holds no certificate")
	}
	sig, err := base64.StdEncoding.DecodeString(ann[AnnotationCosignSignature])
	if err != nil || len(sig) == 0 {
		return nil, errors.New("no signature annotation")
	}
	e := &legacySignature{cert: certs[0]}
	if raw := ann[AnnotationCosignBundle]; raw != "" {
		var rb rekorBundle
		if err := json.Unmarshal([]byte(raw), &rb); err != nil {
			return nil, fmt.Errorf("the Rekor bundle annotation does not parse: %w", err)
		}
		body, err := base64.StdEncoding.DecodeString(rb.Payload.Body)
		if err != nil {
			return nil, fmt.Errorf("the Rekor bundle body does not decode: %w", err)
		}
		logID, err := hex.DecodeString(rb.Payload.LogID)
		if err != nil {
			return nil, fmt.Errorf("the Rekor bundle log id does not decode: %w", err)
		}
		entry, err := tlog.NewEntry(body, rb.Payload.IntegratedTime, rb.Payload.LogIndex, logID, rb.SignedEntryTimestamp, nil) //nolint:staticcheck // cosign's legacy bundle is a Rekor v1 entry
		if err != nil {
			return nil, fmt.Errorf("the Rekor bundle entry does not parse: %w", err)
		}
		e.entries = append(e.entries, entry)
	}
	sum := sha256.Sum256(payload)
	e.sig = bundle.NewMessageSignature(sum[:], "SHA2_256", sig)
	return e, nil
}

func (e *legacySignature) HasInclusionPromise() bool { return len(e.entries) > 0 }
func (e *legacySignature) HasInclusionProof() bool   { return false }
func (e *legacySignature) SignatureContent() (verify.SignatureContent, error) {
	return e.sig, nil
}
func (e *legacySignature) Timestamps() ([][]byte, error)       { return nil, nil }
func (e *legacySignature) TlogEntries() ([]*tlog.Entry, error) { return e.entries, nil }
func (e *legacySignature) Version() (string, error)            { return "v0.1", nil }
func (e *legacySignature) VerificationContent() (verify.VerificationContent, error) {
	return bundle.NewCertificate(e.cert), nil
}

// verifyKeyBundles verifies the Sigstore bundles attached to desc with a
// public key (cosign sign --key --new-bundle-format); as for the .sig tag,
// the transparency log is not checked.
func verifyKeyBundles(ctx context.Context, c *Client, loc Location, desc ocispec.Descriptor, sv signature.Verifier, ck *Check) ([]string, error) {
	tm := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) {
		return root.NewExpiringKey(sv, time.Time{}, time.Time{}), nil
	})
	v, err := verify.NewVerifier(tm, verify.WithNoObserverTimestamps())
	if err != nil {
		return nil, err
	}
	return eachBundle(ctx, c, loc, desc, func(r ocispec.Descriptor, b *bundle.Bundle, artifact verify.ArtifactPolicyOption) error {
		res, err := v.Verify(b, verify.NewPolicy(artifact, verify.WithKey()))
		if err != nil {
			return err
		}
		if res.Statement != nil && res.Statement.GetPredicateType() != PredicateCosignSign {
			return fmt.Errorf("an attestation of type %q, not a cosign signature", res.Statement.GetPredicateType())
		}
		ck.OK, ck.Subject = true, r.Digest.String()
		ck.Detail = fmt.Sprintf("Sigstore bundle %s verifies with the key (transparency log not checked)", shortRef(r.Digest.String()))
		return nil
	})
}
