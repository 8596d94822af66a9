package cli_test

import (
	"testing"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/cli"
	"github.com/ferryhq/ferry/internal/cli/cmdutil"
)

// TestEveryCommandDocumented walks the command tree: every command has a
// short description, and every command that does something (not a group
// of commands) has examples.
func TestEveryCommandDocumented(t *testing.T) {
	root := cli.NewCmdRoot(cmdutil.NewFactory("test"))
	root.InitDefaultHelpCmd()
	var walk func(c *cobra.Command)
	count := 0
	walk = func(c *cobra.Command) {
		count++
		if c.Hidden || c.Name() == "help" {
			return
		}
		if c.Short == "" {
			t.Errorf("%q has no Short", c.CommandPath())
		}
		if c.Runnable() && !c.HasSubCommands() && c.Example == "" {
			t.Errorf("%q has no Example", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if count < 30 {
		t.Errorf("walked only %d commands", count)
	}
}
