package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	ferryhttp "github.com/ferryhq/ferry/internal/http"
	"github.com/ferryhq/ferry/pkg/driver"
	"github.com/ferryhq/ferry/pkg/index"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/oci"
)

// Version is set at build time with -ldflags "-X ...cli.Version=...".
var Version = "dev"

// Main runs ferry with args and returns the process exit code.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	defer startProfiling()()
	f := cmdutil.NewFactory(Version)
	return Run(ctx, f, args)
}

// Run executes the command line against a Factory (tests inject streams).
func Run(ctx context.Context, f *cmdutil.Factory, args []string) int {
	root := NewCmdRoot(f)
	root.SetArgs(args)
	root.SetIn(f.IO.In)
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return cmdutil.ExitOK
	}
	if ctx.Err() != nil && !errors.Is(err, context.Canceled) {
		err = fmt.Errorf("%w: %w", context.Canceled, err)
	}
	if cmdutil.Hint(err) == "" && cmd != nil {
		if h := cmdutil.PathHint(err, cmd.Flags()); h != "" {
			err = &cmdutil.CodedError{Code: ExitCode(err), Err: err, Hint: h}
		}
	}
	fmt.Fprint(f.IO.ErrOut, cmdutil.FormatError(err))
	return ExitCode(err)
}

// ExitCode maps an error to ferry's documented exit code.
func ExitCode(err error) int { return classifier().Code(err) }

func classifier() *cmdutil.Classifier {
	c := &cmdutil.Classifier{}
	c.Add(cmdutil.ExitUsage, index.ErrInvalidReference, index.ErrInvalidConstraint, index.ErrAmbiguous)
	c.Add(cmdutil.ExitNotFound, index.ErrNotFound, index.ErrNoMatch, oci.ErrNotFound, oci.ErrPlatformNotFound, install.ErrDependencyConflict, install.ErrNotLocked)
	c.Add(cmdutil.ExitNotFound, driver.ErrNotFound, driver.ErrUnsupported, ferryhttp.ErrNotFound)
	c.Add(cmdutil.ExitAuth, oci.ErrUnauthorized)
	c.Add(cmdutil.ExitVerify, oci.ErrDigestMismatch, oci.ErrVerification, install.ErrUnsafeArchive, install.ErrRequirement, install.ErrUnverified, install.ErrUnsigned)
	c.Add(cmdutil.ExitVerify, driver.ErrDigestMismatch)
	return c
}

// NewCmdRoot builds the command tree.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "ferry",
		Short: "Install and publish Falco artifacts from OCI registries",
		Long: `ferry installs and publishes Falco artifacts (rules files, plugins, assets)
the way container images are distributed: from indexes that name them, at the
highest version a semver constraint allows, verified by digest, installed
atomically.

Configuration: flag > environment (FERRY_<FLAG_NAME>, e.g. FERRY_PLAIN_HTTP=true)
> config file (defaults: {flag-name: value}) > built-in default.

` + cmdutil.ExitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.ApplyPrecedence(cmd); err != nil {
				return err
			}
			return f.Global.Validate()
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cmdutil.Usage(err) })
	f.Global.AddFlags(root.PersistentFlags())
	root.AddCommand(
		newCmdArtifact(f),
		newCmdIndex(f),
		newCmdRegistry(f),
		newCmdDriver(f),
		newCmdEvents(f),
		newCmdConfig(f),
		newCmdVersion(f),
	)
	addCompletions(root, f)
	rejectUnknownCommands(root)
	return root
}

// usageArgs wraps a cobra positional-args check as a usage error.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return cmdutil.Usage(err)
		}
		return nil
	}
}
