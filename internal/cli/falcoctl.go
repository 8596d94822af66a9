package cli

import (
	"fmt"
	"slices"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
)

// falcoctlMode turns the command tree into falcoctl's: its program name and
// the defaults falcoctl has where they differ from ferry's (the state
// directory, the log level, follow's start-up), as the key table gives
// them. The config file (/etc/falcoctl/falcoctl.yaml) and FALCOCTL_*
// variables are the Factory's.
// warnDeprecated warns about falcoctl's deprecated flags on the command line.
func warnDeprecated(cmd *cobra.Command, f *cmdutil.Factory) {
	for name, use := range map[string]string{"verbose": "--log-level", "disable-styling": "--log-format"} {
		if fl := cmd.Flags().Lookup(name); fl != nil && fl.Changed {
			fmt.Fprintf(f.IO.ErrOut, "warning: --%s is deprecated, please use %s\n", name, use)
		}
	}
	if f.Global.Verbose && !cmd.Flags().Changed("log-level") {
		f.Global.LogLevel = "debug"
	}
}

func falcoctlMode(root *cobra.Command, f *cmdutil.Factory) {
	root.Use = "falcoctl"
	root.Short = "ferry, run as falcoctl"
	root.Long = `ferry, run as falcoctl: falcoctl v0.13's commands and flags, its config
file (` + cmdutil.FalcoctlConfigPath + `, or --config; keys as viper reads them) and
its environment (FALCOCTL_<KEY>, e.g. FALCOCTL_ARTIFACT_FOLLOW_EVERY, and
HOST_ROOT), over ferry's installs: semver ranges, verified digests, atomic
swaps. ferry's own commands are here too.

Configuration: flag > environment (FALCOCTL_<KEY>) > config file > default.

` + cmdutil.ExitCodesHelp
	// falcoctl's deprecated global flags: --verbose is --log-level debug,
	// --disable-styling changes nothing (ferry draws progress only on a
	// terminal, and --log-format json draws none).
	pf := root.PersistentFlags()
	pf.BoolVarP(&f.Global.Verbose, "verbose", "v", false, "same as --log-level debug")
	pf.Bool("disable-styling", false, "no effect (styling is off when stderr is not a terminal)")
	// Deprecated as falcoctl has them, hidden from help; the warning is
	// printed on stderr (cobra would print pflag's on stdout).
	_ = pf.MarkHidden("verbose")
	_ = pf.MarkHidden("disable-styling")
	walk(root, func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.LocalNonPersistentFlags(), c.PersistentFlags()} {
			fs.VisitAll(func(fl *pflag.Flag) {
				k := cmdutil.FlagKey(fl.Name)
				if cmdutil.IsAlias(fl) {
					k = cmdutil.FlagKey(fl.Annotations["ferry-alias-of"][0])
				}
				if k == nil || k.FalcoctlDefault == "" || fl.Changed {
					return
				}
				if len(k.FalcoctlDefaultOn) > 0 && !slices.Contains(k.FalcoctlDefaultOn, cmdutil.CommandPath(c)) {
					return
				}
				if fl.Value.Set(k.FalcoctlDefault) == nil {
					fl.DefValue = k.FalcoctlDefault
				}
			})
		}
	})
}
