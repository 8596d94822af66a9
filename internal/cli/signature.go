package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/index"
	"github.com/ferryhq/ferry/pkg/oci"
)

// signatureOptions is the flag group that says how signatures are checked.
type signatureOptions struct {
	Key         string
	TrustedRoot string

	trustedRoot *root.TrustedRoot
}

func (o *signatureOptions) AddFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&o.Key, "key", "", "PEM public key file the cosign signature must verify with (default: the index entry's signature.cosign.key)")
	fl.StringVar(&o.TrustedRoot, "trusted-root", "", "Sigstore trusted_root.json that keyless signatures must chain to (read from the file, never fetched)")
}

func (o *signatureOptions) Validate() error { return nil }

// verifier returns the signature verifier for an artifact: nil when neither
// its index entry nor the flags ask for a signature.
func (o *signatureOptions) verifier(_ *cmdutil.Factory, entry *index.Entry) (oci.SignatureVerifier, error) {
	var cosign *index.Cosign
	if entry != nil && entry.Signature != nil {
		cosign = entry.Signature.Cosign
	}
	key := ""
	switch {
	case o.Key != "":
		key = o.Key
	case cosign != nil && cosign.Key != "":
		key = cosign.Key
	case cosign != nil && keyless(cosign):
		return o.keylessVerifier(cosign)
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
			return nil, cmdutil.Usage(fmt.Errorf("reading the public key: %w", err))
		}
		pem = data
	}
	if len(pem) == 0 {
		return nil, cmdutil.Usage(errors.New("the public key is empty"))
	}
	return &oci.CosignKeyVerifier{PublicKey: pem}, nil
}

// keyless reports whether a cosign block asks for a keyless signature: a
// certificate identity or an OIDC issuer, exact or regexp.
func keyless(c *index.Cosign) bool {
	return c.CertificateIdentity != "" || c.CertificateIdentityRegexp != "" || c.CertificateOIDCIssuer != "" || c.CertificateOIDCIssuerRegexp != ""
}

// loadTrustedRoot reads --trusted-root, once.
func (o *signatureOptions) loadTrustedRoot() error {
	if o.trustedRoot != nil || o.TrustedRoot == "" {
		return nil
	}
	tr, err := oci.LoadTrustedRoot(o.TrustedRoot)
	if err != nil {
		return cmdutil.Usage(err)
	}
	o.trustedRoot = tr
	return nil
}

// keylessVerifier verifies against the trusted root of --trusted-root.
func (o *signatureOptions) keylessVerifier(c *index.Cosign) (oci.SignatureVerifier, error) {
	if err := o.loadTrustedRoot(); err != nil {
		return nil, err
	}
	return &oci.KeylessVerifier{
		TrustedRoot: o.trustedRoot,
		IgnoreTlog:  c.IgnoreTlog,
		Identity: oci.Identity{
			Subject: c.CertificateIdentity, SubjectRegexp: c.CertificateIdentityRegexp,
			Issuer: c.CertificateOIDCIssuer, IssuerRegexp: c.CertificateOIDCIssuerRegexp,
			GithubWorkflowRepository: c.CertificateGithubWorkflow,
		},
	}, nil
}
