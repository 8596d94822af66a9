package cli

import (
	"cmp"
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
	in.NeedsVerify = func(name, idx string) bool {
		if o.NoVerify || o.Key != "" {
			return o.Key != "" && !o.NoVerify
		}
		if idx == "" || in.Resolver.Indexes == nil {
			return false
		}
		e, _, err := in.Resolver.Indexes.Lookup(idx, name)
		return err != nil || e.Signature != nil
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
			at := string(root.Digest)
			if at == "" {
				at = "from an HTTP mirror"
			}
			fmt.Fprintf(f.IO.ErrOut, "warning: --no-verify: installing %s (%s) WITHOUT verifying its signature\n", what, at)
			return nil
		}
		if root.Digest == "" {
			return &cmdutil.CodedError{Code: cmdutil.ExitVerify, Hint: "install it when a registry that carries its signature answers, or pass --no-verify to accept it unsigned",
				Err: fmt.Errorf("refusing to install %s: only HTTP mirrors serve it, and a file carries no signature to check against its index entry's signature block", what)}
		}
		v, err := o.verifier(ctx, f, entry)
		if err != nil || v == nil {
			return err
		}
		// The signature binds the digest, so it may come from any channel
		// that serves the artifact: the first that verifies wins. The
		// refusal reports the first channel that answered.
		var refusal, unreachable error
		for _, loc := range it.OCILocations() {
			checks, err := v.VerifySignature(ctx, in.Resolver.Client, loc, root)
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
	return nil
}
