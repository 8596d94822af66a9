package cli

import (
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
func falcoctlMode(root *cobra.Command, f *cmdutil.Factory) {
	root.Use = "falcoctl"
	// falcoctl's deprecated global flags: --verbose is --log-level debug,
	// --disable-styling changes nothing (ferry draws progress only on a
	// terminal, and --log-format json draws none).
	pf := root.PersistentFlags()
	pf.BoolVarP(&f.Global.Verbose, "verbose", "v", false, "same as --log-level debug")
	pf.Bool("disable-styling", false, "no effect (styling is off when stderr is not a terminal)")
	_ = pf.MarkDeprecated("verbose", "please use --log-level")
	_ = pf.MarkDeprecated("disable-styling", "please use --log-format")
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
