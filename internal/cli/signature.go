package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/index"
	"github.com/ferryhq/ferry/pkg/oci"
)

// signatureOptions is the flag group that says how signatures are checked.
type signatureOptions struct {
	Key string
}

func (o *signatureOptions) AddFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&o.Key, "key", "", "PEM public key file the cosign signature must verify with (default: the index entry's signature.cosign.key)")
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
	case cosign != nil:
		return oci.UnsupportedSignature{Reason: "the index entry asks for a keyless signature (certificate identity and issuer); keyless verification is not supported yet"}, nil
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
