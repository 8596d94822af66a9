package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/events"
	"github.com/ferryhq/ferry/pkg/install"
)

type bundleOptions struct {
	resolveOptions
	eventsOptions
	Output            string
	StateDir          string
	RequireSignatures bool
}

func newCmdArtifactBundle(f *cmdutil.Factory) *cobra.Command {
	opts := &bundleOptions{}
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
			if opts.Output == "" {
				return cmdutil.Usage(errors.New("-O FILE is required"))
			}
			p, plan, err := planFresh(cmd, f, &opts.resolveOptions, args)
			if err != nil {
				return err
			}
			em, err := opts.eventsOptions.Build(f, opts.StateDir)
			if err != nil {
				return err
			}
			start := time.Now()
			items, err := p.BundleWith(cmd.Context(), plan, opts.Output, install.BundleOptions{
				RequireSignatures: opts.RequireSignatures,
				Warn: func(msg string) {
					fmt.Fprintf(f.IO.ErrOut, "warning: %s (pass --require-signatures to fail instead)\n", msg)
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
				w, err := em.Downloaded(cmd.Context(), events.Artifact{
					Name: it.Name, Version: it.Version, Registry: it.Registry, Repository: it.Repository, Tag: it.Version,
					Digest: it.Digest, ServedBy: it.Registry, Path: opts.Output, Duration: time.Since(start),
					User: registryUser(cmd.Context(), f, em, it.Registry),
				})
				printEventWarnings(f, w)
				errs = append(errs, err)
			}
			if f.Global.JSON() {
				return errors.Join(append(errs, f.PrintJSON(map[string]any{"file": opts.Output, "artifacts": items}))...)
			}
			for _, it := range items {
				fmt.Fprintf(f.IO.Out, "Bundled %s %s (%s/%s@%s)\n", it.Name, it.Version, it.Registry, it.Repository, it.Digest)
			}
			fmt.Fprintf(f.IO.Out, "Wrote %s\n", opts.Output)
			return errors.Join(errs...)
		},
	}
	opts.resolveOptions.AddFlags(cmd)
	opts.eventsOptions.AddFlags(cmd)
	cmd.Flags().StringVarP(&opts.Output, "output-file", "O", "", "the bundle file to write")
	cmdutil.Declare(cmd.Flags(), "state-dir", &opts.StateDir)
	cmd.Flags().BoolVar(&opts.RequireSignatures, "require-signatures", false, "fail (exit 5) when an artifact whose index entry asks for a signature has none to bundle, instead of warning")
	return cmd
}

// planFresh plans args as for a host with nothing installed (what bundle
// and mirror write out).
func planFresh(cmd *cobra.Command, f *cmdutil.Factory, r *resolveOptions, args []string) (*install.Planner, *install.Plan, error) {
	p, err := newPlanner(cmd, f, r, &install.State{})
	if err != nil {
		return nil, nil, err
	}
	plan, err := p.Plan(cmd.Context(), args)
	if err != nil {
		return nil, nil, err
	}
	return p, plan, nil
}
