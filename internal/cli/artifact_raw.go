package cli

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/oci"
)

// artifact config and artifact manifest print what the registry stores, byte
// for byte, as falcoctl's commands of the same names do. Both documents are
// JSON already, so -o json prints the same bytes.

// RawOptions are the dependencies and flag values of artifact manifest and
// artifact config.
type RawOptions struct {
	commandDeps
	platformOptions
	Ref string
}

// NewCmdManifest builds artifact manifest. runF, when not nil, receives the
// parsed and validated options instead of manifestRun (tests use it).
func NewCmdManifest(f *cmdutil.Factory, runF func(*RawOptions) error) *cobra.Command {
	opts := &RawOptions{commandDeps: newCommandDeps(f)}
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
			return runRaw(cmd, f, opts, args, runF, manifestRun)
		},
	}
	opts.platformOptions.AddFlags(cmd)
	return cmd
}

// NewCmdArtifactConfig builds artifact config. runF, when not nil, receives
// the parsed and validated options instead of configBlobRun (tests use it).
func NewCmdArtifactConfig(f *cmdutil.Factory, runF func(*RawOptions) error) *cobra.Command {
	opts := &RawOptions{commandDeps: newCommandDeps(f)}
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
			return runRaw(cmd, f, opts, args, runF, configBlobRun)
		},
	}
	opts.platformOptions.AddFlags(cmd)
	return cmd
}

func runRaw(cmd *cobra.Command, f *cmdutil.Factory, opts *RawOptions, args []string, runF func(*RawOptions) error, run func(context.Context, *RawOptions) error) error {
	opts.IO, opts.Ref = f.IO, args[0]
	if err := opts.Validate(); err != nil {
		return err
	}
	if runF != nil {
		return runF(opts)
	}
	return run(cmd.Context(), opts)
}

// manifestRun prints the manifest of the chosen platform.
func manifestRun(ctx context.Context, opts *RawOptions) error {
	_, _, m, err := rawManifest(ctx, opts)
	if err != nil {
		return err
	}
	return printRaw(opts.IO.Out, m.Bytes)
}

// configBlobRun prints the config blob of the manifest of the chosen
// platform.
func configBlobRun(ctx context.Context, opts *RawOptions) error {
	resolver, res, m, err := rawManifest(ctx, opts)
	if err != nil {
		return err
	}
	raw, _, err := resolver.Client.ConfigOf(ctx, res.Root.Location, m)
	if err != nil {
		return err
	}
	return printRaw(opts.IO.Out, raw)
}

// rawManifest resolves the reference and reads the manifest of the chosen
// platform, with the resolver and resolution it came from.
func rawManifest(ctx context.Context, opts *RawOptions) (*install.Resolver, *install.Resolution, *oci.RawManifest, error) {
	resolver, err := newResolver(ctx, opts.commandDeps, opts.Platform)
	if err != nil {
		return nil, nil, nil, err
	}
	res, err := resolver.Resolve(ctx, opts.Ref)
	if err != nil {
		return nil, nil, nil, err
	}
	m, err := resolver.Client.ManifestOf(ctx, res.Root, opts.Platform)
	if err != nil {
		return nil, nil, nil, err
	}
	return resolver, res, m, nil
}

func printRaw(out io.Writer, data []byte) error {
	if _, err := out.Write(data); err != nil {
		return err
	}
	_, err := out.Write([]byte("\n"))
	return err
}
