package cli

import (
	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
)

func newCmdArtifact(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "artifact",
		Short: "Find, inspect, install and publish artifacts",
	}
	cmd.AddCommand(
		NewCmdList(f, nil),
		NewCmdSearch(f, nil),
		NewCmdInfo(f, nil),
		NewCmdInstall(f, nil),
		NewCmdLock(f, nil),
		NewCmdBundle(f, nil),
		NewCmdMirror(f, nil),
		NewCmdPush(f, nil),
		NewCmdVerify(f, nil),
		NewCmdPromote(f, nil),
		NewCmdFollow(f, nil),
		NewCmdArtifactConfig(f, nil), NewCmdManifest(f, nil),
	)
	return cmd
}
