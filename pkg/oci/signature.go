package oci

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// cosign's simple-signing layout.
const (
	MediaTypeCosignSimpleSigning = "application/vnd.dev.cosign.simplesigning.v1+json"
	AnnotationCosignSignature    = "dev.cosignproject.cosign/signature"
)

// ErrNoSignature means no signature was found for an artifact.
var ErrNoSignature = errors.New("no signature found")

// CosignKeyVerifier verifies cosign key-based signatures stored under the
// sha256-<digest>.sig tag: a simple-signing payload naming the artifact's
// digest, signed with the private half of PublicKey. It does not check a
// transparency log entry (cosign's --insecure-ignore-tlog semantics).
type CosignKeyVerifier struct {
	// PublicKey is PEM.
	PublicKey []byte
}

// VerifySignature implements SignatureVerifier.
func (v *CosignKeyVerifier) VerifySignature(ctx context.Context, c *Client, loc Location, desc ocispec.Descriptor) ([]Check, error) {
	tag := CosignTag(desc.Digest, ".sig")
	ck := Check{Name: CheckSignature, Subject: tag}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(v.PublicKey)
	if err != nil {
		ck.Detail = "the public key does not parse: " + err.Error()
		return []Check{ck}, nil
	}
	verifier, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		ck.Detail = "unusable public key: " + err.Error()
		return []Check{ck}, nil
	}
	root, err := c.FetchRoot(ctx, loc, tag)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		// No .sig tag: a Sigstore bundle attached as a referrer, then.
		problems, err := verifyKeyBundles(ctx, c, loc, desc, verifier, &ck)
		if err != nil || ck.OK {
			return []Check{ck}, err
		}
		if len(problems) == 0 {
			problems = []string{"no Sigstore bundle referrer"}
		}
		ck.Err = ErrNoSignature
		ck.Detail = fmt.Sprintf("%s: no %s tag; %s", ErrNoSignature, tag, strings.Join(problems, "; "))
		return []Check{ck}, nil
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(root.raw, &m); err != nil {
		ck.Detail = "the signature manifest does not parse: " + err.Error()
		return []Check{ck}, nil
	}
	var problems []string
	for _, l := range m.Layers {
		if l.MediaType != MediaTypeCosignSimpleSigning {
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(l.Annotations[AnnotationCosignSignature])
		if err != nil || len(sig) == 0 {
			problems = append(problems, "a layer has no signature annotation")
			continue
		}
		_, payload, err := c.hashBlob(ctx, loc, l)
		if err != nil {
			problems = append(problems, "payload "+l.Digest.String()+": "+err.Error())
			continue
		}
		if err := verifier.VerifySignature(bytes.NewReader(sig), bytes.NewReader(payload)); err != nil {
			problems = append(problems, "signature does not verify with the key")
			continue
		}
		if named := simpleSigningDigest(payload); named != desc.Digest.String() {
			problems = append(problems, fmt.Sprintf("signed payload names %q, not this artifact", named))
			continue
		}
		ck.OK, ck.Detail = true, "cosign signature verifies with the key (transparency log not checked)"
		return []Check{ck}, nil
	}
	if len(problems) == 0 {
		problems = append(problems, "no simple-signing layer")
	}
	ck.Detail = fmt.Sprintf("%s: %v", ErrNoSignature, problems)
	return []Check{ck}, nil
}

// UnsupportedSignature fails the signature check with a reason, for
// signature policies this version cannot verify (keyless).
type UnsupportedSignature struct{ Reason string }

// VerifySignature implements SignatureVerifier.
func (u UnsupportedSignature) VerifySignature(_ context.Context, _ *Client, _ Location, desc ocispec.Descriptor) ([]Check, error) {
	return []Check{{Name: CheckSignature, Subject: desc.Digest.String(), Detail: u.Reason}}, nil
}
