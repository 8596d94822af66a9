package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
)

// rejectUnknownCommands makes every command group (ferry, ferry artifact,
// ...) fail on an argument that is not one of its commands, with exit 2
// and the closest command names as the hint. Left to cobra, a mistyped
// subcommand of a group prints the group's help and exits 0, and one of
// the root exits 1 with a multi-line message.
func rejectUnknownCommands(root *cobra.Command) {
	walk(root, func(c *cobra.Command) {
		if !c.HasSubCommands() || c.Runnable() {
			return
		}
		if c.SuggestionsMinimumDistance <= 0 {
			c.SuggestionsMinimumDistance = 2
		}
		c.Args = func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			err := &cmdutil.CodedError{Code: cmdutil.ExitUsage, Err: fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())}
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				for i := range s {
					s[i] = cmd.CommandPath() + " " + s[i]
				}
				err.Hint = "did you mean " + strings.Join(s, " or ") + "?"
			} else {
				err.Hint = "run: " + cmd.CommandPath() + " --help"
			}
			return err
		}
		c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	})
}
