package cli

import (
	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/oci"
)

// artifact config and artifact manifest print what the registry stores, byte
// for byte, as falcoctl's commands of the same names do. Both documents are
// JSON already, so -o json prints the same bytes.

func newCmdArtifactManifest(f *cmdutil.Factory) *cobra.Command {
	opts := &platformOptions{}
	cmd := &cobra.Command{
		Use:   "manifest REF",
		Short: "Print an artifact's manifest as the registry stores it",
		Long: `Print an artifact's manifest as the registry stores it. REF is resolved as
install resolves it (an index name with a constraint, or a full OCI reference);
for a plugin's image index, the manifest of --platform is printed.`,
		Example: `  ferry artifact manifest falco-rules:3
  ferry artifact manifest k8saudit:0.x --platform linux/arm64 | jq .layers`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, _, _, err := rawManifest(cmd, f, opts, args[0])
			if err != nil {
				return err
			}
			return printRaw(f, m.Bytes)
		},
	}
	opts.AddFlags(cmd)
	return cmd
}

func newCmdArtifactConfig(f *cmdutil.Factory) *cobra.Command {
	opts := &platformOptions{}
	cmd := &cobra.Command{
		Use:   "config REF",
		Short: "Print an artifact's config blob (name, version, dependencies, requirements)",
		Long: `Print the config blob of an artifact's manifest as the registry stores it:
falcoctl's JSON with the name, version, dependencies and requirements. REF is
resolved as install resolves it; for a plugin, the config of --platform.`,
		Example: `  ferry artifact config k8saudit-rules:0.x
  ferry artifact config ghcr.io/falcosecurity/plugins/plugin/k8saudit:0.7.0`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, loc, client, err := rawManifest(cmd, f, opts, args[0])
			if err != nil {
				return err
			}
			raw, _, err := client.ConfigOf(cmd.Context(), loc, m)
			if err != nil {
				return err
			}
			return printRaw(f, raw)
		},
	}
	opts.AddFlags(cmd)
	return cmd
}

// rawManifest resolves raw and returns the manifest of the chosen platform.
func rawManifest(cmd *cobra.Command, f *cmdutil.Factory, opts *platformOptions, raw string) (*oci.RawManifest, oci.Location, *oci.Client, error) {
	if err := opts.Validate(); err != nil {
		return nil, oci.Location{}, nil, err
	}
	resolver, err := newResolver(f, cmd, opts.Platform)
	if err != nil {
		return nil, oci.Location{}, nil, err
	}
	res, err := resolver.Resolve(cmd.Context(), raw)
	if err != nil {
		return nil, oci.Location{}, nil, err
	}
	m, err := resolver.Client.ManifestOf(cmd.Context(), res.Root, opts.Platform)
	if err != nil {
		return nil, oci.Location{}, nil, err
	}
	return m, res.Root.Location, resolver.Client, nil
}

func printRaw(f *cmdutil.Factory, data []byte) error {
	if _, err := f.IO.Out.Write(data); err != nil {
		return err
	}
	_, err := f.IO.Out.Write([]byte("\n"))
	return err
}
