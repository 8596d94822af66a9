package cli

import (
	"context"
	"fmt"
	"sync"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/index"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/oci"
)

// installVerifyOptions is the flag group of the commands that install
// (install, follow): signatures are verified before anything is written,
// unless --no-verify.
type installVerifyOptions struct {
	signatureOptions
	NoVerify bool

	warnMu sync.Mutex
}

func (o *installVerifyOptions) AddFlags(cmd *cobra.Command) {
	o.signatureOptions.AddFlags(cmd)
	cmd.Flags().BoolVar(&o.NoVerify, "no-verify", false, "install without verifying the signatures index entries (or --key) ask for; warns for each artifact")
}

// wire makes in verify, before anything is downloaded, the signature of
// every artifact whose index entry has a signature block, or of every
// artifact with --key. Entries without one cost no request.
func (o *installVerifyOptions) wire(f *cmdutil.Factory, in *install.Installer) error {
	if o.TrustedRoot != "" {
		// A bad file is a usage error before anything is resolved.
		if _, err := o.loadTrustedRoot(context.Background(), f); err != nil {
			return err
		}
	}
	in.Verify = func(ctx context.Context, it install.PlanItem, root ocispec.Descriptor) error {
		var entry *index.Entry
		if it.Index != "" && in.Resolver.Indexes != nil {
			if e, _, err := in.Resolver.Indexes.Lookup(it.Index, it.Name); err == nil {
				entry = &e
			}
		}
		if o.Key == "" && (entry == nil || entry.Signature == nil) {
			return nil
		}
		what := it.Name
		if it.Version != "" {
			what += " " + it.Version
		}
		if o.NoVerify {
			o.warnMu.Lock()
			defer o.warnMu.Unlock()
			fmt.Fprintf(f.IO.ErrOut, "warning: --no-verify: installing %s (%s) WITHOUT verifying its signature\n", what, root.Digest)
			return nil
		}
		v, err := o.verifier(ctx, f, entry)
		if err != nil || v == nil {
			return err
		}
		checks, err := v.VerifySignature(ctx, in.Resolver.Client, it.Location, root)
		if err != nil {
			return fmt.Errorf("verifying the signature of %s: %w", what, err)
		}
		var failed []oci.Check
		for _, c := range checks {
			if !c.OK {
				failed = append(failed, c)
			}
		}
		if len(failed) > 0 {
			return fmt.Errorf("refusing to install %s: %w", what, &oci.VerificationError{Ref: it.Location.String() + "@" + root.Digest.String(), Failed: failed})
		}
		return nil
	}
	return nil
}
