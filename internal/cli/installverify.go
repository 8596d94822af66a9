package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/pkg/install"
)

// installVerifyOptions is the flag group of the commands that install
// (install, follow): signatures are verified before anything is written,
// unless --no-verify.
type installVerifyOptions struct {
	signatureOptions
	NoVerify bool
}

func (o *installVerifyOptions) AddFlags(cmd *cobra.Command) {
	o.signatureOptions.AddFlags(cmd)
	cmd.Flags().BoolVar(&o.NoVerify, "no-verify", false, "install without verifying the signatures index entries (or --key) ask for; warns for each artifact")
}

// Policy is the signature policy the flags ask for (install.SignaturePolicy
// decides which artifacts are verified, and how): --key for every artifact,
// else each index entry's signature block; --no-verify warns instead.
func (o *installVerifyOptions) Policy(d commandDeps) (*install.SignaturePolicy, error) {
	if o.TrustedRoot != "" {
		// A bad file is a usage error before anything is resolved.
		if _, err := o.loadTrustedRoot(context.Background(), d); err != nil {
			return nil, err
		}
	}
	p := o.policy(d)
	p.Skip = o.NoVerify
	p.Warn = func(msg string) { fmt.Fprintf(d.IO.ErrOut, "warning: %s\n", msg) }
	return p, nil
}
