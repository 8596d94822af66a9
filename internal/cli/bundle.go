package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/events"
	"github.com/ferryhq/ferry/pkg/install"
)

// BundleOptions are the dependencies and flag values of artifact bundle.
type BundleOptions struct {
	commandDeps
	resolveOptions
	eventsOptions
	Refs              []string
	Output            string
	StateDir          string
	RequireSignatures bool
}

// bundleView is the JSON shape of artifact bundle (its keys in the order
// the command always printed them).
type bundleView struct {
	Artifacts []bundledArtifact `json:"artifacts"`
	File      string            `json:"file"`
}

// bundledArtifact is one artifact written into a bundle.
type bundledArtifact struct {
	Name       string `json:"name"`
	Version    string `json:"version"`
	Registry   string `json:"registry"`
	Repository string `json:"repository"`
	Digest     string `json:"digest"`
}

// NewCmdBundle builds artifact bundle. runF, when not nil, receives the
// parsed and validated options instead of bundleRun (tests use it).
func NewCmdBundle(f *cmdutil.Factory, runF func(*BundleOptions) error) *cobra.Command {
	opts := &BundleOptions{commandDeps: newCommandDeps(f)}
	cmd := &cobra.Command{
		Use:   "bundle REF... -O FILE",
		Short: "Write artifacts and their dependencies into one file for air-gapped installs",
		Long: `Write the resolved artifacts, with their dependencies and every platform
their image indexes list, into one OCI image-layout tar, together with an
index naming them. On a host with no network:

  ferry artifact install --from FILE REF...

Signatures (Sigstore bundle referrers, cosign .sig tags) are bundled with
their artifacts. An artifact whose index entry asks for a signature but that
has none gets a warning, since an install from the bundle would refuse it;
--require-signatures makes that an error (exit 5) and writes no file.`,
		Example: `  ferry artifact bundle falco-rules:3 k8saudit-rules:0.x -O falco-bundle.tar
  ferry artifact install --from falco-bundle.tar falco-rules:3 k8saudit-rules`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Refs = f.IO, args
			if err := opts.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return bundleRun(cmd.Context(), opts)
		},
	}
	opts.resolveOptions.AddFlags(cmd)
	opts.eventsOptions.AddFlags(cmd)
	cmd.Flags().StringVarP(&opts.Output, "output-file", "O", "", "the bundle file to write")
	cmdutil.Declare(cmd.Flags(), "state-dir", &opts.StateDir)
	cmd.Flags().BoolVar(&opts.RequireSignatures, "require-signatures", false, "fail (exit 5) when an artifact whose index entry asks for a signature has none to bundle, instead of warning")
	return cmd
}

// Validate checks the flag values before anything is resolved.
func (o *BundleOptions) Validate() error {
	if o.Output == "" {
		return cmdutil.Usage(errors.New("-O FILE is required"))
	}
	return nil
}

func bundleRun(ctx context.Context, opts *BundleOptions) error {
	p, plan, err := planFresh(ctx, opts.commandDeps, &opts.resolveOptions, opts.Refs)
	if err != nil {
		return err
	}
	em, err := opts.eventsOptions.Build(opts.commandDeps, opts.StateDir)
	if err != nil {
		return err
	}
	start := time.Now()
	items, err := p.BundleWith(ctx, plan, opts.Output, install.BundleOptions{
		RequireSignatures: opts.RequireSignatures,
		Warn: func(msg string) {
			fmt.Fprintf(opts.IO.ErrOut, "warning: %s (pass --require-signatures to fail instead)\n", msg)
		},
	})
	if err != nil {
		return err
	}
	// Every artifact pulled into the bundle is a download.
	var errs []error
	for _, it := range items {
		if !em.Enabled() {
			break
		}
		w, err := em.Downloaded(ctx, events.Artifact{
			Name: it.Name, Version: it.Version, Registry: it.Registry, Repository: it.Repository, Tag: it.Version,
			Digest: it.Digest, ServedBy: it.Registry, Path: opts.Output, Duration: time.Since(start),
			User: registryUser(ctx, opts.commandDeps, em, it.Registry),
		})
		printEventWarnings(opts.IO.ErrOut, w)
		errs = append(errs, err)
	}
	if opts.Global.JSON() {
		v := bundleView{File: opts.Output}
		if items != nil {
			v.Artifacts = make([]bundledArtifact, 0, len(items))
		}
		for _, it := range items {
			v.Artifacts = append(v.Artifacts, bundledArtifact{Name: it.Name, Version: it.Version, Registry: it.Registry, Repository: it.Repository, Digest: it.Digest})
		}
		return errors.Join(append(errs, printJSON(opts.IO.Out, v))...)
	}
	for _, it := range items {
		fmt.Fprintf(opts.IO.Out, "Bundled %s %s (%s/%s@%s)\n", it.Name, it.Version, it.Registry, it.Repository, it.Digest)
	}
	fmt.Fprintf(opts.IO.Out, "Wrote %s\n", opts.Output)
	return errors.Join(errs...)
}
