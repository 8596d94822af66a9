package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/errdef"
)

// Version is set at build time with -ldflags "-X ...cli.Version=...".
var Version = "dev"

// Main runs ferry with args and returns the process exit code.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	defer startProfiling()()
	f := cmdutil.NewFactory(Version)
	f.Falcoctl = IsFalcoctl(os.Args[0])
	return Run(ctx, f, args)
}

// IsFalcoctl reports whether the program name (argv[0]) selects falcoctl
// mode: ferry installed, copied or linked as "falcoctl".
func IsFalcoctl(argv0 string) bool {
	return strings.TrimSuffix(filepath.Base(argv0), ".exe") == "falcoctl"
}

// Run executes the command line against a Factory (tests inject streams).
func Run(ctx context.Context, f *cmdutil.Factory, args []string) int {
	// Everything on stderr goes through one writer, which turns each line
	// into a JSON object with --log-format=json. The flag is looked for
	// before parsing, so that a bad flag's error is JSON too.
	lw := cmdutil.NewLogWriter(f.IO.ErrOut)
	lw.SetJSON(logFormatJSON(args, f.Getenv))
	f.IO.ErrOut = lw
	defer lw.Flush()
	if lw.JSON() {
		f.IO.ErrTerminal = false
	}
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
		h := cmdutil.PathHint(err, cmd.Flags())
		if f.Falcoctl {
			h = cmdutil.FalcoctlPathHint(err, cmd.Flags(), cmdutil.CommandPath(cmd))
		}
		if h != "" {
			err = &cmdutil.CodedError{Code: ExitCode(err), Err: err, Hint: h}
		}
	}
	prog := "ferry"
	if f.Falcoctl {
		prog = "falcoctl"
	}
	fmt.Fprint(f.IO.ErrOut, cmdutil.FormatErrorAs(err, prog))
	return ExitCode(err)
}

// ExitCode maps an error to ferry's documented exit code.
func ExitCode(err error) int { return classifier().Code(err) }

func classifier() *cmdutil.Classifier {
	c := &cmdutil.Classifier{}
	c.Add(cmdutil.ExitUsage, errdef.ErrInvalid)
	c.Add(cmdutil.ExitNotFound, errdef.ErrNotFound)
	c.Add(cmdutil.ExitAuth, errdef.ErrUnauthorized)
	c.Add(cmdutil.ExitVerify, errdef.ErrVerification)
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
			f.ConfigMayBeMissing = writesConfig[cmdutil.CommandPath(cmd)]
			if err := f.ApplyPrecedence(cmd); err != nil {
				return err
			}
			if lw, ok := f.IO.ErrOut.(*cmdutil.LogWriter); ok {
				lw.SetJSON(f.Global.LogFormat == "json")
				if lw.JSON() {
					f.IO.ErrTerminal = false
				}
			}
			f.WarnUnknownKeys()
			warnUnknownDefaults(cmd.Root(), f)
			if f.Falcoctl {
				warnDeprecated(cmd, f)
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
		NewCmdVersion(f, nil),
	)
	addCompletions(root, f)
	rejectUnknownCommands(root)
	if f.Falcoctl {
		falcoctlMode(root, f)
	}
	return root
}

// warnUnknownDefaults warns about the config's defaults.FLAG keys that
// name no flag of any command.
func warnUnknownDefaults(root *cobra.Command, f *cmdutil.Factory) {
	cfg, err := f.Config()
	if err != nil || len(cfg.Defaults) == 0 {
		return
	}
	known := map[string]bool{}
	walk(root, func(c *cobra.Command) {
		c.LocalFlags().VisitAll(func(fl *pflag.Flag) { known[fl.Name] = true })
	})
	var unknown []string
	for _, name := range sortedKeys(cfg.Defaults) {
		if !known[name] || name == "config" {
			unknown = append(unknown, "defaults."+name)
		}
	}
	if len(unknown) > 0 {
		fmt.Fprintf(f.IO.ErrOut, "warning: config %s: no flag for %s (ignored)\n", f.ConfigPath(), strings.Join(unknown, ", "))
	}
}

// writesConfig are the commands that create the config file named with
// --config when it does not exist.
var writesConfig = map[string]bool{"config set": true, "config unset": true, "index add": true, "index remove": true}

// logFormatJSON finds --log-format=json on the command line (or
// FERRY_LOG_FORMAT=json) before the flags are parsed.
func logFormatJSON(args []string, getenv func(string) string) bool {
	for i, a := range args {
		if a == "--" {
			break
		}
		if a == "--log-format=json" || (a == "--log-format" && i+1 < len(args) && args[i+1] == "json") {
			return true
		}
	}
	return getenv("FERRY_LOG_FORMAT") == "json"
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
