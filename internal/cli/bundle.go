package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/install"
)

type bundleOptions struct {
	resolveOptions
	Output string
}

func newCmdArtifactBundle(f *cmdutil.Factory) *cobra.Command {
	opts := &bundleOptions{}
	cmd := &cobra.Command{
		Use:   "bundle REF... -O FILE",
		Short: "Write artifacts and their dependencies into one file for air-gapped installs",
		Long: `Write the resolved artifacts, with their dependencies and every platform
their image indexes list, into one OCI image-layout tar, together with an
index naming them. On a host with no network:

  ferry artifact install --from FILE REF...`,
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
			items, err := p.Bundle(cmd.Context(), plan, opts.Output)
			if err != nil {
				return err
			}
			if f.Global.JSON() {
				return f.PrintJSON(map[string]any{"file": opts.Output, "artifacts": items})
			}
			for _, it := range items {
				fmt.Fprintf(f.IO.Out, "Bundled %s %s (%s/%s@%s)\n", it.Name, it.Version, it.Registry, it.Repository, it.Digest)
			}
			fmt.Fprintf(f.IO.Out, "Wrote %s\n", opts.Output)
			return nil
		},
	}
	opts.resolveOptions.AddFlags(cmd)
	cmd.Flags().StringVarP(&opts.Output, "output-file", "O", "", "the bundle file to write")
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
